//! The fMP4 demuxer on FFmpeg's fMP4 HLS fixture, on what this crate's CMAF writer makes,
//! on hand-built fragments for the `tfhd`/`trun` cases neither writes, and on damaged input.

use bytes::Bytes;
use mp4_atom::{
    Codec, Decode, Encode, Hvc1, Mfhd, Moof, Moov, Senc, Tfdt, Tfhd, Traf, Trun, TrunEntry,
    TrunSamples,
};

use super::*;
use crate::codec::avc::{contains_idr, nal_units};
use crate::codec::CodecConfig;
use crate::fmp4::{write_fragment, write_init_segment, FragmentSample};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/hls-fmp4");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURE}/{name}")).expect("fixture file")
}

fn fixture_segments() -> Vec<Vec<u8>> {
    (0..3).map(|i| fixture(&format!("seg{i}.m4s"))).collect()
}

fn demux_all(init: &[u8], segments: &[Vec<u8>]) -> Vec<Frame> {
    let mut demuxer = FragmentDemuxer::from_init(init).expect("init parses");
    let mut out = Vec::new();
    for segment in segments {
        demuxer.push_segment(segment, &mut out).expect("segment");
    }
    out
}

fn avc(track: &TrackInfo) -> &AvcConfig {
    match &track.codec {
        CodecConfig::Avc(c) => c,
        other => panic!("expected AVC, got {other:?}"),
    }
}

fn aac(track: &TrackInfo) -> &AacConfig {
    match &track.codec {
        CodecConfig::Aac(c) => c,
        other => panic!("expected AAC, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// FFmpeg's fMP4 HLS fixture

#[test]
fn the_fixture_init_gives_h264_and_aac() {
    let demuxer = FragmentDemuxer::from_init(&fixture("init.mp4")).expect("init parses");
    assert!(
        demuxer.skipped_tracks().is_empty(),
        "{:?}",
        demuxer.skipped_tracks()
    );
    let tracks = demuxer.tracks();
    assert_eq!(tracks.len(), 2);
    let video = avc(&tracks[0]);
    assert_eq!(tracks[0].timescale, Timescale::MPEG);
    assert_eq!((video.info.width, video.info.height), (320, 240));
    assert_eq!(video.nal_length_size, 4);
    assert_eq!(video.info.profile_idc, 100);
    let audio = aac(&tracks[1]);
    assert_eq!(tracks[1].timescale.get(), 48_000);
    assert_eq!(audio.object_type, 2);
    assert_eq!(audio.channel_config, 2);
    assert_eq!(audio.sample_rate, 48_000);
}

#[test]
fn the_re_encoded_avcc_is_the_received_record() {
    let init = fixture("init.mp4");
    let raw_avcc = &init[crate::fmp4::tests::body_at(&init, &crate::fmp4::tests::AVCC_PATH)];
    let demuxer = FragmentDemuxer::from_init(&init).expect("init parses");
    let tracks = demuxer.tracks();
    assert_eq!(avc(&tracks[0]).record.as_ref(), raw_avcc);
    // The ASC as FFmpeg wrote it: AAC-LC, 48 kHz, stereo, then the backward-compatible
    // sync extension saying there is no SBR.
    assert_eq!(aac(&tracks[1]).asc.as_ref(), [0x11, 0x90, 0x56, 0xE5, 0x00]);
}

#[test]
fn the_fixture_segments_give_every_frame_on_time() {
    let frames = demux_all(&fixture("init.mp4"), &fixture_segments());
    let video: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.kind == TrackKind::Video)
        .collect();
    let audio: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.kind == TrackKind::Audio)
        .collect();
    // 6 s at 25 fps; about 6 s of 1024-sample AAC frames at 48 kHz.
    assert_eq!(video.len(), 150);
    assert!(
        (280..=284).contains(&audio.len()),
        "{} audio frames",
        audio.len()
    );

    // Video: 40 ms apart from 0, on the 90 kHz clock; the edit list (an 80 ms empty edit,
    // then media from 1024/12800 s) cancels out, so the first picture shows at 80 ms, as
    // ffprobe says.
    for (i, frame) in video.iter().enumerate() {
        assert_eq!(frame.dts, MediaTime::new(3600 * i as i64, Timescale::MPEG));
        assert_eq!(frame.keyframe, i % 50 == 0, "frame {i}");
        assert_eq!(
            contains_idr(&frame.data, 4),
            frame.keyframe,
            "frame {i}: IDR iff sync sample"
        );
        assert!(nal_units(&frame.data, 4).all(|n| n.is_ok()), "frame {i}");
    }
    assert_eq!(video[0].pts, MediaTime::new(7200, Timescale::MPEG));
    assert!(video.iter().all(|f| f.pts >= f.dts));

    // Audio: the 58 ms empty edit FFmpeg writes delays it (ffprobe: start_time 0.058).
    let rate = Timescale::new(48_000).expect("rate");
    for (i, frame) in audio.iter().enumerate() {
        let t = MediaTime::new(2784 + 1024 * i as i64, rate);
        assert_eq!((frame.dts, frame.pts), (t, t), "audio frame {i}");
        assert!(frame.keyframe);
        assert!(!frame.data.is_empty());
    }

    // Interleaved by decode time within each segment.
    let per_segment = {
        let mut demuxer = FragmentDemuxer::from_init(&fixture("init.mp4")).expect("init");
        fixture_segments()
            .iter()
            .map(|s| {
                let mut out = Vec::new();
                demuxer.push_segment(s, &mut out).expect("segment");
                out
            })
            .collect::<Vec<_>>()
    };
    for segment in &per_segment {
        assert!(segment.windows(2).all(|w| w[0].dts <= w[1].dts));
    }
    assert_eq!(per_segment.concat(), frames);
}

#[test]
fn the_fixture_payloads_are_the_whole_mdat() {
    for segment in fixture_segments() {
        let mut demuxer = FragmentDemuxer::from_init(&fixture("init.mp4")).expect("init");
        let mut out = Vec::new();
        demuxer.push_segment(&segment, &mut out).expect("segment");
        let payload: usize = out.iter().map(|f| f.data.len()).sum();
        let mdat = top_level_boxes(&segment, "test")
            .map(|b| b.expect("box"))
            .find(|b| &b.kind == b"mdat")
            .expect("mdat");
        assert_eq!(payload, mdat.end - mdat.body);
    }
}

#[test]
fn a_segment_alone_gives_what_it_gives_in_sequence() {
    let segments = fixture_segments();
    let all = demux_all(&fixture("init.mp4"), &segments);
    let second = demux_all(&fixture("init.mp4"), &segments[1..2]);
    let first_len = demux_all(&fixture("init.mp4"), &segments[..1]).len();
    assert_eq!(second, all[first_len..first_len + second.len()]);
}

// ---------------------------------------------------------------------------------------------
// Round trips through this crate's CMAF writer

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9, 0x40, 0x50, 0x05, 0xBB];
const PPS: &[u8] = &[0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0];

fn video_track() -> TrackInfo {
    TrackInfo::video(AvcConfig::build_record(SPS, PPS).expect("record"))
}

fn audio_track() -> TrackInfo {
    TrackInfo::audio(AacConfig::parse(Bytes::from_static(&[0x11, 0x90])).expect("asc"))
}

fn written_init(track: &TrackInfo, track_id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_init_segment(track, track_id, &mut out).expect("init");
    out
}

/// A fragment of `samples` (with payloads `payload(i)`) starting at `base`.
fn written_fragment(
    track_id: u32,
    base: u64,
    samples: &[FragmentSample],
    with_styp: bool,
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let payloads: Vec<Vec<u8>> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (0..s.size)
                .map(|b| (b as u8) ^ (i as u8) ^ track_id as u8)
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    write_fragment(
        track_id,
        1,
        base,
        samples,
        &mut payloads.iter().map(Vec::as_slice),
        with_styp,
        &mut out,
    )
    .expect("fragment");
    (out, payloads)
}

fn video_samples() -> Vec<FragmentSample> {
    // I P B B P with reordering: negative and positive composition offsets.
    let cts = [3600, 10_800, -3600, 0, 7200];
    (0..5)
        .map(|i| FragmentSample {
            duration: 3600,
            size: 20 + i as u32 * 7,
            keyframe: i == 0,
            composition_offset: cts[i],
        })
        .collect()
}

fn audio_samples(n: usize) -> Vec<FragmentSample> {
    (0..n)
        .map(|i| FragmentSample {
            duration: 1024,
            size: 6 + i as u32,
            keyframe: true,
            composition_offset: 0,
        })
        .collect()
}

/// The frames a writer fragment stands for.
fn expected_frames(
    track: &TrackInfo,
    base: u64,
    samples: &[FragmentSample],
    payloads: &[Vec<u8>],
) -> Vec<Frame> {
    let mut t = base as i64;
    samples
        .iter()
        .zip(payloads)
        .map(|(s, p)| {
            let frame = Frame {
                kind: track.kind(),
                dts: MediaTime::new(t, track.timescale),
                pts: MediaTime::new(t + i64::from(s.composition_offset), track.timescale),
                keyframe: s.keyframe,
                data: Bytes::copy_from_slice(p),
            };
            t += i64::from(s.duration);
            frame
        })
        .collect()
}

#[test]
fn written_video_reads_back_exactly() {
    let track = video_track();
    let init = written_init(&track, 1);
    let mut demuxer = FragmentDemuxer::from_init(&init).expect("init");
    assert_eq!(demuxer.tracks(), vec![track.clone()]);

    let samples = video_samples();
    let base = 1u64 << 33; // past the 32-bit range, like a long-running live stream
    let (fragment, payloads) = written_fragment(1, base, &samples, true);
    let mut out = Vec::new();
    assert_eq!(demuxer.push_segment(&fragment, &mut out), Ok(5));
    assert_eq!(out, expected_frames(&track, base, &samples, &payloads));
}

#[test]
fn written_audio_reads_back_exactly() {
    let track = audio_track();
    let init = written_init(&track, 2);
    let mut demuxer = FragmentDemuxer::from_init(&init).expect("init");
    assert_eq!(demuxer.tracks(), vec![track.clone()]);
    let samples = audio_samples(9);
    let (fragment, payloads) = written_fragment(2, 48_000, &samples, false);
    let mut out = Vec::new();
    assert_eq!(demuxer.push_segment(&fragment, &mut out), Ok(9));
    assert_eq!(out, expected_frames(&track, 48_000, &samples, &payloads));
}

/// One init with both writer tracks: the two `moov`s' `trak`s and `trex`s in one.
fn two_track_init(video: &TrackInfo, audio: &TrackInfo) -> Vec<u8> {
    let decode = |bytes: Vec<u8>| {
        let mut buf = bytes.as_slice();
        let _ = mp4_atom::Ftyp::decode(&mut buf).expect("ftyp");
        Moov::decode(&mut buf).expect("moov")
    };
    let mut moov = decode(written_init(video, 1));
    let audio_moov = decode(written_init(audio, 2));
    moov.trak.extend(audio_moov.trak);
    let mvex = moov.mvex.as_mut().expect("mvex");
    mvex.trex.extend(audio_moov.mvex.expect("mvex").trex);
    moov.mvhd.next_track_id = 3;
    let mut out = Vec::new();
    moov.encode(&mut out).expect("encode");
    out
}

#[test]
fn two_tracks_in_several_fragments_come_out_interleaved() {
    let (video, audio) = (video_track(), audio_track());
    let mut demuxer = FragmentDemuxer::from_init(&two_track_init(&video, &audio)).expect("init");
    let tracks = demuxer.tracks();
    assert_eq!(tracks.len(), 2);
    assert_eq!(tracks[1], audio);
    assert_eq!(avc(&tracks[0]).sps, avc(&video).sps);

    // A segment of four moof/mdat pairs: video 0..200 ms, audio 0..~213 ms, video
    // 200..400 ms, audio after it.
    let vs = video_samples();
    let as_ = audio_samples(10);
    let (v1, vp1) = written_fragment(1, 0, &vs, true);
    let (a1, ap1) = written_fragment(2, 0, &as_, false);
    let (v2, vp2) = written_fragment(1, 18_000, &vs, false);
    let (a2, ap2) = written_fragment(2, 10_240, &as_, false);
    let segment = [v1, a1, v2, a2].concat();
    let mut out = Vec::new();
    assert_eq!(demuxer.push_segment(&segment, &mut out), Ok(30));

    let mut expected_video = expected_frames(&tracks[0], 0, &vs, &vp1);
    expected_video.extend(expected_frames(&tracks[0], 18_000, &vs, &vp2));
    let mut expected_audio = expected_frames(&audio, 0, &as_, &ap1);
    expected_audio.extend(expected_frames(&audio, 10_240, &as_, &ap2));
    let got_video: Vec<Frame> = out
        .iter()
        .filter(|f| f.kind == TrackKind::Video)
        .cloned()
        .collect();
    let got_audio: Vec<Frame> = out
        .iter()
        .filter(|f| f.kind == TrackKind::Audio)
        .cloned()
        .collect();
    assert_eq!(got_video, expected_video);
    assert_eq!(got_audio, expected_audio);
    assert!(
        out.windows(2).all(|w| w[0].dts <= w[1].dts),
        "interleaved by dts"
    );
    // Video first on a tie.
    assert_eq!(out[0].kind, TrackKind::Video);
    assert_eq!(out[1].kind, TrackKind::Audio);
}

// ---------------------------------------------------------------------------------------------
// Hand-built fragments: defaults, implicit offsets, no tfdt, version 0 composition offsets

/// `moof` then one `mdat` with `payload`; every `trun` with a data offset gets the offset of
/// the payload's first byte plus what it had.
fn fragment(mut moof: Moof, payload: &[u8]) -> Vec<u8> {
    let mut probe = Vec::new();
    moof.encode(&mut probe).expect("moof");
    let first_byte = probe.len() as i32 + 8;
    for traf in &mut moof.traf {
        for trun in &mut traf.trun {
            if let Some(offset) = &mut trun.data_offset {
                *offset += first_byte;
            }
        }
    }
    let mut out = Vec::new();
    moof.encode(&mut out).expect("moof");
    assert_eq!(out.len() as i32 + 8, first_byte);
    out.extend_from_slice(&(payload.len() as u32 + 8).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend_from_slice(payload);
    out
}

fn audio_demuxer() -> FragmentDemuxer {
    FragmentDemuxer::from_init(&written_init(&audio_track(), 2)).expect("init")
}

#[test]
fn tfhd_defaults_and_a_missing_tfdt_continue_the_track() {
    let mut demuxer = audio_demuxer();
    // Three samples of 4 bytes, 1024 ticks each, all from tfhd defaults; no tfdt.
    let moof = |sequence_number| Moof {
        mfhd: Mfhd { sequence_number },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 2,
                default_base_is_moof: true,
                default_sample_duration: Some(1024),
                default_sample_size: Some(4),
                default_sample_flags: Some(0),
                ..Default::default()
            },
            tfdt: None,
            trun: vec![Trun {
                data_offset: Some(0),
                samples: TrunSamples::Inherited {
                    count: 3,
                    first_flags: None,
                },
            }],
            ..Default::default()
        }],
    };
    let payload: Vec<u8> = (0..12).collect();
    let mut out = Vec::new();
    demuxer
        .push_segment(&fragment(moof(1), &payload), &mut out)
        .expect("first");
    demuxer
        .push_segment(&fragment(moof(2), &payload), &mut out)
        .expect("second");
    let times: Vec<i64> = out.iter().map(|f| f.dts.ticks).collect();
    assert_eq!(times, [0, 1024, 2048, 3072, 4096, 5120]);
    assert_eq!(out[1].data.as_ref(), [4, 5, 6, 7]);

    // After a reset, a fragment without tfdt starts at 0 again.
    demuxer.reset();
    let mut again = Vec::new();
    demuxer
        .push_segment(&fragment(moof(3), &payload), &mut again)
        .expect("third");
    assert_eq!(again[0].dts.ticks, 0);
}

#[test]
fn runs_without_data_offset_follow_each_other_and_version_0_offsets_are_unsigned() {
    let track = video_track();
    let mut demuxer = FragmentDemuxer::from_init(&written_init(&track, 1)).expect("init");
    let entry = |size, flags, cts| TrunEntry {
        duration: Some(3000),
        size: Some(size),
        flags: Some(flags),
        cts: Some(cts),
    };
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 1,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt {
                base_media_decode_time: 90_000,
            }),
            trun: vec![
                Trun {
                    data_offset: Some(0),
                    samples: TrunSamples::Explicit(vec![
                        entry(3, 0x0200_0000, 6000),
                        entry(2, 0x0101_0000, 0x8000_0000),
                    ]),
                },
                // No data offset: right after the first run's data.
                Trun {
                    data_offset: None,
                    samples: TrunSamples::Explicit(vec![entry(4, 0x0101_0000, 3000)]),
                },
            ],
            ..Default::default()
        }],
    };
    let mut out = Vec::new();
    demuxer
        .push_segment(&fragment(moof, &[1, 1, 1, 2, 2, 3, 3, 3, 3]), &mut out)
        .expect("segment");
    let data: Vec<&[u8]> = out.iter().map(|f| f.data.as_ref()).collect();
    assert_eq!(data, [&[1, 1, 1][..], &[2, 2], &[3, 3, 3, 3]]);
    let dts: Vec<i64> = out.iter().map(|f| f.dts.ticks).collect();
    assert_eq!(dts, [90_000, 93_000, 96_000]);
    assert_eq!(out[0].pts.ticks, 96_000);
    // The encoder wrote version 0 for an offset beyond i32: it reads back unsigned.
    assert_eq!(out[1].pts.ticks, 93_000 + 0x8000_0000);
    let keyframes: Vec<bool> = out.iter().map(|f| f.keyframe).collect();
    assert_eq!(keyframes, [true, false, false]);
}

#[test]
fn the_implicit_base_is_the_moof_then_the_previous_traf() {
    let (video, audio) = (video_track(), audio_track());
    let mut demuxer = FragmentDemuxer::from_init(&two_track_init(&video, &audio)).expect("init");
    let traf = |track_id, size| Traf {
        tfhd: Tfhd {
            track_id,
            default_sample_duration: Some(10),
            default_sample_size: Some(size),
            default_sample_flags: Some(0),
            ..Default::default()
        },
        tfdt: Some(Tfdt::default()),
        trun: vec![Trun {
            // Neither base_data_offset nor default-base-is-moof: offsets count from moof.
            data_offset: Some(0),
            samples: TrunSamples::Inherited {
                count: 2,
                first_flags: None,
            },
        }],
        ..Default::default()
    };
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![traf(1, 3), traf(2, 2)],
    };
    // Only the first traf's run has an offset; the second traf starts after its data.
    moof.traf[1].trun[0].data_offset = None;
    let mut out = Vec::new();
    demuxer
        .push_segment(&fragment(moof, &[1, 1, 1, 1, 1, 1, 2, 2, 2, 2]), &mut out)
        .expect("segment");
    let data: Vec<(TrackKind, &[u8])> = out.iter().map(|f| (f.kind, f.data.as_ref())).collect();
    assert_eq!(
        data,
        [
            (TrackKind::Video, &[1, 1, 1][..]),
            (TrackKind::Audio, &[2, 2]),
            (TrackKind::Video, &[1, 1, 1]),
            (TrackKind::Audio, &[2, 2]),
        ]
    );
}

#[test]
fn base_data_offset_counts_from_the_segment_start() {
    let mut demuxer = audio_demuxer();
    let styp = {
        let mut out = Vec::new();
        mp4_atom::Styp {
            major_brand: b"msdh".into(),
            minor_version: 0,
            compatible_brands: vec![],
        }
        .encode(&mut out)
        .expect("styp");
        out
    };
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 2,
                base_data_offset: Some(0),
                default_sample_duration: Some(1024),
                default_sample_size: Some(5),
                ..Default::default()
            },
            tfdt: Some(Tfdt::default()),
            trun: vec![Trun {
                data_offset: Some(styp.len() as i32),
                samples: TrunSamples::Inherited {
                    count: 1,
                    first_flags: None,
                },
            }],
            ..Default::default()
        }],
    };
    let segment = [styp, fragment(moof, &[9, 8, 7, 6, 5])].concat();
    let mut out = Vec::new();
    demuxer.push_segment(&segment, &mut out).expect("segment");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].data.as_ref(), [9, 8, 7, 6, 5]);
}

#[test]
fn zero_size_samples_advance_time_without_a_frame() {
    let mut demuxer = audio_demuxer();
    let entry = |size| TrunEntry {
        duration: Some(1024),
        size: Some(size),
        ..Default::default()
    };
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 2,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt::default()),
            trun: vec![Trun {
                data_offset: Some(0),
                samples: TrunSamples::Explicit(vec![entry(2), entry(0), entry(1)]),
            }],
            ..Default::default()
        }],
    };
    let mut out = Vec::new();
    assert_eq!(
        demuxer.push_segment(&fragment(moof, &[1, 1, 2]), &mut out),
        Ok(2)
    );
    assert_eq!(out[1].dts.ticks, 2048);
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
fn encrypted_sample_entries_are_refused() {
    let mut init = fixture("init.mp4");
    let at = init.windows(4).position(|w| w == b"avc1").expect("avc1");
    init[at..at + 4].copy_from_slice(b"encv");
    match FragmentDemuxer::from_init(&init) {
        Err(MediaError::Unsupported { what, detail }) => {
            assert_eq!(what, "encrypted fMP4");
            assert!(detail.contains("encv"), "{detail}");
        }
        other => panic!("expected encryption refused, got {other:?}"),
    }
}

#[test]
fn a_senc_box_is_refused() {
    let mut demuxer = audio_demuxer();
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 2,
                default_base_is_moof: true,
                ..Default::default()
            },
            trun: vec![Trun {
                data_offset: Some(0),
                samples: TrunSamples::Explicit(vec![TrunEntry {
                    size: Some(1),
                    ..Default::default()
                }]),
            }],
            senc: Some(Senc::default()),
            ..Default::default()
        }],
    };
    let mut out = Vec::new();
    let err = demuxer
        .push_segment(&fragment(moof, &[1]), &mut out)
        .expect_err("encrypted");
    assert!(
        matches!(&err, MediaError::Unsupported { what: "encrypted fMP4", detail } if detail.contains("senc")),
        "{err:?}"
    );
    assert!(out.is_empty());
}

/// The fixture init with the video track's first sample entry replaced.
fn fixture_init_with_video_entry(codec: Codec) -> Vec<u8> {
    let init = fixture("init.mp4");
    let mut buf = init.as_slice();
    let ftyp = mp4_atom::Ftyp::decode(&mut buf).expect("ftyp");
    let mut moov = Moov::decode(&mut buf).expect("moov");
    moov.trak[0].mdia.minf.stbl.stsd.codecs = vec![codec];
    let mut out = Vec::new();
    ftyp.encode(&mut out).expect("ftyp");
    moov.encode(&mut out).expect("moov");
    out
}

#[test]
fn written_h265_reads_back_exactly_with_the_received_record() {
    let record = crate::test_support::hex(crate::test_support::FFMPEG_HVCC);
    let config = crate::codec::HevcConfig::parse(Bytes::from(record.clone())).expect("hvcC");
    let track = TrackInfo::hevc(config);
    let init = written_init(&track, 1);
    let mut demuxer = FragmentDemuxer::from_init(&init).expect("init");
    assert_eq!(demuxer.tracks(), vec![track.clone()]);
    assert_eq!(
        demuxer.tracks()[0].codec.record().as_ref(),
        record.as_slice()
    );
    let samples = video_samples();
    let (fragment, payloads) = written_fragment(1, 90_000, &samples, true);
    let mut out = Vec::new();
    assert_eq!(demuxer.push_segment(&fragment, &mut out), Ok(5));
    assert_eq!(out, expected_frames(&track, 90_000, &samples, &payloads));
}

#[test]
fn an_hvc1_entry_without_parameter_sets_is_refused() {
    let init = fixture_init_with_video_entry(Codec::Hvc1(Hvc1::default()));
    let err = FragmentDemuxer::from_init(&init).expect_err("no SPS in the hvcC");
    assert!(
        err.to_string().contains("HEVCDecoderConfigurationRecord"),
        "{err}"
    );
}

#[test]
fn other_sample_entries_are_skipped_and_described() {
    let mut init = fixture("init.mp4");
    let at = init.windows(4).position(|w| w == b"mp4a").expect("mp4a");
    init[at..at + 4].copy_from_slice(b"zzza");
    let demuxer = FragmentDemuxer::from_init(&init).expect("the video track is read");
    assert_eq!(demuxer.tracks().len(), 1);
    assert_eq!(
        demuxer.skipped_tracks(),
        ["track 2 (soun): sample entry zzza"]
    );

    // With the video entry also unknown, nothing is left.
    let at = init.windows(4).position(|w| w == b"avc1").expect("avc1");
    init[at..at + 4].copy_from_slice(b"zzzv");
    match FragmentDemuxer::from_init(&init) {
        Err(MediaError::Unsupported { detail, .. }) => {
            assert!(
                detail.contains("zzzv") && detail.contains("zzza"),
                "{detail}"
            )
        }
        other => panic!("expected no track, got {other:?}"),
    }
}

#[test]
fn an_init_without_moov_or_mvex_is_refused() {
    let err = FragmentDemuxer::from_init(&fixture("seg0.m4s")).expect_err("no moov");
    assert!(
        matches!(&err, MediaError::Invalid { reason, .. } if reason == "no moov box"),
        "{err:?}"
    );

    let init = fixture("init.mp4");
    let mut buf = init.as_slice();
    let _ = mp4_atom::Ftyp::decode(&mut buf).expect("ftyp");
    let mut moov = Moov::decode(&mut buf).expect("moov");
    moov.mvex = None;
    let mut bytes = Vec::new();
    moov.encode(&mut bytes).expect("moov");
    let err = FragmentDemuxer::from_init(&bytes).expect_err("no mvex");
    assert!(
        matches!(&err, MediaError::Invalid { reason, .. } if reason.contains("mvex")),
        "{err:?}"
    );
}

#[test]
fn more_samples_than_bytes_is_refused_without_reading_them() {
    let mut demuxer = audio_demuxer();
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 2,
                default_base_is_moof: true,
                default_sample_size: Some(0),
                ..Default::default()
            },
            tfdt: Some(Tfdt::default()),
            trun: vec![Trun {
                data_offset: Some(0),
                samples: TrunSamples::Inherited {
                    count: u32::MAX,
                    first_flags: None,
                },
            }],
            ..Default::default()
        }],
    };
    let mut out = Vec::new();
    let err = demuxer
        .push_segment(&fragment(moof, &[]), &mut out)
        .expect_err("too many samples");
    assert!(
        matches!(&err, MediaError::Invalid { reason, .. } if reason.contains("4294967295 samples")),
        "{err:?}"
    );
}

#[test]
fn samples_outside_the_mdat_are_refused() {
    let mut demuxer = audio_demuxer();
    let (mut segment, _) = written_fragment(2, 0, &audio_samples(3), false);
    // Drop the mdat's last byte and shrink its size: the last sample runs past it.
    segment.pop();
    let mdat_at = segment
        .windows(4)
        .rposition(|w| w == b"mdat")
        .expect("mdat")
        - 4;
    let size = u32::from_be_bytes(segment[mdat_at..mdat_at + 4].try_into().expect("4")) - 1;
    segment[mdat_at..mdat_at + 4].copy_from_slice(&size.to_be_bytes());
    let mut out = Vec::new();
    let err = demuxer
        .push_segment(&segment, &mut out)
        .expect_err("outside");
    assert!(
        matches!(&err, MediaError::Invalid { reason, .. } if reason.contains("not inside an mdat")),
        "{err:?}"
    );
}

#[test]
fn samples_sharing_bytes_cannot_copy_out_more_than_the_mdat_holds() {
    let mut demuxer = audio_demuxer();
    // Two runs over the same 3 bytes of a 4-byte mdat.
    let run = || Trun {
        data_offset: Some(0),
        samples: TrunSamples::Explicit(vec![TrunEntry {
            duration: Some(1024),
            size: Some(3),
            ..Default::default()
        }]),
    };
    let moof = Moof {
        mfhd: Mfhd { sequence_number: 1 },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id: 2,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: Some(Tfdt::default()),
            trun: vec![run(), run()],
            ..Default::default()
        }],
    };
    let mut out = Vec::new();
    let err = demuxer
        .push_segment(&fragment(moof, &[1, 2, 3, 4]), &mut out)
        .expect_err("overlap");
    assert!(
        matches!(&err, MediaError::Invalid { reason, .. } if reason.contains("more bytes than")),
        "{err:?}"
    );
    assert!(out.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Damaged input: errors, never panics, and nothing changed on error

#[test]
fn every_truncated_init_is_an_error() {
    let init = fixture("init.mp4");
    for len in 0..init.len() {
        assert!(
            FragmentDemuxer::from_init(&init[..len]).is_err(),
            "init cut at {len} parsed"
        );
    }
}

#[test]
fn every_truncated_segment_is_an_error_and_changes_nothing() {
    let init = fixture("init.mp4");
    let segment = fixture("seg1.m4s");
    let mut demuxer = FragmentDemuxer::from_init(&init).expect("init");
    let expected = {
        let mut out = Vec::new();
        demuxer
            .clone()
            .push_segment(&segment, &mut out)
            .expect("whole");
        out
    };
    // Every cut in the boxes before the samples, then every 97th byte.
    let cuts = (0..1200).chain((1200..segment.len()).step_by(97));
    let mut out = vec![expected[0].clone()];
    for len in cuts {
        let result = demuxer.push_segment(&segment[..len], &mut out);
        assert!(result.is_err(), "segment cut at {len}: {result:?}");
        assert_eq!(out.len(), 1, "cut at {len}: out untouched");
    }
    out.clear();
    demuxer.push_segment(&segment, &mut out).expect("whole");
    assert_eq!(out, expected, "the failures left no state behind");
}

/// A small deterministic generator for the damage tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn corrupted_inits_and_segments_never_panic() {
    let init = fixture("init.mp4");
    let segment = fixture("seg0.m4s");
    let segment = &segment[..segment.len().min(4096)];
    let mut rng = Lcg(7);
    // Every byte of the init and of the segment's boxes flipped, one at a time.
    for at in 0..init.len() {
        let mut bad = init.clone();
        bad[at] ^= 0xFF;
        let _ = FragmentDemuxer::from_init(&bad);
    }
    let demuxer = FragmentDemuxer::from_init(&init).expect("init");
    for at in 0..1200 {
        let mut bad = segment.to_vec();
        bad[at] ^= 0xFF;
        let _ = demuxer.clone().push_segment(&bad, &mut Vec::new());
        bad[at] = rng.next() as u8;
        let _ = demuxer.clone().push_segment(&bad, &mut Vec::new());
    }
    // Random bytes, and random bytes behind a valid-looking box header.
    for _ in 0..2000 {
        let len = (rng.next() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = FragmentDemuxer::from_init(&bytes);
        let _ = demuxer.clone().push_segment(&bytes, &mut Vec::new());
        if bytes.len() >= 8 {
            bytes[..4].copy_from_slice(&(len as u32).to_be_bytes());
            bytes[4..8].copy_from_slice(if rng.next().is_multiple_of(2) {
                b"moof"
            } else {
                b"moov"
            });
            let _ = FragmentDemuxer::from_init(&bytes);
            let _ = demuxer.clone().push_segment(&bytes, &mut Vec::new());
        }
    }
}
