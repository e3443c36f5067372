//! Smooth Streaming: golden manifest, manifest structure, fragments decoded back, time
//! conversions, resource parsing and fragment lookup.

use std::sync::Arc;

use bytes::Bytes;
use media::{Timescale, TrackInfo, TrackKind};
use mp4_atom::{Decode, Mdat, Moof, TrunSamples};
use segmenter::{Payload, Sample, Segment, SegmentBytes, TrackSamples};

use super::fragment::{TFRF_UUID, TFXD_UUID};
use super::manifest::{chunks, spans};
use super::*;
use crate::testing::{aac, avc, two_renditions};
use crate::Presentation;

const GOLDEN: &str = include_str!("../golden/mss_two_renditions.xml");
const GOLDEN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/golden/mss_two_renditions.xml"
);

fn settings(window: u32, delay: u64) -> MssSettings {
    MssSettings {
        segment_duration_secs: 2,
        playlist_window_secs: window,
        delay_secs: delay,
    }
}

fn manifest(renditions: &[RenditionView], settings: &MssSettings) -> String {
    let mut out = String::new();
    write_manifest(renditions, settings, &mut out).expect("manifest");
    out
}

// ---------------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------------

#[test]
fn manifest_matches_golden() {
    let out = manifest(&two_renditions(), &settings(8, 0));
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(GOLDEN_PATH, &out).expect("write golden");
        return;
    }
    assert_eq!(
        out, GOLDEN,
        "manifest changed; rerun with UPDATE_GOLDEN=1 if intended"
    );
}

/// One `c` element: `t` as written (if any) and `d`.
#[derive(Debug)]
struct C {
    t: Option<u64>,
    d: u64,
}

fn attr<T: std::str::FromStr>(node: roxmltree::Node<'_, '_>, name: &str) -> T {
    node.attribute(name)
        .unwrap_or_else(|| panic!("{} has no {name}", node.tag_name().name()))
        .parse()
        .unwrap_or_else(|_| panic!("{name} does not parse"))
}

fn stream_index<'a, 'i>(doc: &'a roxmltree::Document<'i>, kind: &str) -> roxmltree::Node<'a, 'i> {
    doc.root_element()
        .children()
        .find(|n| n.has_tag_name("StreamIndex") && n.attribute("Type") == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} StreamIndex"))
}

fn c_list(stream: roxmltree::Node<'_, '_>) -> Vec<C> {
    stream
        .children()
        .filter(|n| n.has_tag_name("c"))
        .map(|n| C {
            t: n.attribute("t").map(|t| t.parse().expect("t")),
            d: attr(n, "d"),
        })
        .collect()
}

/// The absolute start of every `c`, checking the chain: `t` on the first, and where given
/// later, only after a gap (`t` later than the previous `t + d`; never earlier or equal).
fn chain_times(cs: &[C]) -> Vec<u64> {
    let mut times = Vec::new();
    let mut next = None;
    for (i, c) in cs.iter().enumerate() {
        let t = match (c.t, next) {
            (Some(t), Some(expected)) => {
                assert!(
                    t > expected,
                    "c[{i}]: t {t} where the previous ends at {expected}"
                );
                t
            }
            (Some(t), None) => t,
            (None, Some(expected)) => expected,
            (None, None) => panic!("the first c has no t"),
        };
        assert!(c.d > 0, "c[{i}] has no duration");
        times.push(t);
        next = Some(t + c.d);
    }
    times
}

#[test]
fn manifest_is_xml_with_contiguous_chunks() {
    let renditions = two_renditions();
    let out = manifest(&renditions, &settings(8, 0));
    let doc = roxmltree::Document::parse(&out).expect("manifest is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "SmoothStreamingMedia");
    assert_eq!(root.attribute("MajorVersion"), Some("2"));
    assert_eq!(root.attribute("MinorVersion"), Some("2"));
    assert_eq!(root.attribute("TimeScale"), Some("10000000"));
    assert_eq!(root.attribute("Duration"), Some("0"));
    assert_eq!(root.attribute("IsLive"), Some("TRUE"));
    assert_eq!(root.attribute("LookAheadFragmentCount"), Some("2"));
    assert_eq!(root.attribute("DVRWindowLength"), Some("80000000"));

    let video = stream_index(&doc, "video");
    assert_eq!(
        video.attribute("Url"),
        Some("QualityLevels({bitrate})/Fragments(video={start time})")
    );
    let levels: Vec<_> = video
        .children()
        .filter(|n| n.has_tag_name("QualityLevel"))
        .collect();
    assert_eq!(attr::<usize>(video, "QualityLevels"), levels.len());
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[0].attribute("Bitrate"), Some("2500000"));
    assert_eq!(levels[1].attribute("Bitrate"), Some("800000"));
    assert_eq!(levels[1].attribute("Index"), Some("1"));
    assert_eq!(levels[0].attribute("MaxWidth"), Some("320"));
    assert_eq!(levels[0].attribute("MaxHeight"), Some("240"));
    let private = levels[0]
        .attribute("CodecPrivateData")
        .expect("private data");
    assert!(private.starts_with("0000000167640"), "{private}");
    assert!(private.contains("0000000168EBE3CB22C0"), "{private}");

    let audio = stream_index(&doc, "audio");
    assert_eq!(
        audio.attribute("Url"),
        Some("QualityLevels({bitrate})/Fragments(audio={start time})")
    );
    let level = audio
        .children()
        .find(|n| n.has_tag_name("QualityLevel"))
        .expect("audio quality level");
    assert_eq!(level.attribute("FourCC"), Some("AACL"));
    assert_eq!(level.attribute("SamplingRate"), Some("48000"));
    assert_eq!(level.attribute("Channels"), Some("2"));
    assert_eq!(level.attribute("CodecPrivateData"), Some("1190"));
    assert_eq!(attr::<u64>(level, "Bitrate") % 1000, 0);

    for (stream, kind) in [(video, TrackKind::Video), (audio, TrackKind::Audio)] {
        let cs = c_list(stream);
        assert_eq!(attr::<usize>(stream, "Chunks"), cs.len());
        assert_eq!(cs.len(), 4, "8 s of 2 s segments");
        let times = chain_times(&cs);
        assert!(
            cs[1..].iter().all(|c| c.t.is_none()),
            "no gap: t only on the first"
        );
        // The listed times are the first rendition's newest segments, exactly rescaled.
        let segments = &renditions[0].segments;
        let newest = &segments[segments.len() - 4..];
        for (t, s) in times.iter().zip(newest) {
            assert_eq!(Some(*t), fragment_start(s, kind));
        }
        // Every listed time is less than 2^53: exact in JavaScript.
        assert!(times.iter().all(|&t| t < 1 << 53));
    }
}

#[test]
fn audio_bitrate_is_measured_over_listed_fragments() {
    let renditions = two_renditions();
    let listed = chunks(&renditions[0].segments, TrackKind::Audio, &settings(8, 0));
    let bytes: usize = listed
        .iter()
        .map(|c| c.segment.audio.as_ref().map_or(0, |a| a.payload_bytes()))
        .sum();
    let duration: u64 = listed.iter().map(|c| c.span.duration()).sum();
    let bps = bytes as f64 * 8.0 / (duration as f64 / 1e7);
    let out = manifest(&renditions, &settings(8, 0));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    let audio = stream_index(&doc, "audio");
    let level = audio
        .children()
        .find(|n| n.has_tag_name("QualityLevel"))
        .expect("level");
    let advertised: u64 = attr(level, "Bitrate");
    assert!(
        (advertised as f64 - bps).abs() <= 500.0,
        "{advertised} vs {bps}"
    );
}

#[test]
fn delay_drops_the_newest_segments() {
    let renditions = two_renditions();
    let segments = &renditions[0].segments;
    assert_eq!(segments.len(), 6, "12 s of 2 s segments");
    let all = chunks(segments, TrackKind::Video, &settings(3600, 0));
    assert_eq!(all.len(), 6);

    // 4 s of delay: the two newest segments end within it.
    let delayed = chunks(segments, TrackKind::Video, &settings(8, 4));
    assert_eq!(delayed.len(), 4);
    assert_eq!(delayed.last().map(|c| c.span), Some(all[3].span));
    assert_eq!(available_segments(segments, &settings(8, 4)).len(), 4);

    // The written manifest says the same.
    let out = manifest(&renditions, &settings(8, 4));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    let cs = c_list(stream_index(&doc, "video"));
    let times = chain_times(&cs);
    assert_eq!(times.first().copied(), Some(all[0].span.start));
    assert_eq!(
        times.last().map(|t| t + cs[cs.len() - 1].d),
        Some(all[3].span.end)
    );

    // A delay longer than the window keeps one segment.
    let one = chunks(segments, TrackKind::Video, &settings(8, 3600));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].span, all[0].span);
}

#[test]
fn zero_window_lists_three_and_advertises_their_duration() {
    let renditions = two_renditions();
    let out = manifest(&renditions, &settings(0, 0));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    let cs = c_list(stream_index(&doc, "video"));
    assert_eq!(cs.len(), 3);
    let listed: u64 = cs.iter().map(|c| c.d).sum();
    assert_eq!(attr::<u64>(doc.root_element(), "DVRWindowLength"), listed);
}

/// `renditions` presented as `presentation`.
fn presented(renditions: &[RenditionView], presentation: Presentation) -> Vec<RenditionView> {
    crate::testing::presented(renditions.to_vec(), presentation)
}

#[test]
fn presentations_shape_the_manifest() {
    // 30 s of 2 s segments; an 8 s window with 4 s of delay lists four, two back.
    let renditions = vec![
        crate::testing::rendition("2500000", 2_500_000, 30, 2),
        crate::testing::rendition("800000", 800_000, 30, 2),
    ];
    let segments = &renditions[0].segments;
    assert_eq!(segments.len(), 15);
    let live = manifest(&renditions, &settings(8, 4));
    // Everything, as a live manifest would list it: the same fragments (so URLs).
    let everything = manifest(&renditions, &settings(3600, 0));
    let everything = roxmltree::Document::parse(&everything).expect("xml");
    for presentation in crate::testing::PRESENTATIONS {
        let out = manifest(&presented(&renditions, presentation), &settings(8, 4));
        let doc = roxmltree::Document::parse(&out).expect("manifest is XML");
        let root = doc.root_element();
        assert_eq!(root.attribute("TimeScale"), Some("10000000"));
        match presentation {
            Presentation::Live => assert_eq!(out, live),
            // The caller moved the edge; the manifest is a live one.
            Presentation::Shifted { .. } => assert_eq!(out, live),
            Presentation::Recorded => {
                assert_eq!(root.attribute("IsLive"), Some("FALSE"), "{out}");
                assert_eq!(root.attribute("DVRWindowLength"), None);
                assert_eq!(root.attribute("LookAheadFragmentCount"), None);
                for (name, kind) in [("video", TrackKind::Video), ("audio", TrackKind::Audio)] {
                    let stream = stream_index(&doc, name);
                    let cs = c_list(stream);
                    // Every segment, neither the window nor the delay applies.
                    assert_eq!(cs.len(), 15, "{name}");
                    assert_eq!(attr::<usize>(stream, "Chunks"), 15);
                    assert!(cs[0].t.is_some() && cs[1..].iter().all(|c| c.t.is_none()));
                    let times = chain_times(&cs);
                    for (t, s) in times.iter().zip(segments) {
                        assert_eq!(Some(*t), fragment_start(s, kind), "{name}");
                    }
                    let all = c_list(stream_index(&everything, name));
                    assert_eq!(times, chain_times(&all), "{name}");
                    let ds = |cs: &[C]| cs.iter().map(|c| c.d).collect::<Vec<_>>();
                    assert_eq!(ds(&cs), ds(&all), "{name}");
                }
                // The listed duration of the video: first start to last end.
                let video = c_list(stream_index(&doc, "video"));
                let total: u64 = video.iter().map(|c| c.d).sum();
                assert_eq!(attr::<u64>(root, "Duration"), total);
                assert_eq!(total, 30 * TIMESCALE);
            }
        }
        if presentation != Presentation::Recorded {
            assert_eq!(root.attribute("IsLive"), Some("TRUE"));
            assert_eq!(root.attribute("Duration"), Some("0"));
            assert_eq!(root.attribute("DVRWindowLength"), Some("80000000"));
            assert_eq!(root.attribute("LookAheadFragmentCount"), Some("2"));
            assert_eq!(c_list(stream_index(&doc, "video")).len(), 4);
        }
    }
}

#[test]
fn a_recording_with_a_gap_lasts_from_its_first_start_to_its_last_end() {
    let mut segments = thousand_segments();
    segments.truncate(3);
    // The third segment comes 10 s late (a reconnect).
    let mut late = (*segments[2]).clone();
    late.discontinuity = true;
    late.start += 10 * 90_000;
    if let Some(v) = late.video.as_mut() {
        v.samples.iter_mut().for_each(|s| s.dts += 10 * 90_000);
    }
    if let Some(a) = late.audio.as_mut() {
        a.samples.iter_mut().for_each(|s| s.dts += 10 * 48_000);
    }
    segments[2] = Arc::new(late);
    let renditions = vec![RenditionView {
        variant: crate::testing::two_renditions()[0].variant.clone(),
        segments,
        config_changes: Vec::new(),
        presentation: Presentation::Recorded,
    }];
    let out = manifest(&renditions, &settings(2, 3600));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    let cs = c_list(stream_index(&doc, "video"));
    assert_eq!(cs.len(), 3);
    assert!(cs[0].t.is_some() && cs[1].t.is_none() && cs[2].t.is_some());
    let times = chain_times(&cs);
    let end = times[2] + cs[2].d;
    assert_eq!(attr::<u64>(doc.root_element(), "Duration"), end - times[0]);
    assert_eq!(end - times[0], 3 * 20_020_000 + 100_000_000);
}

#[test]
fn manifest_without_renditions_is_empty_but_valid() {
    let out = manifest(&[], &settings(8, 0));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    assert_eq!(
        doc.root_element()
            .children()
            .filter(|n| n.is_element())
            .count(),
        0
    );
}

// ---------------------------------------------------------------------------------------
// Fragments
// ---------------------------------------------------------------------------------------

/// A fragment taken apart: the boxes decoded with mp4-atom, and the raw layout.
struct Parsed {
    moof: Moof,
    mdat: Mdat,
    moof_len: usize,
    /// Top-level box types, in order.
    top: Vec<[u8; 4]>,
    /// `traf`'s children: type and body (after the 8-byte header).
    traf_children: Vec<([u8; 4], Vec<u8>)>,
}

fn boxes(bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().expect("size")) as usize;
        assert!(
            size >= 8 && pos + size <= bytes.len(),
            "box at {pos}: bad size {size}"
        );
        let kind: [u8; 4] = bytes[pos + 4..pos + 8].try_into().expect("type");
        out.push((kind, &bytes[pos + 8..pos + size]));
        pos += size;
    }
    out
}

fn parse(bytes: &[u8]) -> Parsed {
    let top = boxes(bytes);
    let moof_len = top[0].1.len() + 8;
    let moof_children = boxes(top[0].1);
    let traf = moof_children
        .iter()
        .find(|(k, _)| k == b"traf")
        .expect("traf")
        .1;
    let traf_children = boxes(traf)
        .into_iter()
        .map(|(k, body)| (k, body.to_vec()))
        .collect();
    let mut buf = bytes;
    let moof = Moof::decode(&mut buf).expect("moof decodes");
    let mdat = Mdat::decode(&mut buf).expect("mdat decodes");
    assert!(buf.is_empty(), "bytes after mdat");
    Parsed {
        moof,
        mdat,
        moof_len,
        top: top.iter().map(|(k, _)| *k).collect(),
        traf_children,
    }
}

/// `tfxd`'s (time, duration), checking its UUID, version and flags.
fn tfxd(body: &[u8]) -> (u64, u64) {
    assert_eq!(body[..16], TFXD_UUID);
    assert_eq!(body[16..20], [1, 0, 0, 0], "version 1, no flags");
    assert_eq!(body.len(), 36);
    let time = u64::from_be_bytes(body[20..28].try_into().expect("time"));
    let duration = u64::from_be_bytes(body[28..36].try_into().expect("duration"));
    (time, duration)
}

/// `tfrf`'s entries, checking its UUID, version, flags and count.
fn tfrf(body: &[u8]) -> Vec<(u64, u64)> {
    assert_eq!(body[..16], TFRF_UUID);
    assert_eq!(body[16..20], [1, 0, 0, 0], "version 1, no flags");
    let count = usize::from(body[20]);
    assert_eq!(body.len(), 21 + 16 * count);
    (0..count)
        .map(|i| {
            let at = 21 + 16 * i;
            (
                u64::from_be_bytes(body[at..at + 8].try_into().expect("time")),
                u64::from_be_bytes(body[at + 8..at + 16].try_into().expect("duration")),
            )
        })
        .collect()
}

fn fragment(segments: &[Arc<Segment>], i: usize, kind: TrackKind) -> Vec<u8> {
    let mut out = Vec::new();
    write_fragment(
        &segments[i],
        kind,
        &SegmentBytes::default(),
        &segments[i + 1..],
        &mut out,
    )
    .expect("fragment");
    out
}

/// Checks a fragment's structure and returns its `tfxd` and `tfrf`.
fn check_fragment(
    segment: &Segment,
    kind: TrackKind,
    bytes: &[u8],
) -> (Parsed, (u64, u64), Vec<(u64, u64)>) {
    let p = parse(bytes);
    assert_eq!(p.top, [*b"moof", *b"mdat"], "no styp");
    let kinds: Vec<[u8; 4]> = p.traf_children.iter().map(|(k, _)| *k).collect();
    // No `tfdt` (MS-SSTR has none): dash.js makes one from the manifest's time, which for a
    // finished presentation it has moved to start at zero.
    assert_eq!(kinds, [*b"tfhd", *b"trun", *b"uuid", *b"uuid"]);
    let x = tfxd(&p.traf_children[2].1);
    let r = tfrf(&p.traf_children[3].1);

    assert_eq!(p.moof.mfhd.sequence_number, segment.sequence as u32);
    assert_eq!(p.moof.traf.len(), 1);
    let traf = &p.moof.traf[0];
    assert_eq!(traf.tfhd.track_id, 1);
    assert!(traf.tfhd.default_base_is_moof);
    let track = match kind {
        TrackKind::Video => segment.video.as_ref(),
        TrackKind::Audio => segment.audio.as_ref(),
    }
    .expect("track");
    let start = to_mss_time(track.samples[0].dts, track.timescale()).expect("after 2020");
    assert!(traf.tfdt.is_none());
    assert_eq!(x.0, start, "tfxd time is the first sample's decode time");

    assert_eq!(traf.trun.len(), 1);
    let trun = &traf.trun[0];
    assert_eq!(trun.data_offset, Some(p.moof_len as i32 + 8));
    let TrunSamples::Explicit(entries) = &trun.samples else {
        panic!("explicit trun entries");
    };
    assert_eq!(entries.len(), track.samples.len());
    let durations: u64 = entries
        .iter()
        .map(|e| u64::from(e.duration.expect("d")))
        .sum();
    assert_eq!(durations, x.1, "sample durations add up to tfxd's");
    let sizes: usize = entries.iter().map(|e| e.size.expect("size") as usize).sum();
    assert_eq!(sizes, p.mdat.data.len());
    let payload: Vec<u8> = track
        .samples
        .iter()
        .flat_map(|s| match &s.data {
            Payload::Memory(b) => b.to_vec(),
            Payload::Stored(_) => panic!("test payloads are in memory"),
        })
        .collect();
    assert_eq!(p.mdat.data, payload);
    for (e, s) in entries.iter().zip(&track.samples) {
        assert_eq!(e.size, Some(s.data.len() as u32));
        let sync = e.flags.expect("flags") & 0x0001_0000 == 0;
        assert_eq!(sync, s.keyframe);
    }
    (p, x, r)
}

#[test]
fn video_fragment_boxes() {
    let renditions = two_renditions();
    let segments = &renditions[0].segments;
    let bytes = fragment(segments, 1, TrackKind::Video);
    let (p, (time, duration), lookahead) = check_fragment(&segments[1], TrackKind::Video, &bytes);

    // The test channel shows pictures 80 ms after decode: 800,000 units of 100 ns.
    let TrunSamples::Explicit(entries) = &p.moof.traf[0].trun[0].samples else {
        panic!("explicit");
    };
    assert!(entries.iter().all(|e| e.cts == Some(800_000)));
    // 25 fps: 400,000 units per frame; 2 s fragments.
    assert!(entries.iter().all(|e| e.duration == Some(400_000)));
    assert_eq!(duration, 20_000_000);

    // tfrf announces the next two fragments exactly as their own tfxd describe them.
    assert_eq!(lookahead.len(), 2);
    for (k, entry) in lookahead.iter().enumerate() {
        let next = fragment(segments, 2 + k, TrackKind::Video);
        let (_, own, _) = check_fragment(&segments[2 + k], TrackKind::Video, &next);
        assert_eq!(*entry, own);
    }
    assert_eq!(lookahead[0].0, time + duration, "contiguous");
}

#[test]
fn audio_fragment_boxes() {
    let renditions = two_renditions();
    let segments = &renditions[1].segments;
    let bytes = fragment(segments, 2, TrackKind::Audio);
    let (p, (time, duration), lookahead) = check_fragment(&segments[2], TrackKind::Audio, &bytes);
    let TrunSamples::Explicit(entries) = &p.moof.traf[0].trun[0].samples else {
        panic!("explicit");
    };
    assert!(
        entries.iter().all(|e| e.cts.is_none()),
        "no composition offsets"
    );
    // 1024 samples at 48 kHz are 213,333.3 units: every duration rounds one way or the other,
    // except where the millisecond-stamped source jitters.
    assert!(entries
        .iter()
        .all(|e| e.duration.is_some_and(|d| d.abs_diff(213_333) <= 10_000)));
    assert_eq!(lookahead.len(), 2);
    assert_eq!(lookahead[0].0, time + duration, "contiguous");
}

#[test]
fn newest_fragment_has_an_empty_lookahead() {
    let renditions = two_renditions();
    let segments = &renditions[0].segments;
    let last = segments.len() - 1;
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let bytes = fragment(segments, last, kind);
        let (_, (_, duration), lookahead) = check_fragment(&segments[last], kind, &bytes);
        assert!(lookahead.is_empty());
        assert!(duration > 0);
        let one_before = fragment(segments, last - 1, kind);
        let (_, _, lookahead) = check_fragment(&segments[last - 1], kind, &one_before);
        assert_eq!(lookahead.len(), 1);
    }
}

/// Every fragment's tfxd is the manifest's `c` for it: the same chain.
#[test]
fn fragments_agree_with_the_manifest() {
    let renditions = two_renditions();
    let out = manifest(&renditions, &settings(3600, 0));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    for (name, kind) in [("video", TrackKind::Video), ("audio", TrackKind::Audio)] {
        let cs = c_list(stream_index(&doc, name));
        let times = chain_times(&cs);
        assert_eq!(times.len(), 6);
        for (i, (t, c)) in times.iter().zip(&cs).enumerate() {
            for view in &renditions {
                let (found, segment) =
                    find_fragment(&renditions, view.variant.bandwidth, kind, *t).expect("found");
                let position = found
                    .segments
                    .iter()
                    .position(|s| Arc::ptr_eq(s, segment))
                    .expect("segment of the view");
                assert_eq!(position, i);
                let bytes = fragment(&found.segments, position, kind);
                let (_, own, _) = check_fragment(segment, kind, &bytes);
                assert_eq!(own, (*t, c.d), "{name} fragment {i}");
            }
        }
    }
}

#[test]
fn fragment_errors_leave_output_untouched() {
    let renditions = two_renditions();
    let mut segment = (*renditions[0].segments[0]).clone();
    segment.audio = None;
    let mut out = vec![7];
    let err = write_fragment(
        &segment,
        TrackKind::Audio,
        &SegmentBytes::default(),
        &[],
        &mut out,
    );
    assert!(err.is_err());
    assert_eq!(out, [7]);
}

#[test]
fn short_nal_lengths_become_four_bytes() {
    let mut config = match avc().codec {
        media::CodecConfig::Avc(c) => c,
        other => unreachable!("{other:?}"),
    };
    config.nal_length_size = 2;
    let track = Arc::new(TrackInfo::video(config));
    let au = Bytes::from_static(&[0, 3, 0x65, 1, 2, 0, 1, 0x06]);
    let start = 1_700_000_000i64 * 90_000;
    let segment = Segment {
        sequence: 1,
        start,
        duration: 3600,
        discontinuity: false,
        discontinuity_sequence: 0,
        video: Some(TrackSamples {
            stored_summary: None,
            track,
            samples: vec![Sample {
                dts: start,
                composition_offset: 0,
                duration: 3600,
                keyframe: true,
                data: Payload::Memory(au),
            }],
        }),
        audio: None,
    };
    let mut out = Vec::new();
    write_fragment(
        &segment,
        TrackKind::Video,
        &SegmentBytes::default(),
        &[],
        &mut out,
    )
    .expect("fragment");
    let p = parse(&out);
    assert_eq!(p.mdat.data, [0, 0, 0, 3, 0x65, 1, 2, 0, 0, 0, 1, 0x06]);
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

#[test]
fn mss_epoch_is_2020() {
    let epoch_90k = MSS_EPOCH_UNIX_SECS * 90_000;
    assert_eq!(to_mss_time(epoch_90k, Timescale::MPEG), Some(0));
    assert_eq!(to_mss_time(epoch_90k - 1, Timescale::MPEG), None);
    assert_eq!(from_mss_time(0, Timescale::MPEG), Some(epoch_90k));
    // The test channel's session start, 2023-11-14T22:13:20Z.
    assert_eq!(
        to_mss_time(
            1_700_000_000 * 48_000,
            Timescale::new(48_000).expect("rate")
        ),
        Some(1_221_632_000_000_000)
    );
    // Still exact in JavaScript in mid-2048 (2048-06-01T00:00:00Z), not in 2049.
    assert!(to_mss_time(2_474_582_400 * 90_000, Timescale::MPEG).expect("t") < 1 << 53);
    assert!(to_mss_time(2_493_072_000 * 90_000, Timescale::MPEG).expect("t") > 1 << 53);
}

#[test]
fn rescaling_and_back_is_exact() {
    for rate in [90_000u32, 48_000, 44_100, 8_000] {
        let ts = Timescale::new(rate).expect("rate");
        let epoch = MSS_EPOCH_UNIX_SECS * i64::from(rate);
        let year = 365 * 86_400 * i64::from(rate);
        for base in [epoch, epoch + 4 * year, epoch + 27 * year] {
            for k in 0..20_000i64 {
                let ticks = base + k * 7 + (k * k) % 1_000_003;
                let mss = to_mss_time(ticks, ts).expect("after 2020");
                assert_eq!(from_mss_time(mss, ts), Some(ticks), "{rate} Hz, {ticks}");
                // Rounded to nearest: within half a unit of the exact value.
                let exact = i128::from(ticks - epoch) * 10_000_000;
                let err = (i128::from(mss) * i128::from(rate) - exact).abs();
                assert!(err * 2 <= i128::from(rate), "{rate} Hz, {ticks}");
            }
        }
    }
}

/// A track of `frames` samples of `duration` ticks from `dts`, with empty payloads.
fn samples(dts: i64, frames: usize, duration: u32, offset: i32) -> Vec<Sample> {
    (0..frames)
        .map(|i| Sample {
            dts: dts + i as i64 * i64::from(duration),
            composition_offset: offset,
            duration,
            keyframe: i == 0,
            data: Payload::Memory(Bytes::from_static(&[0])),
        })
        .collect()
}

/// 1000 segments of 29.97 fps video (60 frames of 3003 ticks) and 48 kHz AAC (94 frames), on
/// a timeline starting in 2023: neither frame duration is a whole number of 100 ns units for
/// audio (213,333.3), and the segment boundaries of the two tracks differ.
fn thousand_segments() -> Vec<Arc<Segment>> {
    let video_track = Arc::new(avc());
    let audio_track = Arc::new(aac());
    let t0 = 1_700_000_000i64;
    (0..1000i64)
        .map(|i| {
            let start = t0 * 90_000 + i * 60 * 3003;
            Arc::new(Segment {
                sequence: i as u64,
                start,
                duration: 60 * 3003,
                discontinuity: false,
                discontinuity_sequence: 0,
                video: Some(TrackSamples {
                    stored_summary: None,
                    track: video_track.clone(),
                    samples: samples(start, 60, 3003, 6006),
                }),
                audio: Some(TrackSamples {
                    stored_summary: None,
                    track: audio_track.clone(),
                    samples: samples(t0 * 48_000 + i * 94 * 1024, 94, 1024, 0),
                }),
            })
        })
        .collect()
}

#[test]
fn no_drift_over_a_thousand_fragments() {
    let segments = thousand_segments();
    let audio_ts = Timescale::new(48_000).expect("rate");
    for (kind, ts, per_segment) in [
        (TrackKind::Video, Timescale::MPEG, 60 * 3003i64),
        (TrackKind::Audio, audio_ts, 94 * 1024),
    ] {
        let chunks = spans(&segments, kind);
        assert_eq!(chunks.len(), 1000);
        let first = match kind {
            TrackKind::Video => segments[0].video.as_ref(),
            TrackKind::Audio => segments[0].audio.as_ref(),
        }
        .map(|t| t.samples[0].dts)
        .expect("first dts");
        for (i, c) in chunks.iter().enumerate() {
            // Each start is the exact rescaling of the stored start, however far along.
            let stored = first + i as i64 * per_segment;
            assert_eq!(Some(c.span.start), to_mss_time(stored, ts));
            assert_eq!(Some(c.span.end), to_mss_time(stored + per_segment, ts));
            if let Some(next) = chunks.get(i + 1) {
                assert_eq!(c.span.end, next.span.start);
            }
        }
        let total: u64 = chunks.iter().map(|c| c.span.duration()).sum();
        assert_eq!(
            Some(chunks[0].span.start + total),
            to_mss_time(first + 1000 * per_segment, ts)
        );
    }
    // Audio durations alternate between the two nearest whole units; video is exact.
    let audio = spans(&segments, TrackKind::Audio);
    assert!(audio
        .iter()
        .all(|c| matches!(c.span.duration(), 20_053_333 | 20_053_334)));
    let video = spans(&segments, TrackKind::Video);
    assert!(video.iter().all(|c| c.span.duration() == 20_020_000));

    // Inside fragments too: sample durations add up to the fragment's, CTS offsets are
    // rescaled (6006 ticks = 667,333.3 units: 667,333 or 667,334 depending on the sample).
    for i in [0usize, 499, 998] {
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let bytes = fragment(&segments, i, kind);
            let (p, (time, duration), lookahead) = check_fragment(&segments[i], kind, &bytes);
            assert_eq!(lookahead[0].0, time + duration);
            let TrunSamples::Explicit(entries) = &p.moof.traf[0].trun[0].samples else {
                panic!("explicit");
            };
            if kind == TrackKind::Video {
                assert!(entries
                    .iter()
                    .all(|e| matches!(e.cts, Some(667_333 | 667_334))));
                assert!(entries
                    .iter()
                    .all(|e| matches!(e.duration, Some(333_666 | 333_667))));
            } else {
                assert!(entries
                    .iter()
                    .all(|e| matches!(e.duration, Some(213_333 | 213_334))));
            }
        }
    }
}

#[test]
fn gaps_get_a_time_and_discontinuities_do_not_stretch() {
    let mut segments = thousand_segments();
    segments.truncate(4);
    // Segment 2 starts 10 s late (a reconnect): segment 1 ends at its own last sample.
    let mut late = (*segments[2]).clone();
    late.discontinuity = true;
    let shift_90k = 10 * 90_000;
    late.start += shift_90k;
    if let Some(v) = late.video.as_mut() {
        v.samples.iter_mut().for_each(|s| s.dts += shift_90k);
    }
    if let Some(a) = late.audio.as_mut() {
        a.samples.iter_mut().for_each(|s| s.dts += 10 * 48_000);
    }
    segments[2] = Arc::new(late);
    segments.truncate(3);
    let video = spans(&segments, TrackKind::Video);
    assert_eq!(video[1].span.duration(), 20_020_000);
    assert_eq!(video[2].span.start, video[1].span.end + 100_000_000);

    let renditions = vec![RenditionView {
        variant: crate::testing::two_renditions()[0].variant.clone(),
        segments,
        config_changes: Vec::new(),
        presentation: crate::Presentation::Live,
    }];
    let out = manifest(&renditions, &settings(3600, 0));
    let doc = roxmltree::Document::parse(&out).expect("xml");
    let cs = c_list(stream_index(&doc, "video"));
    assert!(cs[0].t.is_some() && cs[1].t.is_none() && cs[2].t.is_some());
    chain_times(&cs);
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

#[test]
fn parse_accepts_and_rejects() {
    let fragment = |bitrate, kind, time| MssResource::Fragment {
        bitrate,
        kind,
        time,
    };
    let cases: &[(&str, &str, Option<MssResource>)] = &[
        ("Manifest", "Manifest", Some(MssResource::Manifest)),
        ("manifest", "manifest", Some(MssResource::Manifest)),
        (
            "Manifest",
            "QualityLevels(2500000)/Fragments(video=1221632000000000)",
            Some(fragment(2_500_000, TrackKind::Video, 1_221_632_000_000_000)),
        ),
        (
            "manifest",
            "QualityLevels(128000)/Fragments(audio=0)",
            Some(fragment(128_000, TrackKind::Audio, 0)),
        ),
        ("Manifest", "manifest", None),
        ("Manifest", "Manifest/", None),
        ("Manifest", "Manifest.xml", None),
        ("", "", None),
        ("Manifest", "", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=1)/", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=1)/x", None),
        ("Manifest", "/QualityLevels(1)/Fragments(video=1)", None),
        ("Manifest", "x/QualityLevels(1)/Fragments(video=1)", None),
        ("Manifest", "QualityLevels()/Fragments(video=1)", None),
        ("Manifest", "QualityLevels(+1)/Fragments(video=1)", None),
        ("Manifest", "QualityLevels(01)/Fragments(video=1)", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=01)", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=-1)", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=)", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=1", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=1))", None),
        ("Manifest", "QualityLevels(1)/Fragments(video=1 )", None),
        ("Manifest", "QualityLevels(1)/Fragments(text=1)", None),
        ("Manifest", "QualityLevels(1)/Fragments(Video=1)", None),
        ("Manifest", "QualityLevels(1)/Fragments(1)", None),
        ("Manifest", "QualityLevels(1)/FragmentInfo(video=1)", None),
        ("Manifest", "qualitylevels(1)/fragments(video=1)", None),
        (
            "Manifest",
            "QualityLevels(1)/Fragments(video=99999999999999999999)",
            None,
        ),
        ("Manifest", "QualityLevels(1)/Fragments(video%3D1)", None),
    ];
    for (file, rest, want) in cases {
        assert_eq!(MssResource::parse(file, rest), *want, "{file:?} {rest:?}");
    }
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let path = MssResource::fragment_path(800_000, kind, 42);
        assert_eq!(
            MssResource::parse("Manifest", &path),
            Some(fragment(800_000, kind, 42))
        );
    }
}

/// A copy of `view` with every time moved `ms` later.
fn shifted(view: &RenditionView, ms: i64) -> RenditionView {
    let segments = view
        .segments
        .iter()
        .map(|s| {
            let mut s = (**s).clone();
            s.start += ms * 90;
            for track in [s.video.as_mut(), s.audio.as_mut()].into_iter().flatten() {
                let per_ms = i64::from(track.timescale().get()) / 1000;
                track.samples.iter_mut().for_each(|x| x.dts += ms * per_ms);
            }
            Arc::new(s)
        })
        .collect();
    RenditionView {
        variant: view.variant.clone(),
        segments,
        config_changes: view.config_changes.clone(),
        presentation: view.presentation,
    }
}

#[test]
fn find_fragment_exact_and_misaligned() {
    let aligned = two_renditions();
    let starts: Vec<u64> = aligned[0]
        .segments
        .iter()
        .map(|s| fragment_start(s, TrackKind::Video).expect("start"))
        .collect();

    // Exact: both renditions have a segment at each time.
    for (i, &t) in starts.iter().enumerate() {
        for (r, bitrate) in [(0, 2_500_000), (1, 800_000)] {
            let (view, segment) =
                find_fragment(&aligned, bitrate, TrackKind::Video, t).expect("found");
            assert_eq!(view.variant.bandwidth, bitrate);
            assert!(Arc::ptr_eq(segment, &aligned[r].segments[i]));
        }
    }
    assert!(find_fragment(&aligned, 1_000_000, TrackKind::Video, starts[0]).is_none());
    assert!(find_fragment(&aligned, 2_500_000, TrackKind::Video, starts[0] + 1).is_some());

    // Misaligned: the second rendition's keyframes come 120 ms later.
    let misaligned = vec![aligned[0].clone(), shifted(&aligned[1], 120)];
    for (i, &t) in starts.iter().enumerate() {
        let (view, segment) =
            find_fragment(&misaligned, 800_000, TrackKind::Video, t).expect("nearest");
        assert_eq!(view.variant.bandwidth, 800_000);
        assert!(Arc::ptr_eq(segment, &misaligned[1].segments[i]));
    }
    // Nearest within half a segment: 1.2 s into a 2 s segment is the next one; before the
    // first or past the last by more than 1 s is nothing.
    let (_, segment) = find_fragment(
        &misaligned,
        800_000,
        TrackKind::Video,
        starts[1] + 12_000_000,
    )
    .expect("nearest");
    assert!(Arc::ptr_eq(segment, &misaligned[1].segments[2]));
    assert!(find_fragment(
        &misaligned,
        800_000,
        TrackKind::Video,
        starts[0] - 9_000_000
    )
    .is_none());
    let last = *starts.last().expect("last");
    assert!(find_fragment(&misaligned, 800_000, TrackKind::Video, last + 21_300_000).is_none());
}

#[test]
fn audio_comes_from_the_first_rendition_with_audio_whatever_the_bitrate() {
    let mut renditions = two_renditions();
    let time = fragment_start(&renditions[0].segments[3], TrackKind::Audio).expect("start");
    for bitrate in [0, 128_000, 800_000] {
        let (view, segment) =
            find_fragment(&renditions, bitrate, TrackKind::Audio, time).expect("audio");
        assert_eq!(view.variant.bandwidth, 2_500_000);
        assert!(Arc::ptr_eq(segment, &renditions[0].segments[3]));
    }
    // Without audio in the first rendition, the second one's is used.
    let silent: Vec<Arc<Segment>> = renditions[0]
        .segments
        .iter()
        .map(|s| {
            let mut s = (**s).clone();
            s.audio = None;
            Arc::new(s)
        })
        .collect();
    renditions[0].segments = silent;
    let (view, _) = find_fragment(&renditions, 0, TrackKind::Audio, time).expect("audio");
    assert_eq!(view.variant.bandwidth, 800_000);
}
