//! Maps one publish session's input clock onto the channel timeline.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use media::{Frame, MediaTime, Timescale, TrackKind, WallClock};

/// A forward jump of the input clock larger than this is a break in the timeline.
const MAX_FORWARD_JUMP_MS: i64 = 10_000;
/// A backward step of the input clock larger than this is a break in the timeline.
const MAX_BACKWARD_STEP_MS: i64 = 1_000;
/// A session joins a sibling rendition's clock mapping when that puts its first frame within
/// this much of the wall clock: the two are pushed by one encoder with one clock.
const ALIGN_TOLERANCE_MS: i64 = 2_000;

/// Maps input timestamps of one session onto the channel timeline (Unix epoch).
///
/// The first frame is placed at `max(now, floor)`, where `floor` is the end of what the
/// channel already holds, so the timeline never goes back. Audio is smoothed onto its exact
/// sample grid, so RTMP's millisecond rounding does not jitter audio durations.
#[derive(Clone, Debug)]
pub struct SessionTimeline {
    now: WallClock,
    floor_ms: i64,
    /// (input origin, channel origin) in ms; set by the first frame.
    anchor: Option<(i64, i64)>,
    last_input_ms: Option<i64>,
    last_channel_ms: i64,
    next_audio: Option<i64>,
    broke: bool,
    /// The clock mapping shared with sibling renditions, to align with.
    share: Option<Arc<ClockShare>>,
}

/// The input-to-channel clock mapping (`channel ms − input ms`) of a channel's newest
/// anchored session, shared by its renditions so that renditions pushed by one encoder place
/// equal input timestamps at equal channel times and cut at the same points.
#[derive(Debug)]
pub struct ClockShare(AtomicI64);

impl Default for ClockShare {
    fn default() -> Self {
        ClockShare(AtomicI64::new(i64::MIN))
    }
}

impl ClockShare {
    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Acquire)).filter(|&v| v != i64::MIN)
    }

    fn set(&self, offset: i64) {
        self.0.store(offset, Ordering::Release);
    }
}

/// A frame placed on the channel timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Decode time, in the track's timescale.
    pub dts: i64,
    /// `pts - dts`, in the track's timescale.
    pub composition_offset: i64,
    /// The frame starts a new timeline piece (the input clock jumped).
    pub discontinuity: bool,
}

impl SessionTimeline {
    /// A session starting at `now`; nothing may be placed before `floor` (90 kHz channel time).
    pub fn new(now: WallClock, floor: Option<i64>) -> SessionTimeline {
        // Rounded up: a first frame placed at the floor must not start before it.
        let floor_ms = floor.map_or(i64::MIN, |f| {
            -MediaTime::new(f.saturating_neg(), Timescale::MPEG)
                .rescale_floor(Timescale::MILLIS)
                .ticks
        });
        SessionTimeline {
            now,
            floor_ms,
            anchor: None,
            last_input_ms: None,
            last_channel_ms: i64::MIN,
            next_audio: None,
            broke: false,
            share: None,
        }
    }

    /// A session that, at its first frame, takes the clock mapping `share` holds when that
    /// puts the frame within 2 s of `now` and not before `floor` (a sibling rendition pushed
    /// by the same encoder clock); otherwise it anchors at `now` as [`SessionTimeline::new`]
    /// does. Either way it then publishes its mapping to `share`.
    pub fn aligned(now: WallClock, floor: Option<i64>, share: Arc<ClockShare>) -> SessionTimeline {
        let mut timeline = SessionTimeline::new(now, floor);
        timeline.share = Some(share);
        timeline
    }

    /// `channel ms − input ms` of the current mapping, once the first frame has been placed.
    pub fn offset(&self) -> Option<i64> {
        self.anchor.map(|(input, channel)| channel - input)
    }

    /// Places `frame` (input clock) on the channel timeline in `timescale` (the track's clock).
    /// `audio_frame_ticks` is the exact audio frame duration in `timescale`, for smoothing.
    pub fn place(
        &mut self,
        frame: &Frame,
        timescale: Timescale,
        audio_frame_ticks: Option<i64>,
    ) -> Placed {
        let input_ms = frame.dts.rescale(Timescale::MILLIS).ticks;
        let mut discontinuity = false;
        if let Some(last) = self.last_input_ms {
            let step = input_ms - last;
            if !(-MAX_BACKWARD_STEP_MS..=MAX_FORWARD_JUMP_MS).contains(&step) {
                // Re-anchor just after what was already placed.
                let anchor = (input_ms, self.last_channel_ms.saturating_add(1));
                if let Some(share) = &self.share {
                    share.set(anchor.1 - anchor.0);
                }
                self.anchor = Some(anchor);
                self.next_audio = None;
                discontinuity = true;
                self.broke = true;
            }
        }
        let (in0, ch0) = match self.anchor {
            Some(anchor) => anchor,
            None => {
                let (now_ms, floor_ms) = (self.now.unix_ms, self.floor_ms);
                let aligned = self
                    .share
                    .as_ref()
                    .and_then(|share| share.get())
                    .and_then(|offset| input_ms.checked_add(offset))
                    .filter(|&c| (c - now_ms).abs() <= ALIGN_TOLERANCE_MS && c >= floor_ms);
                let anchor = (input_ms, aligned.unwrap_or(now_ms.max(floor_ms)));
                if let Some(share) = &self.share {
                    share.set(anchor.1 - anchor.0);
                }
                self.anchor = Some(anchor);
                anchor
            }
        };
        self.last_input_ms = Some(input_ms);
        let channel_ms = input_ms - in0 + ch0;
        self.last_channel_ms = self.last_channel_ms.max(channel_ms);
        let exact = MediaTime::new(channel_ms, Timescale::MILLIS)
            .rescale(timescale)
            .ticks;
        let dts = match (frame.kind, audio_frame_ticks) {
            (TrackKind::Audio, Some(frame_ticks)) if frame_ticks > 0 => {
                let dts = match self.next_audio {
                    Some(expected) if (exact - expected).abs() <= frame_ticks / 2 => expected,
                    _ => exact,
                };
                self.next_audio = Some(dts + frame_ticks);
                dts
            }
            _ => exact,
        };
        let composition_offset = MediaTime::new(frame.composition_offset(), frame.dts.timescale)
            .rescale(timescale)
            .ticks;
        Placed {
            dts,
            composition_offset,
            discontinuity,
        }
    }

    /// Whether the input clock has jumped during this session.
    pub fn has_broken(&self) -> bool {
        self.broke
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn frame(kind: TrackKind, ms: i64, cts: i64) -> Frame {
        Frame {
            kind,
            dts: MediaTime::from_millis(ms),
            pts: MediaTime::from_millis(ms + cts),
            keyframe: true,
            data: Bytes::new(),
        }
    }

    #[test]
    fn anchors_first_frame_at_now_and_keeps_offsets() {
        let mut t = SessionTimeline::new(WallClock::from_unix_ms(1_000_000), None);
        let p = t.place(&frame(TrackKind::Video, 5_000, 80), Timescale::MPEG, None);
        assert_eq!(p.dts, 1_000_000 * 90);
        assert_eq!(p.composition_offset, 80 * 90);
        let p = t.place(&frame(TrackKind::Video, 5_040, 0), Timescale::MPEG, None);
        assert_eq!(p.dts, (1_000_000 + 40) * 90);
    }

    #[test]
    fn never_goes_before_floor() {
        let floor = 2_000_000 * 90;
        let mut t = SessionTimeline::new(WallClock::from_unix_ms(1_000_000), Some(floor));
        let p = t.place(&frame(TrackKind::Video, 0, 0), Timescale::MPEG, None);
        assert_eq!(p.dts, floor);
    }

    #[test]
    fn smooths_audio_onto_sample_grid() {
        let ts = Timescale::new(48_000).expect("nz");
        let mut t = SessionTimeline::new(WallClock::from_unix_ms(0), None);
        // RTMP rounds 1024-sample frames (21.333 ms) to whole ms.
        let ms = [0, 21, 43, 64, 85, 107];
        let dts: Vec<i64> = ms
            .iter()
            .map(|&m| t.place(&frame(TrackKind::Audio, m, 0), ts, Some(1024)).dts)
            .collect();
        assert_eq!(dts, vec![0, 1024, 2048, 3072, 4096, 5120]);
    }

    #[test]
    fn aligns_with_a_sibling_fed_by_the_same_clock() {
        let share = Arc::new(ClockShare::default());
        let mut first =
            SessionTimeline::aligned(WallClock::from_unix_ms(1_000_000), None, share.clone());
        first.place(&frame(TrackKind::Video, 5_000, 0), Timescale::MPEG, None);
        assert_eq!(first.offset(), Some(1_000_000 - 5_000));
        assert_eq!(share.get(), first.offset());
        // The sibling connects 300 ms later and its first frame is 200 ms into the stream.
        let mut second =
            SessionTimeline::aligned(WallClock::from_unix_ms(1_000_300), None, share.clone());
        let p = second.place(&frame(TrackKind::Video, 5_200, 0), Timescale::MPEG, None);
        assert_eq!(p.dts, (1_000_000 + 200) * 90);
        // Never before the floor.
        let floor = Some(1_000_250 * 90);
        let mut late =
            SessionTimeline::aligned(WallClock::from_unix_ms(1_000_300), floor, share.clone());
        let p = late.place(&frame(TrackKind::Video, 5_200, 0), Timescale::MPEG, None);
        assert_eq!(p.dts, 1_000_300 * 90);
        // A session on another clock (the mapping lands 50 s away) anchors at its own `now`
        // and its mapping becomes the shared one.
        let mut other =
            SessionTimeline::aligned(WallClock::from_unix_ms(1_000_300), None, share.clone());
        let p = other.place(&frame(TrackKind::Video, 55_000, 0), Timescale::MPEG, None);
        assert_eq!(p.dts, 1_000_300 * 90);
        assert_eq!(share.get(), Some(1_000_300 - 55_000));
    }

    #[test]
    fn input_jump_is_a_discontinuity_and_stays_monotonic() {
        let mut t = SessionTimeline::new(WallClock::from_unix_ms(0), None);
        t.place(&frame(TrackKind::Video, 100_000, 0), Timescale::MPEG, None);
        let p = t.place(&frame(TrackKind::Video, 40, 0), Timescale::MPEG, None);
        assert!(p.discontinuity);
        assert!(p.dts > 0);
        assert!(t.has_broken());
    }
}
