//! A sealed segment: the canonical stored form of media every output is a view of.

use std::sync::Arc;

use media::{MediaTime, Timescale, TrackInfo, WallClock};

use crate::store::Payload;

/// One access unit inside a segment, on its track's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Decode time on the channel timeline, in the track's timescale.
    pub dts: i64,
    /// `pts - dts`, in the track's timescale.
    pub composition_offset: i32,
    /// Ticks until the next sample's decode time.
    pub duration: u32,
    pub keyframe: bool,
    /// The access unit (AVCC for video, raw AAC for audio), in memory or in the store.
    pub data: Payload,
}

impl Sample {
    pub fn pts(&self) -> i64 {
        self.dts + i64::from(self.composition_offset)
    }
}

/// What manifests need to know of a track's samples within a segment, without the samples:
/// kept for segments read from the catch-up index (see [`TrackSamples::summary`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackSummary {
    /// Decode time of the first sample, in the track's timescale.
    pub first_dts: i64,
    /// Sum of the sample durations, in the track's timescale.
    pub duration: u64,
    /// Duration of the last sample.
    pub last_duration: u32,
    /// Longest sample duration.
    pub longest_duration: u32,
    pub count: u32,
    /// Bytes of payload.
    pub bytes: u64,
}

impl TrackSummary {
    /// The aggregates of `samples`.
    pub fn of(samples: &[Sample]) -> TrackSummary {
        TrackSummary {
            first_dts: samples.first().map_or(0, |s| s.dts),
            duration: samples.iter().map(|s| u64::from(s.duration)).sum(),
            last_duration: samples.last().map_or(0, |s| s.duration),
            longest_duration: samples.iter().map(|s| s.duration).max().unwrap_or(0),
            count: u32::try_from(samples.len()).unwrap_or(u32::MAX),
            bytes: samples.iter().map(|s| s.data.len() as u64).sum(),
        }
    }

    /// Decode time of the last sample.
    pub fn last_dts(&self) -> i64 {
        let before_last = self.duration.saturating_sub(u64::from(self.last_duration));
        self.first_dts
            .saturating_add(i64::try_from(before_last).unwrap_or(i64::MAX))
    }

    /// The aggregates of two consecutive runs of samples, `self` first.
    pub fn then(&self, next: &TrackSummary) -> TrackSummary {
        if self.count == 0 {
            return *next;
        }
        if next.count == 0 {
            return *self;
        }
        TrackSummary {
            first_dts: self.first_dts,
            duration: self.duration + next.duration,
            last_duration: next.last_duration,
            longest_duration: self.longest_duration.max(next.longest_duration),
            count: self.count.saturating_add(next.count),
            bytes: self.bytes + next.bytes,
        }
    }
}

/// The samples of one track within a segment.
#[derive(Clone, Debug)]
pub struct TrackSamples {
    pub track: Arc<TrackInfo>,
    pub samples: Vec<Sample>,
    /// The samples' aggregates when `samples` is not held: a segment read from the catch-up
    /// index for a manifest, whose sample table is loaded only when the segment is served.
    pub stored_summary: Option<TrackSummary>,
}

impl TrackSamples {
    pub fn new(track: Arc<TrackInfo>, samples: Vec<Sample>) -> TrackSamples {
        TrackSamples {
            track,
            samples,
            stored_summary: None,
        }
    }

    /// A track of a segment known only by its aggregates.
    pub fn summarized(track: Arc<TrackInfo>, summary: TrackSummary) -> TrackSamples {
        TrackSamples {
            track,
            samples: Vec::new(),
            stored_summary: Some(summary),
        }
    }

    pub fn timescale(&self) -> Timescale {
        self.track.timescale
    }

    /// The samples' aggregates (the stored ones when the samples are not held).
    pub fn summary(&self) -> TrackSummary {
        match (&self.stored_summary, self.samples.is_empty()) {
            (Some(summary), true) => *summary,
            _ => TrackSummary::of(&self.samples),
        }
    }

    /// Whether the sample table is not held (see [`Self::stored_summary`]).
    pub fn is_summary_only(&self) -> bool {
        self.samples.is_empty() && self.stored_summary.is_some_and(|s| s.count > 0)
    }

    /// Number of samples.
    pub fn sample_count(&self) -> usize {
        if self.is_summary_only() {
            self.stored_summary.map_or(0, |s| s.count as usize)
        } else {
            self.samples.len()
        }
    }

    pub fn payload_bytes(&self) -> usize {
        if self.is_summary_only() {
            self.stored_summary.map_or(0, |s| s.bytes as usize)
        } else {
            self.samples.iter().map(|s| s.data.len()).sum()
        }
    }

    /// Bytes of process memory the payloads hold.
    pub fn memory_bytes(&self) -> usize {
        self.samples.iter().map(|s| s.data.memory_bytes()).sum()
    }

    /// Decode time of the first sample, in the track's timescale.
    pub fn first_dts_ticks(&self) -> Option<i64> {
        match self.samples.first() {
            Some(s) => Some(s.dts),
            None => self
                .stored_summary
                .filter(|s| s.count > 0)
                .map(|s| s.first_dts),
        }
    }

    /// Decode time of the first sample, if any.
    pub fn first_dts(&self) -> Option<MediaTime> {
        self.first_dts_ticks()
            .map(|t| MediaTime::new(t, self.track.timescale))
    }
}

/// A keyframe-aligned run of media, immutable once sealed.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Position in the rendition's sequence; +1 per segment, never reused.
    pub sequence: u64,
    /// Channel-timeline start (the first sync sample's decode time), 90 kHz.
    pub start: i64,
    /// Until the next segment's start (or the estimated end of the last frame), 90 kHz.
    pub duration: i64,
    /// The first segment after a break in the timeline (publisher reconnect, timestamp jump).
    pub discontinuity: bool,
    /// Discontinuity-flagged segments before this one in the rendition's life: the HLS
    /// discontinuity sequence number of a playlist that starts here.
    pub discontinuity_sequence: u64,
    pub video: Option<TrackSamples>,
    pub audio: Option<TrackSamples>,
}

impl Segment {
    pub fn start_time(&self) -> MediaTime {
        MediaTime::new(self.start, Timescale::MPEG)
    }

    pub fn duration_time(&self) -> MediaTime {
        MediaTime::new(self.duration, Timescale::MPEG)
    }

    pub fn end(&self) -> i64 {
        self.start + self.duration
    }

    /// Wall-clock time of the first frame (the timeline is anchored to the Unix epoch).
    pub fn wall_clock(&self) -> WallClock {
        WallClock::from_unix_ms(self.start_time().as_millis())
    }

    /// Bytes of media payload held.
    pub fn payload_bytes(&self) -> usize {
        self.video.as_ref().map_or(0, TrackSamples::payload_bytes)
            + self.audio.as_ref().map_or(0, TrackSamples::payload_bytes)
    }

    /// Bytes of memory held, payload plus per-sample bookkeeping.
    pub fn memory_bytes(&self) -> usize {
        let samples = self.video.as_ref().map_or(0, |t| t.samples.len())
            + self.audio.as_ref().map_or(0, |t| t.samples.len());
        self.video.as_ref().map_or(0, TrackSamples::memory_bytes)
            + self.audio.as_ref().map_or(0, TrackSamples::memory_bytes)
            + samples * std::mem::size_of::<Sample>()
            + std::mem::size_of::<Self>()
    }

    /// Whether a track's sample table is not held: the segment was read from the catch-up
    /// index for a manifest, and must be loaded in full before it is packaged.
    pub fn is_summary_only(&self) -> bool {
        self.video
            .as_ref()
            .is_some_and(TrackSamples::is_summary_only)
            || self
                .audio
                .as_ref()
                .is_some_and(TrackSamples::is_summary_only)
    }

    /// Every sample, video first.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> + '_ {
        self.video
            .iter()
            .chain(self.audio.iter())
            .flat_map(|t| t.samples.iter())
    }
}
