//! HLS_PULL: a live HLS stream followed like a player, its tracks and frames handed to an
//! [`IngestSink`] at the pace they were recorded.
//!
//! [`pull`] reads a multivariant playlist (and picks a variant by `max_bandwidth`) or a media
//! playlist, reloads the media playlist as RFC 8216 §6.3.4 says, downloads the segments in
//! media-sequence order and demuxes them. MPEG-TS segments go through one [`TsDemuxer`]
//! (recreated at every discontinuity). fMP4 (CMAF) segments, those an `#EXT-X-MAP` applies to,
//! go through a [`FragmentDemuxer`] made from the map's init segment, fetched again only when
//! the map's URI changes; its tracks are handed on before the first frame, again when they
//! change and after every discontinuity. The format is decided segment by segment, so a
//! playlist may switch between the two (at a discontinuity).
//!
//! A player's buffer becomes a real-time feed: segments arrive in bursts, but [`FramePacer`]
//! releases each frame when its decode time comes, so the input selector never sees the silence
//! between two downloads as a loss.
//!
//! The decisions are in two parts without I/O or clock, tested with injected time:
//! [`LiveWindow`] (which segments to fetch after each reload) and [`FramePacer`] (when to
//! deliver a frame). The rest of this file is the shell that does the HTTP requests and sleeps.
//!
//! Not supported, each refused with a [`PullError::Protocol`] that says so: encrypted segments,
//! byte-range segments, byte-range init segments (`#EXT-X-MAP` with `BYTERANGE`), I-frame-only
//! playlists. Of an fMP4 init segment the first H.264 or H.265 and the first AAC track are read
//! (see [`media::fmp4::demux`]); other tracks are skipped with a warning. An init
//! segment with neither, or with Common Encryption, fails its segments as undecodable ones do
//! ([`MAX_SEGMENT_FAILURES`] in a row end the pull). Alternative audio renditions
//! (`#EXT-X-MEDIA`) are not pulled: only the variant's own stream is.

use std::ops::Range;
use std::time::Duration;

use m3u8_rs::{KeyMethod, MasterPlaylist, MediaPlaylist, MediaSegment, Playlist, VariantStream};
use media::fmp4::demux::FragmentDemuxer;
use media::ts::{TsDemuxer, TsEvent};
use media::{MediaTime, TrackInfo};
use reqwest::Url;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use super::{PullError, PullOptions};
use crate::{IngestEvent, IngestSink};

/// A playlist larger than this is refused.
pub const MAX_PLAYLIST_BYTES: usize = 1 << 20;
/// A segment larger than this is refused.
pub const MAX_SEGMENT_BYTES: usize = 64 << 20;
/// An fMP4 init segment (`#EXT-X-MAP`) larger than this is refused.
pub const MAX_INIT_BYTES: usize = 4 << 20;
/// Segments that may fail in a row (HTTP error, transport error, nothing decodable) before the
/// pull fails; a failed segment is skipped and the stream goes on with the next one.
pub const MAX_SEGMENT_FAILURES: u32 = 3;
/// A live pull starts at the segment that leaves this many target durations to the live edge.
pub const LIVE_START_TARGET_DURATIONS: u32 = 2;
/// How far ahead of its due time [`pull`] delivers a frame.
pub const PACE_LEAD: Duration = Duration::from_millis(200);
/// A frame this late re-anchors the pacer (delivered at once, later frames paced from it).
pub const PACE_MAX_LATE: Duration = Duration::from_secs(3);

/// Longest target duration taken into account; a larger one is treated as this.
const MAX_TARGET_DURATION_SECS: u64 = 600;
/// Segments demuxed and waiting for delivery, besides the one being delivered and the one
/// being downloaded. With [`MAX_SEGMENT_BYTES`] this bounds the memory of one pull.
const SEGMENTS_QUEUED: usize = 1;
/// Body bytes reserved before the first chunk, whatever Content-Length announces.
const MAX_PREALLOCATION: usize = 4 << 20;

/// Pulls the HLS stream at `url` (a multivariant or a media playlist) until the media playlist
/// ends (`#EXT-X-ENDLIST`, then `Ok(())`) or the pull fails; frames reach `sink` paced at real
/// time. Cancelling is dropping the future.
pub async fn pull(
    client: &reqwest::Client,
    url: &str,
    options: &PullOptions,
    sink: &mut dyn IngestSink,
) -> Result<(), PullError> {
    let start_url = super::parse_http_url(url)?;
    let first = fetch_playlist(client, &start_url, options).await?;
    let (media_url, media) = match first.playlist {
        Playlist::MediaPlaylist(playlist) => (
            start_url,
            LoadedMedia {
                base: first.base,
                playlist,
            },
        ),
        Playlist::MasterPlaylist(master) => {
            let variant = choose_variant(&master, options.max_bandwidth)
                .map_err(|why| protocol(&first.base, why))?;
            let variant_url = resolve(&first.base, &variant.uri)?;
            info!(
                url = %variant_url,
                bandwidth = variant.bandwidth,
                resolution = %variant
                    .resolution
                    .map_or_else(|| "unknown".to_string(), |r| r.to_string()),
                codecs = variant.codecs.as_deref().unwrap_or("unknown"),
                max_bandwidth = ?options.max_bandwidth,
                variants = master.variants.len(),
                "HLS_PULL: variant chosen"
            );
            if variant.audio.is_some() {
                warn!(
                    url = %variant_url,
                    "HLS_PULL: the variant names an audio rendition group; only the variant's own \
                     stream is pulled"
                );
            }
            let loaded = fetch_playlist(client, &variant_url, options).await?;
            match loaded.playlist {
                Playlist::MediaPlaylist(playlist) => (
                    variant_url,
                    LoadedMedia {
                        base: loaded.base,
                        playlist,
                    },
                ),
                Playlist::MasterPlaylist(_) => {
                    return Err(protocol(
                        &loaded.base,
                        "the variant URI names another multivariant playlist, not a media playlist",
                    ))
                }
            }
        }
    };
    let target = target_duration(&media.playlist);
    let max_early = (target * 6).max(Duration::from_secs(10));
    let pacer = FramePacer::new(PACE_LEAD, PACE_MAX_LATE, max_early);

    let (tx, rx) = mpsc::channel(SEGMENTS_QUEUED);
    let follow = follow_media_playlist(client, options, media_url, media, tx);
    let deliver = deliver_paced(rx, pacer, sink);
    tokio::try_join!(follow, deliver)?;
    Ok(())
}

/// The variant with the highest `BANDWIDTH` not above `max_bandwidth` (the first listed of
/// equals), or why there is none. I-frame-only variants are never chosen.
pub fn choose_variant(
    master: &MasterPlaylist,
    max_bandwidth: Option<u64>,
) -> Result<&VariantStream, String> {
    let mut best: Option<&VariantStream> = None;
    let mut lowest: Option<u64> = None;
    for variant in master
        .variants
        .iter()
        .filter(|v| !v.is_i_frame && !v.uri.is_empty())
    {
        lowest = Some(lowest.map_or(variant.bandwidth, |l| l.min(variant.bandwidth)));
        if max_bandwidth.is_some_and(|max| variant.bandwidth > max) {
            continue;
        }
        if best.is_none_or(|b| variant.bandwidth > b.bandwidth) {
            best = Some(variant);
        }
    }
    match (best, lowest, max_bandwidth) {
        (Some(variant), _, _) => Ok(variant),
        (None, Some(lowest), Some(max)) => Err(format!(
            "every variant is above max_bandwidth_limit {max} bit/s: the lowest BANDWIDTH is \
             {lowest}"
        )),
        _ => Err("the multivariant playlist lists no variant stream".to_string()),
    }
}

/// What [`pull`] refuses in a media playlist, in words for the operator.
fn check_media_playlist(playlist: &MediaPlaylist) -> Result<(), String> {
    if playlist.target_duration == 0 {
        return Err("the media playlist has no valid #EXT-X-TARGETDURATION".to_string());
    }
    if playlist.i_frames_only {
        return Err("I-frame-only playlists cannot be pulled".to_string());
    }
    for segment in &playlist.segments {
        if segment
            .map
            .as_ref()
            .is_some_and(|map| map.byte_range.is_some())
        {
            return Err(
                "byte-range fMP4 init segments (#EXT-X-MAP with BYTERANGE) are not supported"
                    .to_string(),
            );
        }
        if let Some(key) = &segment.key {
            if key.method != KeyMethod::None {
                return Err(format!(
                    "encrypted HLS segments (#EXT-X-KEY METHOD={}) are not supported",
                    key.method
                ));
            }
        }
        if segment.byte_range.is_some() {
            return Err("byte-range HLS segments (#EXT-X-BYTERANGE) are not supported".to_string());
        }
    }
    Ok(())
}

/// `#EXT-X-TARGETDURATION`, at least one second and at most [`MAX_TARGET_DURATION_SECS`].
fn target_duration(playlist: &MediaPlaylist) -> Duration {
    Duration::from_secs(playlist.target_duration.clamp(1, MAX_TARGET_DURATION_SECS))
}

/// A segment's `#EXTINF` duration, or `target` when it is missing, zero or not a duration.
fn segment_duration(segment: &MediaSegment, target: Duration) -> Duration {
    Duration::try_from_secs_f32(segment.duration)
        .ok()
        .filter(|d| !d.is_zero())
        .unwrap_or(target)
        .min(Duration::from_secs(MAX_TARGET_DURATION_SECS))
}

/// Index of the segment a live pull starts at: the one that leaves
/// [`LIVE_START_TARGET_DURATIONS`] target durations to the end of the playlist, never before
/// the first listed.
pub fn live_start_index(playlist: &MediaPlaylist) -> usize {
    let target = target_duration(playlist);
    let wanted = target * LIVE_START_TARGET_DURATIONS;
    let mut covered = Duration::ZERO;
    for (index, segment) in playlist.segments.iter().enumerate().rev() {
        covered = covered.saturating_add(segment_duration(segment, target));
        if covered >= wanted {
            return index;
        }
    }
    0
}

/// One segment to download, in media-sequence order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRef {
    /// Media sequence number.
    pub sequence: u64,
    /// URI as listed, relative to the media playlist.
    pub uri: String,
    /// The timeline breaks before this segment (`#EXT-X-DISCONTINUITY`, segments lost, or the
    /// playlist restarted): demux it with a new demuxer and re-anchor the pacer.
    pub discontinuity: bool,
    /// URI (as listed) of the fMP4 init segment of the last `#EXT-X-MAP` before this segment
    /// in the playlist; `None` for an MPEG-TS segment.
    pub map: Option<String>,
}

/// What one playlist load changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowUpdate {
    /// Segments not fetched yet, in order.
    pub segments: Vec<SegmentRef>,
    /// The playlist lists a segment it did not list before (always true for the first load).
    pub advanced: bool,
    /// Media sequence numbers that left the playlist before they were fetched.
    pub lost: Option<Range<u64>>,
    /// The media sequence went back: the stream was restarted and is followed from its live
    /// start again.
    pub restarted: bool,
}

/// Which segments of a media playlist to fetch, reload after reload; tracks segments by media
/// sequence number. No I/O, no clock.
///
/// A playlist whose media sequence goes back is a restarted stream. A cache that serves an
/// older copy of the playlist looks the same, and its segments are then fetched again after a
/// discontinuity.
#[derive(Clone, Debug, Default)]
pub struct LiveWindow {
    /// Media sequence number of the next segment to fetch; `None` before the first load.
    next: Option<u64>,
    /// `#EXT-X-MEDIA-SEQUENCE` of the last playlist.
    first_listed: u64,
}

impl LiveWindow {
    pub fn new() -> LiveWindow {
        LiveWindow::default()
    }

    /// Media sequence number of the next segment to fetch, after the first load.
    pub fn next_sequence(&self) -> Option<u64> {
        self.next
    }

    /// Takes a freshly loaded playlist and returns the segments to fetch now. A playlist with
    /// `#EXT-X-ENDLIST` seen first is fetched from its first segment, a live one from its live
    /// start ([`live_start_index`]).
    pub fn update(&mut self, playlist: &MediaPlaylist) -> WindowUpdate {
        let first = playlist.media_sequence;
        let end = first.saturating_add(playlist.segments.len() as u64);
        let from_start = |playlist: &MediaPlaylist| {
            if playlist.end_list {
                0
            } else {
                live_start_index(playlist)
            }
        };
        let mut update = WindowUpdate::default();
        let start = match self.next {
            None => {
                update.advanced = true;
                from_start(playlist)
            }
            Some(next) if first < self.first_listed || end < next => {
                update.restarted = true;
                update.advanced = true;
                from_start(playlist)
            }
            Some(next) if first > next => {
                update.lost = Some(next..first);
                update.advanced = true;
                0
            }
            Some(next) => {
                update.advanced = end > next;
                usize::try_from(next - first).unwrap_or(usize::MAX)
            }
        };
        let broken = update.restarted || update.lost.is_some();
        // An #EXT-X-MAP applies to every segment after it until the next one; m3u8-rs sets it
        // on the first of them only.
        let mut map: Option<&str> = None;
        update.segments = playlist
            .segments
            .iter()
            .enumerate()
            .filter_map(|(index, segment)| {
                if let Some(m) = &segment.map {
                    map = Some(m.uri.as_str());
                }
                (index >= start).then(|| SegmentRef {
                    sequence: first.saturating_add(index as u64),
                    uri: segment.uri.clone(),
                    discontinuity: segment.discontinuity || (broken && index == start),
                    map: map.map(str::to_string),
                })
            })
            .collect();
        self.next = Some(end);
        self.first_listed = first;
        update
    }
}

/// Why [`FramePacer`] took a new anchor for a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reanchor {
    /// The first frame.
    Start,
    /// The first frame after [`FramePacer::discontinuity`].
    Discontinuity,
    /// The frame was due this long ago, more than the pacer's `max_late`.
    Late(Duration),
    /// The frame would be due this far ahead, more than the pacer's `max_early`.
    Early(Duration),
}

/// When to deliver one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaceSlot {
    /// The wall-clock time of the frame's decode time.
    pub due: Instant,
    /// When to hand the frame on: `lead` before `due`. In the past means at once.
    pub release_at: Instant,
    /// Set when this frame anchored the timeline to the wall clock.
    pub reanchored: Option<Reanchor>,
}

/// Maps frame decode times to the wall clock so that frames are delivered at the pace they
/// were recorded. It never reads the clock: the caller passes `now`.
///
/// The first frame anchors its DTS to `now`; every later frame is due at the anchor plus its
/// DTS distance to the anchor's DTS. A discontinuity, a frame more than `max_late` late or more
/// than `max_early` early anchors again. A new anchor is never earlier than the latest due
/// time handed out, so a new timeline follows the old one instead of creeping ahead.
#[derive(Clone, Debug)]
pub struct FramePacer {
    lead: Duration,
    max_late: Duration,
    max_early: Duration,
    anchor: Option<(MediaTime, Instant)>,
    next_anchor_reason: Reanchor,
    latest_due: Option<Instant>,
}

impl FramePacer {
    pub fn new(lead: Duration, max_late: Duration, max_early: Duration) -> FramePacer {
        FramePacer {
            lead,
            max_late,
            max_early,
            anchor: None,
            next_anchor_reason: Reanchor::Start,
            latest_due: None,
        }
    }

    /// The timeline breaks before the next frame: it anchors again.
    pub fn discontinuity(&mut self) {
        if self.anchor.take().is_some() || self.latest_due.is_some() {
            self.next_anchor_reason = Reanchor::Discontinuity;
        }
    }

    /// When to deliver the frame with decode time `dts`, given that it is `now`.
    pub fn schedule(&mut self, dts: MediaTime, now: Instant) -> PaceSlot {
        let (due, reanchored) = match self.anchor {
            None => {
                let reason = self.next_anchor_reason;
                (self.anchor_at(dts, now), Some(reason))
            }
            Some((anchor_dts, anchor_at)) => {
                let offset = micros(dts) - micros(anchor_dts);
                let magnitude =
                    Duration::from_micros(u64::try_from(offset.unsigned_abs()).unwrap_or(u64::MAX));
                let due = if offset >= 0 {
                    anchor_at.checked_add(magnitude)
                } else {
                    anchor_at.checked_sub(magnitude)
                };
                match due {
                    Some(due) => {
                        let late = now.saturating_duration_since(due);
                        let early = due.saturating_duration_since(now);
                        if late > self.max_late {
                            (self.anchor_at(dts, now), Some(Reanchor::Late(late)))
                        } else if early > self.max_early {
                            (self.anchor_at(dts, now), Some(Reanchor::Early(early)))
                        } else {
                            (due, None)
                        }
                    }
                    None if offset >= 0 => {
                        (self.anchor_at(dts, now), Some(Reanchor::Early(magnitude)))
                    }
                    None => (self.anchor_at(dts, now), Some(Reanchor::Late(magnitude))),
                }
            }
        };
        self.latest_due = Some(self.latest_due.map_or(due, |latest| latest.max(due)));
        PaceSlot {
            due,
            release_at: due.checked_sub(self.lead).unwrap_or(due),
            reanchored,
        }
    }

    /// Anchors `dts` at `now`, or at the latest due time handed out when that is later.
    fn anchor_at(&mut self, dts: MediaTime, now: Instant) -> Instant {
        let at = self.latest_due.map_or(now, |latest| latest.max(now));
        self.anchor = Some((dts, at));
        at
    }
}

/// A media time in microseconds, whatever its timescale.
fn micros(t: MediaTime) -> i128 {
    i128::from(t.ticks) * 1_000_000 / i128::from(t.timescale.get())
}

/// A media playlist and the URL its segment URIs resolve against.
struct LoadedMedia {
    base: Url,
    playlist: MediaPlaylist,
}

/// The events of one segment, handed from the download loop to the delivery loop.
#[derive(Debug)]
struct SegmentBatch {
    sequence: u64,
    /// The pacer anchors again before the first frame.
    discontinuity: bool,
    events: Vec<IngestEvent>,
}

/// Reloads the media playlist, downloads and demuxes its segments in order and queues their
/// events on `tx`, until `#EXT-X-ENDLIST` or a failure.
async fn follow_media_playlist(
    client: &reqwest::Client,
    options: &PullOptions,
    url: Url,
    first: LoadedMedia,
    tx: mpsc::Sender<SegmentBatch>,
) -> Result<(), PullError> {
    let mut window = LiveWindow::new();
    let mut demuxer = TsDemuxer::new();
    let mut fmp4 = Fmp4Reader::default();
    let mut last_was_fmp4 = false;
    let mut playlist = first.playlist;
    // Segment URIs are relative to the playlist's URL after redirects.
    let mut base = first.base;
    // When the load of `playlist` began.
    let mut loaded_at = Instant::now();
    let mut last_advance = loaded_at;
    let mut segment_failures = 0u32;
    let mut break_pending = false;
    loop {
        check_media_playlist(&playlist).map_err(|why| protocol(&url, why))?;
        let target = target_duration(&playlist);
        let update = window.update(&playlist);
        if let Some(lost) = &update.lost {
            warn!(
                %url,
                lost_from = lost.start,
                lost_to = lost.end - 1,
                "HLS_PULL: segments left the playlist before they were fetched; going on with the \
                 first one listed"
            );
        }
        if update.restarted {
            warn!(
                %url,
                media_sequence = playlist.media_sequence,
                "HLS_PULL: the media sequence went back; the stream restarted"
            );
        }
        if update.advanced {
            last_advance = loaded_at;
        } else {
            let stalled = loaded_at.saturating_duration_since(last_advance);
            let limit = options.read_timeout.max(target * 3);
            if stalled >= limit {
                return Err(PullError::Timeout {
                    url: url.to_string(),
                    after: stalled,
                });
            }
        }

        for segment in update.segments {
            let segment_url = resolve(&base, &segment.uri)?;
            let discontinuity = segment.discontinuity || std::mem::take(&mut break_pending);
            let demuxed = match &segment.map {
                None => {
                    // MPEG-TS; also after fMP4 segments, whose tracks the TS demuxer must
                    // announce again.
                    if discontinuity || last_was_fmp4 {
                        demuxer = TsDemuxer::new();
                    }
                    last_was_fmp4 = false;
                    fmp4.announced = None;
                    fetch_body(client, &segment_url, options, MAX_SEGMENT_BYTES)
                        .await
                        .map(|body| {
                            demux_segment(&mut demuxer, &body.bytes, &segment_url, segment.sequence)
                        })
                }
                Some(map) => {
                    let init_url = resolve(&base, map)?;
                    last_was_fmp4 = true;
                    fmp4.read_segment(
                        client,
                        options,
                        &init_url,
                        &segment_url,
                        segment.sequence,
                        discontinuity,
                    )
                    .await
                }
            };
            let failure = match demuxed {
                Ok(demuxed) if demuxed.frames > 0 => {
                    segment_failures = 0;
                    debug!(
                        url = %segment_url,
                        sequence = segment.sequence,
                        frames = demuxed.frames,
                        discontinuity,
                        fmp4 = segment.map.is_some(),
                        "HLS_PULL: segment demuxed"
                    );
                    let batch = SegmentBatch {
                        sequence: segment.sequence,
                        discontinuity,
                        events: demuxed.events,
                    };
                    if tx.send(batch).await.is_err() {
                        // The delivery loop ended; its result is the pull's.
                        return Ok(());
                    }
                    continue;
                }
                Ok(demuxed) => protocol(&segment_url, demuxed.why_empty),
                Err(
                    e @ (PullError::Status { .. }
                    | PullError::Transport { .. }
                    | PullError::Timeout { .. }),
                ) => e,
                Err(e) => return Err(e),
            };
            segment_failures += 1;
            if segment_failures >= MAX_SEGMENT_FAILURES {
                return Err(failure);
            }
            warn!(
                sequence = segment.sequence,
                failures_in_a_row = segment_failures,
                "HLS_PULL: segment skipped: {failure}"
            );
            break_pending = true;
        }

        if playlist.end_list {
            info!(%url, "HLS_PULL: #EXT-X-ENDLIST reached; the stream ended");
            return Ok(());
        }

        // RFC 8216 §6.3.4: reload a target duration after the last load began, half of it when
        // the playlist did not change.
        let mut reload_at = loaded_at + if update.advanced { target } else { target / 2 };
        let mut failing_since: Option<Instant> = None;
        let reloaded = loop {
            sleep_until(reload_at).await;
            let now = Instant::now();
            loaded_at = now;
            match fetch_playlist(client, &url, options).await {
                Ok(loaded) => break loaded,
                Err(
                    e @ (PullError::Status { .. }
                    | PullError::Transport { .. }
                    | PullError::Timeout { .. }),
                ) => {
                    let since = *failing_since.get_or_insert(now);
                    if now.saturating_duration_since(since) >= options.read_timeout {
                        return Err(e);
                    }
                    warn!("HLS_PULL: playlist reload failed, retrying: {e}");
                    reload_at = Instant::now() + target / 2;
                }
                Err(e) => return Err(e),
            }
        };
        base = reloaded.base;
        playlist = match reloaded.playlist {
            Playlist::MediaPlaylist(media) => media,
            Playlist::MasterPlaylist(_) => {
                return Err(protocol(
                    &url,
                    "the media playlist turned into a multivariant playlist",
                ))
            }
        };
    }
}

/// Hands queued events to `sink`, each frame when `pacer` says.
async fn deliver_paced(
    mut rx: mpsc::Receiver<SegmentBatch>,
    mut pacer: FramePacer,
    sink: &mut dyn IngestSink,
) -> Result<(), PullError> {
    while let Some(batch) = rx.recv().await {
        if batch.discontinuity {
            pacer.discontinuity();
        }
        for event in batch.events {
            if let IngestEvent::Frame(frame) = &event {
                let now = Instant::now();
                let slot = pacer.schedule(frame.dts, now);
                match slot.reanchored {
                    Some(Reanchor::Late(late)) => warn!(
                        sequence = batch.sequence,
                        late_ms = late.as_millis() as u64,
                        "HLS_PULL: frames arrive late; pacing from now"
                    ),
                    Some(Reanchor::Early(early)) => warn!(
                        sequence = batch.sequence,
                        early_ms = early.as_millis() as u64,
                        "HLS_PULL: decode time jumped ahead; pacing from now"
                    ),
                    Some(reason) => debug!(
                        sequence = batch.sequence,
                        ?reason,
                        "HLS_PULL: pacer anchored"
                    ),
                    None => {}
                }
                if slot.release_at > now {
                    sleep_until(slot.release_at).await;
                }
            }
            sink.on_event(event).map_err(PullError::Sink)?;
        }
    }
    Ok(())
}

/// What one segment gave.
struct DemuxedSegment {
    events: Vec<IngestEvent>,
    frames: usize,
    /// Why the segment counts as failed when it gave no frame.
    why_empty: String,
}

impl DemuxedSegment {
    /// A segment that gave nothing, and why.
    fn failed(why: String) -> DemuxedSegment {
        DemuxedSegment {
            events: Vec::new(),
            frames: 0,
            why_empty: why,
        }
    }
}

/// Demuxes a whole MPEG-TS segment and delivers what is in progress at its end (segments end
/// on PES boundaries), keeping the demuxer's state for the next segment.
fn demux_segment(demuxer: &mut TsDemuxer, body: &[u8], url: &Url, sequence: u64) -> DemuxedSegment {
    let mut out = Vec::new();
    demuxer.push(body, &mut out);
    demuxer.finish(&mut out);
    let mut events = Vec::with_capacity(out.len());
    let mut frames = 0;
    let mut errors = 0;
    for event in out {
        match event {
            TsEvent::Track(track) => events.push(IngestEvent::Track(track)),
            TsEvent::Frame(frame) => {
                frames += 1;
                events.push(IngestEvent::Frame(frame));
            }
            TsEvent::Error(e) => {
                errors += 1;
                if errors == 1 {
                    warn!(%url, "HLS_PULL: {e}");
                }
            }
        }
    }
    if errors > 1 {
        warn!(%url, errors, "HLS_PULL: MPEG-TS errors in the segment");
    }
    DemuxedSegment {
        events,
        frames,
        why_empty: format!(
            "segment {sequence} holds no video or audio frame ({errors} MPEG-TS errors)"
        ),
    }
}

/// The fMP4 side of a pull: the init segment in use and the tracks last handed on.
#[derive(Debug, Default)]
struct Fmp4Reader {
    /// The init segment's URL and the demuxer made from it.
    init: Option<(Url, FragmentDemuxer)>,
    /// The tracks last handed on as [`IngestEvent::Track`] by this reader; `None` after a
    /// discontinuity or an MPEG-TS segment, so that the next fMP4 frames come after them again.
    announced: Option<Vec<TrackInfo>>,
}

impl Fmp4Reader {
    /// Fetches the init segment at `init_url` unless it is the one in use, then fetches and
    /// demuxes the media segment at `segment_url`. Fetch failures are errors; an init or a
    /// segment that does not demux is a [`DemuxedSegment`] without frames that says why.
    async fn read_segment(
        &mut self,
        client: &reqwest::Client,
        options: &PullOptions,
        init_url: &Url,
        segment_url: &Url,
        sequence: u64,
        discontinuity: bool,
    ) -> Result<DemuxedSegment, PullError> {
        if discontinuity {
            self.announced = None;
        }
        let demuxer = match &mut self.init {
            Some((url, demuxer)) if url == init_url => {
                if discontinuity {
                    demuxer.reset();
                }
                demuxer
            }
            _ => {
                self.init = None;
                let body = fetch_body(client, init_url, options, MAX_INIT_BYTES).await?;
                let demuxer = match FragmentDemuxer::from_init(&body.bytes) {
                    Ok(demuxer) => demuxer,
                    Err(e) => {
                        return Ok(DemuxedSegment::failed(format!(
                            "fMP4 init segment {init_url}: {e}"
                        )))
                    }
                };
                info!(
                    url = %init_url,
                    tracks = %demuxer
                        .tracks()
                        .iter()
                        .map(|t| t.codec.codec_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    "HLS_PULL: fMP4 init segment read"
                );
                if !demuxer.skipped_tracks().is_empty() {
                    warn!(
                        url = %init_url,
                        "HLS_PULL: fMP4 tracks not pulled: {}",
                        demuxer.skipped_tracks().join("; ")
                    );
                }
                &mut self.init.insert((init_url.clone(), demuxer)).1
            }
        };
        let body = fetch_body(client, segment_url, options, MAX_SEGMENT_BYTES).await?;
        let mut frames = Vec::new();
        if let Err(e) = demuxer.push_segment(&body.bytes, &mut frames) {
            return Ok(DemuxedSegment::failed(format!(
                "fMP4 segment {sequence}: {e}"
            )));
        }
        if frames.is_empty() {
            return Ok(DemuxedSegment::failed(format!(
                "fMP4 segment {sequence} holds no video or audio frame"
            )));
        }
        let tracks = demuxer.tracks();
        let mut events = Vec::with_capacity(frames.len() + tracks.len());
        if self.announced.as_ref() != Some(&tracks) {
            events.extend(tracks.iter().cloned().map(IngestEvent::Track));
            self.announced = Some(tracks);
        }
        let count = frames.len();
        events.extend(frames.into_iter().map(IngestEvent::Frame));
        Ok(DemuxedSegment {
            events,
            frames: count,
            why_empty: String::new(),
        })
    }
}

/// A playlist and the URL its relative URIs resolve against.
struct LoadedPlaylist {
    base: Url,
    playlist: Playlist,
}

async fn fetch_playlist(
    client: &reqwest::Client,
    url: &Url,
    options: &PullOptions,
) -> Result<LoadedPlaylist, PullError> {
    let body = fetch_body(client, url, options, MAX_PLAYLIST_BYTES).await?;
    let text = std::str::from_utf8(&body.bytes)
        .map_err(|e| protocol(url, format!("the playlist is not UTF-8 text: {e}")))?;
    if !text.trim_start_matches('\u{feff}').starts_with("#EXTM3U") {
        return Err(protocol(url, "not an HLS playlist (no #EXTM3U header)"));
    }
    let playlist = m3u8_rs::parse_playlist_res(text.as_bytes())
        .map_err(|_| protocol(url, "the playlist does not parse as M3U8"))?;
    Ok(LoadedPlaylist {
        base: body.url,
        playlist,
    })
}

/// A response body and the URL it came from after redirects.
struct Body {
    url: Url,
    bytes: Vec<u8>,
}

/// GETs `url`: `connect_timeout` for the connection and the response headers, `read_timeout`
/// for each silence in the body, at most `limit` bytes.
async fn fetch_body(
    client: &reqwest::Client,
    url: &Url,
    options: &PullOptions,
    limit: usize,
) -> Result<Body, PullError> {
    let mut response = super::get(client, url.clone(), options).await?;
    let announced = response.content_length();
    if announced.is_some_and(|len| len > limit as u64) {
        return Err(too_large(url, limit));
    }
    let final_url = response.url().clone();
    let capacity = announced.map_or(0, |len| usize::try_from(len).unwrap_or(0));
    let mut bytes = Vec::with_capacity(capacity.min(MAX_PREALLOCATION));
    loop {
        match timeout(options.read_timeout, response.chunk()).await {
            Err(_) => {
                return Err(PullError::Timeout {
                    url: url.to_string(),
                    after: options.read_timeout,
                })
            }
            Ok(Err(e)) => return Err(super::transport(url.as_str(), e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if bytes.len().saturating_add(chunk.len()) > limit {
                    return Err(too_large(url, limit));
                }
                bytes.extend_from_slice(&chunk);
            }
        }
    }
    Ok(Body {
        url: final_url,
        bytes,
    })
}

/// `uri` resolved against `base`; it must be http or https.
fn resolve(base: &Url, uri: &str) -> Result<Url, PullError> {
    let resolved = base
        .join(uri.trim())
        .map_err(|e| protocol(base, format!("cannot resolve URI {uri:?}: {e}")))?;
    super::check_http(&resolved).map_err(|why| protocol(base, format!("URI {uri:?}: {why}")))?;
    Ok(resolved)
}

fn protocol(url: &Url, why: impl Into<String>) -> PullError {
    PullError::Protocol {
        url: url.to_string(),
        why: why.into(),
    }
}

fn too_large(url: &Url, limit: usize) -> PullError {
    protocol(url, format!("the response is larger than {limit} bytes"))
}

#[cfg(test)]
#[path = "hls_tests.rs"]
mod tests;
