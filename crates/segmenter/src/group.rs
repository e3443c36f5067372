//! Package segments made of several stored segments.
//!
//! A channel stores segments of one cut duration (the greatest common divisor of its packages'
//! segment durations). A package whose segments are longer serves *groups*: runs of consecutive
//! stored segments, merged into one segment (one TS segment, one `moof`+`mdat`). A group starts at
//! the first stored segment that starts at or after a multiple of the package's duration on the
//! epoch-anchored channel timeline, at a discontinuity, or where a track's configuration changes.
//! Boundaries therefore depend only on stored start times, which renditions share: groups align
//! across renditions like the stored segments do.
//!
//! Groups are built as stored segments arrive and never change afterwards. A group is complete
//! as soon as its last member is sealed: a member whose end reaches the next multiple of the
//! duration is the last one (the next segment starts where it ends), so a package with longer
//! segments lists its newest segment as early as one with the cut duration. At the end of a
//! session the open group is completed as it is.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::segment::{Segment, TrackSamples};

/// The groups of one package duration, over the segments of a window.
#[derive(Debug)]
pub(crate) struct Grouping {
    /// Package segment duration, 90 kHz.
    duration: i64,
    /// Completed groups, oldest first, each merged into one segment numbered by group.
    groups: VecDeque<Arc<Segment>>,
    /// Stored sequence number of the last member of each group in `groups`.
    last_members: VecDeque<u64>,
    /// Members of the group being built.
    open: Vec<Arc<Segment>>,
    /// Sequence number of the next group.
    next_sequence: Option<u64>,
    /// Longest group duration ever completed (90 kHz).
    longest: i64,
}

impl Grouping {
    pub(crate) fn new(duration_secs: u32) -> Grouping {
        Grouping {
            duration: i64::from(duration_secs.max(1)) * 90_000,
            groups: VecDeque::new(),
            last_members: VecDeque::new(),
            open: Vec::new(),
            next_sequence: None,
            longest: 0,
        }
    }

    /// Package segment duration in seconds.
    pub(crate) fn duration_secs(&self) -> u32 {
        u32::try_from(self.duration / 90_000).unwrap_or(u32::MAX)
    }

    fn bucket(&self, t90: i64) -> i64 {
        t90.div_euclid(self.duration)
    }

    /// Takes the next stored segment.
    pub(crate) fn push(&mut self, segment: &Arc<Segment>) {
        if let Some(last) = self.open.last() {
            let starts_group = segment.discontinuity
                || self.bucket(segment.start) != self.bucket(last.start)
                || !same_tracks(last, segment);
            if starts_group {
                self.complete();
            }
        }
        self.open.push(segment.clone());
        if self.bucket(segment.end()) > self.bucket(segment.start) {
            self.complete();
        }
    }

    /// Completes the open group (the publisher left: what follows starts a new group).
    pub(crate) fn close(&mut self) {
        self.complete();
    }

    fn complete(&mut self) {
        let members = std::mem::take(&mut self.open);
        let (Some(first), Some(last)) = (members.first(), members.last()) else {
            return;
        };
        let sequence = self
            .next_sequence
            .unwrap_or_else(|| self.bucket(first.start).max(0) as u64);
        self.next_sequence = Some(sequence + 1);
        let merged = merge(first, last, &members, sequence);
        self.longest = self.longest.max(merged.duration);
        self.last_members.push_back(last.sequence);
        self.groups.push_back(Arc::new(merged));
    }

    /// Drops the groups none of whose members is held any more.
    pub(crate) fn prune(&mut self, oldest_held: Option<u64>) {
        while let Some(&last) = self.last_members.front() {
            if oldest_held.is_some_and(|oldest| last >= oldest) {
                break;
            }
            self.last_members.pop_front();
            self.groups.pop_front();
        }
    }

    pub(crate) fn groups(&self) -> &VecDeque<Arc<Segment>> {
        &self.groups
    }

    pub(crate) fn longest(&self) -> i64 {
        self.longest
    }
}

/// Groups consecutive stored `segments` (oldest first) for package segments of
/// `duration_secs`, as a window grouping for that duration does: for views built outside the
/// window (catch-up, timeshift) from segments read back from the store.
///
/// Only completed groups are returned, unless `complete_open`: a trailing group whose last
/// member was not seen (its end does not reach the next multiple of the duration and no later
/// segment starts another group) is then completed as it is. Numbering follows the window's:
/// the first group is numbered by its duration bucket on the epoch-anchored timeline, each
/// next one by one more.
pub fn group_segments(
    segments: &[Arc<Segment>],
    duration_secs: u32,
    complete_open: bool,
) -> Vec<Arc<Segment>> {
    let mut grouping = Grouping::new(duration_secs);
    for segment in segments {
        grouping.push(segment);
    }
    if complete_open {
        grouping.close();
    }
    grouping.groups.into_iter().collect()
}

/// The end (90 kHz) of the duration bucket that `t90` lies in: where a group of
/// `duration_secs` starting at or after `t90` ends at the latest.
pub fn bucket_end(t90: i64, duration_secs: u32) -> i64 {
    let duration = i64::from(duration_secs.max(1)) * 90_000;
    (t90.div_euclid(duration) + 1) * duration
}

/// Whether two consecutive stored segments carry the same track configurations.
fn same_tracks(a: &Segment, b: &Segment) -> bool {
    fn same(a: Option<&TrackSamples>, b: Option<&TrackSamples>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.track, &b.track) || a.track == b.track,
            _ => true,
        }
    }
    same(a.video.as_ref(), b.video.as_ref()) && same(a.audio.as_ref(), b.audio.as_ref())
}

/// One segment holding the samples of `members` (consecutive, same tracks, from `first` to
/// `last`), numbered `sequence`.
fn merge(first: &Segment, last: &Segment, members: &[Arc<Segment>], sequence: u64) -> Segment {
    let track = |pick: fn(&Segment) -> Option<&TrackSamples>| -> Option<TrackSamples> {
        let mut tracks = members.iter().filter_map(|m| pick(m));
        let head = tracks.next()?;
        if members
            .iter()
            .filter_map(|m| pick(m))
            .any(TrackSamples::is_summary_only)
        {
            // Members read from the catch-up index: the group is known by its aggregates too.
            let summary = tracks.fold(head.summary(), |acc, t| acc.then(&t.summary()));
            return Some(TrackSamples::summarized(head.track.clone(), summary));
        }
        let mut merged = TrackSamples::new(head.track.clone(), head.samples.clone());
        for t in tracks {
            merged.samples.extend_from_slice(&t.samples);
        }
        Some(merged)
    };
    Segment {
        sequence,
        start: first.start,
        duration: (last.end() - first.start).max(1),
        discontinuity: first.discontinuity,
        discontinuity_sequence: first.discontinuity_sequence,
        video: track(|s| s.video.as_ref()),
        audio: track(|s| s.audio.as_ref()),
    }
}
