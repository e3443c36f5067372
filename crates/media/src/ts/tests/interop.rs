//! Interop: segments muxed from real ffmpeg/x264 output, read back by ffprobe and ffmpeg.
//!
//! The encoder output is made at test time (ffmpeg's lavfi test sources, libx264 with
//! B-frames, native AAC, in FLV) so no fixture depends on other unfinished code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::super::*;
use super::flv_reader::{self, FlvStream};

/// Times start 10 s in, so PCR (0.7 s behind) stays positive and nothing wraps.
const OFFSET: i64 = 10 * 90_000;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("headwater-media-ts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `tool` runs. When it does not, the test is skipped loudly, or fails under CI.
fn installed(tool: &str) -> bool {
    crate::test_support::tool_installed(tool, "MPEG-TS interop")
}

/// Runs a command that must succeed; returns its stdout and stderr.
fn run(cmd: &mut Command) -> (String, String) {
    let output = cmd.output().expect("spawn");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{cmd:?} failed: {stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// 2 s of 320x240 25 fps H.264 (two B-frames, GOP 25) and 48 kHz stereo AAC, in FLV.
fn encode_flv(dir: &Path) -> FlvStream {
    let path = dir.join("ffmpeg_h264-aac_320x240_2s-bframes.flv");
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-v", "error"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", "2", "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "25",
        ])
        .args([
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-b:a", "64k", "-ac", "2", "-f", "flv"])
        .arg(&path));
    let stream = flv_reader::read(&std::fs::read(&path).expect("read FLV"), OFFSET);
    assert!(
        stream
            .samples
            .iter()
            .any(|s| s.kind == TrackKind::Video && s.pts != s.dts),
        "the encoder made B-frames"
    );
    stream
}

fn ts_samples(stream: &FlvStream) -> Vec<TsSample<'_>> {
    stream
        .samples
        .iter()
        .map(|s| TsSample {
            kind: s.kind,
            dts: s.dts,
            pts: s.pts,
            keyframe: s.keyframe,
            data: &s.data,
        })
        .collect()
}

fn mux(stream: &FlvStream, samples: &[TsSample<'_>], sequence: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_segment(
        Some(&crate::codec::CodecConfig::Avc(stream.video.clone())),
        Some(&stream.audio),
        samples,
        sequence,
        &mut out,
    )
    .expect("mux real samples");
    out
}

/// `ffprobe -of compact` sections: (section name, key=value fields).
fn compact_sections(text: &str) -> Vec<(&str, HashMap<&str, &str>)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('|');
            let section = fields.next()?;
            Some((section, fields.filter_map(|f| f.split_once('=')).collect()))
        })
        .collect()
}

#[test]
fn ffprobe_reads_real_h264_aac_segment_with_exact_timestamps() {
    if !installed("ffprobe") || !installed("ffmpeg") {
        return;
    }
    let dir = TempDir::new("ffprobe");
    let stream = encode_flv(&dir.0);
    let samples = ts_samples(&stream);
    let path = dir.0.join("segment.ts");
    std::fs::write(&path, mux(&stream, &samples, 5)).expect("write segment");

    let (out, err) = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_packets",
            "-of",
            "compact",
        ])
        .arg(&path));
    assert!(err.trim().is_empty(), "ffprobe complained: {err}");
    let sections = compact_sections(&out);

    let streams: Vec<&HashMap<&str, &str>> = sections
        .iter()
        .filter(|(s, _)| *s == "stream")
        .map(|(_, f)| f)
        .collect();
    assert_eq!(streams.len(), 2, "{out}");
    let video = streams
        .iter()
        .find(|f| f.get("codec_type") == Some(&"video"))
        .expect("video stream");
    assert_eq!(video.get("codec_name"), Some(&"h264"));
    assert_eq!(video.get("width"), Some(&"320"));
    assert_eq!(video.get("height"), Some(&"240"));
    assert_eq!(video.get("id"), Some(&"0x100"));
    let audio = streams
        .iter()
        .find(|f| f.get("codec_type") == Some(&"audio"))
        .expect("audio stream");
    assert_eq!(audio.get("codec_name"), Some(&"aac"));
    assert_eq!(audio.get("sample_rate"), Some(&"48000"));
    assert_eq!(audio.get("channels"), Some(&"2"));
    assert_eq!(audio.get("id"), Some(&"0x101"));

    let packets = |kind: &str| -> Vec<(i64, i64, String)> {
        sections
            .iter()
            .filter(|(s, f)| *s == "packet" && f.get("codec_type") == Some(&kind))
            .map(|(_, f)| {
                let num =
                    |k: &str| -> i64 { f.get(k).and_then(|v| v.parse().ok()).expect("timestamp") };
                (
                    num("pts"),
                    num("dts"),
                    f.get("flags").unwrap_or(&"").to_string(),
                )
            })
            .collect()
    };
    let want_video: Vec<&TsSample<'_>> = samples
        .iter()
        .filter(|s| s.kind == TrackKind::Video)
        .collect();
    let got_video = packets("video");
    assert_eq!(got_video.len(), want_video.len());
    for (i, ((pts, dts, flags), want)) in got_video.iter().zip(&want_video).enumerate() {
        assert_eq!((*pts, *dts), (want.pts, want.dts), "video packet {i}");
        assert_eq!(
            flags.starts_with('K'),
            want.keyframe,
            "video packet {i} flags {flags}"
        );
    }
    assert!(
        got_video[0].2.starts_with('K'),
        "segment starts with a keyframe"
    );

    // ffmpeg splits each audio PES into its ADTS frames and times all but the first from
    // the frame duration (1920 ticks), while FLV times are rounded to milliseconds.
    let want_audio: Vec<&TsSample<'_>> = samples
        .iter()
        .filter(|s| s.kind == TrackKind::Audio)
        .collect();
    let got_audio = packets("audio");
    assert_eq!(got_audio.len(), want_audio.len());
    assert_eq!(got_audio[0].0, want_audio[0].pts);
    for (i, ((pts, _, _), want)) in got_audio.iter().zip(&want_audio).enumerate() {
        assert!(
            (pts - want.pts).abs() <= 90,
            "audio packet {i}: {pts} vs {}",
            want.pts
        );
    }

    // And it decodes without a single complaint.
    let (_, err) = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"]));
    assert!(err.trim().is_empty(), "ffmpeg decode errors: {err}");
}

#[test]
fn consecutive_segments_concatenate_without_continuity_errors() {
    if !installed("ffprobe") || !installed("ffmpeg") {
        return;
    }
    let dir = TempDir::new("concat");
    let stream = encode_flv(&dir.0);
    let samples = ts_samples(&stream);
    // Cut at the second keyframe, as a segmenter would.
    let cut = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == TrackKind::Video && s.keyframe)
        .nth(1)
        .map(|(i, _)| i)
        .expect("two keyframes");
    // PAT/PMT counters 15 then 0: they wrap and still continue.
    let mut joined = mux(&stream, &samples[..cut], 15);
    let second = mux(&stream, &samples[cut..], 16);
    let boundary = joined.len();
    joined.extend_from_slice(&second);

    let probe = |bytes: &[u8], name: &str| -> (usize, String) {
        let path = dir.0.join(name);
        std::fs::write(&path, bytes).expect("write");
        let (out, err) = run(Command::new("ffprobe")
            .args(["-v", "debug", "-show_packets", "-of", "compact"])
            .arg(&path));
        let packets = out.lines().filter(|l| l.starts_with("packet|")).count();
        (packets, err)
    };
    let (count, log) = probe(&joined, "joined.ts");
    assert_eq!(count, samples.len());
    assert!(
        !log.contains("Continuity check failed"),
        "{}",
        log.lines()
            .filter(|l| l.contains("Continuity"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Control: without discontinuity_indicator the same jump is reported.
    let mut unflagged = joined.clone();
    for packet in unflagged[boundary..].chunks_mut(PACKET_SIZE) {
        if packet[3] & 0x20 != 0 && packet[4] > 0 {
            packet[5] &= !0x80;
        }
    }
    let (_, log) = probe(&unflagged, "unflagged.ts");
    assert!(
        log.contains("Continuity check failed"),
        "control did not trip"
    );
}
