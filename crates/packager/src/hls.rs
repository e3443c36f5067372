//! HLS: multivariant and media playlists, and MPEG-TS segments, from the live window.
//!
//! Layout below a package's URL `DIR/STEM.m3u8`:
//! `DIR/STEM.m3u8` (multivariant), `DIR/STEM/{rendition}/playlist.m3u8` (media playlist) and
//! `DIR/STEM/{rendition}/{start}.ts`, where `start` is the segment's channel-timeline start on
//! the 90 kHz clock. Names come from time, so a URL never names two different contents.

use std::io::Write;
use std::sync::atomic::Ordering;

use chrono::{DateTime, FixedOffset, Utc};
use m3u8_rs::{MasterPlaylist, MediaPlaylist, MediaSegment, Resolution, VariantStream};
use media::ts::{write_segment, TsSample};
use media::{CodecConfig, MediaError, MediaTime, Timescale, TrackKind};
use segmenter::{LiveWindow, Sample, Segment, SegmentBytes};

use crate::variant::Variant;

/// The HLS package settings that shape playlists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HlsSettings {
    /// Target segment duration in seconds.
    pub segment_duration_secs: u32,
    /// Media listed in a live playlist, in seconds; at least three segments are listed.
    pub playlist_window_secs: u32,
    /// `EXT-X-VERSION`; at least 3, since durations are written with decimals.
    pub version: u8,
}

impl HlsSettings {
    fn version(&self) -> usize {
        usize::from(self.version.max(3))
    }
}

/// A resource below an HLS package's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HlsResource {
    Multivariant,
    MediaPlaylist { rendition: String },
    Segment { rendition: String, start: i64 },
}

impl HlsResource {
    /// Parses the part of a request path after `DIR/`, for a package whose playlist file is
    /// `STEM.m3u8`.
    pub fn parse(stem: &str, rest: &str) -> Option<HlsResource> {
        if rest.strip_suffix(".m3u8") == Some(stem) {
            return Some(HlsResource::Multivariant);
        }
        let inner = rest.strip_prefix(stem)?.strip_prefix('/')?;
        let (rendition, file) = inner.split_once('/')?;
        if rendition.is_empty() || file.contains('/') {
            return None;
        }
        if file == "playlist.m3u8" {
            return Some(HlsResource::MediaPlaylist {
                rendition: rendition.to_string(),
            });
        }
        let start = file.strip_suffix(".ts")?.parse().ok()?;
        Some(HlsResource::Segment {
            rendition: rendition.to_string(),
            start,
        })
    }

    /// The path of a media playlist relative to the package directory.
    pub fn media_playlist_path(stem: &str, rendition: &str) -> String {
        format!("{stem}/{rendition}/playlist.m3u8")
    }
}

/// Writes the multivariant playlist: one variant per rendition, in the given order.
pub fn write_multivariant(
    stem: &str,
    variants: &[Variant],
    settings: &HlsSettings,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let playlist = MasterPlaylist {
        version: Some(settings.version()),
        independent_segments: true,
        variants: variants
            .iter()
            .map(|v| VariantStream {
                uri: HlsResource::media_playlist_path(stem, &v.name),
                bandwidth: v.bandwidth,
                average_bandwidth: v.average_bandwidth,
                codecs: (!v.codecs.is_empty()).then(|| v.codecs.clone()),
                resolution: match (v.width, v.height) {
                    (Some(width), Some(height)) => Some(Resolution {
                        width: u64::from(width),
                        height: u64::from(height),
                    }),
                    _ => None,
                },
                frame_rate: v.frame_rate,
                ..VariantStream::default()
            })
            .collect(),
        ..MasterPlaylist::default()
    };
    playlist.write_to(w)
}

/// The segments a live media playlist lists: the newest ones that fit in the window, and at
/// least three (or all there are).
pub fn playlist_segments(window: &LiveWindow, settings: &HlsSettings) -> usize {
    let segments = window.segments();
    let limit = i64::from(settings.playlist_window_secs) * 90_000;
    let mut total = 0i64;
    let mut count = 0usize;
    for s in segments.iter().rev() {
        if count >= 3 && total + s.duration > limit {
            break;
        }
        total += s.duration;
        count += 1;
    }
    count
}

/// Writes a live media playlist of the window's newest segments.
pub fn write_media_playlist(
    window: &LiveWindow,
    settings: &HlsSettings,
    w: &mut impl Write,
) -> std::io::Result<()> {
    let all = window.segments();
    let count = playlist_segments(window, settings);
    let first = all.len() - count;
    let discontinuity_sequence = window.removed_discontinuities()
        + all.iter().take(first).filter(|s| s.discontinuity).count() as u64;
    let target = (window.longest_segment() + 45_000) / 90_000;
    let target_duration = target.max(i64::from(settings.segment_duration_secs)).max(1) as u64;
    m3u8_rs::WRITE_OPT_FLOAT_PRECISION.store(3, Ordering::Relaxed);
    let segments = all
        .iter()
        .skip(first)
        .map(|s| MediaSegment {
            uri: format!("{}.ts", s.start),
            duration: s.duration as f32 / 90_000.0,
            discontinuity: s.discontinuity,
            program_date_time: Some(program_date_time(s)),
            ..MediaSegment::empty()
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(settings.version()),
        target_duration,
        media_sequence: all.get(first).map_or(0, |s| s.sequence),
        discontinuity_sequence,
        independent_segments: true,
        segments,
        ..MediaPlaylist::default()
    };
    playlist.write_to(w)
}

fn program_date_time(segment: &Segment) -> DateTime<FixedOffset> {
    let ms = segment.wall_clock().unix_ms;
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .fixed_offset()
}

/// Muxes one stored segment into MPEG-TS.
/// The bytes of a sample's payload out of what was loaded for its segment.
pub fn sample_data<'a>(
    bytes: &'a SegmentBytes,
    sample: &'a Sample,
) -> Result<&'a [u8], MediaError> {
    bytes.get(&sample.data).ok_or_else(|| MediaError::Invalid {
        what: "segment payload",
        offset: 0,
        reason: "payload was not loaded".into(),
    })
}

/// Muxes `segment` into MPEG-TS; `bytes` holds its stored payloads (see
/// [`segmenter::PayloadReader`]).
pub fn ts_segment(
    segment: &Segment,
    bytes: &SegmentBytes,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let data = |s| sample_data(bytes, s);
    let video_cfg = segment.video.as_ref().and_then(|v| match &v.track.codec {
        CodecConfig::Avc(c) => Some(c),
        CodecConfig::Aac(_) => None,
    });
    let audio_cfg = segment.audio.as_ref().and_then(|a| match &a.track.codec {
        CodecConfig::Aac(c) => Some(c),
        CodecConfig::Avc(_) => None,
    });
    let to_90k = |dts: i64, ts: Timescale| MediaTime::new(dts, ts).rescale(Timescale::MPEG).ticks;
    let mut samples: Vec<TsSample<'_>> = Vec::with_capacity(
        segment.video.as_ref().map_or(0, |v| v.samples.len())
            + segment.audio.as_ref().map_or(0, |a| a.samples.len()),
    );
    if let (Some(v), Some(_)) = (&segment.video, video_cfg) {
        let ts = v.timescale();
        for s in &v.samples {
            samples.push(TsSample {
                kind: TrackKind::Video,
                dts: to_90k(s.dts, ts),
                pts: to_90k(s.pts(), ts),
                keyframe: s.keyframe,
                data: data(s)?,
            });
        }
    }
    if let (Some(a), Some(_)) = (&segment.audio, audio_cfg) {
        let ts = a.timescale();
        for s in &a.samples {
            let t = to_90k(s.dts, ts);
            samples.push(TsSample {
                kind: TrackKind::Audio,
                dts: t,
                pts: t,
                keyframe: true,
                data: data(s)?,
            });
        }
    }
    // Decode order across tracks; the sort is stable, so video stays first on ties.
    samples.sort_by_key(|s| s.dts);
    write_segment(video_cfg, audio_cfg, &samples, segment.sequence, out)
}
