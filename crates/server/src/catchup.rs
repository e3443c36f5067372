//! Catch-up, timeshift and live delay: which segments a request's time parameters select.
//!
//! A request with no time parameter is served from the live window as before. Any other is
//! resolved ([`model::request_args`]), checked against what the channel holds, and turned into
//! a [`TimeView`]: a live window that ends some time ago (live delay, timeshift) or a finished
//! interval (catch-up). Its segments come from the live window where it reaches and, before
//! that, from the rendition store's catch-up index ([`segmenter::store::CatchupIndex`]), which holds
//! only per-segment summaries on disk: a manifest reads the few index files its interval spans
//! and nothing stays in memory afterwards. A segment is loaded in full only when it is served.
//!
//! Package segments longer than the stored ones are regrouped here as the live window groups
//! them ([`segmenter::group::group_segments`]): intervals are widened to whole groups so a group
//! is never listed in part.
//!
//! Everything here that touches the store blocks: call it on the blocking pool.

use std::io;
use std::sync::Arc;

use axum::http::StatusCode;
use media::{TrackInfo, TrackKind};
use model::request_args::{self, TimeRequest};
use packager::{dash, mss, Presentation, RenditionView, Variant};
use segmenter::group::{bucket_end, group_segments};
use segmenter::store::same_config;
use segmenter::Segment;

use crate::channel::{ChannelRuntime, Package, RenditionSlot};

/// Media listed before a shifted edge beyond the package's window, in package segments: the
/// writers keep at least three, and a player that just read the manifest may still ask for
/// the oldest.
const SHIFTED_SLACK_SEGMENTS: i64 = 3;

/// What one request shows of the channel's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeView {
    /// The live window.
    Live,
    /// A live window whose edge is `edge` (90 kHz channel time), `delay_ms` behind real time.
    Shifted { edge: i64, delay_ms: u64 },
    /// The finished interval `[from, to)` (90 kHz channel time).
    Recorded { from: i64, to: i64 },
}

impl TimeView {
    /// How manifests present this view.
    pub fn presentation(&self) -> Presentation {
        match *self {
            TimeView::Live => Presentation::Live,
            TimeView::Shifted { delay_ms, .. } => Presentation::Shifted { delay_ms },
            TimeView::Recorded { .. } => Presentation::Recorded,
        }
    }
}

/// Why a request's time parameters are not served: the status and a message for the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    fn from_error(error: &request_args::RequestArgsError) -> Refusal {
        let status = if error.is_config_error() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        Refusal {
            status,
            message: format!("{error}\n"),
        }
    }
}

/// What `query` asks of `package` at `now_ms` (Unix milliseconds). Cheap: it reads nothing of
/// the channel, so the live edge costs a query scan.
pub fn request(
    package: &Package,
    query: Option<&str>,
    now_ms: i64,
) -> Result<TimeRequest, Refusal> {
    request_args::resolve(package.request_args.as_ref(), query.unwrap_or(""), now_ms)
        .map_err(|e| Refusal::from_error(&e))
}

/// Checks `request` against what the channel holds and places it on the channel timeline.
/// Blocks (reads the catch-up index's bounds).
pub fn plan(
    channel: &ChannelRuntime,
    request: TimeRequest,
    now_ms: i64,
) -> Result<TimeView, Refusal> {
    if request == TimeRequest::Live {
        return Ok(TimeView::Live);
    }
    let (start, end) = buffer_bounds(channel).unwrap_or((0, 0));
    request_args::check_within(&request, start / 90, end / 90, now_ms)
        .map_err(|e| Refusal::from_error(&e))?;
    Ok(match request {
        TimeRequest::Live => TimeView::Live,
        TimeRequest::Delayed { delay_ms: shift } | TimeRequest::Timeshift { back_ms: shift } => {
            let shift90 = i64::try_from(shift)
                .unwrap_or(i64::MAX / 90)
                .saturating_mul(90);
            TimeView::Shifted {
                edge: now_ms.saturating_mul(90).saturating_sub(shift90),
                delay_ms: shift,
            }
        }
        TimeRequest::Record { start_ms, end_ms } => TimeView::Recorded {
            from: start_ms.saturating_mul(90),
            to: end_ms.saturating_mul(90).min(end),
        },
    })
}

/// The oldest start and newest end (90 kHz) of media the channel holds, in the live windows
/// and the catch-up indexes of its renditions.
pub fn buffer_bounds(channel: &ChannelRuntime) -> Option<(i64, i64)> {
    let mut bounds: Option<(i64, i64)> = None;
    let mut widen = |start: i64, end: i64| {
        bounds = Some(match bounds {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
    };
    for slot in &channel.renditions {
        let (window, archive) = {
            let r = slot.lock();
            let segments = r.window.segments();
            let window = segments
                .front()
                .zip(segments.back())
                .map(|(first, last)| (first.start, last.end()));
            (window, r.archive())
        };
        match (window, archive) {
            // The live window holds the newest media: the index adds only its oldest start.
            (Some((start, end)), archive) => {
                widen(start, end);
                if let Some(oldest) = archive.and_then(|a| a.oldest_start()) {
                    widen(oldest, end);
                }
            }
            (None, Some(archive)) => {
                if let Some((start, end)) = archive.bounds() {
                    widen(start, end);
                }
            }
            (None, None) => {}
        }
    }
    bounds
}

/// The view `package` shows of `slot` under `time` (not [`TimeView::Live`]); `None` when the
/// rendition has nothing in it. Blocks.
pub fn view(
    slot: &RenditionSlot,
    package: &Package,
    time: &TimeView,
) -> io::Result<Option<RenditionView>> {
    let secs = package.format.segment_duration_secs();
    let segments = match *time {
        TimeView::Live => return Ok(None),
        TimeView::Shifted { edge, .. } => {
            let window_secs = i64::from(package.format.window_secs());
            let reach = if window_secs == 0 {
                slot.lock().window.limits().keep
            } else {
                (window_secs.max(3 * i64::from(secs)) + SHIFTED_SLACK_SEGMENTS * i64::from(secs))
                    * 90_000
            };
            let mut segments = package_segments(slot, package, edge - reach, edge)?;
            segments.retain(|s| s.end() <= edge);
            segments
        }
        TimeView::Recorded { from, to } => {
            let mut segments = package_segments(slot, package, from, to)?;
            segments.retain(|s| s.end() > from && s.start < to);
            segments
        }
    };
    Ok(rendition_view(slot, segments, time.presentation()))
}

/// The package segment of `slot` starting at `start` (90 kHz) that has left the live window,
/// loaded in full from the store. Blocks.
pub fn find_stored(
    slot: &RenditionSlot,
    package: &Package,
    start: i64,
) -> io::Result<Option<Arc<Segment>>> {
    if !before_window(slot, start) {
        return Ok(None);
    }
    let Some(archive) = slot.lock().archive() else {
        return Ok(None);
    };
    let secs = package.format.segment_duration_secs();
    if !slot.lock().window.is_grouped(secs) {
        let loaded = archive.load(start, start.saturating_add(1))?;
        return Ok(loaded.into_iter().find(|s| s.start == start).map(Arc::new));
    }
    // A group starting at `start` ends at the latest where its duration bucket does.
    let members: Vec<Arc<Segment>> = archive
        .load(start, bucket_end(start, secs))?
        .into_iter()
        .map(Arc::new)
        .collect();
    Ok(group_segments(&members, secs, true)
        .into_iter()
        .next()
        .filter(|g| g.start == start))
}

/// The full form of `segment` (a package segment of `slot`), loading it from the store when
/// only its summary is held. Blocks.
pub fn load_full(
    slot: &RenditionSlot,
    package: &Package,
    segment: Arc<Segment>,
) -> io::Result<Option<Arc<Segment>>> {
    if !segment.is_summary_only() {
        return Ok(Some(segment));
    }
    find_stored(slot, package, segment.start)
}

/// The package segments of `slot` around channel time `t90` that the store holds, as a view
/// to look a DASH or Smooth time up in. Blocks.
pub fn stored_view_around(
    slot: &RenditionSlot,
    package: &Package,
    t90: i64,
) -> io::Result<Option<RenditionView>> {
    let margin = (2 * i64::from(package.format.segment_duration_secs().max(1)) + 10) * 90_000;
    let segments = package_segments(slot, package, t90 - margin, t90 + margin)?;
    Ok(rendition_view(slot, segments, Presentation::Live))
}

/// The DASH segment of `slot` whose `kind` track starts at `time` (its timescale), when it
/// has left the live window; loaded in full. Blocks.
pub fn find_stored_dash(
    slot: &RenditionSlot,
    package: &Package,
    kind: TrackKind,
    time: u64,
) -> io::Result<Option<Arc<Segment>>> {
    let timescale = {
        let r = slot.lock();
        r.window
            .segments()
            .iter()
            .rev()
            .find_map(|s| packager::cmaf::track_samples(s, kind))
            .map(|t| t.timescale())
    };
    // Without a live track to take the clock from, try the usual ones.
    let candidates: Vec<u32> = match timescale {
        Some(t) => vec![t.get()],
        None => vec![90_000, 48_000, 44_100],
    };
    for scale in candidates {
        let t90 =
            i64::try_from(u128::from(time) * 90_000 / u128::from(scale.max(1))).unwrap_or(i64::MAX);
        if !before_window(slot, t90 - BEFORE_WINDOW_SLACK) {
            continue;
        }
        let Some(view) = stored_view_around(slot, package, t90)? else {
            continue;
        };
        if let Some(segment) = dash::find_segment(&view, kind, time).cloned() {
            return load_full(slot, package, segment);
        }
    }
    Ok(None)
}

/// A Smooth fragment found in the store: its rendition, its segment in full and the segments
/// its look-ahead announces.
pub type StoredFragment = (Arc<RenditionSlot>, Arc<Segment>, Vec<Arc<Segment>>);

/// The Smooth fragment at `time` of the rendition of `bitrate` (any rendition with audio for
/// audio) when it has left the live window: the slot, the segment in full, and up to
/// [`mss::LOOKAHEAD_FRAGMENT_COUNT`] following segments (summaries) for its look-ahead. Blocks.
pub fn find_stored_mss(
    slots: &[Arc<RenditionSlot>],
    package: &Package,
    bitrate: u64,
    kind: TrackKind,
    time: u64,
) -> io::Result<Option<StoredFragment>> {
    let Some(t90) = mss::from_mss_time(time, media::Timescale::MPEG) else {
        return Ok(None);
    };
    if !slots
        .iter()
        .any(|slot| before_window(slot, t90 - BEFORE_WINDOW_SLACK))
    {
        return Ok(None);
    }
    let mut views = Vec::new();
    let mut owners = Vec::new();
    for slot in slots {
        if let Some(view) = stored_view_around(slot, package, t90)? {
            views.push(view);
            owners.push(slot.clone());
        }
    }
    let Some((view, segment)) = mss::find_fragment(&views, bitrate, kind, time) else {
        return Ok(None);
    };
    let Some(slot) = owners.iter().find(|s| s.name == view.variant.name).cloned() else {
        return Ok(None);
    };
    let following: Vec<Arc<Segment>> = view
        .segments
        .iter()
        .filter(|s| s.start > segment.start)
        .take(mss::LOOKAHEAD_FRAGMENT_COUNT)
        .cloned()
        .collect();
    let segment = segment.clone();
    Ok(load_full(&slot, package, segment)?.map(|full| (slot, full, following)))
}

/// The `kind` configuration of `slot` in effect at channel time `t90` when that lies before
/// the live window: from the store's configuration history, which outlives the window (a
/// DASH Period of a catch-up or time shift names its init segment by its start). Cheap: the
/// history is held in memory.
pub fn stored_track_at(slot: &RenditionSlot, kind: TrackKind, t90: i64) -> Option<Arc<TrackInfo>> {
    if !before_window(slot, t90) {
        return None;
    }
    let archive = slot.lock().archive()?;
    archive.configs_at(t90)?.track(kind).cloned()
}

/// The newest `kind` configuration in `slot`'s store history that `wanted` accepts (an HLS
/// init segment is named by its configuration's content). Cheap: the history is held in
/// memory.
pub fn stored_track_by(
    slot: &RenditionSlot,
    kind: TrackKind,
    wanted: impl Fn(&TrackInfo) -> bool,
) -> Option<Arc<TrackInfo>> {
    let archive = slot.lock().archive()?;
    archive
        .config_history()
        .iter()
        .rev()
        .find_map(|c| c.track(kind).filter(|t| wanted(t)).cloned())
}

/// How far a track's first decode time may lie from its segment's start (90 kHz): audio starts
/// with the first picture shown, a frame or so off the keyframe.
const BEFORE_WINDOW_SLACK: i64 = 90_000;

/// Whether channel time `t90` lies before what `slot`'s live window holds (or it holds
/// nothing), so only the store can have it: requests at or past the live edge (a player
/// asking early) never read the catch-up index.
fn before_window(slot: &RenditionSlot, t90: i64) -> bool {
    slot.lock()
        .window
        .segments()
        .front()
        .is_none_or(|first| t90 < first.start)
}

/// A view of `segments` of `slot`, described as the live rendition is (when it has media)
/// so bitrates match across manifests; `None` without segments.
fn rendition_view(
    slot: &RenditionSlot,
    segments: Vec<Arc<Segment>>,
    presentation: Presentation,
) -> Option<RenditionView> {
    if segments.is_empty() {
        return None;
    }
    let (live, live_tracks, window_changes, archive) = {
        let r = slot.lock();
        let newest = r.window.newest();
        (
            Variant::from_window(&slot.name, slot.declared_bitrate, &r.window),
            newest.map(|s| (track_of(s, TrackKind::Video), track_of(s, TrackKind::Audio))),
            r.window.config_changes().collect::<Vec<_>>(),
            r.archive(),
        )
    };
    let newest = segments.last()?;
    let same_config = live_tracks.is_some_and(|(video, audio)| {
        same_config(video.as_ref(), track_of(newest, TrackKind::Video).as_ref())
            && same_config(audio.as_ref(), track_of(newest, TrackKind::Audio).as_ref())
    });
    let variant = match live {
        Some(live) if same_config => live,
        // Media recorded in another configuration is described as it was recorded (size,
        // codecs, frame rate), at the live rendition's bandwidth so renditions keep their order.
        live => {
            let own = Variant::from_segments(&slot.name, slot.declared_bitrate, &segments)?;
            match live {
                Some(live) => Variant {
                    bandwidth: live.bandwidth,
                    average_bandwidth: live.average_bandwidth,
                    ..own
                },
                None => own,
            }
        }
    };
    let mut config_changes = config_changes_of(&segments, window_changes);
    // The change the first segment's configuration dates from, as the store recorded it: a
    // DASH Period then starts there, keeps its id as the view slides, and names its init
    // segment by that time, which the store resolves however old the media is.
    let first = segments.first().map_or(newest.start, |s| s.start);
    if let Some(since) = archive.and_then(|a| a.configs_at(first)).map(|c| c.since) {
        if let Err(at) = config_changes.binary_search(&since) {
            config_changes.insert(at, since);
        }
    }
    Some(RenditionView {
        variant,
        config_changes,
        segments,
        presentation,
    })
}

fn track_of(segment: &Segment, kind: TrackKind) -> Option<Arc<TrackInfo>> {
    packager::cmaf::track_samples(segment, kind).map(|t| t.track.clone())
}

/// Where the track configuration changes among `segments`, with the window's changes that fall
/// inside them: DASH Periods start there.
fn config_changes_of(segments: &[Arc<Segment>], window: Vec<i64>) -> Vec<i64> {
    let mut changes = Vec::new();
    for pair in segments.windows(2) {
        let [a, b] = pair else { continue };
        let differs = |x: Option<&segmenter::TrackSamples>, y: Option<&segmenter::TrackSamples>| matches!((x, y), (Some(x), Some(y)) if !same_config(Some(&x.track), Some(&y.track)));
        if differs(a.video.as_ref(), b.video.as_ref())
            || differs(a.audio.as_ref(), b.audio.as_ref())
        {
            changes.push(b.start);
        }
    }
    let (first, last) = match (segments.first(), segments.last()) {
        (Some(f), Some(l)) => (f.start, l.start),
        _ => return changes,
    };
    changes.extend(window.into_iter().filter(|t| *t > first && *t <= last));
    changes.sort_unstable();
    changes.dedup();
    changes
}

/// The package segments of `slot` that overlap `[from, to)`, widened to whole groups when the
/// package groups stored segments. Blocks.
fn package_segments(
    slot: &RenditionSlot,
    package: &Package,
    from: i64,
    to: i64,
) -> io::Result<Vec<Arc<Segment>>> {
    let secs = package.format.segment_duration_secs();
    let grouped = slot.lock().window.is_grouped(secs);
    if !grouped {
        return stored_segments(slot, from, to);
    }
    let bucket = i64::from(secs.max(1)) * 90_000;
    // A group ends with the member that reaches the end of its bucket, so the group covering
    // `from` may have begun in the bucket before: start grouping there.
    let from = (from.div_euclid(bucket) - 1) * bucket;
    // One more bucket, so a following segment tells whether the last group is complete.
    let to = bucket_end(to.saturating_sub(1), secs).saturating_add(bucket);
    let stored = stored_segments(slot, from, to)?;
    let (newest, live) = {
        let r = slot.lock();
        (r.window.newest().map(|s| s.sequence), r.is_live())
    };
    // The trailing group is complete when a later segment exists or the session ended.
    let complete_open = !live || stored.last().map(|s| s.sequence) < newest;
    Ok(group_segments(&stored, secs, complete_open))
}

/// The stored segments of `slot` overlapping `[from, to)`, oldest first: from the live window
/// where it reaches, from the catch-up index before it. Blocks.
fn stored_segments(slot: &RenditionSlot, from: i64, to: i64) -> io::Result<Vec<Arc<Segment>>> {
    let (held, window_start, archive) = {
        let r = slot.lock();
        let segments = r.window.segments();
        let window_start = segments.front().map(|s| (s.start, s.sequence));
        let held: Vec<Arc<Segment>> = segments
            .iter()
            .filter(|s| s.end() > from && s.start < to)
            .cloned()
            .collect();
        (held, window_start, r.archive())
    };
    let mut out = Vec::new();
    let needs_archive = window_start.is_none_or(|(start, _)| from < start);
    if let (true, Some(archive)) = (needs_archive, archive) {
        let until = window_start.map_or(to, |(start, _)| to.min(start.saturating_add(1)));
        let first_held = window_start.map_or(u64::MAX, |(_, sequence)| sequence);
        out.extend(
            archive
                .summaries(from, until)?
                .into_iter()
                .filter(|s| s.sequence < first_held),
        );
    }
    out.extend(held);
    Ok(out)
}
