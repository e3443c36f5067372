//! Smooth Streaming fragments: one stored segment's track, re-timed to the Smooth clock.
//!
//! # What clients read (dash.js and GStreamer's mssdemux)
//!
//! Both take `tfxd` and `tfrf` as full boxes (version, flags) inside `traf`, told apart by
//! their UUID, with 64-bit fields when the version is 1 and 32-bit ones otherwise:
//! `tfxd` = fragment absolute time, fragment duration; `tfrf` = an 8-bit entry count, then
//! (absolute time, duration) per entry. Times are on the manifest's TimeScale.
//!
//! - dash.js (`MssFragmentProcessor` registers the UUID parsers on codem-isoboxer,
//!   `MssFragmentMoofProcessor` converts the fragment) builds the init segment itself with
//!   `mdhd` timescale = the manifest's TimeScale and an `avcC` from CodecPrivateData with
//!   4-byte NAL lengths. It rewrites `tfhd` (track ID, default-base-is-moof) and `trun`'s
//!   data offset, keeps an existing `tfdt` as it is (it only makes one up, from the
//!   manifest's time, when there is none) and takes the DVR window end from it. It drops
//!   `tfxd` unread. For live manifests a fragment without `tfrf` is an error
//!   (`MSS_NO_TFRF`); only the first `tfrf` entry extends the timeline, when it starts after
//!   the last known fragment (whose `d` is patched to meet it).
//! - GStreamer (`gstmssfragmentparser.c` over `gst-libs/gst/isoff`) parses each live
//!   fragment's `moof` and rejects it unless the first `traf` has both `tfxd` and `tfrf`; it
//!   overwrites the current fragment's time and duration with `tfxd`'s and appends every
//!   `tfrf` entry that starts after its last known fragment. `tfdt` is optional to that
//!   parser, but qtdemux, which then demuxes the fragment on a track whose timescale is the
//!   manifest's, prefers `tfdt`'s decode time over the manifest's when present. It too
//!   builds `avcC` with 4-byte NAL lengths.
//!
//! So a fragment here has no `tfdt` (MS-SSTR defines none), `tfxd` equal to the manifest's
//! `t`, every `trun` time on the 100 ns clock, `tfxd` and `tfrf` version 1 (`tfrf` always,
//! with zero entries when nothing follows yet) and 4-byte NAL length prefixes. Without
//! `tfdt`, dash.js times a fragment by the manifest, which matters for a finished
//! (`IsLive="FALSE"`) presentation: dash.js moves its timeline to start at zero, and a
//! `tfdt` kept as the absolute time put the media 7 years past the playhead (catch-up never
//! started playing). qtdemux then takes the manifest's time too.

use std::borrow::Cow;

use media::fmp4::{self, FragmentOptions, FragmentSample};
use media::{MediaError, TrackKind};
use segmenter::{Segment, SegmentBytes, TrackSamples};

use super::{fragment_span, to_mss_time, Span, LOOKAHEAD_FRAGMENT_COUNT};
use crate::cmaf::track_samples;
use crate::cmaf::TRACK_ID;
use crate::hls::sample_data;

/// The extended type of the `tfxd` box: 6D1D9B05-42D5-44E6-80E2-141DAFF757B2.
pub const TFXD_UUID: [u8; 16] = [
    0x6D, 0x1D, 0x9B, 0x05, 0x42, 0xD5, 0x44, 0xE6, 0x80, 0xE2, 0x14, 0x1D, 0xAF, 0xF7, 0x57, 0xB2,
];
/// The extended type of the `tfrf` box: D4807EF2-CA39-4695-8E54-26CB9E46A79F.
pub const TFRF_UUID: [u8; 16] = [
    0xD4, 0x80, 0x7E, 0xF2, 0xCA, 0x39, 0x46, 0x95, 0x8E, 0x54, 0x26, 0xCB, 0x9E, 0x46, 0xA7, 0x9F,
];

const WHAT: &str = "Smooth Streaming fragment";

fn invalid(reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what: WHAT,
        offset: 0,
        reason: reason.into(),
    }
}

/// Writes the Smooth fragment of `segment`'s track of `kind`: `moof` (`mfhd`; `traf` with
/// `tfhd`, `trun`, then the `tfxd` and `tfrf` UUID boxes) and `mdat`, no `styp`.
///
/// `following` are the segments after `segment` in the same rendition that are already
/// available (stopping at the manifest's live edge, see [`super::available_segments`]): the
/// first one decides where this fragment ends, and the first
/// [`LOOKAHEAD_FRAGMENT_COUNT`] that have the track go into `tfrf`.
///
/// The track ID is 1, the sequence number the segment's (modulo 2^32). Errors when the
/// segment has no samples of that kind, a payload was not loaded, a time precedes
/// 2020-01-01, or an H.264 sample is not well-formed length-prefixed NAL units. On error
/// `out` is left as it was.
pub fn write_fragment(
    segment: &Segment,
    kind: TrackKind,
    bytes: &SegmentBytes,
    following: &[std::sync::Arc<Segment>],
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let track = track_samples(segment, kind).ok_or_else(|| {
        invalid(format!(
            "segment {} has no {kind:?} samples",
            segment.sequence
        ))
    })?;
    let next = following.first().map(|s| s.as_ref());
    let span = fragment_span(segment, next, kind)
        .ok_or_else(|| invalid("a time precedes the Smooth Streaming epoch (2020-01-01)"))?;
    let samples = retimed_samples(track, span)?;

    let nal_length_size = track.track.codec.nal_length_size();
    let mut payloads: Vec<Cow<'_, [u8]>> = Vec::with_capacity(samples.len());
    for s in &track.samples {
        let data = sample_data(bytes, s)?;
        payloads.push(match nal_length_size {
            Some(n) if n != 4 => Cow::Owned(four_byte_nal_lengths(data, n)?),
            _ => Cow::Borrowed(data),
        });
    }
    let samples: Vec<FragmentSample> = samples
        .into_iter()
        .zip(&payloads)
        .map(|(s, p)| {
            Ok(FragmentSample {
                size: u32::try_from(p.len()).map_err(|_| invalid("sample over 4 GiB"))?,
                ..s
            })
        })
        .collect::<Result<_, MediaError>>()?;

    let mut boxes = Vec::with_capacity(44 + 29 + 16 * LOOKAHEAD_FRAGMENT_COUNT);
    write_tfxd(span, &mut boxes);
    write_tfrf(&lookahead(following, kind), &mut boxes);
    let options = FragmentOptions {
        tfdt: false,
        styp: false,
        extra_traf_boxes: &boxes,
    };
    fmp4::write_fragment_with(
        TRACK_ID,
        segment.sequence as u32,
        span.start,
        &samples,
        &mut payloads.iter().map(|p| p.as_ref()),
        &options,
        out,
    )
}

/// The `trun` view of a track's samples on the Smooth clock (sizes left at 0): decode times
/// are the first sample's plus the stored durations, each rescaled, and the last sample runs
/// to the end of `span`; composition offsets are differences of rescaled presentation and
/// decode times.
fn retimed_samples(track: &TrackSamples, span: Span) -> Result<Vec<FragmentSample>, MediaError> {
    let timescale = track.timescale();
    let epoch_error = || invalid("a time precedes the Smooth Streaming epoch (2020-01-01)");
    let n = track.samples.len();
    let mut out = Vec::with_capacity(n);
    let mut dts = track.samples.first().map_or(0, |s| s.dts);
    let mut start = span.start;
    for (i, s) in track.samples.iter().enumerate() {
        let next_dts = dts
            .checked_add(i64::from(s.duration))
            .ok_or_else(|| invalid("decode time overflows"))?;
        let end = if i + 1 == n {
            span.end
        } else {
            to_mss_time(next_dts, timescale).ok_or_else(epoch_error)?
        };
        let pts = dts
            .checked_add(i64::from(s.composition_offset))
            .and_then(|pts| to_mss_time(pts, timescale))
            .ok_or_else(epoch_error)?;
        let duration = end
            .checked_sub(start)
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| invalid(format!("sample {i}: duration out of range")))?;
        let composition_offset = i32::try_from(i128::from(pts) - i128::from(start))
            .map_err(|_| invalid(format!("sample {i}: composition offset out of range")))?;
        out.push(FragmentSample {
            duration,
            size: 0,
            keyframe: s.keyframe,
            composition_offset,
        });
        dts = next_dts;
        start = end;
    }
    Ok(out)
}

/// Where the first [`LOOKAHEAD_FRAGMENT_COUNT`] following fragments of `kind` lie.
fn lookahead(following: &[std::sync::Arc<Segment>], kind: TrackKind) -> Vec<Span> {
    following
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let next = following.get(i + 1).map(|n| n.as_ref());
            fragment_span(s, next, kind)
        })
        .take(LOOKAHEAD_FRAGMENT_COUNT)
        .collect()
}

/// Appends a `tfxd` box, version 1: the fragment's absolute time and duration.
fn write_tfxd(span: Span, out: &mut Vec<u8>) {
    out.extend_from_slice(&44u32.to_be_bytes());
    out.extend_from_slice(b"uuid");
    out.extend_from_slice(&TFXD_UUID);
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.extend_from_slice(&span.start.to_be_bytes());
    out.extend_from_slice(&span.duration().to_be_bytes());
}

/// Appends a `tfrf` box, version 1: the count, then each fragment's absolute time and
/// duration. At most [`LOOKAHEAD_FRAGMENT_COUNT`] entries are given.
fn write_tfrf(entries: &[Span], out: &mut Vec<u8>) {
    let count = entries.len().min(LOOKAHEAD_FRAGMENT_COUNT);
    let size = 29 + 16 * count;
    out.extend_from_slice(&(size as u32).to_be_bytes());
    out.extend_from_slice(b"uuid");
    out.extend_from_slice(&TFRF_UUID);
    out.extend_from_slice(&[1, 0, 0, 0]);
    out.push(count as u8);
    for e in &entries[..count] {
        out.extend_from_slice(&e.start.to_be_bytes());
        out.extend_from_slice(&e.duration().to_be_bytes());
    }
}

/// An access unit's NAL units re-prefixed with 4-byte lengths (what Smooth clients assume,
/// since CodecPrivateData cannot say otherwise).
fn four_byte_nal_lengths(data: &[u8], nal_length_size: u8) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in media::codec::avc::nal_units(data, nal_length_size) {
        let nal = nal?;
        let len = u32::try_from(nal.len()).map_err(|_| invalid("NAL unit over 4 GiB"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(nal);
    }
    Ok(out)
}
