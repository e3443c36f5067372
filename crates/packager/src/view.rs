//! What one request sees of a channel: a snapshot of each rendition's segments.
//!
//! Manifest writers take views, not windows: the caller copies the segment list (reference
//! counts, no media) while holding the rendition's lock and renders without it. A view also
//! says how its segments are presented ([`Presentation`]): as the live window, a delayed live
//! window, or a finished recording.

use std::sync::Arc;

use media::{TrackInfo, TrackKind};
use segmenter::{LiveWindow, Segment};

use crate::variant::Variant;

/// How a manifest presents a request's segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Presentation {
    /// The live window: the newest segments that fit the package's window.
    #[default]
    Live,
    /// A live window `delay_ms` behind real time (live delay, timeshift). The caller passes
    /// segments that end at the shifted edge; only DASH needs to know the shift.
    Shifted { delay_ms: u64 },
    /// A finished interval (catch-up, VOD): every segment passed is listed, none will be added.
    Recorded,
}

impl Presentation {
    /// The presentation of a request's views: that of the first one (all views of one request
    /// share it), [`Presentation::Live`] when there is none.
    pub fn of(views: &[RenditionView]) -> Presentation {
        views
            .first()
            .map_or_else(Presentation::default, |v| v.presentation)
    }
}

/// One rendition at the moment of a request.
#[derive(Clone, Debug)]
pub struct RenditionView {
    /// How manifests describe it (name, bandwidth, size, codecs).
    pub variant: Variant,
    /// Its segments, oldest first.
    pub segments: Vec<Arc<Segment>>,
    /// Where its track configuration changed (90 kHz channel time, ascending; see
    /// [`LiveWindow::config_changes`]): DASH starts a Period at each.
    pub config_changes: Vec<i64>,
    /// How manifests present [`Self::segments`]; writers given several views of one request
    /// take it from the first.
    pub presentation: Presentation,
}

impl RenditionView {
    /// Snapshots a rendition as a package with `segment_secs` segments sees it (groups of
    /// stored segments where the window groups for that duration), presented
    /// [`Presentation::Live`]; `None` if it holds no media yet.
    pub fn from_window(
        name: &str,
        declared_bitrate: Option<u64>,
        window: &LiveWindow,
        segment_secs: u32,
    ) -> Option<RenditionView> {
        let variant = Variant::from_window(name, declared_bitrate, window)?;
        Some(RenditionView {
            variant,
            segments: window
                .package_segments(segment_secs)
                .iter()
                .cloned()
                .collect(),
            config_changes: window.config_changes().collect(),
            presentation: Presentation::Live,
        })
    }

    /// The track of `kind` in the newest segment that has one.
    pub fn track(&self, kind: TrackKind) -> Option<&Arc<TrackInfo>> {
        self.segments.iter().rev().find_map(|s| match kind {
            TrackKind::Video => s.video.as_ref().map(|t| &t.track),
            TrackKind::Audio => s.audio.as_ref().map(|t| &t.track),
        })
    }

    /// The RFC 6381 codec string of the track of `kind` (`avc1.64001F`, `mp4a.40.2`).
    pub fn codec_string(&self, kind: TrackKind) -> Option<String> {
        self.track(kind).map(|t| t.codec.codec_string())
    }
}

/// The audio sample rate and channel count of a track, when it is AAC.
pub fn audio_format(track: &TrackInfo) -> Option<(u32, u8)> {
    track.codec.aac().map(|a| (a.sample_rate, a.channel_config))
}
