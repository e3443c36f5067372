//! The cutting state machine: frames in, sealed segments out.

use std::sync::Arc;

use media::{CodecConfig, Frame, MediaTime, Timescale, TrackInfo, TrackKind, WallClock};

use crate::segment::{Sample, Segment, TrackSamples};
use crate::store::{InMemory, PayloadSink};
use crate::timeline::{ClockShare, SessionTimeline};

/// How long a cut segment waits for audio that is still behind the cut point (90 kHz).
const MAX_AUDIO_LAG: i64 = 90_000;
/// Frame duration assumed when nothing better is known (25 fps).
const DEFAULT_FRAME_TICKS: i64 = 3_600;

/// What the segmenter needs from a package configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmenterConfig {
    /// Target segment duration, in whole seconds (1..=10 in the channel model).
    pub segment_duration_secs: u32,
}

impl SegmenterConfig {
    fn duration_ticks(&self) -> i64 {
        i64::from(self.segment_duration_secs.max(1)) * i64::from(Timescale::MPEG.get())
    }
}

#[derive(Debug)]
struct OpenSegment {
    start: i64,
    discontinuity: bool,
    video: Vec<Sample>,
    audio: Vec<Sample>,
    video_track: Option<Arc<TrackInfo>>,
    audio_track: Option<Arc<TrackInfo>>,
    /// Set once the next segment has started: where this one ends (decode time, 90 kHz).
    end: Option<i64>,
    /// Where this segment's audio ends: the presentation time of the next segment's first
    /// picture (90 kHz), so audio and pictures start together on screen.
    audio_end: Option<i64>,
}

/// Cuts one rendition's frames into segments that start at the first sync sample at or after
/// each multiple of the segment duration on the channel timeline.
///
/// Audio is assigned to segments by time: a cut segment stays open for audio until audio
/// passes the cut point (or lags by more than one second), so audio and video start together.
#[derive(Debug)]
pub struct RenditionSegmenter {
    config: SegmenterConfig,
    video: Option<Arc<TrackInfo>>,
    audio: Option<Arc<TrackInfo>>,
    timeline: Option<SessionTimeline>,
    open: Option<OpenSegment>,
    closing: Option<OpenSegment>,
    next_sequence: Option<u64>,
    pending_discontinuity: bool,
    force_cut: bool,
    /// Last decode time placed per track (90 kHz for video, track clock for audio).
    last_video_dts: Option<i64>,
    last_audio_dts: Option<i64>,
    /// End of the newest sealed segment or the newest frame placed, 90 kHz.
    high_water: Option<i64>,
    /// The high-water mark when this session began: its first audio frame may not start
    /// before it (90 kHz).
    session_floor: Option<i64>,
    /// Discontinuity-flagged segments sealed so far (including those restored from a store).
    discontinuities: u64,
    dropped: u64,
}

impl RenditionSegmenter {
    pub fn new(config: SegmenterConfig) -> RenditionSegmenter {
        RenditionSegmenter {
            config,
            video: None,
            audio: None,
            timeline: None,
            open: None,
            closing: None,
            next_sequence: None,
            pending_discontinuity: false,
            force_cut: false,
            last_video_dts: None,
            last_audio_dts: None,
            high_water: None,
            session_floor: None,
            discontinuities: 0,
            dropped: 0,
        }
    }

    pub fn config(&self) -> SegmenterConfig {
        self.config
    }

    /// Changes the target duration; takes effect at the next cut.
    pub fn set_config(&mut self, config: SegmenterConfig) {
        self.config = config;
    }

    /// Continues after `last`, the newest segment a store already holds: numbering, the
    /// discontinuity count and the timeline's high-water mark.
    pub fn resume_after(&mut self, last: &Segment) {
        let (sequence, end) = (last.sequence, last.end());
        self.next_sequence = Some(sequence + 1);
        self.discontinuities = last.discontinuity_sequence + u64::from(last.discontinuity);
        self.high_water = Some(self.high_water.map_or(end, |h| h.max(end)));
    }

    /// A publisher (re)connected at `now`. Its first segment is marked discontinuous if the
    /// rendition already has segments.
    pub fn begin_session(&mut self, now: WallClock) -> Vec<Segment> {
        let sealed = self.end_session();
        self.timeline = Some(SessionTimeline::new(now, self.high_water));
        self.start_session_state();
        sealed
    }

    /// [`RenditionSegmenter::begin_session`], sharing the clock mapping with sibling
    /// renditions through `share` (see [`SessionTimeline::aligned`]).
    pub fn begin_aligned_session(
        &mut self,
        now: WallClock,
        share: Arc<ClockShare>,
    ) -> Vec<Segment> {
        let sealed = self.end_session();
        self.timeline = Some(SessionTimeline::aligned(now, self.high_water, share));
        self.start_session_state();
        sealed
    }

    fn start_session_state(&mut self) {
        self.video = None;
        self.audio = None;
        self.last_video_dts = None;
        self.last_audio_dts = None;
        self.session_floor = self.high_water;
        self.pending_discontinuity = self.next_sequence.is_some();
    }

    /// The publisher is gone: seal what is open.
    pub fn end_session(&mut self) -> Vec<Segment> {
        let mut out = Vec::new();
        if let Some(closing) = self.closing.take() {
            out.extend(self.seal(closing));
        }
        if let Some(mut open) = self.open.take() {
            let end = estimated_end(&open);
            open.end = Some(end);
            out.extend(self.seal(open));
        }
        self.timeline = None;
        out
    }

    /// Whether a publish session is running.
    pub fn in_session(&self) -> bool {
        self.timeline.is_some()
    }

    /// Frames dropped because they came before a configuration or a first keyframe.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    pub fn video_track(&self) -> Option<&Arc<TrackInfo>> {
        self.video.as_ref()
    }

    pub fn audio_track(&self) -> Option<&Arc<TrackInfo>> {
        self.audio.as_ref()
    }

    /// A new or changed track configuration. A change of video configuration mid-stream cuts
    /// at the next keyframe.
    pub fn set_track(&mut self, track: TrackInfo) {
        let slot = match track.kind() {
            TrackKind::Video => &mut self.video,
            TrackKind::Audio => &mut self.audio,
        };
        if slot.as_deref() == Some(&track) {
            return;
        }
        let changed_shape = slot.as_ref().is_some_and(|old| !same_shape(old, &track));
        if slot.is_some() || (track.kind() == TrackKind::Video && self.open.is_some()) {
            self.force_cut = true;
        }
        if changed_shape {
            self.pending_discontinuity = true;
        }
        *slot = Some(Arc::new(track));
    }

    /// Takes one frame (input clock) and returns the segments it sealed; payloads are kept in
    /// memory.
    pub fn push(&mut self, frame: Frame) -> Vec<Segment> {
        self.push_into(frame, &mut InMemory)
    }

    /// Takes one frame (input clock), hands its payload to `sink` if the frame is kept, and
    /// returns the segments it sealed.
    pub fn push_into(&mut self, frame: Frame, sink: &mut dyn PayloadSink) -> Vec<Segment> {
        match frame.kind {
            TrackKind::Video => self.push_video(frame, sink),
            TrackKind::Audio => self.push_audio(frame, sink),
        }
    }

    fn push_video(&mut self, frame: Frame, sink: &mut dyn PayloadSink) -> Vec<Segment> {
        let mut out = Vec::new();
        let (Some(track), Some(timeline)) = (self.video.clone(), self.timeline.as_mut()) else {
            self.dropped += 1;
            return out;
        };
        let placed = timeline.place(&frame, track.timescale, None);
        if placed.discontinuity {
            self.pending_discontinuity = true;
            self.force_cut = true;
        }
        let mut dts = placed.dts;
        if let Some(last) = self.last_video_dts {
            if dts <= last {
                dts = last + 1;
            }
        }
        self.last_video_dts = Some(dts);
        self.raise_high_water(dts);

        let cut = frame.keyframe
            && match &self.open {
                None => true,
                Some(open) => self.force_cut || dts >= self.boundary_after(open.start),
            };
        if cut {
            if let Some(closing) = self.closing.take() {
                out.extend(self.seal(closing));
            }
            let mut next = self.new_open(dts);
            if let Some(mut open) = self.open.take() {
                let pts = dts + placed.composition_offset.max(0);
                open.end = Some(dts);
                open.audio_end = Some(pts);
                // Audio that arrived ahead of this keyframe but plays after it moves on.
                if let Some(track) = &open.audio_track {
                    let cut = MediaTime::new(pts, Timescale::MPEG)
                        .rescale(track.timescale)
                        .ticks;
                    let keep = open.audio.partition_point(|a| a.dts < cut);
                    next.audio = open.audio.split_off(keep);
                }
                self.closing = Some(open);
            }
            self.open = Some(next);
            self.force_cut = false;
        }
        let Some(open) = self.open.as_mut() else {
            self.dropped += 1;
            return out;
        };
        open.video.push(Sample {
            dts,
            composition_offset: clamp_i32(placed.composition_offset),
            duration: 0,
            keyframe: frame.keyframe,
            data: sink.put(frame.data, dts),
        });
        let audio_done = match &self.closing {
            Some(c) => {
                self.audio.is_none() || c.audio_end.is_some_and(|end| dts > end + MAX_AUDIO_LAG)
            }
            None => false,
        };
        if audio_done {
            if let Some(closing) = self.closing.take() {
                out.extend(self.seal(closing));
            }
        }
        out
    }

    fn push_audio(&mut self, frame: Frame, sink: &mut dyn PayloadSink) -> Vec<Segment> {
        let mut out = Vec::new();
        let (Some(track), Some(timeline)) = (self.audio.clone(), self.timeline.as_mut()) else {
            self.dropped += 1;
            return out;
        };
        let frame_ticks = track
            .codec
            .aac()
            .map(|aac| i64::from(aac.samples_per_frame));
        let placed = timeline.place(&frame, track.timescale, frame_ticks);
        if placed.discontinuity {
            self.pending_discontinuity = true;
            self.force_cut = true;
        }
        let mut dts = placed.dts;
        if let Some(last) = self.last_audio_dts {
            if dts <= last {
                dts = last + 1;
            }
        } else if let Some(floor) = self.session_floor {
            // The session is anchored on its first frame, but audio may carry a timestamp a
            // few ms before the video keyframe it follows: it must not reach back into the
            // previous session's last audio frame (a DASH or Smooth timeline stepping back).
            let min = -MediaTime::new(-floor, Timescale::MPEG)
                .rescale_floor(track.timescale)
                .ticks;
            dts = dts.max(min);
        }
        self.last_audio_dts = Some(dts);
        let t90 = MediaTime::new(dts, track.timescale)
            .rescale(Timescale::MPEG)
            .ticks;
        // The floor of a later session is where this frame ends, not where it starts: a
        // session that began at the frame's start would overlap its samples (a DASH or Smooth
        // audio timeline that steps back by part of a frame at a switch).
        let end90 = MediaTime::new(dts + frame_ticks.unwrap_or(0), track.timescale)
            .rescale(Timescale::MPEG)
            .ticks;
        self.raise_high_water(end90.max(t90));
        let sample = |sink: &mut dyn PayloadSink| Sample {
            dts,
            composition_offset: 0,
            duration: 0,
            keyframe: true,
            data: sink.put(frame.data, t90),
        };

        if self.video.is_none() {
            // Audio-only rendition: every audio frame is a sync sample.
            let cut = match &self.open {
                None => true,
                Some(open) => self.force_cut || t90 >= self.boundary_after(open.start),
            };
            if cut {
                if let Some(mut open) = self.open.take() {
                    open.end = Some(t90);
                    out.extend(self.seal(open));
                }
                self.open = Some(self.new_open(t90));
                self.force_cut = false;
            }
        }

        if let Some(closing) = self.closing.as_mut() {
            if closing.audio_end.is_some_and(|end| t90 < end) {
                closing.audio.push(sample(sink));
                return out;
            }
            if let Some(closing) = self.closing.take() {
                out.extend(self.seal(closing));
            }
        }
        match self.open.as_mut() {
            Some(open) => open.audio.push(sample(sink)),
            None => self.dropped += 1,
        }
        out
    }

    fn new_open(&mut self, start: i64) -> OpenSegment {
        OpenSegment {
            start,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            video: Vec::new(),
            audio: Vec::new(),
            video_track: self.video.clone(),
            audio_track: self.audio.clone(),
            end: None,
            audio_end: None,
        }
    }

    fn boundary_after(&self, start: i64) -> i64 {
        let d = self.config.duration_ticks();
        (start.div_euclid(d) + 1) * d
    }

    fn raise_high_water(&mut self, t90: i64) {
        self.high_water = Some(self.high_water.map_or(t90, |h| h.max(t90)));
    }

    fn seal(&mut self, open: OpenSegment) -> Option<Segment> {
        let end = open.end.unwrap_or(open.start);
        let sequence = self
            .next_sequence
            .unwrap_or_else(|| open.start.div_euclid(self.config.duration_ticks()).max(0) as u64);
        if open.video.is_empty() && open.audio.is_empty() {
            return None;
        }
        self.next_sequence = Some(sequence + 1);
        let discontinuity_sequence = self.discontinuities;
        if open.discontinuity {
            self.discontinuities += 1;
        }
        self.raise_high_water(end);
        let video = open.video_track.map(|track| TrackSamples {
            stored_summary: None,
            samples: with_durations(open.video, end, track.timescale, DEFAULT_FRAME_TICKS),
            track,
        });
        let audio = open.audio_track.map(|track| {
            let frame = track
                .codec
                .aac()
                .map_or(1024, |aac| i64::from(aac.samples_per_frame));
            TrackSamples {
                stored_summary: None,
                samples: with_durations(open.audio, i64::MIN, track.timescale, frame),
                track,
            }
        });
        Some(Segment {
            sequence,
            start: open.start,
            duration: (end - open.start).max(1),
            discontinuity: open.discontinuity,
            discontinuity_sequence,
            video: video.filter(|v| !v.samples.is_empty()),
            audio: audio.filter(|a| !a.samples.is_empty()),
        })
    }
}

/// Fills in sample durations from consecutive decode times; the last sample runs to `end_90k`
/// (when known and later) or gets `default` ticks.
fn with_durations(
    mut samples: Vec<Sample>,
    end_90k: i64,
    timescale: Timescale,
    default: i64,
) -> Vec<Sample> {
    let n = samples.len();
    for i in 0..n {
        let next = if i + 1 < n {
            Some(samples[i + 1].dts)
        } else if end_90k != i64::MIN {
            Some(
                MediaTime::new(end_90k, Timescale::MPEG)
                    .rescale(timescale)
                    .ticks,
            )
        } else {
            None
        };
        let d = match next {
            Some(next) if next > samples[i].dts => next - samples[i].dts,
            _ => default,
        };
        samples[i].duration = u32::try_from(d).unwrap_or(u32::MAX);
    }
    samples
}

/// The end of an open segment when the publisher leaves: after its last frame.
fn estimated_end(open: &OpenSegment) -> i64 {
    let video_end = match open.video.as_slice() {
        [] => None,
        [only] => Some(only.dts + DEFAULT_FRAME_TICKS),
        [first, .., last] => {
            let n = (open.video.len() - 1) as i64;
            let avg = ((last.dts - first.dts) / n).max(1);
            Some(last.dts + avg)
        }
    };
    let audio_end = open.audio_track.as_ref().and_then(|track| {
        let last = open.audio.last()?;
        let frame = track
            .codec
            .aac()
            .map_or(1024, |aac| i64::from(aac.samples_per_frame));
        Some(
            MediaTime::new(last.dts + frame, track.timescale)
                .rescale(Timescale::MPEG)
                .ticks,
        )
    });
    match (video_end, audio_end) {
        (Some(v), _) => v,
        (None, Some(a)) => a,
        (None, None) => open.start + 1,
    }
}

fn same_shape(a: &TrackInfo, b: &TrackInfo) -> bool {
    match (&a.codec, &b.codec) {
        (CodecConfig::Avc(_), CodecConfig::Avc(_))
        | (CodecConfig::Hevc(_), CodecConfig::Hevc(_)) => {
            a.codec.codec_string() == b.codec.codec_string()
                && a.codec.video_size() == b.codec.video_size()
        }
        (CodecConfig::Aac(x), CodecConfig::Aac(y)) => {
            x.object_type == y.object_type
                && x.sample_rate == y.sample_rate
                && x.channel_config == y.channel_config
        }
        _ => false,
    }
}

fn clamp_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}
