//! What a manifest says about one rendition, taken from the actual stream.

use media::TrackInfo;
use segmenter::LiveWindow;

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
        let measured_peak = window.peak_bitrate();
        Some(Variant {
            name: name.to_string(),
            bandwidth: declared_bitrate.or(measured_peak).unwrap_or(1),
            average_bandwidth: window.measured_bitrate(),
            width,
            height,
            frame_rate,
            codecs: codecs.join(","),
        })
    }
}
