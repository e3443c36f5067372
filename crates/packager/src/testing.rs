//! Test channels: renditions cut from synthetic frames at a fixed wall-clock time, so manifests
//! are byte-for-byte reproducible (golden tests).

use bytes::Bytes;
use media::{AacConfig, AvcConfig, Frame, MediaTime, TrackInfo, TrackKind, WallClock};
use segmenter::{Rendition, SegmenterConfig, WindowLimits};

use crate::view::{Presentation, RenditionView};

/// Wall-clock time the test publishers connect: 2023-11-14T22:13:20Z.
pub const SESSION_START_MS: i64 = 1_700_000_000_000;

/// A real 320x240 H.264 High profile configuration (SPS and PPS from ffmpeg's libx264).
pub fn avc() -> TrackInfo {
    const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0x99, 0x60,
    ];
    const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
    match AvcConfig::build_record(SPS, PPS) {
        Ok(config) => TrackInfo::video(config),
        Err(e) => panic!("test SPS does not parse: {e}"),
    }
}

/// A real 160x120 H.264 High profile configuration (SPS and PPS of the 160x120 fixture): what
/// a publisher reconnecting with a smaller picture sends.
pub fn avc_160x120() -> TrackInfo {
    const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x0b, 0xac, 0xd9, 0x42, 0x84, 0x7e, 0x5c, 0x04, 0x40, 0x00, 0x00, 0x03,
        0x00, 0x40, 0x00, 0x00, 0x0c, 0x83, 0xc5, 0x0a, 0x65, 0x80,
    ];
    const PPS: &[u8] = &[0x68, 0xef, 0xbc, 0xb0];
    match AvcConfig::build_record(SPS, PPS) {
        Ok(config) => TrackInfo::video(config),
        Err(e) => panic!("test SPS does not parse: {e}"),
    }
}

/// AAC-LC, 48 kHz, stereo.
pub fn aac() -> TrackInfo {
    TrackInfo::audio(AacConfig {
        asc: Bytes::from_static(&[0x11, 0x90]),
        object_type: 2,
        sampling_frequency_index: 3,
        sample_rate: 48_000,
        channel_config: 2,
        samples_per_frame: 1024,
    })
}

/// Interleaved 25 fps video (two B-frames: pictures shown 80 ms after decode) with a keyframe
/// every `gop_ms`, and 48 kHz AAC, from 0 to `to_ms` on the publisher's clock. Each payload is
/// `size` bytes of a value derived from its index, so payloads are told apart.
pub fn frames(to_ms: i64, gop_ms: i64, size: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    let (mut v, mut a_n) = (0i64, 0i64);
    while v < to_ms {
        let a_ms = a_n * 1024 * 1000 / 48_000;
        let fill = (frames.len() % 251) as u8;
        if a_ms <= v {
            frames.push(Frame {
                kind: TrackKind::Audio,
                dts: MediaTime::from_millis(a_ms),
                pts: MediaTime::from_millis(a_ms),
                keyframe: true,
                data: Bytes::from(vec![fill; size / 10 + 1]),
            });
            a_n += 1;
            continue;
        }
        frames.push(Frame {
            kind: TrackKind::Video,
            dts: MediaTime::from_millis(v),
            pts: MediaTime::from_millis(v + 80),
            keyframe: v % gop_ms == 0,
            data: Bytes::from(vec![fill; size]),
        });
        v += 40;
    }
    frames
}

/// A rendition named `name` fed `seconds` of [`frames`] (2 s GOP) and cut into
/// `segment_secs` segments, payloads in memory.
pub fn rendition(name: &str, bitrate: u64, seconds: i64, segment_secs: u32) -> RenditionView {
    grouped_rendition(name, bitrate, seconds, segment_secs, segment_secs)
}

/// [`rendition`] cut into `cut_secs` stored segments and seen by a package with
/// `package_secs` segments (groups of stored segments).
pub fn grouped_rendition(
    name: &str,
    bitrate: u64,
    seconds: i64,
    cut_secs: u32,
    package_secs: u32,
) -> RenditionView {
    let mut r = live_rendition(cut_secs, 3600);
    r.window.set_group_durations(&[package_secs]);
    push_session(&mut r, 0, seconds, avc(), bitrate);
    view_of(&r, name, bitrate, package_secs)
}

/// A rendition cut into `segment_secs` segments whose window keeps `keep_secs` of media
/// (at least three segments), payloads in memory; no publisher yet.
pub fn live_rendition(segment_secs: u32, keep_secs: i64) -> Rendition {
    Rendition::new(
        SegmenterConfig {
            segment_duration_secs: segment_secs,
        },
        WindowLimits {
            keep: keep_secs * 90_000,
            min_segments: 3,
            max_bytes: usize::MAX,
        },
    )
}

/// Feeds `r` one publisher session: connecting `at_ms` after [`SESSION_START_MS`], `seconds`
/// of [`frames`] (2 s GOP, sized for `bitrate`) with video configuration `video` and
/// [`aac`] audio.
pub fn push_session(r: &mut Rendition, at_ms: i64, seconds: i64, video: TrackInfo, bitrate: u64) {
    r.begin_session(WallClock::from_unix_ms(SESSION_START_MS + at_ms));
    r.set_track(video);
    r.set_track(aac());
    let size = usize::try_from(bitrate / 8 / 25).unwrap_or(1000).max(16);
    for frame in frames(seconds * 1000, 2000, size) {
        r.push(frame);
    }
    r.end_session();
}

/// What a package with `package_secs` segments sees of `r`, named `name`.
pub fn view_of(r: &Rendition, name: &str, bitrate: u64, package_secs: u32) -> RenditionView {
    match RenditionView::from_window(name, Some(bitrate), &r.window, package_secs) {
        Some(view) => view,
        None => panic!("test rendition {name} has no segments"),
    }
}

/// The golden-test channel: renditions `2500000` and `800000`, 12 s of media, 2 s segments.
pub fn two_renditions() -> Vec<RenditionView> {
    vec![
        rendition("2500000", 2_500_000, 12, 2),
        rendition("800000", 800_000, 12, 2),
    ]
}

/// `views` as a request presenting them as `presentation` sees them.
pub fn presented(mut views: Vec<RenditionView>, presentation: Presentation) -> Vec<RenditionView> {
    for view in &mut views {
        view.presentation = presentation;
    }
    views
}

/// The three presentations the writers know, with a shift of 30 s.
pub const PRESENTATIONS: [Presentation; 3] = [
    Presentation::Live,
    Presentation::Shifted { delay_ms: 30_000 },
    Presentation::Recorded,
];
