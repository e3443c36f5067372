//! What one request sees of a channel: a snapshot of each rendition's segments.
//!
//! Manifest writers take views, not windows: the caller copies the segment list (reference
//! counts, no media) while holding the rendition's lock and renders without it.

use std::sync::Arc;

use media::{TrackInfo, TrackKind};
use segmenter::{LiveWindow, Segment};

use crate::variant::Variant;

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
}

impl RenditionView {
    /// Snapshots a rendition as a package with `segment_secs` segments sees it (groups of
    /// stored segments where the window groups for that duration); `None` if it holds no
    /// media yet.
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
