//! MPEG-TS segment muxer for HLS: one call writes one complete, self-contained segment.
//!
//! A segment is a PAT, a PMT, then the samples in the order given: one PES per H.264 or
//! H.265 access unit (converted from length-prefixed NAL units to Annex B, with an access
//! unit delimiter, and with the parameter sets in front of every keyframe) and one PES per run of up to five consecutive AAC frames (each
//! behind its own ADTS header). Every packet is exactly 188 bytes; a PES that does not fill
//! its last packet is padded with adaptation-field stuffing, never with bytes in the payload.
//!
//! # Stateless continuity counters
//!
//! The bytes of a segment depend only on the arguments of [`write_segment`], so a segment
//! can be regenerated, cached or served from any replica and is always identical:
//!
//! - PAT and PMT are written once per segment with continuity counter `sequence % 16`, so
//!   they count on without a gap from one segment to the next.
//! - Each elementary PID starts at continuity counter 0 in every segment, and its first
//!   packet carries an adaptation field with `discontinuity_indicator = 1`. That tells
//!   demuxers (ffmpeg, hls.js, set-top boxes) that the counter jump between segments is
//!   intended rather than packet loss. On the PCR PID the indicator also formally starts a
//!   new system time base; the PCR in that same packet is the first of it, and since every
//!   segment is demuxed as a unit that is what a player expects at a segment boundary anyway.
//!
//! # Clock
//!
//! Times are on the 90 kHz clock and written modulo 2^33. The PCR goes in the first packet of
//! every video PES (every audio PES when there is no video), so its interval never exceeds
//! the frame interval; it runs 0.7 s (63 000 ticks) behind the DTS, like ffmpeg's default
//! `max_delay`.
//!
//! The muxer keeps no state between calls and allocates only two small scratch vectors per
//! segment: NAL units are copied straight from the samples into the packets.
//!
//! The way back, a transport stream to tracks and frames (SRT, HLS pull), is [`TsDemuxer`].

pub mod demux;
mod es;
mod inspect;
mod packet;
mod pes;
mod psi;

#[cfg(test)]
mod tests;

use crate::codec::{AacConfig, CodecConfig};
use crate::error::MediaError;
use crate::frame::TrackKind;

pub use demux::{TsDemuxStats, TsDemuxer, TsError, TsEvent};
pub use inspect::{inspect, PesStart, PidPackets, TsSummary};

/// PID of the video (H.264 or H.265) elementary stream.
pub const VIDEO_PID: u16 = 0x100;
/// PID of the ADTS AAC elementary stream.
pub const AUDIO_PID: u16 = 0x101;
/// PID of the program map table (program 1).
pub const PMT_PID: u16 = 0x1000;

/// Bytes in every transport stream packet.
pub const PACKET_SIZE: usize = 188;

/// At most this many AAC frames share one PES.
const MAX_AUDIO_FRAMES_PER_PES: usize = 5;
/// How far the PCR runs behind the DTS of the PES that carries it (0.7 s).
const PCR_DELAY: i64 = 63_000;
const STREAM_ID_VIDEO: u8 = 0xE0;
const STREAM_ID_AUDIO: u8 = 0xC0;

/// One access unit to mux; times on the 90 kHz clock (any i64; written modulo 2^33).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsSample<'a> {
    pub kind: TrackKind,
    pub dts: i64,
    pub pts: i64,
    /// An IDR picture (ignored for audio: every AAC frame is a sync point).
    pub keyframe: bool,
    pub data: &'a [u8],
}

/// Muxes one HLS segment. `samples` are in decode order, video and audio interleaved by dts.
/// Video data is length-prefixed NAL units (H.264 or H.265, with the configuration's
/// `nal_length_size`), audio is raw AAC frames.
///
/// The segment is appended to `out`; on error `out` is left as it was.
pub fn write_segment(
    video: Option<&CodecConfig>,
    audio: Option<&AacConfig>,
    samples: &[TsSample<'_>],
    sequence: u64,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let start = out.len();
    let result = write_segment_to(video, audio, samples, sequence, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_segment_to(
    video: Option<&CodecConfig>,
    audio: Option<&AacConfig>,
    samples: &[TsSample<'_>],
    sequence: u64,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    if video.is_none() && audio.is_none() {
        return Err(MediaError::Invalid {
            what: "MPEG-TS segment",
            offset: 0,
            reason: "neither a video nor an audio track".into(),
        });
    }
    let video = video.map(es::VideoEs::new).transpose()?;
    let adts = audio.map(es::AdtsHeader::new).transpose()?;

    out.reserve(estimate_size(video.as_ref(), samples));
    let psi_cc = (sequence % 16) as u8;
    psi::write_pat(out, psi_cc);
    psi::write_pmt(
        out,
        psi_cc,
        video.as_ref().map(es::VideoEs::stream_type),
        audio.is_some(),
    );

    let mut video_pid = packet::PidWriter::new(VIDEO_PID);
    let mut audio_pid = packet::PidWriter::new(AUDIO_PID);
    let audio_carries_pcr = video.is_none();
    let mut nals = Vec::new();
    let mut parts = Vec::new();

    let mut index = 0;
    while let Some(sample) = samples.get(index) {
        match sample.kind {
            TrackKind::Video => {
                let config = video
                    .as_ref()
                    .ok_or_else(|| missing_config(index, "video", "video configuration"))?;
                let body_len = es::annexb_parts(config, sample, index, &mut nals, &mut parts)?;
                let header = pes::PesHeader::new(STREAM_ID_VIDEO, sample.pts, sample.dts, None)?;
                video_pid.write_pes(
                    out,
                    packet::PesFlags {
                        random_access: sample.keyframe,
                        pcr: Some(pcr_base(sample.dts)),
                    },
                    header.as_bytes(),
                    &parts,
                    body_len,
                );
                index += 1;
            }
            TrackKind::Audio => {
                let adts = adts
                    .as_ref()
                    .ok_or_else(|| missing_config(index, "audio", "AacConfig"))?;
                let pcr = audio_carries_pcr.then(|| pcr_base(sample.pts));
                // At least the audio sample at `index`: always progress.
                index += write_audio_pes(out, &mut audio_pid, adts, samples, index, pcr)?.max(1);
            }
        }
    }
    Ok(())
}

/// Writes the AAC frames starting at `samples[index]` (up to five, until the next video
/// sample) as one PES, and returns how many it took.
fn write_audio_pes(
    out: &mut Vec<u8>,
    pid: &mut packet::PidWriter,
    adts: &es::AdtsHeader,
    samples: &[TsSample<'_>],
    index: usize,
    pcr: Option<u64>,
) -> Result<usize, MediaError> {
    let frames = samples.get(index..).unwrap_or_default();
    let frames = &frames[..frames
        .iter()
        .take(MAX_AUDIO_FRAMES_PER_PES)
        .take_while(|s| s.kind == TrackKind::Audio)
        .count()];
    let mut headers = [[0u8; es::ADTS_HEADER_LEN]; MAX_AUDIO_FRAMES_PER_PES];
    for (k, (header, frame)) in headers.iter_mut().zip(frames).enumerate() {
        *header = adts.for_frame(frame.data.len(), index + k)?;
    }
    let mut parts: [&[u8]; 2 * MAX_AUDIO_FRAMES_PER_PES] = [&[]; 2 * MAX_AUDIO_FRAMES_PER_PES];
    let mut body_len = 0;
    for (k, (header, frame)) in headers.iter().zip(frames).enumerate() {
        parts[2 * k] = header;
        parts[2 * k + 1] = frame.data;
        body_len += header.len() + frame.data.len();
    }
    let Some(first) = frames.first() else {
        return Ok(0);
    };
    let header = pes::PesHeader::new(STREAM_ID_AUDIO, first.pts, first.pts, Some(body_len))?;
    pid.write_pes(
        out,
        packet::PesFlags {
            // Every AAC frame is a sync point.
            random_access: true,
            pcr,
        },
        header.as_bytes(),
        &parts[..2 * frames.len()],
        body_len,
    );
    Ok(frames.len())
}

/// The PCR base for a PES decoded at `dts`.
fn pcr_base(dts: i64) -> u64 {
    pes::ts33(dts.wrapping_sub(PCR_DELAY))
}

fn missing_config(index: usize, kind: &str, config: &str) -> MediaError {
    MediaError::Invalid {
        what: "MPEG-TS sample",
        offset: 0,
        reason: format!("sample {index} is {kind} but the segment has no {config}"),
    }
}

/// Bytes the segment will take, give or take a few packets, so `out` grows once.
fn estimate_size(video: Option<&es::VideoEs<'_>>, samples: &[TsSample<'_>]) -> usize {
    let params: usize = video.map_or(0, es::VideoEs::params_len);
    let payload: usize = samples
        .iter()
        .map(|s| {
            s.data.len()
                + 40
                + if s.kind == TrackKind::Video && s.keyframe {
                    params
                } else {
                    0
                }
        })
        .sum();
    (payload / 176 + samples.len() + 2) * PACKET_SIZE
}
