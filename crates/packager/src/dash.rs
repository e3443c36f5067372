//! MPEG-DASH (ISO/IEC 23009-1): a dynamic MPD over the live window, or a static one over a
//! recording, for the CMAF fragments of [`crate::cmaf`].
//!
//! Layout below a package's URL `DIR/STEM.mpd`:
//! `DIR/STEM.mpd` (the MPD), `DIR/STEM/video-{rendition}/init-{period}.mp4`,
//! `DIR/STEM/video-{rendition}/{t}.m4s` and the same with `audio-{rendition}`, where `{rendition}`
//! is the rendition's name, `{period}` a Period id and `t` the fragment's decode time (`tfdt`) in
//! its track's timescale. Names come from time, so a fragment URL never names two different
//! contents. `init.mp4` is the rendition's newest configuration; an MPD with a single Period "0"
//! names it (as before Periods were split).
//!
//! Decode times are on the channel timeline, anchored to the Unix epoch, so a live MPD's
//! `availabilityStartTime` is the epoch forever ([`AVAILABILITY_START_TIME`]) and the first
//! Period starts at 0: a segment at `t` (timescale `T`) is `t / T` seconds after
//! 1970-01-01T00:00:00Z. The MPD only ever lists segments that exist; `$Time$` templates
//! address them, and [`find_segment`] maps a `t` back.
//!
//! How a request's segments are presented ([`Presentation`]) changes the MPD, never a URL:
//!
//! - live: as above;
//! - shifted (live delay, time shift): the caller passes segments ending at the shifted edge,
//!   and the `availabilityStartTime` is the epoch plus the delay
//!   ([`availability_start_time`]), so that a segment at `t` becomes available `delay` later
//!   and a player's wall-clock live edge is the shifted edge;
//! - recorded (catch-up): a static MPD of every segment passed, whose presentation time 0 is
//!   the first listed segment's start: the first Period starts at `PT0S` with that start as
//!   its `presentationTimeOffset`, so `$Time$` is still the absolute `tfdt`.
//!
//! A rendition whose track configuration changes (a publisher reconnecting with another picture
//! size or codec profile) gets a new Period at the first segment with the new configuration, as
//! DASH-IF IOP recommends: Period `p{t}` starts at channel time `t` (90 kHz; in a recording,
//! `t` minus its first listed segment's start), and its SegmentTemplates'
//! `presentationTimeOffset` is `t` in their timescales, so `$Time$` stays the absolute `tfdt`. A
//! Period keeps its id and start while it is listed (see [`period_starts`]). The one exception
//! is a live MPD for GStreamer, whose timelines start with an `S` at the Period start to work
//! around its SegmentTimeline seek ([`needs_timeline_anchor`]).

use std::fmt::{self, Display, Write};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use media::{MediaTime, Timescale, TrackInfo, TrackKind, WallClock};
use segmenter::Segment;

use crate::cmaf;
use crate::view::{audio_format, Presentation, RenditionView};

/// `MPD@availabilityStartTime` of a live MPD: the channel timeline's origin (a shifted one
/// adds its delay: [`availability_start_time`]).
pub const AVAILABILITY_START_TIME: &str = "1970-01-01T00:00:00Z";
const MPD_NAMESPACE: &str = "urn:mpeg:dash:schema:mpd:2011";
const LIVE_PROFILE: &str = "urn:mpeg:dash:profile:isoff-live:2011";
const UTC_HTTP_ISO: &str = "urn:mpeg:dash:utc:http-iso:2014";
const CHANNEL_CONFIGURATION: &str = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";
/// `@bandwidth` of the audio Representation when nothing can be measured.
const DEFAULT_AUDIO_BANDWIDTH: u64 = 128_000;
const MPEG_HZ: i64 = 90_000;

/// The DASH package settings that shape the MPD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DashSettings {
    /// Target segment duration in seconds; the base of the defaults below.
    pub segment_duration_secs: u32,
    /// Media listed in the MPD, in seconds; at least three segments are listed (0: three).
    pub playlist_window_secs: u32,
    /// `MPD@suggestedPresentationDelay`; default three segment durations.
    pub suggested_presentation_delay_secs: Option<u32>,
    /// `MPD@minimumUpdatePeriod`; default one segment duration.
    pub minimum_update_period_secs: Option<u32>,
    /// `MPD@minBufferTime`; default one segment duration.
    pub min_buffer_time_secs: Option<u32>,
}

impl DashSettings {
    fn segment_ms(&self) -> u64 {
        u64::from(self.segment_duration_secs.max(1)) * 1000
    }

    fn minimum_update_period_ms(&self) -> u64 {
        self.minimum_update_period_secs
            .map_or(self.segment_ms(), |s| u64::from(s) * 1000)
    }

    fn suggested_presentation_delay_ms(&self) -> u64 {
        self.suggested_presentation_delay_secs
            .map_or(3 * self.segment_ms(), |s| u64::from(s) * 1000)
    }

    fn min_buffer_time_ms(&self) -> u64 {
        self.min_buffer_time_secs
            .map_or(self.segment_ms(), |s| u64::from(s) * 1000)
    }
}

/// What an MPD says that is not media: who it is and when it was made.
#[derive(Clone, Copy, Debug)]
pub struct MpdContext<'a> {
    /// `MPD@id` (the channel id).
    pub id: &'a str,
    /// `MPD@publishTime` (now).
    pub publish_time: WallClock,
    /// Absolute URL of a time endpoint serving ISO 8601 UTC (`UTCTiming`, http-iso).
    pub utc_timing_url: &'a str,
    /// Path of the resources relative to the MPD: `STEM` for an MPD at `DIR/STEM.mpd`.
    pub base: &'a str,
    /// Start every SegmentTimeline with a one-tick `S` at the Period start (`t="0"`), before
    /// the listed segments: for GStreamer only, see [`needs_timeline_anchor`]. Ignored for a
    /// recording (a static MPD).
    pub timeline_anchor: bool,
}

/// Whether the MPD for a client sending `user_agent` gets [`MpdContext::timeline_anchor`]:
/// GStreamer's HTTP source (`GStreamer souphttpsrc 1.22.0 libsoup/3.2.3`), which `dashdemux`
/// and `dashdemux2` fetch MPDs and segments with.
///
/// Since 1.21.2, GStreamer seeks in a SegmentTimeline (`gst_mpd_client_stream_seek` in both
/// demuxers' `gstmpdclient.c`) to the repeat `((ts - start) + first_start) / d` of the `S`
/// whose span holds `ts`, where `first_start` is the MPD time of the timeline's first `S`. That
/// is right only when the first `S` starts at MPD time 0. Here it starts at the window start
/// (decades after the epoch AST), so the live start (`now - suggestedPresentationDelay`) and the
/// seek after every MPD update land that far past the live edge, where no segment is listed,
/// and GStreamer waits decades for it. No Period@start, presentationTimeOffset or other fixed
/// AST helps: the error is the time from AST to the first listed segment, which grows as the
/// window slides. An `S` at MPD time 0 in front of the listed ones removes it, and GStreamer
/// never requests that one (it left the time-shift buffer decades ago). Other players must not
/// get it: Shaka stretches an `S` to the next one's start, and a segment that long moves its
/// live edge back by as much.
///
/// A shifted MPD (another `availabilityStartTime`) needs it just the same: the error does not
/// depend on the AST. A recording's static MPD never gets it: there GStreamer plays from the
/// Period start, where the anchor would be the first segment it requests (and no such segment
/// exists), and it does not need it, since the Period's `presentationTimeOffset` is the first
/// listed segment's start: the first `S` is at presentation time 0 (for audio, within the
/// fraction of a frame by which its fragments start after the video's), so the seek is right.
pub fn needs_timeline_anchor(user_agent: Option<&str>) -> bool {
    user_agent.is_some_and(|ua| ua.starts_with("GStreamer"))
}

/// A resource below a DASH package's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DashResource {
    /// `STEM.mpd`.
    Manifest,
    /// `STEM/{video|audio}-{representation}/init.mp4` or `init-{period}.mp4`: the CMAF header
    /// of that track of the rendition named `representation`, in the configuration `config`.
    Init {
        representation: String,
        kind: TrackKind,
        config: InitConfig,
    },
    /// `STEM/{video|audio}-{representation}/{time}.m4s`: the fragment of that track of the
    /// rendition named `representation` whose decode time is `time` (track timescale).
    Segment {
        representation: String,
        kind: TrackKind,
        time: u64,
    },
}

/// Which configuration of a track a DASH init segment URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitConfig {
    /// `init.mp4`: the newest, which a reconnecting publisher changes.
    Newest,
    /// `init-0.mp4`: that of Period "0", which starts before any change the window knows of:
    /// the oldest held segment's.
    FirstPeriod,
    /// `init-p{t}.mp4`: that of Period `p{t}`, which starts at channel time `t` (90 kHz); it
    /// never changes.
    PeriodFrom(i64),
}

impl InitConfig {
    /// The configuration the init segment of Period `start` names (see [`Period`]).
    fn of_period(start: Option<i64>) -> InitConfig {
        start.map_or(InitConfig::FirstPeriod, InitConfig::PeriodFrom)
    }

    /// The file name in the Representation's directory.
    fn file_name(self) -> String {
        match self {
            InitConfig::Newest => "init.mp4".to_string(),
            InitConfig::FirstPeriod => "init-0.mp4".to_string(),
            InitConfig::PeriodFrom(t) => format!("init-p{t}.mp4"),
        }
    }

    fn parse(file: &str) -> Option<InitConfig> {
        if file == "init.mp4" {
            return Some(InitConfig::Newest);
        }
        match file.strip_prefix("init-")?.strip_suffix(".mp4")? {
            "0" => Some(InitConfig::FirstPeriod),
            period => {
                let digits = period.strip_prefix('p')?;
                let canonical = digits == "0" || !digits.starts_with('0');
                if digits.is_empty() || !canonical || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok().map(InitConfig::PeriodFrom)
            }
        }
    }
}

impl DashResource {
    /// Parses the part of a request path after `DIR/`, for a package whose MPD file is
    /// `STEM.mpd`. `representation` in the result is the rendition's name (the `video-` or
    /// `audio-` prefix of the directory is `kind`).
    pub fn parse(stem: &str, rest: &str) -> Option<DashResource> {
        if rest.strip_suffix(".mpd") == Some(stem) {
            return Some(DashResource::Manifest);
        }
        let inner = rest.strip_prefix(stem)?.strip_prefix('/')?;
        let (dir, file) = inner.split_once('/')?;
        if file.contains('/') {
            return None;
        }
        let (kind, name) = if let Some(name) = dir.strip_prefix("video-") {
            (TrackKind::Video, name)
        } else if let Some(name) = dir.strip_prefix("audio-") {
            (TrackKind::Audio, name)
        } else {
            return None;
        };
        if name.is_empty() {
            return None;
        }
        let representation = name.to_string();
        if let Some(config) = InitConfig::parse(file) {
            return Some(DashResource::Init {
                representation,
                kind,
                config,
            });
        }
        let digits = file.strip_suffix(".m4s")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let time = digits.parse().ok()?;
        Some(DashResource::Segment {
            representation,
            kind,
            time,
        })
    }
}

/// The `Representation@id` of the `kind` track of rendition `name` (also its directory).
fn representation_id(kind: TrackKind, name: &str) -> String {
    match kind {
        TrackKind::Video => format!("video-{name}"),
        TrackKind::Audio => format!("audio-{name}"),
    }
}

/// The segment of `view` whose `kind` track's first decode time is `time` in that track's
/// timescale, as the MPD lists it: by binary search in the timescale of the view's newest track
/// of that kind, then (an older Period's audio may have another rate) in the others.
pub fn find_segment(view: &RenditionView, kind: TrackKind, time: u64) -> Option<&Arc<Segment>> {
    let newest = view.track(kind)?.timescale;
    find_in_timescale(view, kind, time, newest).or_else(|| {
        let mut others: Vec<Timescale> = view
            .segments
            .iter()
            .filter_map(|s| cmaf::track_samples(s, kind))
            .map(|t| t.timescale())
            .filter(|t| *t != newest)
            .collect();
        others.sort_unstable();
        others.dedup();
        others
            .into_iter()
            .find_map(|timescale| find_in_timescale(view, kind, time, timescale))
    })
}

/// [`find_segment`] among the segments whose `kind` track has `timescale`.
fn find_in_timescale(
    view: &RenditionView,
    kind: TrackKind,
    time: u64,
    timescale: Timescale,
) -> Option<&Arc<Segment>> {
    let target = MediaTime::new(i64::try_from(time).ok()?, timescale);
    // Segments without that track sort by their start; the order is the same.
    let first_time = |s: &Segment| match cmaf::track_samples(s, kind) {
        Some(t) => t.first_dts().unwrap_or(s.start_time()),
        None => s.start_time(),
    };
    let i = view
        .segments
        .partition_point(|s| first_time(s.as_ref()) < target);
    let segment = view.segments.get(i)?;
    let track = cmaf::track_samples(segment, kind)?;
    let first = track.first_dts_ticks()?;
    (track.timescale() == timescale && first == target.ticks).then_some(segment)
}

/// Writes the MPD of `renditions` (in the given order; renditions without video only
/// contribute audio), presented as the first one's [`RenditionView::presentation`] says.
///
/// Listed segments: the newest ones of the first rendition that has any which fit in
/// `playlist_window_secs` (at least three, as HLS lists them) or, for a recording, all of them;
/// and of every other rendition those starting in the same time range, so all Representations
/// cover the same time. Each listed segment goes to the Period it starts in
/// ([`period_starts`]); a Representation describes its rendition's track configuration in that
/// Period. Segment URLs are the same whatever the presentation.
///
/// - [`Presentation::Live`]: a dynamic MPD whose `availabilityStartTime` is the epoch
///   ([`AVAILABILITY_START_TIME`]). `timeShiftBufferDepth` is the window, or the listed
///   duration when that is longer (a window of 0, or shorter than three segments), so every
///   listed segment is inside it.
/// - [`Presentation::Shifted`]: the same, but `availabilityStartTime` is the epoch plus the
///   delay ([`availability_start_time`]), so that a player's wall-clock live edge is the
///   shifted edge the listed segments end at.
/// - [`Presentation::Recorded`]: a static MPD: `mediaPresentationDuration` from the first
///   listed segment's start to the last one's end (of the first rendition that has segments),
///   no `availabilityStartTime`, `publishTime`, `minimumUpdatePeriod`, `timeShiftBufferDepth`,
///   `suggestedPresentationDelay` or `UTCTiming`. Presentation time 0 is the first listed
///   segment's start: the first Period starts at `PT0S`, each later one at its channel time
///   minus that start, and every SegmentTemplate's `presentationTimeOffset` is its Period's
///   first media time, so `$Time$` stays the absolute `tfdt`. [`MpdContext::timeline_anchor`]
///   is ignored: see [`needs_timeline_anchor`].
pub fn write_mpd(
    renditions: &[RenditionView],
    settings: &DashSettings,
    ctx: &MpdContext<'_>,
    out: &mut String,
) -> fmt::Result {
    let presentation = Presentation::of(renditions);
    let recorded = presentation == Presentation::Recorded;
    let window = (!recorded).then_some(settings.playlist_window_secs);
    let range = listed_range(renditions, window);
    let listed: Vec<Vec<&Arc<Segment>>> = renditions
        .iter()
        .map(|r| match range {
            Some((from, to)) => r
                .segments
                .iter()
                .filter(|s| s.start >= from && s.start < to)
                .collect(),
            None => Vec::new(),
        })
        .collect();

    let starts = period_starts(renditions, range);
    let periods: Vec<Period<'_>> = starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            // The first Period holds everything before the second one's start.
            let from = if i == 0 { None } else { start };
            let until = starts.get(i + 1).copied().flatten();
            Period::new(renditions, &listed, start, from, until)
        })
        .collect();

    let listed_ms = range.map_or(0, |(from, to)| ticks_to_ms_ceil(to - from, MPEG_HZ));
    let window_ms = u64::from(settings.playlist_window_secs) * 1000;
    let max_segment_ms = periods
        .iter()
        .flat_map(|p| p.video.iter().chain(&p.audio))
        .flat_map(|rep| {
            let hz = i64::from(rep.timeline.timescale);
            rep.timeline
                .entries
                .iter()
                .map(move |e| ticks_to_ms_ceil(i64::try_from(e.d).unwrap_or(i64::MAX), hz))
        })
        .max();

    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    write!(
        out,
        r#"<MPD xmlns="{MPD_NAMESPACE}" id="{}" profiles="{LIVE_PROFILE}""#,
        Xml(ctx.id)
    )?;
    if recorded {
        write!(
            out,
            r#" type="static" mediaPresentationDuration="{}""#,
            XsDuration(listed_ms)
        )?;
    } else {
        write!(
            out,
            r#" type="dynamic" availabilityStartTime="{}" publishTime="{}""#,
            availability_start_time(presentation),
            iso8601(ctx.publish_time)
        )?;
        write!(
            out,
            r#" minimumUpdatePeriod="{}" timeShiftBufferDepth="{}""#,
            XsDuration(settings.minimum_update_period_ms()),
            XsDuration(window_ms.max(listed_ms))
        )?;
        write!(
            out,
            r#" suggestedPresentationDelay="{}""#,
            XsDuration(settings.suggested_presentation_delay_ms())
        )?;
    }
    if let Some(ms) = max_segment_ms {
        write!(out, r#" maxSegmentDuration="{}""#, XsDuration(ms))?;
    }
    writeln!(
        out,
        r#" minBufferTime="{}">"#,
        XsDuration(settings.min_buffer_time_ms())
    )?;
    // A channel that never changed configuration keeps the MPD it always had.
    let only_period_zero = matches!(periods.as_slice(), [p] if p.start.is_none());
    // A recording is presented from its first listed segment; a live MPD from the epoch.
    let origin = range.filter(|_| recorded).map(|(from, _)| from);
    let anchor = ctx.timeline_anchor && !recorded;
    for (i, period) in periods.iter().enumerate() {
        let init = if only_period_zero {
            InitConfig::Newest
        } else {
            InitConfig::of_period(period.start)
        };
        let timing = PeriodTiming::new(period.start, origin, i == 0);
        let templates = Templates::new(ctx.base, anchor, init, timing.media_start);
        period.write(&timing, &templates, out)?;
    }
    if !recorded {
        writeln!(
            out,
            r#"  <UTCTiming schemeIdUri="{UTC_HTTP_ISO}" value="{}"/>"#,
            Xml(ctx.utc_timing_url)
        )?;
    }
    writeln!(out, "</MPD>")
}

/// `MPD@availabilityStartTime` of a dynamic MPD: the epoch ([`AVAILABILITY_START_TIME`]), or
/// for [`Presentation::Shifted`] the epoch plus the delay (`1970-01-01T00:00:30Z`, with
/// milliseconds when they are not whole seconds: `1970-01-01T00:00:01.500Z`). A segment at
/// channel time `t` is then available `delay_ms` after `t`, and a player's live edge
/// (wall-clock now minus the availability start) is the shifted edge.
pub fn availability_start_time(presentation: Presentation) -> String {
    let delay_ms = match presentation {
        Presentation::Shifted { delay_ms } if delay_ms > 0 => delay_ms,
        _ => return AVAILABILITY_START_TIME.to_string(),
    };
    let at = i64::try_from(delay_ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let format = if delay_ms % 1000 == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    at.to_rfc3339_opts(format, true)
}

/// Where a Period lies in the MPD: its `@start` and the media time (90 kHz channel time) that
/// start is, which its SegmentTemplates' `presentationTimeOffset` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PeriodTiming {
    /// `Period@start`, in 90 kHz ticks of presentation time.
    start: i64,
    /// The channel time at the Period start; `None` for a live Period "0", which starts at the
    /// epoch (no offset).
    media_start: Option<i64>,
}

impl PeriodTiming {
    /// The timing of the Period `period` (see [`Period::start`]) in an MPD whose presentation
    /// time 0 is channel time `origin` (a recording: its first listed segment's start), or the
    /// epoch when `origin` is `None` (live). In a recording the `first` Period starts at 0.
    fn new(period: Option<i64>, origin: Option<i64>, first: bool) -> PeriodTiming {
        match origin {
            None => PeriodTiming {
                start: period.unwrap_or(0),
                media_start: period,
            },
            Some(origin) if first => PeriodTiming {
                start: 0,
                media_start: Some(origin),
            },
            Some(origin) => {
                let at = period.unwrap_or(origin).max(origin);
                PeriodTiming {
                    start: at - origin,
                    media_start: Some(at),
                }
            }
        }
    }
}

/// The starts (90 kHz channel time) of the Periods that list `range`: the newest configuration
/// change any rendition knows at or before the range's start (`None` if there is none: Period
/// "0", from the epoch), then each change inside the range.
///
/// Windows remember the change their oldest held segment's configuration dates from
/// ([`segmenter::LiveWindow::config_changes`]), so as the listed range slides, a Period keeps
/// its start (and id) until its last segment leaves, and is never renamed "0".
pub fn period_starts(renditions: &[RenditionView], range: Option<(i64, i64)>) -> Vec<Option<i64>> {
    let Some((from, to)) = range else {
        return vec![None];
    };
    let mut changes: Vec<i64> = renditions
        .iter()
        .flat_map(|r| r.config_changes.iter().copied())
        .filter(|&c| c < to)
        .collect();
    changes.sort_unstable();
    changes.dedup();
    let inside = changes.partition_point(|&c| c <= from);
    let first = inside.checked_sub(1).and_then(|i| changes.get(i)).copied();
    std::iter::once(first)
        .chain(
            changes
                .get(inside..)
                .unwrap_or_default()
                .iter()
                .map(|&c| Some(c)),
        )
        .collect()
}

/// The `Period@id` of the Period starting at `start` (`None`: the first, at the epoch).
pub fn period_id(start: Option<i64>) -> String {
    start.map_or_else(|| "0".to_string(), |t| format!("p{t}"))
}

/// The init segment of rendition `view`'s `kind` track in configuration `config`: the newest
/// track; the oldest held segment's (Period "0"); or for Period `p{t}`, that of the first
/// segment starting at or after `t`, unless the rendition's configuration changed after `t`
/// and by that segment (it then describes another Period).
pub fn init_track(
    view: &RenditionView,
    kind: TrackKind,
    config: InitConfig,
) -> Option<&Arc<TrackInfo>> {
    fn track_of(s: &Segment, kind: TrackKind) -> Option<&Arc<TrackInfo>> {
        cmaf::track_samples(s, kind).map(|t| &t.track)
    }
    match config {
        InitConfig::Newest => view.track(kind),
        InitConfig::FirstPeriod => view.segments.iter().find_map(|s| track_of(s, kind)),
        InitConfig::PeriodFrom(t) => {
            let first = view
                .segments
                .iter()
                .find(|s| s.start >= t && track_of(s, kind).is_some())?;
            let changed = view
                .config_changes
                .iter()
                .any(|&c| c > t && c <= first.start);
            if changed {
                return None;
            }
            track_of(first, kind)
        }
    }
}

/// One Period: the Representations of the listed segments that start in it.
struct Period<'a> {
    /// The configuration change (channel time, 90 kHz) it starts at, or `None` for Period "0",
    /// which starts at the epoch: its id and init segment. In a recording the first Period
    /// starts at the first listed segment instead ([`PeriodTiming`]).
    start: Option<i64>,
    video: Vec<Rep<'a>>,
    /// The audio of the first rendition that has any in the Period.
    audio: Option<Rep<'a>>,
}

impl<'a> Period<'a> {
    /// The Period starting at `start`, of the `listed` segments (per rendition) that start at or
    /// after `from` and before `until`.
    fn new(
        renditions: &'a [RenditionView],
        listed: &[Vec<&'a Arc<Segment>>],
        start: Option<i64>,
        from: Option<i64>,
        until: Option<i64>,
    ) -> Period<'a> {
        let inside: Vec<Vec<&'a Arc<Segment>>> = listed
            .iter()
            .map(|segments| {
                segments
                    .iter()
                    .copied()
                    .filter(|s| from.is_none_or(|f| s.start >= f))
                    .filter(|s| until.is_none_or(|u| s.start < u))
                    .collect()
            })
            .collect();
        let video = renditions
            .iter()
            .zip(&inside)
            .filter_map(|(view, segments)| Rep::new(view, segments, TrackKind::Video))
            .collect();
        let audio = renditions
            .iter()
            .zip(&inside)
            .find_map(|(view, segments)| Rep::new(view, segments, TrackKind::Audio));
        Period {
            start,
            video,
            audio,
        }
    }

    fn write(&self, timing: &PeriodTiming, templates: &Templates, out: &mut String) -> fmt::Result {
        writeln!(
            out,
            r#"  <Period id="{}" start="{}">"#,
            period_id(self.start),
            PeriodStart(timing.start)
        )?;
        if !self.video.is_empty() {
            write_video_set(&self.video, templates, out)?;
        }
        if let Some(audio) = &self.audio {
            write_audio_set(audio, templates, out)?;
        }
        writeln!(out, "  </Period>")
    }
}

/// The channel-timeline range (90 kHz, end exclusive) of the listed segments: the window of
/// `window_secs` of the first rendition that has segments, or all of them without a window.
fn listed_range(renditions: &[RenditionView], window_secs: Option<u32>) -> Option<(i64, i64)> {
    let segments = &renditions.iter().find(|r| !r.segments.is_empty())?.segments;
    let count = window_secs.map_or(segments.len(), |w| crate::hls::listed_count(segments, w));
    let first = segments.get(segments.len().checked_sub(count)?)?;
    let last = segments.last()?;
    Some((first.start, last.end()))
}

/// One `S` of a SegmentTimeline before run-length coding: a fragment's decode time and
/// duration, in the track's timescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    t: u64,
    d: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Timeline {
    timescale: u32,
    entries: Vec<Entry>,
}

impl Timeline {
    /// The timeline of the `kind` track of `segments`.
    ///
    /// `t` is the fragment's `tfdt`: its first sample's decode time, so `$Time$` names exactly
    /// what [`find_segment`] finds. `d` is the next listed fragment's `t` minus this `t` when
    /// the next one follows on (no discontinuity, and it starts within one sample duration of
    /// where this fragment's samples end), so the timeline has no hairline gaps or overlaps
    /// from audio frames that straddle a cut; otherwise (the newest segment, or before a break)
    /// it is the sum of the fragment's sample durations, which is what its `trun` says. For
    /// video the two agree: a segment's last frame lasts until the next segment's start.
    ///
    /// Segments without samples of that kind, with a negative decode time, or whose track has
    /// another timescale than `timescale` (a reconnect with another audio rate) are left out;
    /// the gap shows as an explicit `t` on the next `S`.
    fn new(segments: &[&Arc<Segment>], kind: TrackKind, timescale: Timescale) -> Timeline {
        struct Raw {
            t: u64,
            sum: u64,
            longest: u64,
            discontinuity: bool,
        }
        let raw: Vec<Raw> = segments
            .iter()
            .filter_map(|s| {
                let track = cmaf::track_samples(s, kind)?;
                if track.timescale() != timescale {
                    return None;
                }
                let summary = track.summary();
                let t = u64::try_from(summary.first_dts).ok()?;
                Some(Raw {
                    t,
                    sum: summary.duration,
                    longest: u64::from(summary.longest_duration),
                    discontinuity: s.discontinuity,
                })
            })
            .collect();
        let entries = raw
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let follows = raw.get(i + 1).filter(|next| {
                    !next.discontinuity
                        && next.t > r.t
                        && next.t.abs_diff(r.t.saturating_add(r.sum)) <= r.longest
                });
                let d = follows.map_or(r.sum, |next| next.t - r.t);
                Entry {
                    t: r.t,
                    d: d.max(1),
                }
            })
            .collect();
        Timeline {
            timescale: timescale.get(),
            entries,
        }
    }

    /// Writes `<SegmentTimeline>`: `t` on the first `S` and wherever the timeline jumps, `r`
    /// for runs of contiguous segments of equal duration; with `anchor` (the Period start:
    /// its `presentationTimeOffset`), first a one-tick `S` there
    /// ([`MpdContext::timeline_anchor`]), unless the first listed segment starts there.
    fn write(&self, anchor: Option<u64>, indent: &str, out: &mut String) -> fmt::Result {
        writeln!(out, "{indent}<SegmentTimeline>")?;
        let anchor = anchor.filter(|&a| self.entries.first().is_some_and(|e| e.t > a));
        if let Some(a) = anchor {
            writeln!(out, r#"{indent}  <S t="{a}" d="1"/>"#)?;
        }
        let mut expected: Option<u64> = anchor.map(|a| a + 1);
        let mut i = 0;
        while let Some(first) = self.entries.get(i) {
            let mut repeats = 0usize;
            let mut end = first.t.saturating_add(first.d);
            while let Some(next) = self.entries.get(i + repeats + 1) {
                if next.t != end || next.d != first.d {
                    break;
                }
                repeats += 1;
                end = end.saturating_add(first.d);
            }
            write!(out, "{indent}  <S")?;
            if expected != Some(first.t) {
                write!(out, r#" t="{}""#, first.t)?;
            }
            write!(out, r#" d="{}""#, first.d)?;
            if repeats > 0 {
                write!(out, r#" r="{repeats}""#)?;
            }
            writeln!(out, "/>")?;
            expected = Some(end);
            i += repeats + 1;
        }
        writeln!(out, "{indent}</SegmentTimeline>")
    }
}

/// One Representation: a track of a rendition in one Period and its listed fragments.
struct Rep<'a> {
    view: &'a RenditionView,
    id: String,
    /// The track's configuration in the Period.
    track: &'a TrackInfo,
    /// Frames per second of a video track.
    frame_rate: Option<f64>,
    timeline: Timeline,
}

impl<'a> Rep<'a> {
    /// The `kind` Representation of `view` over `segments` (those of one Period), or `None` if
    /// they have no fragment of that kind.
    fn new(
        view: &'a RenditionView,
        segments: &[&'a Arc<Segment>],
        kind: TrackKind,
    ) -> Option<Self> {
        let track: &'a TrackInfo = segments
            .iter()
            .find_map(|s| cmaf::track_samples(s, kind))
            .map(|t| t.track.as_ref())?;
        let timeline = Timeline::new(segments, kind, track.timescale);
        if timeline.entries.is_empty() {
            return None;
        }
        let frame_rate = match kind {
            TrackKind::Video => video_frame_rate(view, segments, track),
            TrackKind::Audio => None,
        };
        Some(Rep {
            view,
            id: representation_id(kind, &view.variant.name),
            track,
            frame_rate,
            timeline,
        })
    }

    /// `(width, height)` of a video track.
    fn picture_size(&self) -> Option<(u32, u32)> {
        self.track.codec.video_size()
    }
}

/// Frames per second of video `track` over `segments` of `view`: the rendition's (see
/// [`crate::Variant`]) when it is the newest configuration, else the SPS's or, without one,
/// measured over the newest of `segments`.
fn video_frame_rate(
    view: &RenditionView,
    segments: &[&Arc<Segment>],
    track: &TrackInfo,
) -> Option<f64> {
    if view.track(TrackKind::Video).is_some_and(|t| **t == *track) {
        return view.variant.frame_rate;
    }
    let sps_rate = track.codec.frame_rate();
    let measured = || {
        let newest = segments
            .iter()
            .rev()
            .find_map(|s| cmaf::track_samples(s, TrackKind::Video))?;
        let summary = newest.summary();
        let (n, total) = (summary.count, summary.duration);
        (n > 1 && total > 0).then(|| n as f64 * f64::from(newest.timescale().get()) / total as f64)
    };
    sps_rate
        .or_else(measured)
        .map(|r| (r * 1000.0).round() / 1000.0)
}

/// The SegmentTemplates of one Period: `@initialization` and `@media`, the Period start
/// (`@presentationTimeOffset`), and whether timelines are anchored.
struct Templates {
    initialization: String,
    media: String,
    anchor: bool,
    /// Channel time (90 kHz) of the Period start ([`PeriodTiming::media_start`]); `None` for a
    /// live Period "0" (no offset).
    period_start: Option<i64>,
}

impl Templates {
    fn new(base: &str, anchor: bool, init: InitConfig, period_start: Option<i64>) -> Templates {
        // `$` is the template escape; `$$` stands for a literal one.
        let base = base.trim_end_matches('/').replace('$', "$$");
        let prefix = if base.is_empty() {
            String::new()
        } else {
            format!("{base}/")
        };
        Templates {
            initialization: format!("{prefix}$RepresentationID$/{}", init.file_name()),
            media: format!("{prefix}$RepresentationID$/$Time$.m4s"),
            anchor,
            period_start,
        }
    }

    fn write(&self, timeline: &Timeline, indent: &str, out: &mut String) -> fmt::Result {
        let offset = self
            .period_start
            .map(|t| presentation_time_offset(t, timeline.timescale));
        write!(
            out,
            r#"{indent}<SegmentTemplate timescale="{}""#,
            timeline.timescale
        )?;
        if let Some(offset) = offset {
            write!(out, r#" presentationTimeOffset="{offset}""#)?;
        }
        writeln!(
            out,
            r#" initialization="{}" media="{}">"#,
            Xml(&self.initialization),
            Xml(&self.media)
        )?;
        let anchor = self.anchor.then_some(offset.unwrap_or(0));
        timeline.write(anchor, &format!("{indent}  "), out)?;
        writeln!(out, "{indent}</SegmentTemplate>")
    }
}

/// A Period start of `t90` (90 kHz channel time) in a track's `timescale`, rounded down (so
/// no fragment of the Period starts before it).
fn presentation_time_offset(t90: i64, timescale: u32) -> u64 {
    let ticks = i128::from(t90.max(0)) * i128::from(timescale) / i128::from(MPEG_HZ);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// The video AdaptationSet: one SegmentTemplate for all when every Representation lists the
/// same fragments (`segmentAlignment`), else one per Representation.
fn write_video_set(reps: &[Rep<'_>], templates: &Templates, out: &mut String) -> fmt::Result {
    let shared = match reps {
        [first, rest @ ..] if rest.iter().all(|r| r.timeline == first.timeline) => {
            Some(&first.timeline)
        }
        _ => None,
    };
    write!(
        out,
        r#"    <AdaptationSet id="0" contentType="video" mimeType="video/mp4""#
    )?;
    if shared.is_some() {
        write!(out, r#" segmentAlignment="true""#)?;
    }
    write!(out, r#" startWithSAP="1""#)?;
    let sizes: Vec<(u32, u32)> = reps.iter().filter_map(Rep::picture_size).collect();
    if let Some(w) = sizes.iter().map(|s| s.0).max() {
        write!(out, r#" maxWidth="{w}""#)?;
    }
    if let Some(h) = sizes.iter().map(|s| s.1).max() {
        write!(out, r#" maxHeight="{h}""#)?;
    }
    let ratios: Vec<(u32, u32)> = sizes
        .iter()
        .filter(|(w, h)| *w > 0 && *h > 0)
        .map(|&(w, h)| (w / gcd(w, h), h / gcd(w, h)))
        .collect();
    if let [first, rest @ ..] = ratios.as_slice() {
        if rest.iter().all(|r| r == first) {
            write!(out, r#" par="{}:{}""#, first.0, first.1)?;
        }
    }
    writeln!(out, ">")?;
    if let Some(timeline) = shared {
        templates.write(timeline, "      ", out)?;
    }
    for rep in reps {
        let v = &rep.view.variant;
        write!(
            out,
            r#"      <Representation id="{}" bandwidth="{}""#,
            Xml(&rep.id),
            v.bandwidth
        )?;
        if let Some((w, h)) = rep.picture_size() {
            write!(out, r#" width="{w}" height="{h}""#)?;
        }
        let codecs = rep.track.codec.codec_string();
        write!(out, r#" codecs="{}""#, Xml(&codecs))?;
        if let Some(rate) = rep.frame_rate.and_then(frame_rate) {
            write!(out, r#" frameRate="{rate}""#)?;
        }
        write!(out, r#" sar="1:1""#)?;
        if shared.is_some() {
            writeln!(out, "/>")?;
        } else {
            writeln!(out, ">")?;
            templates.write(&rep.timeline, "        ", out)?;
            writeln!(out, "      </Representation>")?;
        }
    }
    writeln!(out, "    </AdaptationSet>")
}

/// The audio AdaptationSet: the audio of one rendition.
fn write_audio_set(rep: &Rep<'_>, templates: &Templates, out: &mut String) -> fmt::Result {
    writeln!(
        out,
        r#"    <AdaptationSet id="1" contentType="audio" mimeType="audio/mp4" lang="und" segmentAlignment="true" startWithSAP="1">"#
    )?;
    templates.write(&rep.timeline, "      ", out)?;
    write!(
        out,
        r#"      <Representation id="{}" bandwidth="{}""#,
        Xml(&rep.id),
        audio_bandwidth(rep)
    )?;
    write!(out, r#" codecs="{}""#, Xml(&rep.track.codec.codec_string()))?;
    match audio_format(rep.track) {
        Some((rate, channels)) => {
            writeln!(out, r#" audioSamplingRate="{rate}">"#)?;
            writeln!(
                out,
                r#"        <AudioChannelConfiguration schemeIdUri="{CHANNEL_CONFIGURATION}" value="{channels}"/>"#
            )?;
            writeln!(out, "      </Representation>")?;
        }
        None => writeln!(out, "/>")?,
    }
    writeln!(out, "    </AdaptationSet>")
}

/// Bits per second of audio payload over the listed fragments, or
/// [`DEFAULT_AUDIO_BANDWIDTH`] when there is nothing to measure.
fn audio_bandwidth(rep: &Rep<'_>) -> u64 {
    let firsts: Vec<u64> = rep.timeline.entries.iter().map(|e| e.t).collect();
    let bytes: usize = rep
        .view
        .segments
        .iter()
        .filter_map(|s| cmaf::track_samples(s, TrackKind::Audio))
        .filter(|t| t.timescale().get() == rep.timeline.timescale)
        .filter(|t| {
            t.first_dts_ticks()
                .and_then(|dts| u64::try_from(dts).ok())
                .is_some_and(|dts| firsts.binary_search(&dts).is_ok())
        })
        .map(|t| t.payload_bytes())
        .sum();
    let ticks: u64 = rep.timeline.entries.iter().map(|e| e.d).sum();
    if bytes == 0 || ticks == 0 {
        return DEFAULT_AUDIO_BANDWIDTH;
    }
    let bits_per_sec = bytes as f64 * 8.0 * f64::from(rep.timeline.timescale) / ticks as f64;
    bits_per_sec.round() as u64
}

/// `@frameRate` (xs:FrameRateType): an integer, an NTSC `N/1001`, or thousandths reduced.
fn frame_rate(rate: f64) -> Option<String> {
    if !rate.is_finite() || rate <= 0.0 || rate > 1_000_000.0 {
        return None;
    }
    const EPSILON: f64 = 0.0005;
    let whole = rate.round();
    if (rate - whole).abs() < EPSILON {
        return Some(format!("{}", whole as u64));
    }
    let ntsc = (rate * 1.001).round();
    if (ntsc * 1000.0 / 1001.0 - rate).abs() < EPSILON {
        return Some(format!("{}/1001", ntsc as u64 * 1000));
    }
    let milli = (rate * 1000.0).round() as u64;
    let g = gcd_u64(milli, 1000);
    Some(format!("{}/{}", milli / g, 1000 / g))
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

fn gcd_u64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd_u64(b, a % b)
    }
}

/// `ticks / hz` in whole milliseconds, rounded up (0 for non-positive).
fn ticks_to_ms_ceil(ticks: i64, hz: i64) -> u64 {
    if ticks <= 0 || hz <= 0 {
        return 0;
    }
    let ms = (i128::from(ticks) * 1000 + i128::from(hz) - 1) / i128::from(hz);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// An ISO 8601 UTC time with milliseconds (`2023-11-14T22:13:32.500Z`).
fn iso8601(at: WallClock) -> String {
    DateTime::<Utc>::from_timestamp_millis(at.unix_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An xs:duration of milliseconds: `PT6S`, `PT2.005S`.
struct XsDuration(u64);

impl Display for XsDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, ms) = (self.0 / 1000, self.0 % 1000);
        if ms == 0 {
            write!(f, "PT{secs}S")
        } else {
            let frac = format!("{ms:03}");
            write!(f, "PT{secs}.{}S", frac.trim_end_matches('0'))
        }
    }
}

/// A Period start of 90 kHz channel time as an xs:duration from the epoch, to the microsecond
/// rounded down: `PT1700000012.345678S`.
struct PeriodStart(i64);

impl Display for PeriodStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = i128::from(self.0.max(0)) * 1000 / 90;
        let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
        if frac == 0 {
            write!(f, "PT{secs}S")
        } else {
            let frac = format!("{frac:06}");
            write!(f, "PT{secs}.{}S", frac.trim_end_matches('0'))
        }
    }
}

/// Text escaped for an XML attribute value.
struct Xml<'a>(&'a str);

impl Display for Xml<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            let entity = match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&apos;",
            };
            f.write_str(entity)?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    const GOLDEN: &str = include_str!("golden/dash_two_renditions.mpd");
    const GOLDEN_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/golden/dash_two_renditions.mpd"
    );

    fn settings(window: u32) -> DashSettings {
        DashSettings {
            segment_duration_secs: 2,
            playlist_window_secs: window,
            suggested_presentation_delay_secs: None,
            minimum_update_period_secs: None,
            min_buffer_time_secs: None,
        }
    }

    fn ctx() -> MpdContext<'static> {
        MpdContext {
            id: "demo",
            publish_time: WallClock::from_unix_ms(testing::SESSION_START_MS + 12_500),
            utc_timing_url: "http://127.0.0.1:8080/time",
            base: "manifest",
            timeline_anchor: false,
        }
    }

    fn mpd(renditions: &[RenditionView], settings: &DashSettings) -> String {
        let mut out = String::new();
        write_mpd(renditions, settings, &ctx(), &mut out).expect("write MPD");
        out
    }

    fn parse(xml: &str) -> dash_mpd_core::MPD {
        dash_mpd_core::parse(xml).expect("MPD parses")
    }

    /// The (t, d) of every segment an `S` list describes, checking that explicit `t`s never
    /// leave a gap or overlap.
    fn expand(timeline: &dash_mpd_core::SegmentTimeline) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut next: Option<u64> = None;
        for s in &timeline.segments {
            let mut t = match (s.t, next) {
                (Some(t), Some(n)) => {
                    assert_eq!(t, n, "timeline jumps at {s:?}");
                    t
                }
                (Some(t), None) => t,
                (None, Some(n)) => n,
                (None, None) => panic!("first S has no t"),
            };
            let repeats = s.r.unwrap_or(0);
            assert!(repeats >= 0, "negative r");
            for _ in 0..=repeats {
                out.push((t, s.d));
                t += s.d;
            }
            next = Some(t);
        }
        out
    }

    /// A copy of `view` whose media is `ms` later on the channel timeline.
    fn shifted(view: &RenditionView, ms: i64) -> RenditionView {
        let segments = view
            .segments
            .iter()
            .map(|s| {
                let mut s = Segment::clone(s);
                s.start += ms * 90;
                for track in s.video.iter_mut().chain(s.audio.iter_mut()) {
                    let by = ms * i64::from(track.timescale().get()) / 1000;
                    for sample in &mut track.samples {
                        sample.dts += by;
                    }
                }
                Arc::new(s)
            })
            .collect();
        RenditionView {
            variant: view.variant.clone(),
            segments,
            config_changes: view.config_changes.clone(),
            presentation: view.presentation,
        }
    }

    #[test]
    fn golden_two_renditions() {
        let out = mpd(&testing::two_renditions(), &settings(6));
        if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
            std::fs::write(GOLDEN_PATH, &out).expect("write golden file");
            return;
        }
        assert_eq!(
            out, GOLDEN,
            "MPD differs from {GOLDEN_PATH}; rerun with UPDATE_GOLDEN=1 if intended"
        );
    }

    #[test]
    fn parses_back() {
        let renditions = testing::two_renditions();
        let xml = mpd(&renditions, &settings(6));
        let m = parse(&xml);
        assert_eq!(m.mpdtype.as_deref(), Some("dynamic"));
        assert_eq!(m.id.as_deref(), Some("demo"));
        assert_eq!(m.profiles.as_deref(), Some(LIVE_PROFILE));
        assert_eq!(
            m.availabilityStartTime.map(|t| t.timestamp_millis()),
            Some(0)
        );
        assert_eq!(
            m.publishTime.map(|t| t.timestamp_millis()),
            Some(testing::SESSION_START_MS + 12_500)
        );
        let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
        assert_eq!(secs(m.timeShiftBufferDepth), Some(6.0));
        assert_eq!(secs(m.minimumUpdatePeriod), Some(2.0));
        assert_eq!(secs(m.minBufferTime), Some(2.0));
        assert_eq!(secs(m.suggestedPresentationDelay), Some(6.0));
        let max_segment = secs(m.maxSegmentDuration).expect("maxSegmentDuration");
        assert!((2.0..2.1).contains(&max_segment), "{max_segment}");
        assert_eq!(m.UTCTiming.len(), 1);
        assert_eq!(m.UTCTiming[0].schemeIdUri, UTC_HTTP_ISO);
        assert_eq!(
            m.UTCTiming[0].value.as_deref(),
            Some("http://127.0.0.1:8080/time")
        );

        assert_eq!(m.periods.len(), 1);
        let period = &m.periods[0];
        assert_eq!(period.id.as_deref(), Some("0"));
        assert_eq!(period.start, Some(std::time::Duration::ZERO));
        assert_eq!(period.adaptations.len(), 2);

        let video = &period.adaptations[0];
        assert_eq!(video.contentType.as_deref(), Some("video"));
        assert_eq!(video.mimeType.as_deref(), Some("video/mp4"));
        assert_eq!(video.segmentAlignment, Some(true));
        assert_eq!(video.startWithSAP, Some(1));
        assert_eq!(video.maxWidth, Some(320));
        assert_eq!(video.par.as_deref(), Some("4:3"));
        let reps = &video.representations;
        assert_eq!(reps.len(), 2);
        let ids: Vec<_> = reps.iter().map(|r| r.id.as_deref()).collect();
        assert_eq!(ids, [Some("video-2500000"), Some("video-800000")]);
        let bandwidths: Vec<_> = reps.iter().map(|r| r.bandwidth).collect();
        assert_eq!(bandwidths, [Some(2_500_000), Some(800_000)]);
        for r in reps {
            assert_eq!(r.width, Some(320));
            assert_eq!(r.height, Some(240));
            assert_eq!(r.codecs.as_deref(), Some("avc1.64000D"));
            assert_eq!(r.frameRate.as_deref(), Some("25"));
            assert_eq!(r.sar.as_deref(), Some("1:1"));
            assert!(r.SegmentTemplate.is_none());
        }
        let template = video.SegmentTemplate.as_ref().expect("shared template");
        assert_eq!(template.timescale, Some(90_000));
        assert_eq!(
            template.initialization.as_deref(),
            Some("manifest/$RepresentationID$/init.mp4")
        );
        assert_eq!(
            template.media.as_deref(),
            Some("manifest/$RepresentationID$/$Time$.m4s")
        );
        let timeline = template.SegmentTimeline.as_ref().expect("timeline");
        let video_segments = expand(timeline);
        assert_eq!(video_segments.len(), 3);
        let newest = renditions[0].segments.iter().rev().take(3).rev();
        for ((t, d), s) in video_segments.iter().zip(newest) {
            assert_eq!(*t as i64, s.start);
            assert_eq!(*d as i64, s.duration);
        }

        let audio = &period.adaptations[1];
        assert_eq!(audio.contentType.as_deref(), Some("audio"));
        assert_eq!(audio.mimeType.as_deref(), Some("audio/mp4"));
        assert_eq!(audio.representations.len(), 1);
        let rep = &audio.representations[0];
        assert_eq!(rep.id.as_deref(), Some("audio-2500000"));
        assert_eq!(rep.codecs.as_deref(), Some("mp4a.40.2"));
        assert_eq!(rep.audioSamplingRate.as_deref(), Some("48000"));
        assert_eq!(rep.AudioChannelConfiguration.len(), 1);
        assert_eq!(rep.AudioChannelConfiguration[0].value.as_deref(), Some("2"));
        // 1251-byte frames of 1024 samples at 48 kHz: 469125 bit/s.
        assert_eq!(rep.bandwidth, Some(469_125));
        let template = audio.SegmentTemplate.as_ref().expect("audio template");
        assert_eq!(template.timescale, Some(48_000));
        let audio_segments = expand(template.SegmentTimeline.as_ref().expect("timeline"));
        assert_eq!(audio_segments.len(), 3);
        // Audio covers the same time as video: the segmenter cuts audio where the keyframe
        // is shown (80 ms after its decode time here), within an audio frame.
        let (vt, _) = video_segments[0];
        let (at, _) = audio_segments[0];
        let lag = at as f64 / 48_000.0 - vt as f64 / 90_000.0;
        assert!((0.0..0.1).contains(&lag), "{lag}");

        // Every URL the timelines name resolves to a stored fragment.
        for (kind, name, segments) in [
            (TrackKind::Video, "2500000", &video_segments),
            (TrackKind::Video, "800000", &video_segments),
            (TrackKind::Audio, "2500000", &audio_segments),
        ] {
            let view = renditions
                .iter()
                .find(|r| r.variant.name == name)
                .expect("rendition");
            for (t, _) in segments {
                let url = format!("manifest/{}/{t}.m4s", representation_id(kind, name));
                let Some(DashResource::Segment {
                    representation,
                    kind: k,
                    time,
                }) = DashResource::parse("manifest", &url)
                else {
                    panic!("{url} does not parse");
                };
                assert_eq!((representation.as_str(), k, time), (name, kind, *t));
                assert!(find_segment(view, kind, time).is_some(), "{url}");
            }
        }
    }

    #[test]
    fn misaligned_renditions_get_their_own_templates() {
        let mut renditions = testing::two_renditions();
        renditions[1] = shifted(&renditions[1], 500);
        let xml = mpd(&renditions, &settings(6));
        let m = parse(&xml);
        let video = &m.periods[0].adaptations[0];
        assert_eq!(video.segmentAlignment, None);
        assert!(video.SegmentTemplate.is_none());
        let timelines: Vec<Vec<(u64, u64)>> = video
            .representations
            .iter()
            .map(|r| {
                let template = r.SegmentTemplate.as_ref().expect("own template");
                assert_eq!(template.timescale, Some(90_000));
                expand(template.SegmentTimeline.as_ref().expect("timeline"))
            })
            .collect();
        assert_eq!(timelines.len(), 2);
        assert_eq!(timelines[0].len(), 3);
        assert_eq!(timelines[1].len(), 3);
        for (a, b) in timelines[0].iter().zip(&timelines[1]) {
            assert_eq!(a.0 + 45_000, b.0);
        }
        // Audio still comes from the first rendition, with one shared template.
        let audio = &m.periods[0].adaptations[1];
        assert_eq!(
            audio.representations[0].id.as_deref(),
            Some("audio-2500000")
        );
        assert!(audio.SegmentTemplate.is_some());
    }

    #[test]
    fn window_lists_the_newest_segments() {
        let view = testing::rendition("1000000", 1_000_000, 60, 2);
        assert!(view.segments.len() >= 29);
        let m = parse(&mpd(std::slice::from_ref(&view), &settings(10)));
        assert_eq!(
            m.timeShiftBufferDepth,
            Some(std::time::Duration::from_secs(10))
        );
        let video = &m.periods[0].adaptations[0];
        let template = video.SegmentTemplate.as_ref().expect("template");
        let listed = expand(template.SegmentTimeline.as_ref().expect("timeline"));
        assert_eq!(listed.len(), 5);
        let newest: Vec<i64> = view
            .segments
            .iter()
            .rev()
            .take(5)
            .map(|s| s.start)
            .collect();
        let starts: Vec<i64> = listed.iter().rev().map(|(t, _)| *t as i64).collect();
        assert_eq!(starts, newest);
        let audio = &m.periods[0].adaptations[1];
        let template = audio.SegmentTemplate.as_ref().expect("template");
        assert_eq!(
            expand(template.SegmentTimeline.as_ref().expect("timeline")).len(),
            5
        );

        // A window of 0 lists three segments, and says how long they are.
        let m = parse(&mpd(std::slice::from_ref(&view), &settings(0)));
        assert_eq!(
            m.timeShiftBufferDepth,
            Some(std::time::Duration::from_secs(6))
        );
        let video = &m.periods[0].adaptations[0];
        let template = video.SegmentTemplate.as_ref().expect("template");
        assert_eq!(
            expand(template.SegmentTimeline.as_ref().expect("timeline")).len(),
            3
        );
    }

    #[test]
    fn settings_and_context_are_written() {
        let settings = DashSettings {
            segment_duration_secs: 4,
            playlist_window_secs: 30,
            suggested_presentation_delay_secs: Some(9),
            minimum_update_period_secs: Some(1),
            min_buffer_time_secs: Some(3),
        };
        let context = MpdContext {
            id: "a&b\"<c>",
            publish_time: WallClock::from_unix_ms(1_500),
            utc_timing_url: "http://h/time?a=1&b=2",
            base: "x$y",
            timeline_anchor: false,
        };
        let mut out = String::new();
        write_mpd(&testing::two_renditions(), &settings, &context, &mut out).expect("write");
        assert!(out.contains(r#"id="a&amp;b&quot;&lt;c&gt;""#), "{out}");
        assert!(
            out.contains(r#"value="http://h/time?a=1&amp;b=2""#),
            "{out}"
        );
        assert!(out.contains(r#"publishTime="1970-01-01T00:00:01.500Z""#));
        let m = parse(&out);
        assert_eq!(m.id.as_deref(), Some("a&b\"<c>"));
        let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs());
        assert_eq!(secs(m.suggestedPresentationDelay), Some(9));
        assert_eq!(secs(m.minimumUpdatePeriod), Some(1));
        assert_eq!(secs(m.minBufferTime), Some(3));
        assert_eq!(secs(m.timeShiftBufferDepth), Some(30));
        let template = m.periods[0].adaptations[0]
            .SegmentTemplate
            .as_ref()
            .expect("template");
        assert_eq!(
            template.media.as_deref(),
            Some("x$$y/$RepresentationID$/$Time$.m4s")
        );
    }

    #[test]
    fn parse_resources() {
        use DashResource::{Init, Manifest, Segment as Seg};
        let video = |name: &str| Init {
            representation: name.into(),
            kind: TrackKind::Video,
            config: InitConfig::Newest,
        };
        let period = |config| {
            Some(Init {
                representation: "2500000".into(),
                kind: TrackKind::Video,
                config,
            })
        };
        let cases: &[(&str, Option<DashResource>)] = &[
            ("manifest.mpd", Some(Manifest)),
            ("manifest/video-2500000/init.mp4", Some(video("2500000"))),
            (
                "manifest/audio-800000/init.mp4",
                Some(Init {
                    representation: "800000".into(),
                    kind: TrackKind::Audio,
                    config: InitConfig::Newest,
                }),
            ),
            (
                "manifest/video-2500000/init-0.mp4",
                period(InitConfig::FirstPeriod),
            ),
            (
                "manifest/video-2500000/init-p153000000540000.mp4",
                period(InitConfig::PeriodFrom(153_000_000_540_000)),
            ),
            (
                "manifest/video-2500000/init-p0.mp4",
                period(InitConfig::PeriodFrom(0)),
            ),
            (
                "manifest/audio-2500000/init-p7.mp4",
                Some(Init {
                    representation: "2500000".into(),
                    kind: TrackKind::Audio,
                    config: InitConfig::PeriodFrom(7),
                }),
            ),
            ("manifest/video-2500000/init-.mp4", None),
            ("manifest/video-2500000/init-p.mp4", None),
            ("manifest/video-2500000/init-p07.mp4", None),
            ("manifest/video-2500000/init-00.mp4", None),
            ("manifest/video-2500000/init-1.mp4", None),
            ("manifest/video-2500000/init-p-1.mp4", None),
            ("manifest/video-2500000/init-p+1.mp4", None),
            ("manifest/video-2500000/init-p1a.mp4", None),
            (
                "manifest/video-2500000/init-p99999999999999999999.mp4",
                None,
            ),
            ("manifest/video-2500000/init-p1.m4s", None),
            ("manifest/video-2500000/init-p1.mp4/", None),
            ("manifest/video-2500000/init-P1.mp4", None),
            ("manifest/video-2500000/init.mp4.mp4", None),
            (
                "manifest/video-2500000/153000000000000.m4s",
                Some(Seg {
                    representation: "2500000".into(),
                    kind: TrackKind::Video,
                    time: 153_000_000_000_000,
                }),
            ),
            (
                "manifest/audio-2500000/0.m4s",
                Some(Seg {
                    representation: "2500000".into(),
                    kind: TrackKind::Audio,
                    time: 0,
                }),
            ),
            ("other.mpd", None),
            ("manifest.m3u8", None),
            ("manifest.mpd/x", None),
            ("manifest", None),
            ("manifest/", None),
            ("manifest/video-2500000", None),
            ("manifest/video-2500000/", None),
            ("manifest/video-/init.mp4", None),
            ("manifest/audio-/1.m4s", None),
            ("manifest/2500000/init.mp4", None),
            ("manifest/text-2500000/init.mp4", None),
            ("manifest//video-2500000/init.mp4", None),
            ("manifest/video-2500000/init.mp4/", None),
            ("manifest/video-2500000/x/1.m4s", None),
            ("manifest/video-2500000/1.m4s/", None),
            ("manifest/video-2500000/.m4s", None),
            ("manifest/video-2500000/-1.m4s", None),
            ("manifest/video-2500000/+1.m4s", None),
            ("manifest/video-2500000/1a.m4s", None),
            ("manifest/video-2500000/1.ts", None),
            ("manifest/video-2500000/1.M4S", None),
            ("manifest/video-2500000/99999999999999999999.m4s", None),
            ("other/video-2500000/1.m4s", None),
            ("manifestx/video-2500000/1.m4s", None),
            ("/manifest/video-2500000/1.m4s", None),
        ];
        for (rest, want) in cases {
            assert_eq!(&DashResource::parse("manifest", rest), want, "{rest}");
        }
    }

    #[test]
    fn find_segment_by_decode_time() {
        let view = testing::rendition("2500000", 2_500_000, 12, 2);
        assert!(view.segments.len() >= 5);
        for s in &view.segments {
            for kind in [TrackKind::Video, TrackKind::Audio] {
                let track = cmaf::track_samples(s, kind).expect("track");
                let t = u64::try_from(track.samples[0].dts).expect("positive");
                let found = find_segment(&view, kind, t).expect("found");
                assert_eq!(found.sequence, s.sequence);
                assert!(find_segment(&view, kind, t + 1).is_none());
                assert!(find_segment(&view, kind, t - 1).is_none());
            }
        }
        let first = view.segments[0].start as u64;
        let last = view.segments[view.segments.len() - 1].end() as u64;
        assert!(find_segment(&view, TrackKind::Video, 0).is_none());
        assert!(find_segment(&view, TrackKind::Video, first - 90_000).is_none());
        assert!(find_segment(&view, TrackKind::Video, last).is_none());
        assert!(find_segment(&view, TrackKind::Video, u64::MAX).is_none());
    }

    /// Renditions `2500000` and `800000`, each fed 12 s at 320x240 and then, after a
    /// reconnect, `small_secs` at 160x120; windows keep `keep_secs`.
    fn changing(small_secs: i64, keep_secs: i64) -> Vec<segmenter::Rendition> {
        [2_500_000, 800_000]
            .into_iter()
            .map(|bitrate| {
                let mut r = testing::live_rendition(2, keep_secs);
                testing::push_session(&mut r, 0, 12, testing::avc(), bitrate);
                testing::push_session(&mut r, 12_000, small_secs, testing::avc_160x120(), bitrate);
                r
            })
            .collect()
    }

    fn views(renditions: &[segmenter::Rendition]) -> Vec<RenditionView> {
        renditions
            .iter()
            .zip(["2500000", "800000"])
            .map(|(r, name)| testing::view_of(r, name, name.parse().expect("bitrate"), 2))
            .collect()
    }

    /// Where the 160x120 session starts (90 kHz channel time).
    const CHANGE: i64 = (testing::SESSION_START_MS + 12_000) * 90;

    fn size(r: &dash_mpd_core::Representation) -> (Option<u64>, Option<u64>) {
        (r.width, r.height)
    }

    #[test]
    fn a_configuration_change_starts_a_period() {
        let renditions = views(&changing(8, 3600));
        assert_eq!(renditions[0].config_changes, [CHANGE]);
        let xml = mpd(&renditions, &settings(60));
        let m = parse(&xml);
        assert_eq!(m.periods.len(), 2, "{xml}");
        let (first, second) = (&m.periods[0], &m.periods[1]);
        assert_eq!(first.id.as_deref(), Some("0"));
        assert_eq!(first.start, Some(std::time::Duration::ZERO));
        assert_eq!(second.id.as_deref(), Some(format!("p{CHANGE}").as_str()));
        assert_eq!(
            second.start,
            Some(std::time::Duration::from_millis(
                testing::SESSION_START_MS as u64 + 12_000
            ))
        );
        assert!(xml.contains(r#"start="PT1700000012S""#), "{xml}");

        for (period, pto, size_want, codecs, init) in [
            (
                first,
                None,
                (320, 240),
                "avc1.64000D",
                "init-0.mp4".to_string(),
            ),
            (
                second,
                Some(CHANGE as u64),
                (160, 120),
                "avc1.64000B",
                format!("init-p{CHANGE}.mp4"),
            ),
        ] {
            let video = &period.adaptations[0];
            assert_eq!(video.maxWidth, Some(size_want.0));
            let template = video.SegmentTemplate.as_ref().expect("shared template");
            assert_eq!(template.presentationTimeOffset, pto);
            assert_eq!(
                template.initialization.as_deref(),
                Some(format!("manifest/$RepresentationID$/{init}").as_str())
            );
            assert_eq!(video.representations.len(), 2);
            for r in &video.representations {
                assert_eq!(size(r), (Some(size_want.0), Some(size_want.1)));
                assert_eq!(r.codecs.as_deref(), Some(codecs));
                assert_eq!(r.frameRate.as_deref(), Some("25"));
            }
            let listed = expand(template.SegmentTimeline.as_ref().expect("timeline"));
            // Every fragment is in the Period it starts in, and addressed by its tfdt.
            for (t, _) in &listed {
                match pto {
                    None => assert!((*t as i64) < CHANGE),
                    Some(pto) => assert!(*t >= pto),
                }
                for view in &renditions {
                    let s = find_segment(view, TrackKind::Video, *t).expect("listed fragment");
                    let track = &s.video.as_ref().expect("video").track;
                    assert_eq!(track.codec.codec_string(), codecs);
                }
            }
            let audio = &period.adaptations[1];
            let template = audio.SegmentTemplate.as_ref().expect("audio template");
            assert_eq!(
                template.presentationTimeOffset,
                pto.map(|t| t * 48_000 / 90_000)
            );
            let listed = expand(template.SegmentTimeline.as_ref().expect("timeline"));
            assert!(!listed.is_empty());
            for (t, _) in &listed {
                if let Some(pto) = template.presentationTimeOffset {
                    assert!(*t >= pto);
                }
                assert!(find_segment(&renditions[0], TrackKind::Audio, *t).is_some());
            }
            // The Period's init segment is that configuration.
            let config = InitConfig::of_period(pto.map(|t| t as i64));
            for view in &renditions {
                let track = init_track(view, TrackKind::Video, config).expect("init");
                assert_eq!(track.codec.codec_string(), codecs);
                assert!(init_track(view, TrackKind::Audio, config).is_some());
            }
        }
        // Both Periods together list what one would.
        let all: usize = m
            .periods
            .iter()
            .map(|p| {
                let t = p.adaptations[0].SegmentTemplate.as_ref().expect("template");
                expand(t.SegmentTimeline.as_ref().expect("timeline")).len()
            })
            .sum();
        assert_eq!(all, renditions[0].segments.len());
        // `init.mp4` is the newest configuration; a time that starts no Period of this
        // rendition's configuration is not served.
        let newest = init_track(&renditions[0], TrackKind::Video, InitConfig::Newest);
        assert_eq!(
            newest.map(|t| t.codec.codec_string()).as_deref(),
            Some("avc1.64000B")
        );
        let before = InitConfig::PeriodFrom(CHANGE - 1);
        assert!(init_track(&renditions[0], TrackKind::Video, before).is_none());
        let after_all = InitConfig::PeriodFrom(CHANGE + 3600 * 90_000);
        assert!(init_track(&renditions[0], TrackKind::Video, after_all).is_none());
    }

    #[test]
    fn periods_keep_their_id_and_start_as_the_window_slides() {
        // The MPD lists 4 s: while the 320x240 segments are listed there are two Periods...
        let mut renditions = changing(2, 16);
        let m = parse(&mpd(&views(&renditions), &settings(4)));
        let ids: Vec<_> = m.periods.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids, [Some("0".into()), Some(format!("p{CHANGE}"))]);
        let p_start = m.periods[1].start;

        // ... then the newer one alone, with the same id and start, even after the window
        // drops the segment that started it.
        for (i, at_ms) in [14_000, 30_000, 46_000].into_iter().enumerate() {
            for (r, bitrate) in renditions.iter_mut().zip([2_500_000, 800_000]) {
                testing::push_session(r, at_ms, 16, testing::avc_160x120(), bitrate);
            }
            let views = views(&renditions);
            if i > 0 {
                assert!(views[0].segments[0].start > CHANGE, "the start has left");
            }
            let xml = mpd(&views, &settings(4));
            let m = parse(&xml);
            assert_eq!(m.periods.len(), 1, "{xml}");
            let period = &m.periods[0];
            assert_eq!(period.id, Some(format!("p{CHANGE}")));
            assert_eq!(period.start, p_start);
            let video = &period.adaptations[0];
            let template = video.SegmentTemplate.as_ref().expect("template");
            assert_eq!(template.presentationTimeOffset, Some(CHANGE as u64));
            assert!(video
                .representations
                .iter()
                .all(|r| size(r) == (Some(160), Some(120))));
            let config = InitConfig::PeriodFrom(CHANGE);
            let track = init_track(&views[0], TrackKind::Video, config).expect("init");
            assert_eq!(track.codec.codec_string(), "avc1.64000B");
        }

        // A one-tick anchor at the Period start for GStreamer, as Period "0" has at 0.
        let ctx = MpdContext {
            timeline_anchor: true,
            ..ctx()
        };
        let mut out = String::new();
        write_mpd(&views(&renditions), &settings(4), &ctx, &mut out).expect("write");
        assert!(
            out.contains(&format!(r#"<S t="{CHANGE}" d="1"/>"#)),
            "{out}"
        );
        let m = parse(&out);
        let template = m.periods[0].adaptations[0]
            .SegmentTemplate
            .as_ref()
            .expect("template");
        let anchor = &template
            .SegmentTimeline
            .as_ref()
            .expect("timeline")
            .segments[0];
        assert_eq!(
            (anchor.t, anchor.d, anchor.r),
            (Some(CHANGE as u64), 1, None)
        );
    }

    #[test]
    fn a_reconnect_with_the_same_configuration_keeps_one_period() {
        let mut r = testing::live_rendition(2, 3600);
        testing::push_session(&mut r, 0, 12, testing::avc(), 2_500_000);
        testing::push_session(&mut r, 12_000, 6, testing::avc(), 2_500_000);
        let view = testing::view_of(&r, "2500000", 2_500_000, 2);
        assert!(view.config_changes.is_empty());
        let xml = mpd(&[view], &settings(60));
        assert_eq!(xml.matches("<Period ").count(), 1);
        assert!(xml.contains(r#"<Period id="0" start="PT0S">"#));
        assert!(xml.contains("$RepresentationID$/init.mp4"));
        assert!(!xml.contains("presentationTimeOffset"));
    }

    #[test]
    fn period_starts_and_offsets() {
        assert_eq!(PeriodStart(0).to_string(), "PT0S");
        assert_eq!(PeriodStart(90_000).to_string(), "PT1S");
        assert_eq!(PeriodStart(90_045).to_string(), "PT1.0005S");
        assert_eq!(PeriodStart(1).to_string(), "PT0.000011S");
        assert_eq!(presentation_time_offset(90_045, 90_000), 90_045);
        assert_eq!(presentation_time_offset(90_045, 48_000), 48_024);
        assert_eq!(presentation_time_offset(-5, 48_000), 0);
        // Changes known before the listed range: the newest of them starts the first Period.
        let mut views = testing::two_renditions();
        views[0].config_changes = vec![10, 20];
        views[1].config_changes = vec![25, 40, 1_000];
        assert_eq!(
            period_starts(&views, Some((22, 900))),
            [Some(20), Some(25), Some(40)]
        );
        assert_eq!(period_starts(&views, Some((25, 26))), [Some(25)]);
        assert_eq!(period_starts(&views, Some((5, 15))), [None, Some(10)]);
        assert_eq!(period_starts(&views, None), [None]);
        assert_eq!(period_id(None), "0");
        assert_eq!(period_id(Some(25)), "p25");
    }

    #[test]
    fn durations_and_frame_rates() {
        assert_eq!(XsDuration(0).to_string(), "PT0S");
        assert_eq!(XsDuration(6000).to_string(), "PT6S");
        assert_eq!(XsDuration(2005).to_string(), "PT2.005S");
        assert_eq!(XsDuration(2500).to_string(), "PT2.5S");
        assert_eq!(frame_rate(25.0).as_deref(), Some("25"));
        assert_eq!(frame_rate(29.97).as_deref(), Some("30000/1001"));
        assert_eq!(frame_rate(23.976).as_deref(), Some("24000/1001"));
        assert_eq!(frame_rate(59.94).as_deref(), Some("60000/1001"));
        assert_eq!(frame_rate(12.5).as_deref(), Some("25/2"));
        assert_eq!(frame_rate(0.0), None);
        assert_eq!(frame_rate(f64::NAN), None);
    }

    #[test]
    fn empty_channel_still_writes_an_mpd() {
        let m = parse(&mpd(&[], &settings(6)));
        assert_eq!(m.mpdtype.as_deref(), Some("dynamic"));
        assert_eq!(m.periods.len(), 1);
        assert!(m.periods[0].adaptations.is_empty());
    }

    /// A SegmentTemplate's `presentationTimeOffset` and the `(t, d)` of its segments.
    type Listed = (Option<u64>, Vec<(u64, u64)>);

    /// The shared template of the `index`-th AdaptationSet of each Period, as [`Listed`].
    fn timelines(m: &dash_mpd_core::MPD, index: usize) -> Vec<Listed> {
        m.periods
            .iter()
            .map(|p| {
                let template = p.adaptations[index]
                    .SegmentTemplate
                    .as_ref()
                    .expect("shared template");
                let timeline = template.SegmentTimeline.as_ref().expect("timeline");
                (template.presentationTimeOffset, expand(timeline))
            })
            .collect()
    }

    #[test]
    fn availability_start_times() {
        let ast = availability_start_time;
        assert_eq!(ast(Presentation::Live), AVAILABILITY_START_TIME);
        assert_eq!(
            ast(Presentation::Shifted { delay_ms: 0 }),
            AVAILABILITY_START_TIME
        );
        assert_eq!(
            ast(Presentation::Shifted { delay_ms: 30_000 }),
            "1970-01-01T00:00:30Z"
        );
        assert_eq!(
            ast(Presentation::Shifted { delay_ms: 1_500 }),
            "1970-01-01T00:00:01.500Z"
        );
        assert_eq!(
            ast(Presentation::Shifted { delay_ms: 7 }),
            "1970-01-01T00:00:00.007Z"
        );
        // The longest shift the request rules allow: 14 days.
        assert_eq!(
            ast(Presentation::Shifted {
                delay_ms: 14 * 86_400_000
            }),
            "1970-01-15T00:00:00Z"
        );
        // Out of any clock's range: still a time, no panic.
        assert!(!ast(Presentation::Shifted { delay_ms: u64::MAX }).is_empty());
    }

    #[test]
    fn presentations_shape_the_mpd() {
        // 30 s of 2 s segments; the 6 s window lists three.
        let views = vec![
            testing::rendition("2500000", 2_500_000, 30, 2),
            testing::rendition("800000", 800_000, 30, 2),
        ];
        let first = views[0].segments[0].start;
        let end = views[0].segments[14].end();
        let live_xml = mpd(&views, &settings(6));
        let everything = parse(&mpd(&views, &settings(3600)));
        for presentation in testing::PRESENTATIONS {
            let views = testing::presented(views.clone(), presentation);
            let xml = mpd(&views, &settings(6));
            let m = parse(&xml);
            let what = format!("{presentation:?}");
            match presentation {
                Presentation::Live => assert_eq!(xml, live_xml),
                Presentation::Shifted { delay_ms } => {
                    assert_eq!(delay_ms, 30_000);
                    assert!(
                        xml.contains(r#"availabilityStartTime="1970-01-01T00:00:30Z""#),
                        "{xml}"
                    );
                    assert_eq!(m.mpdtype.as_deref(), Some("dynamic"));
                    assert_eq!(
                        m.availabilityStartTime.map(|t| t.timestamp_millis()),
                        Some(30_000)
                    );
                    // Nothing else moves: same segments, same Periods, same URLs.
                    assert_eq!(
                        xml.replace("1970-01-01T00:00:30Z", AVAILABILITY_START_TIME),
                        live_xml,
                        "{what}"
                    );
                }
                Presentation::Recorded => {
                    assert_eq!(m.mpdtype.as_deref(), Some("static"), "{xml}");
                    for absent in [
                        "availabilityStartTime",
                        "publishTime",
                        "minimumUpdatePeriod",
                        "timeShiftBufferDepth",
                        "suggestedPresentationDelay",
                        "UTCTiming",
                    ] {
                        assert!(!xml.contains(absent), "{absent}: {xml}");
                    }
                    assert!(m.availabilityStartTime.is_none());
                    assert!(m.publishTime.is_none());
                    assert!(m.minimumUpdatePeriod.is_none());
                    assert!(m.timeShiftBufferDepth.is_none());
                    assert!(m.UTCTiming.is_empty());
                    assert!(m.minBufferTime.is_some());
                    assert!(m.maxSegmentDuration.is_some());
                    // From the first segment's start to the last one's end: all 30 s.
                    assert_eq!(end - first, 30 * 90_000);
                    assert!(
                        xml.contains(r#"mediaPresentationDuration="PT30S""#),
                        "{xml}"
                    );
                    assert_eq!(
                        m.mediaPresentationDuration,
                        Some(std::time::Duration::from_secs(30))
                    );
                    assert_eq!(m.periods.len(), 1);
                    assert_eq!(m.periods[0].id.as_deref(), Some("0"));
                    assert_eq!(m.periods[0].start, Some(std::time::Duration::ZERO));
                    // Every segment, beyond the window, at the times (so the URLs) a live
                    // MPD lists them at; the offset is the first segment's start.
                    for (index, hz) in [(0, 90_000), (1, 48_000)] {
                        let [(pto, listed)] = timelines(&m, index).try_into().expect("one");
                        let [(_, live)] = timelines(&everything, index).try_into().expect("one");
                        assert_eq!(listed.len(), 15, "{index}");
                        assert_eq!(listed, live, "{index}");
                        let pto = pto.expect("presentationTimeOffset");
                        assert_eq!(pto, presentation_time_offset(first, hz));
                        assert!(listed[0].0 >= pto && listed[0].0 - pto < u64::from(hz) / 10);
                    }
                    let templates = |xml: &str| -> Vec<String> {
                        xml.lines()
                            .filter(|l| l.contains("<SegmentTemplate"))
                            .map(|l| {
                                let at = l.find(" initialization=").expect("initialization");
                                l[at..].to_string()
                            })
                            .collect()
                    };
                    assert_eq!(templates(&xml), templates(&live_xml));
                }
            }
        }
    }

    #[test]
    fn a_recording_starts_its_periods_at_its_first_segment() {
        // 12 s at 320x240 then 8 s at 160x120: two Periods, the second at CHANGE.
        let renditions = views(&changing(8, 3600));
        let first = renditions[0].segments[0].start;
        let recorded = testing::presented(renditions.clone(), Presentation::Recorded);
        let xml = mpd(&recorded, &settings(6));
        let m = parse(&xml);
        assert_eq!(m.mpdtype.as_deref(), Some("static"));
        assert_eq!(
            m.mediaPresentationDuration,
            Some(std::time::Duration::from_secs(20))
        );
        let ids: Vec<_> = m.periods.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids, [Some("0".into()), Some(format!("p{CHANGE}"))]);
        let starts: Vec<_> = m.periods.iter().map(|p| p.start).collect();
        assert_eq!(
            starts,
            [
                Some(std::time::Duration::ZERO),
                Some(std::time::Duration::from_secs(12))
            ]
        );
        assert!(xml.contains(r#"<Period id="0" start="PT0S">"#), "{xml}");
        assert!(
            xml.contains(&format!(r#"<Period id="p{CHANGE}" start="PT12S">"#)),
            "{xml}"
        );
        // Offsets are each Period's first media time; the fragments are those (and have the
        // URLs) of the live MPD's Periods.
        let live = parse(&mpd(&renditions, &settings(3600)));
        for (index, hz) in [(0, 90_000u32), (1, 48_000)] {
            let recorded = timelines(&m, index);
            let live = timelines(&live, index);
            let offsets: Vec<_> = recorded.iter().map(|(pto, _)| *pto).collect();
            assert_eq!(
                offsets,
                [
                    Some(presentation_time_offset(first, hz)),
                    Some(presentation_time_offset(CHANGE, hz))
                ]
            );
            for ((pto, listed), (_, live)) in recorded.iter().zip(&live) {
                assert_eq!(listed, live);
                let pto = pto.expect("offset");
                assert!(listed.iter().all(|(t, _)| *t >= pto));
            }
        }
        for (_, listed) in timelines(&m, 0) {
            for (t, _) in listed {
                for view in &renditions {
                    assert!(find_segment(view, TrackKind::Video, t).is_some());
                }
            }
        }

        // A recording of the second configuration only, from after the change: its one Period
        // keeps the change's id and init segment, starts at 0, and is offset to its first
        // segment (not to the change).
        let later: Vec<RenditionView> = recorded
            .iter()
            .map(|v| RenditionView {
                segments: v
                    .segments
                    .iter()
                    .filter(|s| s.start > CHANGE)
                    .cloned()
                    .collect(),
                ..v.clone()
            })
            .collect();
        let from = later[0].segments[0].start;
        let xml = mpd(&later, &settings(6));
        let m = parse(&xml);
        assert_eq!(m.periods.len(), 1, "{xml}");
        assert_eq!(m.periods[0].id, Some(format!("p{CHANGE}")));
        assert_eq!(m.periods[0].start, Some(std::time::Duration::ZERO));
        assert_eq!(
            m.mediaPresentationDuration,
            Some(std::time::Duration::from_secs(6))
        );
        assert!(xml.contains(&format!("$RepresentationID$/init-p{CHANGE}.mp4")));
        let [(pto, listed)] = timelines(&m, 0).try_into().expect("one Period");
        assert_eq!(pto, Some(from as u64));
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0].0, from as u64);
    }

    #[test]
    fn a_recording_gets_no_timeline_anchor() {
        let views = testing::presented(testing::two_renditions(), Presentation::Recorded);
        let anchored = MpdContext {
            timeline_anchor: true,
            ..ctx()
        };
        let mut out = String::new();
        write_mpd(&views, &settings(6), &anchored, &mut out).expect("write");
        assert_eq!(out, mpd(&views, &settings(6)));
        assert!(!out.contains(r#" d="1"/>"#), "{out}");
        // A shifted MPD is still anchored for GStreamer, like a live one.
        let shifted = testing::presented(
            testing::two_renditions(),
            Presentation::Shifted { delay_ms: 10_000 },
        );
        let mut out = String::new();
        write_mpd(&shifted, &settings(6), &anchored, &mut out).expect("write");
        assert_eq!(out.matches(r#"<S t="0" d="1"/>"#).count(), 2, "{out}");
    }

    #[test]
    fn an_empty_recording_is_a_static_mpd() {
        let views = testing::presented(testing::two_renditions(), Presentation::Recorded);
        let empty: Vec<RenditionView> = views
            .into_iter()
            .map(|v| RenditionView {
                segments: Vec::new(),
                ..v
            })
            .collect();
        let m = parse(&mpd(&empty, &settings(6)));
        assert_eq!(m.mpdtype.as_deref(), Some("static"));
        assert_eq!(m.mediaPresentationDuration, Some(std::time::Duration::ZERO));
        assert_eq!(m.periods.len(), 1);
        assert!(m.periods[0].adaptations.is_empty());
    }

    #[test]
    fn only_gstreamer_gets_the_timeline_anchor() {
        for (ua, want) in [
            (Some("GStreamer souphttpsrc 1.22.0 libsoup/3.2.3"), true),
            (Some("GStreamer souphttpsrc 1.18.4 libsoup/2.72.0"), true),
            (Some("Lavf/59.27.100"), false),
            (
                Some("Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0"),
                false,
            ),
            (Some(""), false),
            (None, false),
        ] {
            assert_eq!(needs_timeline_anchor(ua), want, "{ua:?}");
        }
    }

    /// Where GStreamer's SegmentTimeline seek (1.21.2 and later) goes for MPD time `ts_ns`: the
    /// `$Time$` of the segment it requests next. Its model of the timeline: one entry per `S`,
    /// starting at `t` (kept from the previous entry when `t` is absent or 0) in nanoseconds,
    /// and the repeat `((ts - start) + first_start) / d` of the first entry ending after `ts`.
    fn gstreamer_seek(timeline: &dash_mpd_core::SegmentTimeline, hz: u64, ts_ns: u64) -> u64 {
        let ns = |ticks: u64| (u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64;
        let (mut t, mut start) = (0u64, 0u64);
        let mut entries = Vec::new();
        for s in &timeline.segments {
            if let Some(at) = s.t.filter(|&at| at > 0) {
                (t, start) = (at, ns(at));
            }
            let repeats = u64::try_from(s.r.unwrap_or(0)).expect("r >= 0");
            entries.push((t, s.d, start, ns(s.d), repeats));
            t += s.d * (repeats + 1);
            start += ns(s.d) * (repeats + 1);
        }
        let first_start = entries[0].2;
        let (t, d, start, d_ns, _) = *entries
            .iter()
            .find(|(_, _, start, d_ns, repeats)| ts_ns < start + d_ns * (repeats + 1))
            .expect("ts before the end");
        let repeat = ts_ns.wrapping_sub(start).wrapping_add(first_start) / d_ns;
        t.wrapping_add(d.wrapping_mul(repeat))
    }

    #[test]
    fn timeline_anchor_lets_gstreamer_find_the_listed_segments() {
        let renditions = testing::two_renditions();
        let plain = parse(&mpd(&renditions, &settings(6)));
        let mut out = String::new();
        let ctx = MpdContext {
            timeline_anchor: true,
            ..ctx()
        };
        write_mpd(&renditions, &settings(6), &ctx, &mut out).expect("write");
        let anchored = parse(&out);
        assert_eq!(
            out.matches(r#"<S t="0" d="1"/>"#).count(),
            2,
            "one anchor per timeline: {out}"
        );
        for i in 0..2 {
            let template = |m: &dash_mpd_core::MPD| {
                m.periods[0].adaptations[i]
                    .SegmentTemplate
                    .clone()
                    .expect("template")
            };
            let (plain, anchored) = (template(&plain), template(&anchored));
            let hz = plain.timescale.expect("timescale");
            let plain = plain.SegmentTimeline.expect("timeline");
            let anchored = anchored.SegmentTimeline.expect("timeline");
            let (anchor, rest) = anchored.segments.split_first().expect("anchor");
            assert_eq!((anchor.t, anchor.d, anchor.r), (Some(0), 1, None));
            // The listed segments follow unchanged, with their first t explicit.
            assert_eq!(rest.len(), plain.segments.len());
            assert_eq!(expand(&plain), {
                let listed = dash_mpd_core::SegmentTimeline {
                    segments: rest.to_vec(),
                };
                expand(&listed)
            });
            // A seek into the middle of each listed segment requests that segment from the
            // anchored timeline; without the anchor it goes far past the last one.
            let listed = expand(&plain);
            let (last_t, last_d) = *listed.last().expect("listed");
            for &(t, d) in &listed {
                let ts_ns = (u128::from(t + d / 2) * 1_000_000_000 / u128::from(hz)) as u64;
                assert_eq!(gstreamer_seek(&anchored, hz, ts_ns), t);
                assert!(gstreamer_seek(&plain, hz, ts_ns) > last_t + last_d);
            }
        }
    }
}
