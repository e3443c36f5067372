//! Packages whose segments are longer than the stored ones: every format serves groups of
//! stored segments (2 s stored, 6 s served).

use media::TrackKind;
use mp4_atom::{Decode, Moof, TrunSamples};
use segmenter::SegmentBytes;

use crate::dash::{self, DashSettings, MpdContext};
use crate::hls::{self, HlsSettings, PlaylistMedia};
use crate::mss::{self, MssSettings};
use crate::{cmaf, testing, RenditionView};

const CUT: u32 = 2;
const PACKAGE: u32 = 6;

fn grouped() -> RenditionView {
    testing::grouped_rendition("1000000", 1_000_000, 30, CUT, PACKAGE)
}

#[test]
fn groups_are_whole_package_durations() {
    let view = grouped();
    let stored = testing::rendition("1000000", 1_000_000, 30, CUT);
    // The session starts 2 s past a 6 s boundary of the epoch timeline and lasts 30 s: a 4 s
    // group, four whole ones, and the 2 s the session ended with.
    assert_eq!(stored.segments.len(), 15);
    let durations: Vec<i64> = view.segments.iter().map(|s| s.duration / 90_000).collect();
    assert_eq!(durations, vec![4, 6, 6, 6, 6, 2]);
    assert!(view.segments[1..]
        .iter()
        .all(|g| g.start % (i64::from(PACKAGE) * 90_000) == 0));
    assert!(view
        .segments
        .windows(2)
        .all(|w| w[1].sequence == w[0].sequence + 1 && w[1].start == w[0].end()));
    for group in &view.segments {
        let members: Vec<_> = stored
            .segments
            .iter()
            .filter(|m| m.start >= group.start && m.start < group.end())
            .collect();
        assert_eq!(members[0].start, group.start);
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let count: usize = members
                .iter()
                .map(|m| cmaf::track_samples(m, kind).map_or(0, |t| t.samples.len()))
                .sum();
            let track = cmaf::track_samples(group, kind).expect("track");
            assert_eq!(track.samples.len(), count, "{kind:?}");
        }
    }
}

#[test]
fn hls_lists_groups() {
    let view = grouped();
    let settings = HlsSettings {
        segment_duration_secs: PACKAGE,
        playlist_window_secs: 18,
        version: 3,
    };
    let mut out = Vec::new();
    hls::write_media_playlist(&view, &settings, PlaylistMedia::MuxedTs, &mut out);
    let text = String::from_utf8(out.clone()).expect("utf-8");
    let playlist = match m3u8_rs::parse_media_playlist_res(&out) {
        Ok(p) => p,
        Err(e) => panic!("playlist parses: {e:?}\n{text}"),
    };
    assert_eq!(playlist.target_duration, 6, "{text}");
    let durations: Vec<f32> = playlist.segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations, vec![6.0, 6.0, 2.0], "{text}");
    let newest = view.segments.last().expect("segments");
    assert_eq!(
        playlist.media_sequence + 2,
        newest.sequence,
        "numbered by group"
    );
}

#[test]
fn cmaf_fragment_of_a_group_is_one_moof() {
    let view = grouped();
    let group = &view.segments[1];
    for kind in [TrackKind::Video, TrackKind::Audio] {
        let track = cmaf::track_samples(group, kind).expect("track");
        let mut out = Vec::new();
        cmaf::fragment(group, kind, &SegmentBytes::default(), &mut out).expect("fragment");
        let styp_len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
        let mut buf = &out[styp_len..];
        let moof = Moof::decode(&mut buf).expect("moof");
        let traf = &moof.traf[0];
        let tfdt = traf.tfdt.as_ref().expect("tfdt");
        assert_eq!(tfdt.base_media_decode_time as i64, track.samples[0].dts);
        let TrunSamples::Explicit(entries) = &traf.trun[0].samples else {
            panic!("explicit trun");
        };
        assert_eq!(entries.len(), track.samples.len());
        if kind == TrackKind::Video {
            let keyframes = track.samples.iter().filter(|s| s.keyframe).count();
            assert_eq!(keyframes, 3, "three 2 s GOPs");
        }
    }
}

#[test]
fn dash_and_mss_timelines_use_groups() {
    let view = grouped();
    let settings = DashSettings {
        segment_duration_secs: PACKAGE,
        playlist_window_secs: 18,
        suggested_presentation_delay_secs: None,
        minimum_update_period_secs: None,
        min_buffer_time_secs: None,
    };
    let ctx = MpdContext {
        id: "grouped",
        publish_time: media::WallClock::from_unix_ms(testing::SESSION_START_MS + 30_500),
        utc_timing_url: "http://127.0.0.1/time",
        base: "manifest",
        timeline_anchor: false,
    };
    let mut mpd = String::new();
    dash::write_mpd(std::slice::from_ref(&view), &settings, &ctx, &mut mpd).expect("mpd");
    let parsed = dash_mpd_core::parse(&mpd).expect("MPD parses");
    let video = &parsed.periods[0].adaptations[0];
    let template = video.SegmentTemplate.as_ref().expect("template");
    let timescale = template.timescale.unwrap_or(1);
    let timeline = template.SegmentTimeline.as_ref().expect("timeline");
    let ds: Vec<u64> = timeline.segments.iter().map(|s| s.d / timescale).collect();
    assert_eq!(ds, vec![6, 2], "{mpd}");
    // Every listed time finds its group.
    let newest = view.segments.last().expect("segments");
    let t = cmaf::track_samples(newest, TrackKind::Video)
        .expect("video")
        .samples[0]
        .dts;
    let found = dash::find_segment(&view, TrackKind::Video, t as u64).expect("found");
    assert_eq!(found.start, newest.start);

    let mss_settings = MssSettings {
        segment_duration_secs: PACKAGE,
        playlist_window_secs: 18,
        delay_secs: 0,
    };
    let mut manifest = String::new();
    mss::write_manifest(std::slice::from_ref(&view), &mss_settings, &mut manifest).expect("mss");
    let ds: Vec<&str> = manifest
        .split("<c ")
        .skip(1)
        .filter_map(|c| c.split("d=\"").nth(1))
        .filter_map(|d| d.split('"').next())
        .collect();
    assert!(!ds.is_empty(), "{manifest}");
    // Per stream: 6 s groups (in 100 ns units; audio within one AAC frame), then the 2 s tail.
    let ds: Vec<u64> = ds.iter().map(|d| d.parse().expect("d")).collect();
    let near = |d: u64, s: u64| d.abs_diff(s * 10_000_000) < 220_000;
    assert_eq!(ds.iter().filter(|d| near(**d, 6)).count(), 4, "{manifest}");
    assert_eq!(
        ds.iter().filter(|d| **d < 25_000_000).count(),
        2,
        "{manifest}"
    );
}
