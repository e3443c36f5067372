//! The client manifest (`SmoothStreamingMedia`): live, or of a recording.

use std::fmt::{self, Write};
use std::sync::Arc;

use media::{AacConfig, CodecConfig, TrackKind};
use segmenter::Segment;

use super::{
    available_segments, fragment_span, kind_name, MssSettings, Span, LOOKAHEAD_FRAGMENT_COUNT,
    TIMESCALE,
};
use crate::view::{Presentation, RenditionView};

/// The audio bitrate advertised when none can be measured.
const DEFAULT_AUDIO_BITRATE: u64 = 128_000;

/// Writes the manifest of `renditions` (in the given order), presented as the first one's
/// [`RenditionView::presentation`] says.
///
/// `SmoothStreamingMedia` version 2.2, TimeScale 10 MHz, and:
///
/// - live ([`Presentation::Live`], and [`Presentation::Shifted`], whose caller passes segments
///   ending at the shifted edge): `Duration="0"` and `IsLive="TRUE"` (a live presentation to
///   dash.js, not a start-over one), `LookAheadFragmentCount="2"`, `DVRWindowLength` of the
///   package's window (or the listed duration when the window is 0);
/// - recorded ([`Presentation::Recorded`]): `IsLive="FALSE"`, `Duration` the listed duration
///   (from the first listed fragment's start to the last one's end), no `DVRWindowLength` or
///   `LookAheadFragmentCount`.
///
/// - A video StreamIndex when a rendition has H.264 video: one QualityLevel per such
///   rendition (`Bitrate` its bandwidth, `FourCC="H264"`, `CodecPrivateData` the SPS and PPS
///   each after a `00000001` start code, in uppercase hex) and the `c` list of the first of
///   them. The list is shared by all quality levels; renditions whose keyframes fall
///   elsewhere are served by nearest start ([`super::find_fragment`]).
/// - An audio StreamIndex from the first rendition with AAC audio: one QualityLevel
///   (`FourCC="AACL"`, `CodecPrivateData` the AudioSpecificConfig) whose `Bitrate` is the
///   audio bitrate measured over the listed fragments, rounded to a multiple of 1000 (128000
///   when unknown). The server ignores the bitrate in audio URLs, so this value only informs
///   the client.
///
/// Listed: live, after [`available_segments`] (the delay), the newest segments fitting the
/// window, at least three; recorded, every segment (neither the delay nor the window
/// applies). Each `c` has `d`; `t` is written on the first and after any gap; `r` is not used
/// (older GStreamer and dash.js releases ignore it).
pub fn write_manifest(
    renditions: &[RenditionView],
    settings: &MssSettings,
    out: &mut String,
) -> fmt::Result {
    let presentation = Presentation::of(renditions);
    let recorded = presentation == Presentation::Recorded;
    let video: Vec<(&RenditionView, &CodecConfig)> = renditions
        .iter()
        .filter_map(|r| {
            let codec = &r.track(TrackKind::Video)?.codec;
            (codec.kind() == TrackKind::Video).then_some((r, codec))
        })
        .collect();
    let audio = renditions
        .iter()
        .find_map(|r| match r.track(TrackKind::Audio).map(|t| &t.codec) {
            Some(CodecConfig::Aac(aac)) => Some((r, aac)),
            _ => None,
        });
    let video_chunks = video
        .first()
        .map(|(r, _)| listed_chunks(&r.segments, TrackKind::Video, settings, presentation))
        .unwrap_or_default();
    let audio_chunks = audio
        .map(|(r, _)| listed_chunks(&r.segments, TrackKind::Audio, settings, presentation))
        .unwrap_or_default();

    let listed = if video.is_empty() {
        &audio_chunks
    } else {
        &video_chunks
    };
    let listed_duration = match (listed.first(), listed.last()) {
        (Some(first), Some(last)) => last.span.end.saturating_sub(first.span.start),
        _ => 0,
    };

    writeln!(out, r#"<?xml version="1.0" encoding="utf-8"?>"#)?;
    if recorded {
        writeln!(
            out,
            r#"<SmoothStreamingMedia MajorVersion="2" MinorVersion="2" TimeScale="{TIMESCALE}" Duration="{listed_duration}" IsLive="FALSE" CanSeek="TRUE" CanPause="TRUE">"#
        )?;
    } else {
        let dvr_window = match settings.playlist_window_secs {
            0 => listed.iter().map(|c| c.span.duration()).sum(),
            secs => u64::from(secs) * TIMESCALE,
        };
        writeln!(
            out,
            r#"<SmoothStreamingMedia MajorVersion="2" MinorVersion="2" TimeScale="{TIMESCALE}" Duration="0" IsLive="TRUE" LookAheadFragmentCount="{LOOKAHEAD_FRAGMENT_COUNT}" DVRWindowLength="{dvr_window}" CanSeek="TRUE" CanPause="TRUE">"#
        )?;
    }
    if !video.is_empty() {
        write_video(&video, &video_chunks, out)?;
    }
    if let Some((_, aac)) = audio {
        write_audio(aac, &audio_chunks, out)?;
    }
    writeln!(out, "</SmoothStreamingMedia>")
}

/// One listed fragment.
#[derive(Clone, Debug)]
pub(crate) struct Chunk<'a> {
    pub segment: &'a Arc<Segment>,
    pub span: Span,
}

/// The fragments of `kind` a manifest presented as `presentation` lists from a rendition's
/// segments, oldest first: of a recording all of them, else [`chunks`].
pub(crate) fn listed_chunks<'a>(
    segments: &'a [Arc<Segment>],
    kind: TrackKind,
    settings: &MssSettings,
    presentation: Presentation,
) -> Vec<Chunk<'a>> {
    match presentation {
        Presentation::Recorded => spans(segments, kind),
        Presentation::Live | Presentation::Shifted { .. } => chunks(segments, kind, settings),
    }
}

/// The fragments of `kind` a live manifest lists from a rendition's segments, oldest first:
/// after [`available_segments`] (the delay), the newest that fit the window, at least three.
pub(crate) fn chunks<'a>(
    segments: &'a [Arc<Segment>],
    kind: TrackKind,
    settings: &MssSettings,
) -> Vec<Chunk<'a>> {
    let available = available_segments(segments, settings);
    let first =
        available.len() - crate::hls::listed_count(available, settings.playlist_window_secs);
    spans(&available[first..], kind)
}

/// The fragments of `kind` of consecutive `segments`, oldest first; the last one ends at its
/// own last sample (nothing after it is known).
pub(crate) fn spans(segments: &[Arc<Segment>], kind: TrackKind) -> Vec<Chunk<'_>> {
    segments
        .iter()
        .enumerate()
        .filter_map(|(i, segment)| {
            let next = segments.get(i + 1).map(|s| s.as_ref());
            fragment_span(segment, next, kind).map(|span| Chunk { segment, span })
        })
        .collect()
}

fn write_video(
    qualities: &[(&RenditionView, &CodecConfig)],
    chunks: &[Chunk<'_>],
    out: &mut String,
) -> fmt::Result {
    let size = |(r, codec): &(&RenditionView, &CodecConfig)| {
        let (w, h) = codec.video_size().unwrap_or((0, 0));
        (r.variant.width.unwrap_or(w), r.variant.height.unwrap_or(h))
    };
    let max_width = qualities.iter().map(|q| size(q).0).max().unwrap_or(0);
    let max_height = qualities.iter().map(|q| size(q).1).max().unwrap_or(0);
    writeln!(
        out,
        r#"  <StreamIndex Type="video" Name="video" Chunks="{}" QualityLevels="{}" Url="{}" MaxWidth="{max_width}" MaxHeight="{max_height}" DisplayWidth="{max_width}" DisplayHeight="{max_height}">"#,
        chunks.len(),
        qualities.len(),
        url_template(TrackKind::Video),
    )?;
    for (index, quality) in qualities.iter().enumerate() {
        let (width, height) = size(quality);
        writeln!(
            out,
            r#"    <QualityLevel Index="{index}" Bitrate="{}" FourCC="{}" MaxWidth="{width}" MaxHeight="{height}" CodecPrivateData="{}" />"#,
            quality.0.variant.bandwidth,
            four_cc(quality.1),
            video_private_data(quality.1),
        )?;
    }
    write_chunks(chunks, out)?;
    writeln!(out, "  </StreamIndex>")
}

fn write_audio(aac: &AacConfig, chunks: &[Chunk<'_>], out: &mut String) -> fmt::Result {
    writeln!(
        out,
        r#"  <StreamIndex Type="audio" Name="audio" Chunks="{}" QualityLevels="1" Url="{}">"#,
        chunks.len(),
        url_template(TrackKind::Audio),
    )?;
    writeln!(
        out,
        r#"    <QualityLevel Index="0" Bitrate="{}" FourCC="AACL" SamplingRate="{}" Channels="{}" BitsPerSample="16" PacketSize="4" AudioTag="255" CodecPrivateData="{}" />"#,
        audio_bitrate(chunks),
        aac.sample_rate,
        aac.channel_config,
        hex(&aac.asc),
    )?;
    write_chunks(chunks, out)?;
    writeln!(out, "  </StreamIndex>")
}

/// The `c` elements: `d` on every one, `t` on the first and wherever the previous one does
/// not end where this one starts.
fn write_chunks(chunks: &[Chunk<'_>], out: &mut String) -> fmt::Result {
    let mut expected: Option<u64> = None;
    for chunk in chunks {
        let Span { start, .. } = chunk.span;
        let d = chunk.span.duration();
        if expected == Some(start) {
            writeln!(out, r#"    <c d="{d}" />"#)?;
        } else {
            writeln!(out, r#"    <c t="{start}" d="{d}" />"#)?;
        }
        expected = Some(chunk.span.end);
    }
    Ok(())
}

fn url_template(kind: TrackKind) -> String {
    format!(
        "QualityLevels({{bitrate}})/Fragments({}={{start time}})",
        kind_name(kind)
    )
}

/// The video FourCC: `H264`, or `HVC1` for H.265 (parameter sets in CodecPrivateData, not
/// in the samples), as Smooth Streaming servers write it.
fn four_cc(codec: &CodecConfig) -> &'static str {
    match codec {
        CodecConfig::Hevc(_) => "HVC1",
        _ => "H264",
    }
}

/// `00000001 SPS 00000001 PPS` in uppercase hex (every SPS, then every PPS); for H.265 the
/// VPS first.
fn video_private_data(codec: &CodecConfig) -> String {
    let sets: Vec<&bytes::Bytes> = match codec {
        CodecConfig::Avc(avc) => avc.sps.iter().chain(&avc.pps).collect(),
        CodecConfig::Hevc(hevc) => hevc.parameter_sets().collect(),
        CodecConfig::Aac(_) => Vec::new(),
    };
    sets.iter()
        .map(|nal| format!("00000001{}", hex(nal)))
        .collect()
}

/// The audio payload bitrate of the listed fragments, rounded to the nearest multiple of
/// 1000 bit/s (at least 1000), or [`DEFAULT_AUDIO_BITRATE`] when nothing is listed.
fn audio_bitrate(chunks: &[Chunk<'_>]) -> u64 {
    let duration: u64 = chunks.iter().map(|c| c.span.duration()).sum();
    if duration == 0 {
        return DEFAULT_AUDIO_BITRATE;
    }
    let bytes: u128 = chunks
        .iter()
        .filter_map(|c| c.segment.audio.as_ref())
        .map(|a| a.payload_bytes() as u128)
        .sum();
    let bps = bytes * 8 * u128::from(TIMESCALE) / u128::from(duration);
    let rounded = (bps + 500) / 1000 * 1000;
    u64::try_from(rounded.max(1000)).unwrap_or(u64::MAX)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
