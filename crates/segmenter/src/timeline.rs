//! Maps one publish session's input clock onto the channel timeline.

use media::{Frame, MediaTime, Timescale, TrackKind, WallClock};

/// A forward jump of the input clock larger than this is a break in the timeline.
const MAX_FORWARD_JUMP_MS: i64 = 10_000;
/// A backward step of the input clock larger than this is a break in the timeline.
const MAX_BACKWARD_STEP_MS: i64 = 1_000;

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
        let floor_ms = floor.map_or(i64::MIN, |f| {
            MediaTime::new(f, Timescale::MPEG)
                .rescale(Timescale::MILLIS)
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
        }
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
                self.anchor = Some((input_ms, self.last_channel_ms.saturating_add(1)));
                self.next_audio = None;
                discontinuity = true;
                self.broke = true;
            }
        }
        let (in0, ch0) = *self.anchor.get_or_insert_with(|| {
            let start = self.now.unix_ms.max(self.floor_ms);
            (input_ms, start)
        });
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
    fn input_jump_is_a_discontinuity_and_stays_monotonic() {
        let mut t = SessionTimeline::new(WallClock::from_unix_ms(0), None);
        t.place(&frame(TrackKind::Video, 100_000, 0), Timescale::MPEG, None);
        let p = t.place(&frame(TrackKind::Video, 40, 0), Timescale::MPEG, None);
        assert!(p.discontinuity);
        assert!(p.dts > 0);
        assert!(t.has_broken());
    }
}
