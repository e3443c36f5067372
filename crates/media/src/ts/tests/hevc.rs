//! H.265 in MPEG-TS: an x265 stream made by ffmpeg demuxed, muxed again by the crate's own
//! muxer and demuxed again; and the muxed segments read by ffprobe.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use super::super::demux::{TsDemuxer, TsEvent};
use super::super::psi::STREAM_TYPE_H265;
use super::super::*;
use crate::codec::{hevc, CodecConfig, TrackInfo};
use crate::frame::{Frame, TrackKind};

/// 4 s of 320x240 25 fps x265 (2 B-frames, 2 s GOP, open GOP as x265 defaults to) and
/// 48 kHz stereo AAC; see `fixtures/README.md`.
const HEVC_TS: &[u8] =
    include_bytes!("../../../../../fixtures/ffmpeg-5.1_hevc-aac_320x240_25fps_4s_2s-gop.ts");

struct Demuxed {
    tracks: Vec<TrackInfo>,
    video: Vec<Frame>,
    audio: Vec<Frame>,
    errors: usize,
}

fn demux(ts: &[u8], chunk: usize) -> Demuxed {
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    for part in ts.chunks(chunk) {
        demuxer.push(part, &mut events);
    }
    demuxer.finish(&mut events);
    let mut d = Demuxed {
        tracks: Vec::new(),
        video: Vec::new(),
        audio: Vec::new(),
        errors: 0,
    };
    for event in events {
        match event {
            TsEvent::Track(t) => d.tracks.push(t),
            TsEvent::Frame(f) if f.kind == TrackKind::Video => d.video.push(f),
            TsEvent::Frame(f) => d.audio.push(f),
            TsEvent::Error(e) => {
                eprintln!("{e}");
                d.errors += 1
            }
        }
    }
    d
}

fn video_config(d: &Demuxed) -> &CodecConfig {
    &d.tracks
        .iter()
        .find(|t| t.kind() == TrackKind::Video)
        .expect("video track")
        .codec
}

#[test]
fn x265_stream_demuxes_into_an_hevc_track_and_frames() {
    for chunk in [188, 1316, 7 * 188 + 5, HEVC_TS.len()] {
        let d = demux(HEVC_TS, chunk);
        assert_eq!(d.errors, 0, "chunk {chunk}");
        let CodecConfig::Hevc(config) = video_config(&d) else {
            panic!("expected H.265, got {:?}", video_config(&d));
        };
        assert_eq!((config.info.width, config.info.height), (320, 240));
        assert_eq!(config.codec_string(), "hvc1.1.6.L60.90");
        assert_eq!(config.info.frame_rate, Some(25.0));
        assert_eq!(
            (config.vps.len(), config.sps.len(), config.pps.len()),
            (1, 1, 1)
        );
        assert_eq!(d.tracks.len(), 2, "one video and one audio track");
        assert_eq!(d.video.len(), 100, "chunk {chunk}");
        assert_eq!(d.audio.len(), 189, "chunk {chunk}");
        let keyframes: Vec<usize> = (0..d.video.len())
            .filter(|&i| d.video[i].keyframe)
            .collect();
        // The second GOP's CRA picture is decoded 49th (its leading B-frames follow it).
        assert_eq!(keyframes, vec![0, 49]);
        assert!(d.video.iter().any(|f| f.pts != f.dts), "B-frames reorder");
        for f in &d.video {
            // Length-prefixed NAL units, without parameter sets or delimiters.
            let mut pos = 0;
            while pos < f.data.len() {
                let len = u32::from_be_bytes(f.data[pos..pos + 4].try_into().unwrap()) as usize;
                let t = hevc::nal_type(&f.data[pos + 4..]);
                assert!(
                    !(hevc::NAL_VPS..=hevc::NAL_AUD).contains(&t),
                    "NAL type {t}"
                );
                pos += 4 + len;
            }
            assert_eq!(pos, f.data.len());
        }
    }
}

/// Muxes `d` into segments that start at each keyframe.
fn remux(d: &Demuxed) -> Vec<Vec<u8>> {
    let config = video_config(d).clone();
    let audio = d
        .tracks
        .iter()
        .find_map(|t| t.codec.aac().cloned())
        .expect("audio track");
    let mut all: Vec<&Frame> = d.video.iter().chain(&d.audio).collect();
    all.sort_by_key(|f| (f.dts.ticks, f.kind != TrackKind::Video));
    let mut segments = Vec::new();
    let mut current: Vec<TsSample<'_>> = Vec::new();
    let flush = |current: &mut Vec<TsSample<'_>>, segments: &mut Vec<Vec<u8>>| {
        if current.is_empty() {
            return;
        }
        let mut out = Vec::new();
        write_segment(
            Some(&config),
            Some(&audio),
            current,
            segments.len() as u64,
            &mut out,
        )
        .expect("mux");
        segments.push(out);
        current.clear();
    };
    for f in all {
        if f.kind == TrackKind::Video && f.keyframe {
            flush(&mut current, &mut segments);
        }
        current.push(TsSample {
            kind: f.kind,
            dts: f.dts.ticks,
            pts: f.pts.ticks,
            keyframe: f.keyframe,
            data: &f.data,
        });
    }
    flush(&mut current, &mut segments);
    segments
}

#[test]
fn hevc_round_trips_through_own_muxer() {
    let first = demux(HEVC_TS, 1316);
    let segments = remux(&first);
    assert_eq!(segments.len(), 2);
    let joined: Vec<u8> = segments.concat();
    let second = demux(&joined, 1316);
    assert_eq!(second.errors, 0);
    assert_eq!(video_config(&second), video_config(&first));
    assert_eq!(second.video, first.video, "video frames come back exactly");
    assert_eq!(second.audio.len(), first.audio.len());
    for segment in &segments {
        // The PMT (second packet) lists stream type 0x24; every keyframe carries VPS, SPS
        // and PPS after an H.265 access unit delimiter.
        let pmt = &segment[PACKET_SIZE..2 * PACKET_SIZE];
        assert!(pmt.windows(3).any(|w| w == [STREAM_TYPE_H265, 0xE1, 0x00]));
        let find = |needle: &[u8]| segment.windows(needle.len()).position(|w| w == needle);
        let aud = find(&[0, 0, 0, 1, 0x46, 0x01, 0x50]).expect("HEVC AUD");
        let vps = find(&[0, 0, 0, 1, 0x40, 0x01]).expect("VPS");
        let sps = find(&[0, 0, 0, 1, 0x42, 0x01]).expect("SPS");
        let pps = find(&[0, 0, 0, 1, 0x44, 0x01]).expect("PPS");
        assert!(aud < vps && vps < sps && sps < pps);
    }
}

#[test]
fn ffprobe_reads_muxed_hevc_segments() {
    if !crate::test_support::tool_installed("ffprobe", "MPEG-TS H.265 interop") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("headwater-media-ts-hevc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("hevc.ts");
    std::fs::write(&path, remux(&demux(HEVC_TS, 1316)).concat()).expect("write");
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .args([
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "{stderr}"
    );
    assert!(stdout.contains("hevc,320,240,100"), "{stdout}");
    assert!(stdout.contains("aac"), "{stdout}");
}
