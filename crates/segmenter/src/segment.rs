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

/// The samples of one track within a segment.
#[derive(Clone, Debug)]
pub struct TrackSamples {
    pub track: Arc<TrackInfo>,
    pub samples: Vec<Sample>,
}

impl TrackSamples {
    pub fn timescale(&self) -> Timescale {
        self.track.timescale
    }

    pub fn payload_bytes(&self) -> usize {
        self.samples.iter().map(|s| s.data.len()).sum()
    }

    /// Bytes of process memory the payloads hold.
    pub fn memory_bytes(&self) -> usize {
        self.samples.iter().map(|s| s.data.memory_bytes()).sum()
    }

    /// Decode time of the first sample, if any.
    pub fn first_dts(&self) -> Option<MediaTime> {
        self.samples
            .first()
            .map(|s| MediaTime::new(s.dts, self.track.timescale))
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

    /// Every sample, video first.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> + '_ {
        self.video
            .iter()
            .chain(self.audio.iter())
            .flat_map(|t| t.samples.iter())
    }
}
