//! What a manifest says about one rendition, taken from the actual stream.

use std::sync::Arc;

use media::TrackInfo;
use segmenter::{LiveWindow, Segment};

/// One rendition as manifests describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// The rendition's name in URLs (the source bitrate).
    pub name: String,
    /// Declared bitrate, or the peak measured one.
    pub bandwidth: u64,
    /// Mean measured bitrate over the window, when known.
    pub average_bandwidth: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frames per second, from the SPS or measured.
    pub frame_rate: Option<f64>,
    /// RFC 6381 codecs of the tracks present, video first (`avc1.64001F,mp4a.40.2`).
    pub codecs: String,
}

impl Variant {
    /// Describes a rendition from its newest segment, or `None` if it holds no media.
    pub fn from_window(
        name: &str,
        declared_bitrate: Option<u64>,
        window: &LiveWindow,
    ) -> Option<Variant> {
        let newest = window.newest()?;
        Some(Variant::describe(
            name,
            declared_bitrate,
            newest,
            window.peak_bitrate(),
            window.measured_bitrate(),
        ))
    }

    /// Describes a rendition from `segments` (oldest first; read back from the store for a
    /// catch-up or timeshift view), or `None` if there are none.
    pub fn from_segments(
        name: &str,
        declared_bitrate: Option<u64>,
        segments: &[Arc<Segment>],
    ) -> Option<Variant> {
        let newest = segments.last()?;
        let bps = |bytes: u64, duration: i64| {
            u64::try_from(duration)
                .ok()
                .filter(|d| *d > 0)
                .map(|d| bytes.saturating_mul(8 * 90_000) / d)
        };
        let peak = segments
            .iter()
            .filter_map(|s| bps(s.payload_bytes() as u64, s.duration))
            .max();
        let bytes: u64 = segments.iter().map(|s| s.payload_bytes() as u64).sum();
        let duration: i64 = segments.iter().map(|s| s.duration).sum();
        Some(Variant::describe(
            name,
            declared_bitrate,
            newest,
            peak,
            bps(bytes, duration),
        ))
    }

    fn describe(
        name: &str,
        declared_bitrate: Option<u64>,
        newest: &Segment,
        measured_peak: Option<u64>,
        measured_average: Option<u64>,
    ) -> Variant {
        let video = newest.video.as_ref().map(|v| v.track.as_ref());
        let audio = newest.audio.as_ref().map(|a| a.track.as_ref());
        let codecs: Vec<String> = video
            .into_iter()
            .chain(audio)
            .map(|t: &TrackInfo| t.codec.codec_string())
            .collect();
        let size = video.and_then(|t| t.codec.video_size());
        let (width, height) = (size.map(|s| s.0), size.map(|s| s.1));
        let sps_rate = video.and_then(|t| t.codec.frame_rate());
        let measured_rate = || {
            newest.video.as_ref().and_then(|v| {
                let summary = v.summary();
                let (n, total) = (summary.count, summary.duration);
                (n > 1 && total > 0)
                    .then(|| n as f64 * f64::from(v.track.timescale.get()) / total as f64)
            })
        };
        let frame_rate = sps_rate
            .or_else(measured_rate)
            .map(|r| (r * 1000.0).round() / 1000.0);
        Variant {
            name: name.to_string(),
            bandwidth: declared_bitrate.or(measured_peak).unwrap_or(1),
            average_bandwidth: measured_average,
            width,
            height,
            frame_rate,
            codecs: codecs.join(","),
        }
    }
}
