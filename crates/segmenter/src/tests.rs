//! Unit tests of cutting and the window, on synthetic frames.

use bytes::Bytes;
use media::{AacConfig, AvcConfig, Frame, MediaTime, Timescale, TrackInfo, TrackKind, WallClock};

use crate::{LiveWindow, Rendition, RenditionSegmenter, SegmenterConfig, WindowLimits};

/// A real 320x240 H.264 High profile configuration (SPS and PPS from ffmpeg's libx264).
pub(crate) fn avc() -> TrackInfo {
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

pub(crate) fn aac() -> TrackInfo {
    TrackInfo::audio(AacConfig {
        asc: Bytes::from_static(&[0x11, 0x90]),
        object_type: 2,
        sampling_frequency_index: 3,
        sample_rate: 48_000,
        channel_config: 2,
        samples_per_frame: 1024,
    })
}

fn video(ms: i64, key: bool) -> Frame {
    Frame {
        kind: TrackKind::Video,
        dts: MediaTime::from_millis(ms),
        pts: MediaTime::from_millis(ms + 80),
        keyframe: key,
        data: Bytes::from_static(&[0; 100]),
    }
}

fn audio(ms: i64) -> Frame {
    Frame {
        kind: TrackKind::Audio,
        dts: MediaTime::from_millis(ms),
        pts: MediaTime::from_millis(ms),
        keyframe: true,
        data: Bytes::from_static(&[0; 10]),
    }
}

/// Interleaved 25 fps video with a keyframe every `gop_ms` and 48 kHz AAC, from `from_ms`.
pub(crate) fn stream(from_ms: i64, to_ms: i64, gop_ms: i64) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut v = from_ms;
    let mut a_n = 0i64;
    while v < to_ms {
        let a_ms = from_ms + a_n * 1024 * 1000 / 48_000;
        if a_ms <= v {
            frames.push(audio(a_ms));
            a_n += 1;
            continue;
        }
        frames.push(video(v, (v - from_ms) % gop_ms == 0));
        v += 40;
    }
    frames
}

fn run(segmenter_secs: u32, start_unix_ms: i64, frames: Vec<Frame>) -> Rendition {
    let mut r = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: segmenter_secs,
        },
        WindowLimits {
            keep: 3600 * 90_000,
            min_segments: 3,
            max_bytes: usize::MAX,
        },
    );
    r.begin_session(WallClock::from_unix_ms(start_unix_ms));
    r.set_track(avc());
    r.set_track(aac());
    for f in frames {
        r.push(f);
    }
    r.end_session();
    r
}

#[test]
fn cuts_at_first_keyframe_at_or_after_each_boundary() {
    // Start on a boundary; keyframes every 1 s; 2 s segments.
    let r = run(2, 1_000_000, stream(0, 10_000, 1_000));
    let segs: Vec<_> = r.window.segments().iter().cloned().collect();
    assert_eq!(segs.len(), 5);
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.start, (1_000_000 + 2_000 * i as i64) * 90, "segment {i}");
        assert_eq!(s.duration, 2 * 90_000);
        let v = s.video.as_ref().expect("video");
        assert!(v.samples[0].keyframe);
        assert_eq!(v.samples.len(), 50);
        let vdur: i64 = v.samples.iter().map(|x| i64::from(x.duration)).sum();
        assert_eq!(vdur, s.duration);
    }
    // Sequence numbers: the first is the boundary index; then +1.
    assert_eq!(segs[0].sequence, 1_000_000 / 2_000);
    assert!(segs.windows(2).all(|w| w[1].sequence == w[0].sequence + 1));
}

#[test]
fn gop_longer_than_duration_gives_longer_segments() {
    let r = run(2, 1_000_000, stream(0, 12_000, 3_000));
    let durations: Vec<i64> = r.window.segments().iter().map(|s| s.duration).collect();
    assert_eq!(durations, vec![270_000; 4]);
}

#[test]
fn unaligned_start_cuts_on_timeline_multiples() {
    // Session starts 0.5 s after a boundary, keyframes every 0.4 s, 2 s segments.
    let r = run(2, 1_000_500, stream(0, 6_500, 400));
    let starts: Vec<i64> = r.window.segments().iter().map(|s| s.start / 90).collect();
    assert_eq!(starts, vec![1_000_500, 1_002_100, 1_004_100, 1_006_100]);
}

#[test]
fn audio_follows_video_cut_points() {
    let r = run(2, 1_000_000, stream(0, 10_000, 1_000));
    let segs: Vec<_> = r.window.segments().iter().cloned().collect();
    for (i, s) in segs.iter().enumerate() {
        let a = s.audio.as_ref().expect("audio");
        let to90 = |dts: i64| {
            MediaTime::new(dts, a.timescale())
                .rescale(Timescale::MPEG)
                .ticks
        };
        // Audio starts with the first picture shown (the keyframe's presentation time)...
        let shown = s.video.as_ref().expect("video").samples[0].pts();
        if i > 0 {
            let first = to90(a.samples[0].dts);
            assert!((first - shown).abs() <= 1920, "{first} vs {shown}");
        }
        // ... and ends where the next segment's first picture is shown.
        if let Some(next) = segs.get(i + 1) {
            let next_shown = next.video.as_ref().expect("video").samples[0].pts();
            let last = a.samples.last().expect("samples");
            assert!(to90(last.dts) < next_shown);
            assert!(to90(last.dts) + 1920 >= next_shown);
        }
        // Smoothed onto the 1024-sample grid.
        assert!(a.samples.windows(2).all(|w| w[1].dts - w[0].dts == 1024));
    }
}

#[test]
fn reconnect_marks_one_discontinuity_and_never_goes_back() {
    let mut r = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        WindowLimits::default(),
    );
    r.begin_session(WallClock::from_unix_ms(1_000_000));
    r.set_track(avc());
    r.set_track(aac());
    for f in stream(0, 6_000, 1_000) {
        r.push(f);
    }
    r.end_session();
    let before = r.window.segments().len();
    // Reconnect "earlier" in wall-clock terms (pushed faster than real time): still after.
    r.begin_session(WallClock::from_unix_ms(1_001_000));
    r.set_track(avc());
    r.set_track(aac());
    for f in stream(50_000, 56_000, 1_000) {
        r.push(f);
    }
    r.end_session();
    let segs: Vec<_> = r.window.segments().iter().cloned().collect();
    assert!(segs.len() > before);
    let disc: Vec<usize> = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.discontinuity)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(disc, vec![before]);
    assert!(segs.windows(2).all(|w| w[1].sequence == w[0].sequence + 1));
    assert!(segs.windows(2).all(|w| w[1].start >= w[0].end()));
}

#[test]
fn frames_before_config_or_keyframe_are_dropped() {
    let mut s = RenditionSegmenter::new(SegmenterConfig {
        segment_duration_secs: 2,
    });
    s.begin_session(WallClock::from_unix_ms(0));
    assert!(s.push(video(0, true)).is_empty());
    s.set_track(avc());
    s.push(video(40, false));
    s.push(video(80, true));
    assert_eq!(s.dropped_frames(), 2);
}

#[test]
fn window_keeps_what_it_must_and_no_more() {
    let limits = WindowLimits {
        keep: 6 * 90_000,
        min_segments: 3,
        max_bytes: usize::MAX,
    };
    let mut w = LiveWindow::new(limits);
    let r = run(2, 1_000_000, stream(0, 40_000, 1_000));
    for s in r.window.segments() {
        w.push((**s).clone());
        // The per-segment payload counts agree with a pass over every sample of what is held.
        let held = w.segments();
        let bytes: usize = held.iter().map(|s| s.payload_bytes()).sum();
        let ticks: i64 = held.iter().map(|s| s.duration).sum();
        assert_eq!(
            w.measured_bitrate(),
            Some(bytes as u64 * 8 * 90_000 / ticks as u64)
        );
        let peak = held
            .iter()
            .map(|s| s.payload_bytes() as u64 * 8 * 90_000 / s.duration as u64)
            .max();
        assert_eq!(w.peak_bitrate(), peak);
        let segs = w.segments();
        let newest_end = segs.back().expect("newest").end();
        // Held media covers `keep` ...
        if segs.len() > 3 {
            assert!(newest_end - segs[0].start >= limits.keep);
            // ... and the oldest one is needed to cover it.
            assert!(newest_end - segs[1].start < limits.keep);
        }
    }
    assert_eq!(w.segments().len(), 3);
    let capped = LiveWindow::new(WindowLimits {
        max_bytes: 20_000,
        ..limits
    });
    let mut capped = capped;
    for s in r.window.segments() {
        capped.push((**s).clone());
        assert!(capped.memory_bytes() <= 20_000 || capped.segments().len() == 1);
    }
}

fn grouped_rendition(group_secs: &[u32]) -> Rendition {
    let mut r = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        WindowLimits {
            keep: 3600 * 90_000,
            min_segments: 3,
            max_bytes: usize::MAX,
        },
    );
    r.window.set_group_durations(group_secs);
    r
}

#[test]
fn groups_merge_stored_segments_into_package_durations() {
    // 2 s stored segments from a session 1 s past a 6 s boundary; keyframes every 1 s.
    let mut r = grouped_rendition(&[6]);
    r.begin_session(WallClock::from_unix_ms(1_200_000 + 1_000));
    r.set_track(avc());
    r.set_track(aac());
    let mut listed_at_push = Vec::new();
    for f in stream(0, 20_000, 1_000) {
        r.push(f);
        let stored = r.window.segments().len();
        let groups = r.window.package_segments(6).len();
        listed_at_push.push((stored, groups));
    }
    r.end_session();
    let stored: Vec<_> = r.window.segments().iter().cloned().collect();
    let groups: Vec<_> = r.window.package_segments(6).iter().cloned().collect();
    let starts: Vec<i64> = groups.iter().map(|g| g.start / 90 - 1_200_000).collect();
    // The first group is what the session had of its first 6 s; then whole 6 s groups; the
    // session's tail is completed at its end.
    assert_eq!(starts, vec![1_000, 6_000, 12_000, 18_000]);
    let durations: Vec<i64> = groups.iter().map(|g| g.duration / 90).collect();
    assert_eq!(durations, vec![5_000, 6_000, 6_000, 3_000]);
    // Numbered from the timeline's group index, then +1.
    assert_eq!(groups[0].sequence, 1_201_000 / 6_000);
    assert!(groups
        .windows(2)
        .all(|w| w[1].sequence == w[0].sequence + 1));
    // Every stored sample is in exactly one group, in order.
    let count = |s: &[std::sync::Arc<crate::Segment>]| -> (usize, usize, i64) {
        let v: usize = s
            .iter()
            .map(|x| x.video.as_ref().map_or(0, |t| t.samples.len()))
            .sum();
        let a: usize = s
            .iter()
            .map(|x| x.audio.as_ref().map_or(0, |t| t.samples.len()))
            .sum();
        let d: i64 = s.iter().map(|x| x.duration).sum();
        (v, a, d)
    };
    assert_eq!(count(&groups), count(&stored));
    for g in &groups {
        let v = g.video.as_ref().expect("video");
        assert!(v.samples[0].keyframe);
        let vdur: i64 = v.samples.iter().map(|x| i64::from(x.duration)).sum();
        assert_eq!(vdur, g.duration, "video samples cover the group");
        assert!(v.samples.windows(2).all(|w| w[1].dts > w[0].dts));
        let a = g.audio.as_ref().expect("audio");
        assert!(a.samples.windows(2).all(|w| w[1].dts - w[0].dts == 1024));
    }
    // A group is listed as soon as its last stored segment is sealed: no added latency.
    // Stored: [1, 2) [2, 4) [4, 6) | [6, 8) [8, 10) [10, 12) | ...
    let groups_when = |n: usize| {
        listed_at_push
            .iter()
            .find(|(s, _)| *s == n)
            .map(|(_, g)| *g)
    };
    assert_eq!(groups_when(3), Some(1));
    assert_eq!(groups_when(5), Some(1));
    assert_eq!(groups_when(6), Some(2));
    // Addressed by start time.
    let found = r
        .window
        .find_package_segment(6, groups[1].start)
        .expect("found");
    assert_eq!(found.sequence, groups[1].sequence);
    assert!(r.window.find_package_segment(6, stored[1].start).is_none());
    // Durations the window does not group for are the stored segments.
    assert_eq!(r.window.package_segments(2).len(), stored.len());
    assert_eq!(r.window.longest_package_segment(6), 6 * 90_000);
}

#[test]
fn groups_break_at_discontinuities_and_follow_the_window() {
    let mut r = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        WindowLimits {
            keep: 20 * 90_000,
            min_segments: 3,
            max_bytes: usize::MAX,
        },
    );
    r.window.set_group_durations(&[4, 6]);
    for (session, at_ms) in [(0, 1_200_000), (1, 1_207_000)] {
        r.begin_session(WallClock::from_unix_ms(at_ms));
        r.set_track(avc());
        r.set_track(aac());
        let from = session * 100_000;
        for f in stream(from, from + 5_000, 1_000) {
            r.push(f);
        }
        r.end_session();
    }
    let groups: Vec<_> = r.window.package_segments(6).iter().cloned().collect();
    let starts: Vec<i64> = groups.iter().map(|g| g.start / 90 - 1_200_000).collect();
    // Session 1: [0, 5 s) -> one group; session 2, from 7 s to 12 s: one group.
    assert_eq!(starts, vec![0, 7_000]);
    let disc: Vec<bool> = groups.iter().map(|g| g.discontinuity).collect();
    assert_eq!(disc, vec![false, true]);
    assert_eq!(groups[1].discontinuity_sequence, 0);
    assert!(groups
        .windows(2)
        .all(|w| w[1].sequence == w[0].sequence + 1));
    let fours: Vec<i64> = r
        .window
        .package_segments(4)
        .iter()
        .map(|g| g.start / 90 - 1_200_000)
        .collect();
    assert_eq!(fours, vec![0, 4_000, 7_000, 8_000]);

    // A long run: groups leave with their stored segments, never more than the window holds.
    r.begin_session(WallClock::from_unix_ms(1_300_000));
    r.set_track(avc());
    r.set_track(aac());
    for f in stream(200_000, 260_000, 1_000) {
        r.push(f);
    }
    let oldest_stored = r.window.segments().front().expect("held").start;
    let groups = r.window.package_segments(6);
    let first = groups.front().expect("groups");
    assert!(
        first.end() > oldest_stored,
        "a held group keeps a held member"
    );
    assert!(groups.len() <= r.window.segments().len());
    // Rebuilding from the held segments gives the same boundaries.
    let before: Vec<i64> = groups.iter().map(|g| g.start).collect();
    r.window.set_group_durations(&[6]);
    let after: Vec<i64> = r
        .window
        .package_segments(6)
        .iter()
        .map(|g| g.start)
        .collect();
    assert_eq!(after.last(), before.last());
}

/// A real 160x120 H.264 High profile configuration (SPS and PPS of the 160x120 fixture).
pub(crate) fn avc_160x120() -> TrackInfo {
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

/// Pushes a session of `seconds` with `video` and AAC into `r`, at `at_ms` wall clock, its
/// frames from `from_ms` on the publisher's clock.
fn session(r: &mut Rendition, at_ms: i64, from_ms: i64, seconds: i64, video: TrackInfo) {
    r.begin_session(WallClock::from_unix_ms(at_ms));
    r.set_track(video);
    r.set_track(aac());
    for f in stream(from_ms, from_ms + seconds * 1000, 1_000) {
        r.push(f);
    }
    r.end_session();
}

#[test]
fn config_changes_mark_the_first_segment_of_a_new_configuration() {
    let mut r = grouped_rendition(&[6]);
    // 320x240, the same again (a reconnect is no change), then 160x120.
    session(&mut r, 1_200_000, 0, 6, avc());
    assert_eq!(
        r.window.config_changes().count(),
        0,
        "the first is no change"
    );
    session(&mut r, 1_207_000, 100_000, 6, avc());
    assert_eq!(r.window.config_changes().count(), 0, "same configuration");
    let before = r.window.generation();
    session(&mut r, 1_214_000, 200_000, 6, avc_160x120());
    assert!(r.window.generation() > before);
    let first_small = r
        .window
        .segments()
        .iter()
        .find(|s| s.video.as_ref().expect("video").track.as_ref() == &avc_160x120())
        .expect("160x120 segments")
        .start;
    assert_eq!(first_small, 1_214_000 * 90);
    let changes: Vec<i64> = r.window.config_changes().collect();
    assert_eq!(changes, vec![first_small]);
    // Package groups never span a change: one starts at the change point.
    assert!(r
        .window
        .package_segments(6)
        .iter()
        .any(|g| g.start == first_small));

    // An audio-only segment is no change; the video after it is compared with the video
    // before it.
    let mut w = LiveWindow::new(WindowLimits::default());
    for s in r.window.segments() {
        let mut s = (**s).clone();
        if s.start == 1_207_000 * 90 {
            s.video = None;
        }
        w.push(s);
    }
    assert_eq!(w.config_changes().collect::<Vec<_>>(), vec![first_small]);
    // An audio change counts too.
    let mut other_audio = aac();
    if let media::CodecConfig::Aac(a) = &mut other_audio.codec {
        a.channel_config = 1;
    }
    let mut s = (**r.window.newest().expect("segments")).clone();
    let end = s.end();
    s.start = end;
    s.sequence += 1;
    s.audio.as_mut().expect("audio").track = std::sync::Arc::new(other_audio);
    w.push(s);
    assert_eq!(
        w.config_changes().collect::<Vec<_>>(),
        vec![first_small, end]
    );
}

#[test]
fn config_changes_leave_with_the_segments_they_cover() {
    let mut r = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        WindowLimits {
            keep: 10 * 90_000,
            min_segments: 3,
            max_bytes: usize::MAX,
        },
    );
    session(&mut r, 1_200_000, 0, 10, avc());
    session(&mut r, 1_210_000, 100_000, 4, avc_160x120());
    let small = 1_210_000 * 90;
    assert_eq!(r.window.config_changes().collect::<Vec<_>>(), vec![small]);
    // 320x240 again, long enough that every 160x120 segment leaves: the change that started
    // them is dropped, the one the held segments date from is kept.
    session(&mut r, 1_214_000, 200_000, 8, avc());
    let big = 1_214_000 * 90;
    assert_eq!(
        r.window.config_changes().collect::<Vec<_>>(),
        vec![small, big]
    );
    session(&mut r, 1_222_000, 300_000, 20, avc());
    let oldest = r.window.segments().front().expect("held").start;
    assert!(oldest > big, "the window slid past the change");
    assert_eq!(r.window.config_changes().collect::<Vec<_>>(), vec![big]);
    // Limits applied later prune the same way.
    r.window.set_limits(WindowLimits {
        keep: 0,
        min_segments: 1,
        max_bytes: usize::MAX,
    });
    assert_eq!(r.window.segments().len(), 1);
    assert_eq!(r.window.config_changes().collect::<Vec<_>>(), vec![big]);
}

#[test]
fn a_new_session_starts_after_the_last_audio_frame_ends() {
    // The second session starts "at" the first one's end in wall-clock terms; its audio must
    // not begin inside the first session's last audio frame (the audio runs past the video's
    // last frame, and the floor rounds to whole milliseconds).
    let mut r = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        WindowLimits::default(),
    );
    session(&mut r, 1_000_000, 0, 5, avc());
    // The second session opens on a keyframe followed by audio stamped 3 ms before it.
    r.begin_session(WallClock::from_unix_ms(1_000_000));
    r.set_track(avc());
    r.set_track(aac());
    r.push(video(70_000, true));
    r.push(audio(69_997));
    for f in stream(70_040, 75_000, 1_000) {
        r.push(f);
    }
    r.end_session();
    let segs: Vec<_> = r.window.segments().iter().cloned().collect();
    let mut audio_end: Option<i64> = None;
    for s in &segs {
        let Some(audio) = &s.audio else { continue };
        let (Some(first), Some(last)) = (audio.samples.first(), audio.samples.last()) else {
            continue;
        };
        if let Some(end) = audio_end {
            assert!(
                first.dts >= end,
                "audio at {} starts before {end}",
                first.dts
            );
        }
        audio_end = Some(last.dts + i64::from(last.duration));
    }
    assert!(segs.iter().any(|s| s.discontinuity));
}
