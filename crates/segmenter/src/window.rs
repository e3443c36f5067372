//! The in-memory window of sealed segments, bounded in time and bytes.

use std::collections::VecDeque;
use std::sync::Arc;

use media::TrackInfo;

use crate::group::Grouping;
use crate::segment::{Segment, TrackSamples};
use crate::store::same_config;

/// How much a [`LiveWindow`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowLimits {
    /// Keep at least this much media (90 kHz ticks) behind the newest segment's end.
    pub keep: i64,
    /// Never keep fewer segments than this (unless over `max_bytes`).
    pub min_segments: usize,
    /// Never hold more media than this; the oldest segments go first.
    pub max_bytes: usize,
}

impl Default for WindowLimits {
    fn default() -> Self {
        WindowLimits {
            keep: 60 * 90_000,
            min_segments: 5,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Sealed segments of one rendition, oldest first, with sequence numbers that only grow.
#[derive(Debug, Default)]
pub struct LiveWindow {
    segments: VecDeque<Arc<Segment>>,
    /// Payload bytes of each held segment, in the same order: counted once at push, so that
    /// bitrates (asked by every manifest request) cost a pass over segments, not samples.
    payload: VecDeque<u64>,
    limits: WindowLimits,
    bytes: usize,
    /// Discontinuity sequence of an empty window's next segment.
    discontinuity_floor: u64,
    removed_segments: u64,
    longest: i64,
    /// Bumped by every change to what is held: equal generations mean equal contents.
    generation: u64,
    /// Longer package segments built from the held ones, one grouping per package duration
    /// (see [`crate::group`]).
    groupings: Vec<Grouping>,
    /// Starts (90 kHz) of pushed segments whose video or audio configuration differs from the
    /// one before, oldest first: the one whose configuration the oldest held segment has (if
    /// any), then every later one.
    config_changes: VecDeque<i64>,
    /// The newest video and audio configurations pushed.
    last_video: Option<Arc<TrackInfo>>,
    last_audio: Option<Arc<TrackInfo>>,
}

impl LiveWindow {
    pub fn new(limits: WindowLimits) -> LiveWindow {
        LiveWindow {
            limits,
            ..LiveWindow::default()
        }
    }

    pub fn limits(&self) -> WindowLimits {
        self.limits
    }

    /// Changes the bounds; applied now.
    pub fn set_limits(&mut self, limits: WindowLimits) {
        self.limits = limits;
        self.generation += 1;
        self.prune();
    }

    /// Changes whenever the held segments change (only grows), so a manifest rendered at one
    /// generation is current until the next.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Appends a sealed segment and drops what falls outside the limits.
    pub fn push(&mut self, segment: Segment) {
        let video_changed = track_changed(&mut self.last_video, segment.video.as_ref());
        let audio_changed = track_changed(&mut self.last_audio, segment.audio.as_ref());
        if video_changed || audio_changed {
            self.config_changes.push_back(segment.start);
        }
        self.bytes += segment.memory_bytes();
        self.longest = self.longest.max(segment.duration);
        self.payload.push_back(segment.payload_bytes() as u64);
        let segment = Arc::new(segment);
        for grouping in &mut self.groupings {
            grouping.push(&segment);
        }
        self.segments.push_back(segment);
        self.generation += 1;
        self.prune();
    }

    /// Serves package segments of each of `durations_secs` (those longer than the stored
    /// segments) as groups of stored segments, rebuilt now from what is held.
    pub fn set_group_durations(&mut self, durations_secs: &[u32]) {
        let mut durations: Vec<u32> = durations_secs.iter().map(|d| (*d).max(1)).collect();
        durations.sort_unstable();
        durations.dedup();
        self.groupings = durations.into_iter().map(Grouping::new).collect();
        for grouping in &mut self.groupings {
            for segment in &self.segments {
                grouping.push(segment);
            }
        }
        self.generation += 1;
    }

    /// Completes the groups being built: the session ended, so no stored segment will join
    /// them.
    pub fn close_groups(&mut self) {
        for grouping in &mut self.groupings {
            grouping.close();
        }
        self.generation += 1;
    }

    /// The segments a package with `duration_secs` segments serves, oldest first: groups of
    /// stored segments if the window groups for that duration, else the stored segments.
    pub fn package_segments(&self, duration_secs: u32) -> &VecDeque<Arc<Segment>> {
        self.grouping(duration_secs)
            .map_or(&self.segments, |g| g.groups())
    }

    /// The package segment (see [`Self::package_segments`]) that starts at `start`.
    pub fn find_package_segment(&self, duration_secs: u32, start: i64) -> Option<Arc<Segment>> {
        let segments = self.package_segments(duration_secs);
        let idx = segments.binary_search_by_key(&start, |s| s.start).ok()?;
        segments.get(idx).cloned()
    }

    /// Whether package segments of `duration_secs` are groups of stored segments.
    pub fn is_grouped(&self, duration_secs: u32) -> bool {
        self.grouping(duration_secs).is_some()
    }

    /// Longest package segment ever held for `duration_secs` (90 kHz); only grows.
    pub fn longest_package_segment(&self, duration_secs: u32) -> i64 {
        self.grouping(duration_secs)
            .map_or(self.longest, Grouping::longest)
    }

    fn grouping(&self, duration_secs: u32) -> Option<&Grouping> {
        self.groupings
            .iter()
            .find(|g| g.duration_secs() == duration_secs.max(1))
    }

    fn prune(&mut self) {
        let newest_end = match self.segments.back() {
            Some(s) => s.end(),
            None => return,
        };
        while self.segments.len() > self.limits.min_segments {
            let next_start = match self.segments.get(1) {
                Some(s) => s.start,
                None => break,
            };
            if newest_end - next_start >= self.limits.keep {
                self.pop_front();
            } else {
                break;
            }
        }
        while self.bytes > self.limits.max_bytes && self.segments.len() > 1 {
            self.pop_front();
        }
        let oldest = self.segments.front().map(|s| s.sequence);
        for grouping in &mut self.groupings {
            grouping.prune(oldest);
        }
        if let Some(oldest_start) = self.segments.front().map(|s| s.start) {
            // Keep the change the oldest held segment's configuration dates from.
            while self
                .config_changes
                .get(1)
                .is_some_and(|&next| next <= oldest_start)
            {
                self.config_changes.pop_front();
            }
        }
    }

    fn pop_front(&mut self) {
        if let Some(old) = self.segments.pop_front() {
            self.bytes = self.bytes.saturating_sub(old.memory_bytes());
            self.payload.pop_front();
            self.removed_segments += 1;
            self.discontinuity_floor = old.discontinuity_sequence + u64::from(old.discontinuity);
        }
    }

    /// Where a track configuration changed (90 kHz channel time, ascending): the starts of
    /// segments whose video or audio configuration (compared by value) differs from the
    /// previous one of that kind, not counting the first segment ever pushed nor a segment
    /// lacking that track. The first may precede the oldest held segment: it is kept while
    /// that segment still has the configuration it started, so a boundary stays known (and
    /// stable) while any segment after it is held.
    pub fn config_changes(&self) -> impl Iterator<Item = i64> + '_ {
        self.config_changes.iter().copied()
    }

    /// All held segments, oldest first.
    pub fn segments(&self) -> &VecDeque<Arc<Segment>> {
        &self.segments
    }

    pub fn newest(&self) -> Option<&Arc<Segment>> {
        self.segments.back()
    }

    /// The segment that starts at `start` (90 kHz channel time).
    pub fn find_by_start(&self, start: i64) -> Option<Arc<Segment>> {
        let idx = self
            .segments
            .binary_search_by_key(&start, |s| s.start)
            .ok()?;
        self.segments.get(idx).cloned()
    }

    /// The segment with this sequence number.
    pub fn find_by_sequence(&self, sequence: u64) -> Option<Arc<Segment>> {
        let first = self.segments.front()?.sequence;
        let idx = usize::try_from(sequence.checked_sub(first)?).ok()?;
        self.segments
            .get(idx)
            .filter(|s| s.sequence == sequence)
            .cloned()
    }

    /// Discontinuity-flagged segments that have left the window (and, after a restart, that
    /// left it before): the HLS `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub fn removed_discontinuities(&self) -> u64 {
        self.segments
            .front()
            .map_or(self.discontinuity_floor, |s| s.discontinuity_sequence)
    }

    /// Longest segment duration ever held (90 kHz); only grows.
    pub fn longest_segment(&self) -> i64 {
        self.longest
    }

    /// Bytes of memory held.
    pub fn memory_bytes(&self) -> usize {
        self.bytes
    }

    /// Mean bits per second over the window, if it holds any media.
    pub fn measured_bitrate(&self) -> Option<u64> {
        let duration: i64 = self.segments.iter().map(|s| s.duration).sum();
        let duration = u64::try_from(duration).ok().filter(|d| *d > 0)?;
        let bytes: u64 = self.payload.iter().sum();
        Some(bytes.saturating_mul(8 * 90_000) / duration)
    }

    /// Highest bits per second of any held segment.
    pub fn peak_bitrate(&self) -> Option<u64> {
        self.segments
            .iter()
            .zip(&self.payload)
            .filter(|(s, _)| s.duration > 0)
            .map(|(s, bytes)| bytes.saturating_mul(8 * 90_000) / s.duration as u64)
            .max()
    }
}

/// Whether `samples` carries another configuration than `last` (the previous one of its kind,
/// now replaced); a first configuration, or no track, is no change.
fn track_changed(last: &mut Option<Arc<TrackInfo>>, samples: Option<&TrackSamples>) -> bool {
    let Some(track) = samples.map(|t| &t.track) else {
        return false;
    };
    let changed = last.is_some() && !same_config(last.as_ref(), Some(track));
    *last = Some(track.clone());
    changed
}
