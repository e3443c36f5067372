//! Interop: CMAF tracks written from the committed ffmpeg fixture and read back by ffprobe.
//!
//! The fixture is demuxed with the crate's own FLV reader and demuxer; each track becomes a
//! CMAF header and three fragments in one file, and ffprobe must report every sample with
//! the timestamps, size and key flag that were written.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::super::*;
use crate::flv::{DemuxEvent, FlvDemuxer, FlvReader, FlvTagType};
use crate::frame::{Frame, TrackKind};
use crate::time::Timescale;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv"
);

/// Fragments written per track.
const FRAGMENTS: usize = 3;

/// A temporary file, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        TempFile(std::env::temp_dir().join(format!(
            "headwater-media-fmp4-{name}-{}-{nanos}-{}.mp4",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn ffprobe_installed() -> bool {
    crate::test_support::tool_installed("ffprobe", "fMP4 interop")
}

struct Demuxed {
    video: TrackInfo,
    audio: TrackInfo,
    video_frames: Vec<Frame>,
    audio_frames: Vec<Frame>,
}

fn demux_fixture() -> Demuxed {
    let data = std::fs::read(FIXTURE).expect("read the FLV fixture");
    let mut reader = FlvReader::new();
    reader.push(&data);
    let mut demuxer = FlvDemuxer::new();
    let (mut video, mut audio) = (None, None);
    let (mut video_frames, mut audio_frames) = (Vec::new(), Vec::new());
    while let Some(tag) = reader.next_tag().expect("FLV tag") {
        let event = match tag.tag_type {
            FlvTagType::Video => demuxer.push_video(tag.timestamp_ms, &tag.body),
            FlvTagType::Audio => demuxer.push_audio(tag.timestamp_ms, &tag.body),
            FlvTagType::Script => continue,
        }
        .expect("demux");
        match event {
            Some(DemuxEvent::Track(track)) => {
                let slot = match track.kind() {
                    TrackKind::Video => &mut video,
                    TrackKind::Audio => &mut audio,
                };
                assert!(slot.replace(track).is_none(), "one configuration per track");
            }
            Some(DemuxEvent::Frame(frame)) => match frame.kind {
                TrackKind::Video => video_frames.push(frame),
                TrackKind::Audio => audio_frames.push(frame),
            },
            None => {}
        }
    }
    assert_eq!(reader.buffered(), 0, "the whole file was read");
    Demuxed {
        video: video.expect("video track"),
        audio: audio.expect("audio track"),
        video_frames,
        audio_frames,
    }
}

/// One sample to write, with the times ffprobe should report.
struct Expected {
    dts: i64,
    pts: i64,
    sample: FragmentSample,
}

/// Writes the header and one fragment per group of samples (`groups` are index ranges);
/// returns the file's bytes.
fn write_track(
    track: &TrackInfo,
    track_id: u32,
    samples: &[Expected],
    payloads: &[&[u8]],
    groups: &[Range<usize>],
) -> Vec<u8> {
    let mut out = Vec::new();
    write_init_segment(track, track_id, &mut out).expect("CMAF header");
    for (i, group) in groups.iter().enumerate() {
        let base = u64::try_from(samples[group.start].dts).expect("non-negative time");
        let fragment: Vec<FragmentSample> =
            samples[group.clone()].iter().map(|e| e.sample).collect();
        write_fragment(
            track_id,
            i as u32 + 1,
            base,
            &fragment,
            &mut payloads[group.clone()].iter().copied(),
            true,
            &mut out,
        )
        .expect("CMAF fragment");
    }
    out
}

/// Runs ffprobe on `bytes`: the parsed JSON of its streams and packets, and how many frames
/// its decoder got out of the stream, after checking each run succeeded without a word on
/// stderr (so no demuxer or decoder error either).
fn ffprobe(name: &str, bytes: &[u8]) -> (Value, u64) {
    let file = TempFile::new(name);
    std::fs::write(&file.0, bytes).expect("write temp file");
    let run = |args: &[&str]| -> Value {
        let output = Command::new("ffprobe")
            .args(["-v", "error"])
            .args(args)
            .args(["-of", "json"])
            .arg(&file.0)
            .output()
            .expect("run ffprobe");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "ffprobe {args:?} failed: {stderr}");
        assert!(
            stderr.trim().is_empty(),
            "ffprobe {args:?} complained: {stderr}"
        );
        serde_json::from_slice(&output.stdout).expect("ffprobe JSON")
    };
    let probe = run(&["-show_packets", "-show_streams"]);
    let counted = run(&["-count_frames", "-show_entries", "stream=nb_read_frames"]);
    let frames = counted["streams"][0]["nb_read_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("nb_read_frames");
    (probe, frames)
}

/// Checks ffprobe's packets against what was written: order, times, size, key flag.
///
/// ffmpeg's MP4 demuxer keeps pts >= dts: when a `trun` has negative composition offsets it
/// reports every pts later by the most negative one (its `dts_shift`), so `pts_shift` is
/// that amount, or 0.
fn assert_packets(probe: &Value, samples: &[Expected], pts_shift: i64) {
    let packets = probe["packets"].as_array().expect("packets");
    assert_eq!(packets.len(), samples.len(), "one packet per sample");
    for (i, (packet, want)) in packets.iter().zip(samples).enumerate() {
        assert_eq!(packet["stream_index"], 0, "packet {i}");
        assert_eq!(packet["dts"].as_i64(), Some(want.dts), "packet {i} dts");
        assert_eq!(
            packet["pts"].as_i64(),
            Some(want.pts + pts_shift),
            "packet {i} pts"
        );
        // ffmpeg leaves the duration of the first AAC packet unset (as it does for its own
        // fMP4 output); every other packet has the trun's.
        match packet["duration"].as_i64() {
            Some(duration) => assert_eq!(
                duration,
                i64::from(want.sample.duration),
                "packet {i} duration"
            ),
            None => assert_eq!(i, 0, "packet {i} has no duration"),
        }
        assert_eq!(
            packet["size"].as_str().and_then(|s| s.parse::<u32>().ok()),
            Some(want.sample.size),
            "packet {i} size"
        );
        let flags = packet["flags"].as_str().expect("flags");
        assert_eq!(
            flags.starts_with('K'),
            want.sample.keyframe,
            "packet {i} flags {flags}"
        );
    }
}

#[test]
fn ffprobe_reads_real_h264_fragments_with_exact_timestamps() {
    if !ffprobe_installed() {
        return;
    }
    check_video(false);
}

/// The same with every presentation time moved back by the first sample's composition
/// offset, so the first picture is shown at its decode time and the offsets of the
/// B-frames' references go negative (the CMAF `cmf2` style, without an edit list).
#[test]
fn ffprobe_reads_negative_composition_offsets() {
    if !ffprobe_installed() {
        return;
    }
    check_video(true);
}

fn check_video(negative_offsets: bool) {
    let demuxed = demux_fixture();
    let frames = &demuxed.video_frames;
    let times: Vec<(i64, i64)> = frames
        .iter()
        .map(|f| {
            (
                f.dts.rescale(Timescale::MPEG).ticks,
                f.pts.rescale(Timescale::MPEG).ticks,
            )
        })
        .collect();
    // Each sample lasts until the next one's decode time; the last as long as the one before.
    let durations: Vec<i64> = times
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .chain(
            times
                .len()
                .checked_sub(2)
                .map(|i| times[i + 1].0 - times[i].0),
        )
        .collect();
    let samples: Vec<Expected> = frames
        .iter()
        .zip(&times)
        .zip(&durations)
        .map(|((frame, &(dts, pts)), &duration)| Expected {
            dts,
            pts,
            sample: FragmentSample {
                duration: u32::try_from(duration).expect("increasing dts"),
                size: u32::try_from(frame.data.len()).expect("small frame"),
                keyframe: frame.keyframe,
                composition_offset: i32::try_from(pts - dts).expect("small offset"),
            },
        })
        .collect();
    assert!(
        samples.iter().any(|s| s.sample.composition_offset != 0),
        "the fixture has B-frames"
    );
    let mut samples = samples;
    if negative_offsets {
        let shift = samples[0].sample.composition_offset;
        assert!(
            shift > 0,
            "the first picture is shown after its decode time"
        );
        for s in &mut samples {
            s.sample.composition_offset -= shift;
            s.pts -= i64::from(shift);
        }
        assert!(samples.iter().any(|s| s.sample.composition_offset < 0));
    }

    // One fragment per GOP, the first three GOPs.
    let keyframes: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].sample.keyframe)
        .collect();
    assert_eq!(keyframes[0], 0, "starts with a keyframe");
    assert!(keyframes.len() > FRAGMENTS, "enough GOPs");
    let groups: Vec<Range<usize>> = keyframes
        .windows(2)
        .take(FRAGMENTS)
        .map(|w| w[0]..w[1])
        .collect();
    let written = &samples[..groups[FRAGMENTS - 1].end];
    let payloads: Vec<&[u8]> = frames.iter().map(|f| &f.data[..]).collect();
    let file = write_track(&demuxed.video, 1, &samples, &payloads, &groups);

    let (probe, decoded) = ffprobe(
        if negative_offsets {
            "video-neg"
        } else {
            "video"
        },
        &file,
    );
    assert_eq!(decoded, written.len() as u64, "every picture decodes");
    let streams = probe["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1);
    let stream = &streams[0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["codec_type"], "video");
    assert_eq!(stream["width"], 320);
    assert_eq!(stream["height"], 240);
    assert_eq!(stream["time_base"], "1/90000");
    assert_eq!(stream["id"], "0x1");
    // Read as signed, the offsets put every picture back where it was, give or take
    // ffmpeg's constant shift; read as unsigned they would be billions of ticks off.
    let most_negative = written
        .iter()
        .map(|s| s.sample.composition_offset)
        .min()
        .unwrap_or(0);
    assert_packets(&probe, written, i64::from(most_negative.min(0)).abs());
}

#[test]
fn ffprobe_reads_real_aac_fragments_with_exact_timestamps() {
    if !ffprobe_installed() {
        return;
    }
    let demuxed = demux_fixture();
    let CodecConfig::Aac(config) = &demuxed.audio.codec else {
        panic!("AAC track");
    };
    let rate = Timescale::new(config.sample_rate).expect("sample rate");
    assert_eq!(demuxed.audio.timescale, rate);
    let frames = &demuxed.audio_frames;
    // AAC frames are back to back on the sample clock, from the first frame's time.
    let start = frames[0].dts.rescale(rate).ticks;
    let frame_len = config.samples_per_frame;
    assert_eq!(frame_len, 1024);
    let samples: Vec<Expected> = frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let t = start + i as i64 * i64::from(frame_len);
            Expected {
                dts: t,
                pts: t,
                sample: FragmentSample {
                    duration: frame_len,
                    size: u32::try_from(frame.data.len()).expect("small frame"),
                    keyframe: true,
                    composition_offset: 0,
                },
            }
        })
        .collect();
    // About two seconds per fragment.
    let per_fragment = (2 * config.sample_rate / frame_len) as usize;
    assert!(samples.len() > FRAGMENTS * per_fragment, "enough audio");
    let groups: Vec<Range<usize>> = (0..FRAGMENTS)
        .map(|k| k * per_fragment..(k + 1) * per_fragment)
        .collect();
    let written = &samples[..FRAGMENTS * per_fragment];
    let payloads: Vec<&[u8]> = frames.iter().map(|f| &f.data[..]).collect();
    let file = write_track(&demuxed.audio, 2, &samples, &payloads, &groups);

    let (probe, decoded) = ffprobe("audio", &file);
    assert_eq!(decoded, written.len() as u64, "every AAC frame decodes");
    let streams = probe["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 1);
    let stream = &streams[0];
    assert_eq!(stream["codec_name"], "aac");
    assert_eq!(stream["codec_type"], "audio");
    assert_eq!(stream["profile"], "LC");
    assert_eq!(stream["sample_rate"], "48000");
    assert_eq!(stream["channels"], 2);
    assert_eq!(stream["time_base"], "1/48000");
    assert_eq!(stream["id"], "0x2");
    assert_packets(&probe, written, 0);
}
