//! Microsoft Smooth Streaming (MSS) live: the client manifest and its fragments, as views of
//! the stored segments. A recording (catch-up, [`crate::Presentation::Recorded`]) gets a
//! manifest with `IsLive="FALSE"` listing all its segments, with the same fragment URLs.
//!
//! # Layout
//!
//! A package's URL names the manifest (`/ott/channel/manifest`, `/live/x.isml/Manifest`).
//! Below the manifest's directory:
//!
//! - `{manifest file}`: the manifest ([`write_manifest`]);
//! - `QualityLevels({bitrate})/Fragments(video={time})`: a video fragment, from the rendition
//!   whose bandwidth is `bitrate`;
//! - `QualityLevels({bitrate})/Fragments(audio={time})`: an audio fragment. There is one audio
//!   quality level (the audio of the first rendition that has audio), so the bitrate in audio
//!   URLs is only what the manifest advertises and the server ignores it.
//!
//! One stored segment gives one video fragment and one audio fragment.
//!
//! # Time
//!
//! Stored times are a channel timeline anchored to the Unix epoch (video at 90 kHz, audio at
//! its sample rate). Smooth Streaming counts in 100 ns units ([`TIMESCALE`]); counted from
//! 1970 those values (~1.7e16) exceed 2^53, past which JavaScript players such as dash.js
//! lose precision. Smooth times are therefore counted from a fixed epoch of their own,
//! 2020-01-01T00:00:00Z ([`MSS_EPOCH_UNIX_SECS`]), which keeps them exact in a JavaScript
//! number until about 2048 (2^53 × 100 ns ≈ 28.5 years). Media stored before 2020 cannot
//! be expressed and is left out.
//!
//! Conversions are exact integer arithmetic rounded to the nearest 100 ns ([`to_mss_time`]).
//! A fragment starts at the rescaled decode time of its first sample. It ends where the next
//! fragment starts when the stored timeline runs on into it (no discontinuity, and the next
//! start no further than one sample duration from this fragment's own end, which absorbs
//! the jitter of millisecond-stamped audio), and otherwise at the rescaled end of its last
//! sample. Durations are differences of rescaled absolute times, so a manifest's `c` list is
//! contiguous wherever the stored timeline is, and never drifts: the `n`-th start is the
//! exact rescaling of the `n`-th stored start however many fragments precede it. Inside a
//! fragment every sample's duration and composition offset are re-expressed on the 100 ns
//! clock the same way, because Smooth clients build the track with the manifest's TimeScale
//! (see [`write_fragment`]).

use std::sync::Arc;

use media::{Timescale, TrackKind};
use segmenter::Segment;

use crate::cmaf::track_samples;
use crate::view::RenditionView;

mod fragment;
mod manifest;
#[cfg(test)]
mod tests;

pub use fragment::write_fragment;
pub use manifest::write_manifest;

/// Ticks per second of every Smooth Streaming time: 100 ns units.
pub const TIMESCALE: u64 = 10_000_000;

/// Where Smooth Streaming times count from: 2020-01-01T00:00:00Z, in seconds since the Unix
/// epoch. Times stay below 2^53 (exact in JavaScript) until about 2048.
pub const MSS_EPOCH_UNIX_SECS: i64 = 1_577_836_800;

/// How many following fragments a manifest announces that each fragment's `tfrf` describes
/// (the manifest's `LookAheadFragmentCount`).
pub const LOOKAHEAD_FRAGMENT_COUNT: usize = 2;

/// The Smooth Streaming package settings that shape manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MssSettings {
    /// Target segment duration in seconds.
    pub segment_duration_secs: u32,
    /// Media listed in the manifest, in seconds (at least three segments are listed); also
    /// the advertised `DVRWindowLength` (0: the listed duration).
    pub playlist_window_secs: u32,
    /// The manifest's live edge is moved back this many seconds: segments that end within
    /// `delay_secs` of the newest segment's end are left out (one is always kept).
    pub delay_secs: u64,
}

/// A resource below a Smooth Streaming package's directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MssResource {
    /// The client manifest.
    Manifest,
    /// One fragment: `time` is its start on the Smooth clock ([`TIMESCALE`], from
    /// [`MSS_EPOCH_UNIX_SECS`]).
    Fragment {
        bitrate: u64,
        kind: TrackKind,
        time: u64,
    },
}

impl MssResource {
    /// Parses the part of a request path after the manifest's directory, for a package whose
    /// manifest file (the last component of its URL) is `manifest_file`.
    ///
    /// Accepts exactly `{manifest_file}`, `QualityLevels({bitrate})/Fragments(video={time})`
    /// and `QualityLevels({bitrate})/Fragments(audio={time})`, with plain decimal numbers (no
    /// sign, no leading zero), so one resource has one URL.
    pub fn parse(manifest_file: &str, rest: &str) -> Option<MssResource> {
        if !manifest_file.is_empty() && rest == manifest_file {
            return Some(MssResource::Manifest);
        }
        let rest = rest.strip_prefix("QualityLevels(")?;
        let (bitrate, rest) = rest.split_once(")/Fragments(")?;
        let (kind, time) = rest.strip_suffix(')')?.split_once('=')?;
        let kind = match kind {
            "video" => TrackKind::Video,
            "audio" => TrackKind::Audio,
            _ => return None,
        };
        Some(MssResource::Fragment {
            bitrate: decimal(bitrate)?,
            kind,
            time: decimal(time)?,
        })
    }

    /// The path of a fragment relative to the package directory (what the manifest's `Url`
    /// template expands to).
    pub fn fragment_path(bitrate: u64, kind: TrackKind, time: u64) -> String {
        format!(
            "QualityLevels({bitrate})/Fragments({}={time})",
            kind_name(kind)
        )
    }
}

/// A plain decimal number: digits only, no leading zero (except `0` itself).
fn decimal(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// `video` or `audio`: the StreamIndex name and the URL's fragment type.
fn kind_name(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Video => "video",
        TrackKind::Audio => "audio",
    }
}

/// A time on a `timescale` clock anchored to the Unix epoch, on the Smooth clock: 100 ns
/// units since [`MSS_EPOCH_UNIX_SECS`], rounded to the nearest unit (halves up).
///
/// `None` before 2020-01-01 or past `u64`.
pub fn to_mss_time(ticks: i64, timescale: Timescale) -> Option<u64> {
    let scale = i128::from(timescale.get());
    let since = i128::from(ticks) - i128::from(MSS_EPOCH_UNIX_SECS) * scale;
    if since < 0 {
        return None;
    }
    let hns = (since * i128::from(TIMESCALE) + scale / 2) / scale;
    u64::try_from(hns).ok()
}

/// The inverse of [`to_mss_time`]: a Smooth time on a `timescale` clock anchored to the Unix
/// epoch, rounded to the nearest tick. For any clock up to 10 MHz,
/// `from_mss_time(to_mss_time(t)) == t`.
pub fn from_mss_time(time: u64, timescale: Timescale) -> Option<i64> {
    let scale = i128::from(timescale.get());
    let hns = i128::from(TIMESCALE);
    let ticks =
        (i128::from(time) * scale + hns / 2) / hns + i128::from(MSS_EPOCH_UNIX_SECS) * scale;
    i64::try_from(ticks).ok()
}

/// Where one fragment lies on the Smooth clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn duration(&self) -> u64 {
        self.end - self.start
    }
}

/// The Smooth start of `segment`'s fragment of `kind`: its first sample's decode time.
pub(crate) fn fragment_start(segment: &Segment, kind: TrackKind) -> Option<u64> {
    let track = track_samples(segment, kind)?;
    to_mss_time(track.first_dts_ticks()?, track.timescale())
}

/// Where `segment`'s fragment of `kind` lies, given the segment after it in the rendition
/// (if any is available): see the module documentation.
///
/// Sample decode times are taken as the first one plus the stored durations, as a CMAF
/// fragment of the stored samples would say; the writer uses the same times.
pub(crate) fn fragment_span(
    segment: &Segment,
    next: Option<&Segment>,
    kind: TrackKind,
) -> Option<Span> {
    let track = track_samples(segment, kind)?;
    let timescale = track.timescale();
    let summary = track.summary();
    let last_dts = summary.last_dts();
    let start = to_mss_time(summary.first_dts, timescale)?;
    let last_start = to_mss_time(last_dts, timescale)?;
    let own_end = to_mss_time(
        last_dts.checked_add(i64::from(summary.last_duration))?,
        timescale,
    )?;
    let tolerance = own_end - last_start;
    let next_start = next
        .filter(|n| !n.discontinuity)
        .and_then(|n| fragment_start(n, kind));
    let end = match next_start {
        Some(n) if n > last_start && n <= own_end.saturating_add(tolerance) => n,
        _ => own_end,
    };
    Some(Span { start, end })
}

/// The segments of a rendition up to the manifest's live edge: those ending more than
/// `delay_secs` before the newest one ends (at least one, when there are any). A live
/// manifest's only: a recording's lists every segment it is given.
///
/// Fragments past the edge are still served if asked for, but the manifest does not list
/// them; a caller passing `following` to [`write_fragment`] should stop at this edge too, so
/// that the look-ahead (`tfrf`) does not announce them either.
pub fn available_segments<'a>(
    segments: &'a [Arc<Segment>],
    settings: &MssSettings,
) -> &'a [Arc<Segment>] {
    let Some(newest) = segments.last() else {
        return segments;
    };
    let delay = i64::try_from(settings.delay_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(90_000);
    let edge = newest.end().saturating_sub(delay);
    let kept = segments.partition_point(|s| s.end() <= edge).max(1);
    &segments[..kept]
}

/// Locates the fragment a request names.
///
/// For video: the first rendition with video whose `Variant.bandwidth` is `bitrate`, then its
/// segment whose Smooth video start is `time` or, when renditions are not aligned (the
/// manifest lists the first rendition's times), the one whose start is nearest to `time`
/// within half that segment's duration. For audio: the audio of the first rendition that has
/// audio, found the same way; the bitrate is ignored, since the manifest has one audio
/// quality level.
pub fn find_fragment(
    renditions: &[RenditionView],
    bitrate: u64,
    kind: TrackKind,
    time: u64,
) -> Option<(&RenditionView, &Arc<Segment>)> {
    let view = renditions.iter().find(|r| {
        r.track(kind).is_some() && (kind == TrackKind::Audio || r.variant.bandwidth == bitrate)
    })?;
    let segments = &view.segments;
    // Segments are in timeline order; one without the track sorts by its own start.
    let key =
        |s: &Segment| fragment_start(s, kind).or_else(|| to_mss_time(s.start, Timescale::MPEG));
    let at = segments.partition_point(|s| key(s).is_none_or(|k| k < time));
    let candidates = [at.checked_sub(1), Some(at)];
    let mut best: Option<(u64, &Arc<Segment>)> = None;
    for i in candidates.into_iter().flatten() {
        let Some(segment) = segments.get(i) else {
            continue;
        };
        let Some(start) = fragment_start(segment, kind) else {
            continue;
        };
        let distance = start.abs_diff(time);
        let half = u64::try_from(segment.duration).unwrap_or(0) * TIMESCALE / 90_000 / 2;
        if distance <= half && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, segment));
        }
    }
    best.map(|(_, segment)| (view, segment))
}
