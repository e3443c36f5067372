//! MPEG-TS demuxer: a transport stream, pushed in chunks of any size, to tracks and frames.
//!
//! It reads the PAT and the PMT of the first program and takes the first H.264
//! (stream_type 0x1B) or H.265 (0x24) and the first ADTS AAC (0x0F) elementary stream. It
//! outputs what [`crate::flv::FlvDemuxer`] outputs: a [`TrackInfo`] whenever a configuration
//! is first seen or changes, then [`Frame`]s as length-prefixed NAL units (4-byte lengths,
//! without parameter sets and access unit delimiters) and raw AAC frames (ADTS headers
//! removed). Times are on the 90 kHz
//! clock, extended past the 33-bit wrap on one timeline for the whole program.
//!
//! Damage does not stop the demuxer: lost sync, continuity-counter gaps, oversized or
//! malformed PES packets and unsupported streams come out as
//! [`TsEvent::Error`] and the stream goes on; the damaged PES is dropped whole. Every internal
//! buffer is bounded. Nothing here does I/O or reads the clock.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::aac::{adts_header_len, ADTS_MAX_FRAME_LEN};
use crate::codec::{hevc, AacConfig, AvcConfig, CodecConfig, HevcConfig, TrackInfo};
use crate::error::MediaError;
use crate::frame::{Frame, TrackKind};
use crate::time::{MediaTime, Timescale};

use super::pes::{decode_timestamp, TIMESTAMP_MODULUS};
use super::psi::{crc32_mpeg2, STREAM_TYPE_ADTS_AAC, STREAM_TYPE_H264, STREAM_TYPE_H265};
use super::PACKET_SIZE;

/// A video PES larger than this is dropped ([`TsError::PesTooLarge`]).
pub const MAX_VIDEO_PES: usize = 8 << 20;
/// An audio PES larger than this is dropped ([`TsError::PesTooLarge`]).
pub const MAX_AUDIO_PES: usize = 64 << 10;

const SYNC_BYTE: u8 = 0x47;
const PAT_PID: u16 = 0;
const NULL_PID: u16 = 0x1FFF;
/// Longest PSI section kept (a PAT or PMT section is at most 1024 bytes).
const MAX_SECTION: usize = 4096;
/// Unsupported streams reported at most once each; this bounds the list of those reported.
const MAX_REPORTED: usize = 64;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// What the demuxer made of the bytes pushed so far.
#[derive(Clone, Debug, PartialEq)]
pub enum TsEvent {
    /// A new or changed codec configuration; frames of that kind after it use it.
    Track(TrackInfo),
    Frame(Frame),
    /// Something was skipped or dropped; the demuxer goes on.
    Error(TsError),
}

/// A problem in the transport stream, with the PID and stream byte offset to find it by.
/// None of them is fatal to the demuxer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    /// Bytes that were not packets were skipped until two sync bytes 188 bytes apart.
    #[error("MPEG-TS: lost sync at byte {offset}, skipped {skipped} bytes")]
    SyncLost { offset: u64, skipped: u64 },
    /// A packet flagged transport_error_indicator; the PES it belongs to is dropped.
    #[error("MPEG-TS PID {pid:#x}: transport_error_indicator set in the packet at byte {offset}")]
    TransportError { pid: u16, offset: u64 },
    /// A packet of the PID went missing; the PES it belonged to is dropped.
    #[error(
        "MPEG-TS PID {pid:#x}: continuity counter {found} where {expected} was due \
         (packet at byte {offset}); PES dropped"
    )]
    ContinuityGap {
        pid: u16,
        offset: u64,
        expected: u8,
        found: u8,
    },
    /// Scrambled packets cannot be read; their PES are dropped.
    #[error("MPEG-TS PID {pid:#x}: scrambled packet at byte {offset}")]
    Scrambled { pid: u16, offset: u64 },
    /// A PES grew beyond [`MAX_VIDEO_PES`] or [`MAX_AUDIO_PES`] and was dropped.
    #[error("MPEG-TS PID {pid:#x}: PES starting at byte {offset} exceeds {limit} bytes; dropped")]
    PesTooLarge { pid: u16, offset: u64, limit: usize },
    /// A PES header, PSI section or elementary stream structure is malformed.
    #[error("MPEG-TS PID {pid:#x}: invalid {what} at byte {offset}: {reason}")]
    Invalid {
        pid: u16,
        offset: u64,
        what: &'static str,
        reason: String,
    },
    /// The PMT lists a stream Headwater does not demux (H.265, MPEG audio, AC-3, ...).
    #[error("MPEG-TS PID {pid:#x}: stream_type {stream_type:#04x} ({name}) is not supported")]
    UnsupportedStream {
        pid: u16,
        stream_type: u8,
        name: &'static str,
    },
    /// The codec layer rejected what the stream carries (an SPS, an ADTS header).
    #[error("MPEG-TS PID {pid:#x}: {source} (PES at byte {offset})")]
    Codec {
        pid: u16,
        offset: u64,
        source: MediaError,
    },
}

/// Counters of what the demuxer has seen, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TsDemuxStats {
    /// Packets read (every PID).
    pub packets: u64,
    /// Bytes skipped outside packets while looking for sync.
    pub skipped_bytes: u64,
    /// Continuity-counter gaps on the elementary PIDs.
    pub continuity_errors: u64,
    /// PES packets dropped: damaged, oversized, malformed or scrambled.
    pub dropped_pes: u64,
    /// Frames dropped because they came before their track's configuration or without a time.
    pub dropped_frames: u64,
}

/// Turns an MPEG-TS byte stream into tracks and frames; see the [module docs](self).
#[derive(Debug)]
pub struct TsDemuxer {
    /// Bytes pushed but not yet read as packets: less than two packets between pushes.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    /// Packets follow each other every 188 bytes.
    locked: bool,
    /// Where skipping started and how much, while looking for sync.
    skipping: Option<(u64, u64)>,
    pat: SectionReader,
    pmt_pid: Option<u16>,
    pmt: SectionReader,
    /// CRC of the PMT section in force, to skip its repetitions.
    pmt_crc: Option<u32>,
    reported: Vec<(u16, u8)>,
    video: Option<PesStream>,
    audio: Option<PesStream>,
    clock: Wrapping33Extender,
    vcodec: VideoState,
    aac: AacState,
    stats: TsDemuxStats,
}

impl Default for TsDemuxer {
    fn default() -> Self {
        Self::new()
    }
}

impl TsDemuxer {
    pub fn new() -> TsDemuxer {
        TsDemuxer {
            buf: Vec::new(),
            buf_offset: 0,
            locked: false,
            skipping: None,
            pat: SectionReader::default(),
            pmt_pid: None,
            pmt: SectionReader::default(),
            pmt_crc: None,
            reported: Vec::new(),
            video: None,
            audio: None,
            clock: Wrapping33Extender::default(),
            vcodec: VideoState::default(),
            aac: AacState::default(),
            stats: TsDemuxStats::default(),
        }
    }

    /// Feeds stream bytes as they arrive, in chunks of any size (partial packets, several
    /// packets), and appends to `out` what became complete.
    ///
    /// Sync is taken on two sync bytes 188 bytes apart, so the last packet of a push may wait
    /// for the first byte of the next one until sync is established.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<TsEvent>) {
        self.buf.extend_from_slice(bytes);
        let consumed = self.read_packets(false, out);
        self.consume(consumed);
    }

    /// End of stream: reads a last packet still waiting for sync, and delivers the PES in
    /// progress of each stream. A trailing partial packet is skipped. The demuxer keeps its
    /// program and codec state, so more bytes may follow.
    pub fn finish(&mut self, out: &mut Vec<TsEvent>) {
        let consumed = self.read_packets(true, out);
        self.consume(consumed);
        let rest = self.buf.len();
        self.skip_at(0, rest);
        self.consume(rest);
        self.report_skipped(out);
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let Some(stream) = self.stream_mut(kind) else {
                continue;
            };
            let pes = stream.take_pes();
            if let Some(pes) = pes {
                self.deliver(kind, pes, out);
            }
        }
        self.aac.carry.clear();
    }

    /// What the demuxer has seen so far.
    pub fn stats(&self) -> TsDemuxStats {
        self.stats
    }

    /// The current video configuration, once the parameter sets were seen.
    pub fn video(&self) -> Option<&CodecConfig> {
        self.vcodec.config.as_ref()
    }

    /// The current audio configuration, once an ADTS header was read.
    pub fn audio(&self) -> Option<&AacConfig> {
        self.aac.config.as_ref()
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.buf_offset += n as u64;
    }

    fn report_skipped(&mut self, out: &mut Vec<TsEvent>) {
        if let Some((offset, skipped)) = self.skipping.take() {
            out.push(TsEvent::Error(TsError::SyncLost { offset, skipped }));
        }
    }

    /// Reads the whole packets in `buf` and returns how many bytes it used (packets and
    /// skipped bytes). At the end of the stream (`last`) a packet needs no sync byte after it.
    fn read_packets(&mut self, last: bool, out: &mut Vec<TsEvent>) -> usize {
        let mut pos = 0;
        loop {
            let Some(rest) = self.buf.get(pos..) else {
                return pos;
            };
            if rest.len() < PACKET_SIZE {
                return pos;
            }
            if !(self.locked && rest.first() == Some(&SYNC_BYTE)) {
                self.locked = false;
                match find_sync(rest, last) {
                    Sync::Found(at) => {
                        self.skip_at(pos, at);
                        pos += at;
                        self.locked = true;
                        self.report_skipped(out);
                    }
                    Sync::Wait(at) => {
                        self.skip_at(pos, at);
                        return pos + at;
                    }
                }
            }
            let Some(packet) = self
                .buf
                .get(pos..pos + PACKET_SIZE)
                .and_then(|p| <[u8; PACKET_SIZE]>::try_from(p).ok())
            else {
                return pos;
            };
            let offset = self.buf_offset + pos as u64;
            pos += PACKET_SIZE;
            self.read_packet(&packet, offset, out);
        }
    }

    /// Counts `n` bytes skipped at `buf[pos..]`.
    fn skip_at(&mut self, pos: usize, n: usize) {
        if n > 0 {
            self.stats.skipped_bytes += n as u64;
            let start = self.buf_offset + pos as u64;
            let (_, skipped) = self.skipping.get_or_insert((start, 0));
            *skipped += n as u64;
        }
    }

    fn read_packet(&mut self, p: &[u8; PACKET_SIZE], offset: u64, out: &mut Vec<TsEvent>) {
        self.stats.packets += 1;
        let pid = u16::from_be_bytes([p[1], p[2]]) & 0x1FFF;
        if pid == NULL_PID {
            return;
        }
        let kind = self.kind_of(pid);
        let transport_error = p[1] & 0x80 != 0;
        let unit_start = p[1] & 0x40 != 0;
        let scrambled = p[3] >> 6 != 0;
        let control = (p[3] >> 4) & 3;
        let cc = p[3] & 0x0F;

        if transport_error {
            if let Some(kind) = kind {
                self.drop_pes(kind);
                out.push(TsEvent::Error(TsError::TransportError { pid, offset }));
            }
            return;
        }
        let mut payload_at = 4;
        let mut discontinuity = false;
        if control & 2 != 0 {
            let af_len = usize::from(p[4]);
            // With a payload the field leaves at least one byte for it; without, it fills the packet.
            let max = if control & 1 != 0 { 182 } else { 183 };
            if af_len > max {
                if let Some(kind) = kind {
                    self.drop_pes(kind);
                    out.push(invalid(
                        pid,
                        offset + 4,
                        "adaptation field",
                        format!("length {af_len} overruns the packet"),
                    ));
                }
                return;
            }
            discontinuity = af_len > 0 && p[5] & 0x80 != 0;
            payload_at = 5 + af_len;
        }
        let payload: &[u8] = if control & 1 != 0 {
            p.get(payload_at..).unwrap_or_default()
        } else {
            &[]
        };

        match kind {
            Some(kind) => {
                let Some(stream) = self.stream_mut(kind) else {
                    return;
                };
                if scrambled {
                    let was = stream.scrambled;
                    stream.scrambled = true;
                    self.drop_pes(kind);
                    if !was {
                        out.push(TsEvent::Error(TsError::Scrambled { pid, offset }));
                    }
                    return;
                }
                stream.scrambled = false;
                match stream.cc.check(cc, !payload.is_empty(), discontinuity) {
                    Continuity::Next => {}
                    Continuity::Duplicate => return,
                    Continuity::Gap { expected } => {
                        self.stats.continuity_errors += 1;
                        self.drop_pes(kind);
                        self.aac_gap(kind);
                        out.push(TsEvent::Error(TsError::ContinuityGap {
                            pid,
                            offset,
                            expected,
                            found: cc,
                        }));
                    }
                }
                if !payload.is_empty() {
                    self.es_payload(kind, unit_start, payload, offset, out);
                }
            }
            None if scrambled => {}
            None if pid == PAT_PID => {
                for section in self.pat.push(cc, unit_start, discontinuity, payload) {
                    self.read_pat(&section, offset, out);
                }
            }
            None if Some(pid) == self.pmt_pid => {
                for section in self.pmt.push(cc, unit_start, discontinuity, payload) {
                    self.read_pmt(pid, &section, offset, out);
                }
            }
            None => {}
        }
    }

    fn kind_of(&self, pid: u16) -> Option<TrackKind> {
        if self.video.as_ref().is_some_and(|s| s.pid == pid) {
            Some(TrackKind::Video)
        } else if self.audio.as_ref().is_some_and(|s| s.pid == pid) {
            Some(TrackKind::Audio)
        } else {
            None
        }
    }

    fn stream_mut(&mut self, kind: TrackKind) -> Option<&mut PesStream> {
        match kind {
            TrackKind::Video => self.video.as_mut(),
            TrackKind::Audio => self.audio.as_mut(),
        }
    }

    /// Drops the PES in progress of `kind`, counting it, and waits for the next unit start.
    fn drop_pes(&mut self, kind: TrackKind) {
        if let Some(stream) = self.stream_mut(kind) {
            if stream.pes.take().is_some() {
                self.stats.dropped_pes += 1;
            }
        }
    }

    /// A lost packet may have held the rest of a carried ADTS frame: forget it.
    fn aac_gap(&mut self, kind: TrackKind) {
        if kind == TrackKind::Audio {
            self.aac.carry.clear();
        }
    }

    fn es_payload(
        &mut self,
        kind: TrackKind,
        unit_start: bool,
        payload: &[u8],
        offset: u64,
        out: &mut Vec<TsEvent>,
    ) {
        let Some(stream) = self.stream_mut(kind) else {
            return;
        };
        let pid = stream.pid;
        let limit = stream.limit;
        if unit_start {
            let previous = stream.take_pes();
            stream.pes = Some(PesBuffer {
                bytes: Vec::new(),
                offset,
            });
            if let Some(pes) = previous {
                self.deliver(kind, pes, out);
            }
        }
        let Some(stream) = self.stream_mut(kind) else {
            return;
        };
        let Some(pes) = stream.pes.as_mut() else {
            return; // joined mid-PES, or after damage: wait for a unit start
        };
        if pes.bytes.len() + payload.len() > limit {
            let start = pes.offset;
            stream.pes = None;
            self.stats.dropped_pes += 1;
            out.push(TsEvent::Error(TsError::PesTooLarge {
                pid,
                offset: start,
                limit,
            }));
            return;
        }
        pes.bytes.extend_from_slice(payload);
        // A PES with a length is complete as soon as it is all there.
        if let Some(len) = pes.declared_len() {
            if pes.bytes.len() >= len {
                pes.bytes.truncate(len);
                if let Some(pes) = stream.pes.take() {
                    self.deliver(kind, pes, out);
                }
            }
        }
    }

    /// Parses a complete PES and hands its payload to the codec.
    fn deliver(&mut self, kind: TrackKind, pes: PesBuffer, out: &mut Vec<TsEvent>) {
        let pid = self.stream_mut(kind).map_or(0, |s| s.pid);
        let parsed = match parse_pes(&pes.bytes) {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.stats.dropped_pes += 1;
                out.push(invalid(pid, pes.offset, "PES packet", reason));
                return;
            }
        };
        let dts = parsed.dts.or(parsed.pts).map(|t| self.clock.extend(t));
        let pts = parsed.pts.map(|t| self.clock.extend(t));
        let payload = pes.bytes.get(parsed.payload.clone()).unwrap_or_default();
        match kind {
            TrackKind::Video => self.video_pes(pid, pes.offset, payload, dts, pts, out),
            TrackKind::Audio => self.audio_pes(pid, pes.offset, payload, pts, out),
        }
    }

    /// One H.264 or H.265 access unit in Annex B form.
    fn video_pes(
        &mut self,
        pid: u16,
        offset: u64,
        payload: &[u8],
        dts: Option<i64>,
        pts: Option<i64>,
        out: &mut Vec<TsEvent>,
    ) {
        let hevc = self.vcodec.hevc;
        let mut data = BytesMut::with_capacity(payload.len() + 16);
        let mut params = ParameterSets::default();
        let mut keyframe = false;
        for nal in AnnexB::new(payload) {
            if hevc {
                match hevc::nal_type(nal) {
                    hevc::NAL_AUD => continue,
                    hevc::NAL_VPS => {
                        params.vps = params.vps.or(Some(nal));
                        continue;
                    }
                    hevc::NAL_SPS => {
                        params.sps = params.sps.or(Some(nal));
                        continue;
                    }
                    hevc::NAL_PPS => {
                        params.pps = params.pps.or(Some(nal));
                        continue;
                    }
                    t if hevc::is_irap(t) => keyframe = true,
                    _ => {}
                }
            } else {
                match nal.first().map_or(0, |h| h & 0x1F) {
                    NAL_AUD => continue,
                    NAL_SPS => {
                        params.sps = params.sps.or(Some(nal));
                        continue;
                    }
                    NAL_PPS => {
                        params.pps = params.pps.or(Some(nal));
                        continue;
                    }
                    NAL_IDR => keyframe = true,
                    _ => {}
                }
            }
            // A NAL unit within a PES capped at 8 MiB: its length fits.
            data.put_u32(nal.len() as u32);
            data.put_slice(nal);
        }
        if params.any() {
            self.update_video(pid, offset, params, out);
        }
        if data.is_empty() {
            return;
        }
        let (Some(dts), Some(pts)) = (dts, pts) else {
            self.stats.dropped_frames += 1;
            out.push(invalid(pid, offset, "PES packet", "video PES without PTS"));
            return;
        };
        if self.vcodec.config.is_none() {
            self.stats.dropped_frames += 1;
            return;
        }
        out.push(TsEvent::Frame(Frame {
            kind: TrackKind::Video,
            dts: MediaTime::new(dts, Timescale::MPEG),
            pts: MediaTime::new(pts, Timescale::MPEG),
            keyframe,
            data: data.freeze(),
        }));
    }

    /// Takes new parameter sets; emits a track when they make a new configuration.
    fn update_video(
        &mut self,
        pid: u16,
        offset: u64,
        params: ParameterSets<'_>,
        out: &mut Vec<TsEvent>,
    ) {
        let state = &mut self.vcodec;
        let mut changed = false;
        for (new, kept) in [
            (params.vps, &mut state.vps),
            (params.sps, &mut state.sps),
            (params.pps, &mut state.pps),
        ] {
            if let Some(new) = new.filter(|n| kept.as_deref() != Some(*n)) {
                *kept = Some(Bytes::copy_from_slice(new));
                changed = true;
            }
        }
        if !changed {
            return;
        }
        let built = match (state.hevc, &state.vps, &state.sps, &state.pps) {
            (false, _, Some(sps), Some(pps)) => {
                AvcConfig::build_record(sps, pps).map(TrackInfo::video)
            }
            (true, Some(vps), Some(sps), Some(pps)) => {
                HevcConfig::build_record(vps, sps, pps).map(TrackInfo::hevc)
            }
            _ => return,
        };
        match built {
            Ok(track) => {
                if state.config.as_ref().map(|c| c.record()) != Some(track.codec.record()) {
                    state.config = Some(track.codec.clone());
                    out.push(TsEvent::Track(track));
                }
            }
            Err(source) => out.push(TsEvent::Error(TsError::Codec {
                pid,
                offset,
                source,
            })),
        }
    }

    /// ADTS frames, possibly several, possibly with the start of one that ends in the next PES.
    fn audio_pes(
        &mut self,
        pid: u16,
        offset: u64,
        payload: &[u8],
        pts: Option<i64>,
        out: &mut Vec<TsEvent>,
    ) {
        let mut carry = std::mem::take(&mut self.aac.carry);
        let carried = carry.len();
        let data: &[u8] = if carried > 0 {
            carry.extend_from_slice(payload);
            &carry
        } else {
            payload
        };
        let mut pos = 0;
        let mut reset_pending = true;
        let mut reported = false;
        while let Some(rest) = data.get(pos..) {
            if rest.len() < 2 {
                break;
            }
            // The first frame that starts in this PES takes its PTS.
            if reset_pending && pos >= carried {
                reset_pending = false;
                if let Some(pts) = pts {
                    self.aac.anchor = Some((pts, 0));
                }
            }
            let header = adts_header_len(rest).and_then(|header_len| {
                if rest.len() < header_len {
                    return Ok(None);
                }
                AacConfig::from_adts(rest).map(|(config, len)| Some((config, header_len, len)))
            });
            let (config, header_len, frame_len) = match header {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(source) => {
                    if !reported {
                        reported = true;
                        out.push(TsEvent::Error(TsError::Codec {
                            pid,
                            offset,
                            source,
                        }));
                    }
                    // Look for the next syncword.
                    pos += 1 + rest
                        .get(1..)
                        .and_then(|r| r.iter().position(|&b| b == 0xFF))
                        .unwrap_or(rest.len().saturating_sub(1));
                    continue;
                }
            };
            let Some(raw) = rest.get(header_len..frame_len) else {
                break; // the frame ends in the next PES
            };
            pos += frame_len;
            if self.aac.config.as_ref().map(|c| &c.asc) != Some(&config.asc) {
                self.aac.config = Some(config.clone());
                out.push(TsEvent::Track(TrackInfo::audio(config.clone())));
            }
            let Some((base, k)) = self.aac.anchor else {
                self.stats.dropped_frames += 1;
                continue;
            };
            self.aac.anchor = Some((base, k + 1));
            if raw.is_empty() {
                continue;
            }
            let rate = i128::from(config.sample_rate.max(1));
            let elapsed = i128::from(k) * i128::from(config.samples_per_frame) * 90_000;
            let t = base.saturating_add(((elapsed + rate / 2) / rate) as i64);
            let t = MediaTime::new(t, Timescale::MPEG);
            out.push(TsEvent::Frame(Frame {
                kind: TrackKind::Audio,
                dts: t,
                pts: t,
                keyframe: true,
                data: Bytes::copy_from_slice(raw),
            }));
        }
        // Keep an incomplete frame (at most one ADTS frame long) for the next PES.
        let rest = data.get(pos..).unwrap_or_default();
        let mut next = Vec::new();
        if rest.len() < ADTS_MAX_FRAME_LEN {
            next.extend_from_slice(rest);
        }
        self.aac.carry = next;
    }

    fn read_pat(&mut self, section: &[u8], offset: u64, out: &mut Vec<TsEvent>) {
        let body = match check_section(section, 0x00) {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(reason) => {
                out.push(invalid(PAT_PID, offset, "PAT", reason));
                return;
            }
        };
        let pmt_pid = body
            .chunks_exact(4)
            .find(|e| u16::from_be_bytes([e[0], e[1]]) != 0)
            .map(|e| u16::from_be_bytes([e[2], e[3]]) & 0x1FFF);
        if pmt_pid.is_some() && pmt_pid != self.pmt_pid {
            self.pmt_pid = pmt_pid;
            self.pmt = SectionReader::default();
            self.pmt_crc = None;
        }
    }

    fn read_pmt(&mut self, pid: u16, section: &[u8], offset: u64, out: &mut Vec<TsEvent>) {
        let body = match check_section(section, 0x02) {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(reason) => {
                out.push(invalid(pid, offset, "PMT", reason));
                return;
            }
        };
        let crc = section
            .get(section.len().saturating_sub(4)..)
            .and_then(|c| <[u8; 4]>::try_from(c).ok())
            .map(u32::from_be_bytes);
        if crc.is_some() && crc == self.pmt_crc {
            return; // a repetition
        }
        // body: PCR_PID (2), program_info_length (2), descriptors, then the stream loop.
        let Some(info_len) = body
            .get(2..4)
            .map(|b| (usize::from(b[0] & 0x0F) << 8) | usize::from(b[1]))
        else {
            out.push(invalid(pid, offset, "PMT", "section too short"));
            return;
        };
        let mut entries = body.get(4 + info_len..).unwrap_or_default();
        let (mut video, mut audio) = (None::<(u16, bool)>, None);
        while let Some(entry) = entries.get(..5) {
            let stream_type = entry[0];
            let es_pid = u16::from_be_bytes([entry[1], entry[2]]) & 0x1FFF;
            let es_info_len = (usize::from(entry[3] & 0x0F) << 8) | usize::from(entry[4]);
            entries = entries.get(5 + es_info_len..).unwrap_or_default();
            match stream_type {
                STREAM_TYPE_H264 | STREAM_TYPE_H265 if video.is_none() => {
                    video = Some((es_pid, stream_type == STREAM_TYPE_H265))
                }
                STREAM_TYPE_ADTS_AAC if audio.is_none() => audio = Some(es_pid),
                STREAM_TYPE_H264 | STREAM_TYPE_H265 | STREAM_TYPE_ADTS_AAC => {}
                other => {
                    let key = (es_pid, other);
                    if !self.reported.contains(&key) && self.reported.len() < MAX_REPORTED {
                        self.reported.push(key);
                        out.push(TsEvent::Error(TsError::UnsupportedStream {
                            pid: es_pid,
                            stream_type: other,
                            name: stream_type_name(other),
                        }));
                    }
                }
            }
        }
        self.pmt_crc = crc;
        let current = self.video.as_ref().map(|s| (s.pid, self.vcodec.hevc));
        if video != current {
            self.video = video.map(|(pid, _)| PesStream::new(pid, MAX_VIDEO_PES));
            if let Some((_, hevc)) = video.filter(|&(_, hevc)| hevc != self.vcodec.hevc) {
                // Another codec: the parameter sets of the old one mean nothing now.
                self.vcodec = VideoState {
                    hevc,
                    ..VideoState::default()
                };
            }
        }
        if audio != self.audio.as_ref().map(|s| s.pid) {
            self.audio = audio.map(|pid| PesStream::new(pid, MAX_AUDIO_PES));
            self.aac.carry.clear();
        }
    }
}

fn invalid(pid: u16, offset: u64, what: &'static str, reason: impl Into<String>) -> TsEvent {
    TsEvent::Error(TsError::Invalid {
        pid,
        offset,
        what,
        reason: reason.into(),
    })
}

enum Sync {
    /// Packets start at this index.
    Found(usize),
    /// No sync confirmed yet: skip this many bytes and wait for more.
    Wait(usize),
}

/// Finds the first sync byte followed by another 188 bytes on. At the end of the stream a
/// sync byte with a whole packet after it is enough.
fn find_sync(data: &[u8], last: bool) -> Sync {
    let mut from = 0;
    while let Some(at) = data
        .get(from..)
        .and_then(|d| d.iter().position(|&b| b == SYNC_BYTE))
    {
        let i = from + at;
        match data.get(i + PACKET_SIZE) {
            Some(&SYNC_BYTE) => return Sync::Found(i),
            Some(_) => from = i + 1,
            None if last && data.len() - i >= PACKET_SIZE => return Sync::Found(i),
            None => return Sync::Wait(i),
        }
    }
    Sync::Wait(data.len())
}

/// Checks a PSI section's syntax, table id and CRC; returns the bytes between its 8-byte
/// header and its CRC, or `None` for a section that is not yet in force.
fn check_section(section: &[u8], table_id: u8) -> Result<Option<&[u8]>, String> {
    let Some(header) = section.get(..8) else {
        return Err(format!("section of {} bytes", section.len()));
    };
    if header[0] != table_id {
        return Err(format!(
            "table_id {:#04x}, expected {table_id:#04x}",
            header[0]
        ));
    }
    if header[1] & 0x80 == 0 {
        return Err("section_syntax_indicator 0".into());
    }
    if section.len() < 12 {
        return Err(format!("section of {} bytes", section.len()));
    }
    if crc32_mpeg2(section) != 0 {
        return Err("CRC mismatch".into());
    }
    if header[5] & 1 == 0 {
        return Ok(None); // current_next_indicator 0: the next table, not in force yet
    }
    Ok(section.get(8..section.len() - 4))
}

fn stream_type_name(stream_type: u8) -> &'static str {
    match stream_type {
        0x01 => "MPEG-1 video",
        0x02 => "MPEG-2 video",
        0x03 => "MPEG-1 audio",
        0x04 => "MPEG-2 audio",
        0x06 => "private PES data",
        0x0F => "AAC in ADTS",
        0x10 => "MPEG-4 visual",
        0x11 => "AAC in LATM",
        0x15 => "ID3 timed metadata",
        0x1B => "H.264",
        STREAM_TYPE_H265 => "H.265/HEVC",
        0x81 => "AC-3",
        0x87 => "E-AC-3",
        _ => "unknown",
    }
}

/// The parts of a PES header the demuxer uses.
struct ParsedPes {
    pts: Option<u64>,
    dts: Option<u64>,
    payload: std::ops::Range<usize>,
}

/// Parses a whole PES packet's header.
fn parse_pes(pes: &[u8]) -> Result<ParsedPes, String> {
    let Some(h) = pes.get(..9) else {
        return Err(format!("{} bytes, shorter than a PES header", pes.len()));
    };
    if h[..3] != [0, 0, 1] {
        return Err(format!("start code {:02x?}", &h[..3]));
    }
    // Streams without the optional header (padding, private stream 2, ECM, ...) carry no media.
    if matches!(h[3], 0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xF2 | 0xF8 | 0xFF) {
        return Err(format!("stream_id {:#04x} carries no media", h[3]));
    }
    if h[6] & 0xC0 != 0x80 {
        return Err("optional PES header not marked '10'".into());
    }
    let declared = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if declared != 0 && pes.len() < 6 + declared {
        return Err(format!(
            "PES_packet_length {declared} but only {} bytes arrived",
            pes.len() - 6
        ));
    }
    let flags = h[7] >> 6;
    let start = 9 + usize::from(h[8]);
    if start > pes.len() {
        return Err(format!("PES_header_data_length {} overruns the PES", h[8]));
    }
    let timestamp = |at: usize| -> Result<u64, String> {
        pes.get(at..at + 5)
            .filter(|_| at + 5 <= start)
            .and_then(|b| <&[u8; 5]>::try_from(b).ok())
            .map(decode_timestamp)
            .ok_or_else(|| "PTS/DTS outside the PES header".to_string())
    };
    let pts = if flags & 2 != 0 {
        Some(timestamp(9)?)
    } else {
        None
    };
    let dts = if flags == 3 {
        Some(timestamp(14)?)
    } else {
        None
    };
    Ok(ParsedPes {
        pts,
        dts,
        payload: start..pes.len(),
    })
}

/// One elementary stream's packets: continuity and the PES being collected.
#[derive(Debug)]
struct PesStream {
    pid: u16,
    limit: usize,
    cc: ContinuityCounter,
    /// `None` until a unit start (after joining, or after damage).
    pes: Option<PesBuffer>,
    scrambled: bool,
}

impl PesStream {
    fn new(pid: u16, limit: usize) -> PesStream {
        PesStream {
            pid,
            limit,
            cc: ContinuityCounter::default(),
            pes: None,
            scrambled: false,
        }
    }

    /// The PES in progress, if any bytes of it arrived.
    fn take_pes(&mut self) -> Option<PesBuffer> {
        self.pes.take().filter(|p| !p.bytes.is_empty())
    }
}

#[derive(Debug)]
struct PesBuffer {
    bytes: Vec<u8>,
    /// Stream offset of the packet that started it.
    offset: u64,
}

impl PesBuffer {
    /// The whole PES's length when PES_packet_length gives it.
    fn declared_len(&self) -> Option<usize> {
        let b = self.bytes.get(4..6)?;
        let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
        (len > 0).then_some(6 + len)
    }
}

enum Continuity {
    Next,
    /// The same counter again: a duplicate packet, to be ignored.
    Duplicate,
    Gap {
        expected: u8,
    },
}

#[derive(Debug, Default)]
struct ContinuityCounter {
    last: Option<u8>,
}

impl ContinuityCounter {
    fn check(&mut self, cc: u8, has_payload: bool, discontinuity: bool) -> Continuity {
        if !has_payload {
            return Continuity::Next; // the counter does not advance without payload
        }
        let last = self.last.replace(cc);
        match last {
            None => Continuity::Next,
            Some(_) if discontinuity => Continuity::Next,
            Some(last) if cc == last => Continuity::Duplicate,
            Some(last) if cc == (last + 1) & 0x0F => Continuity::Next,
            Some(last) => Continuity::Gap {
                expected: (last + 1) & 0x0F,
            },
        }
    }
}

/// Reassembles PSI sections of one PID.
#[derive(Debug, Default)]
struct SectionReader {
    cc: ContinuityCounter,
    buf: Vec<u8>,
    /// `buf` holds the start of a section.
    active: bool,
}

impl SectionReader {
    /// Takes one packet's payload and returns the sections it completed.
    fn push(
        &mut self,
        cc: u8,
        unit_start: bool,
        discontinuity: bool,
        payload: &[u8],
    ) -> Vec<Vec<u8>> {
        let mut done = Vec::new();
        match self.cc.check(cc, !payload.is_empty(), discontinuity) {
            Continuity::Next => {}
            Continuity::Duplicate => return done,
            Continuity::Gap { .. } => {
                self.active = false;
                self.buf.clear();
            }
        }
        let data = if unit_start {
            let Some((&pointer, rest)) = payload.split_first() else {
                return done;
            };
            let pointer = usize::from(pointer).min(rest.len());
            let (tail, head) = rest.split_at(pointer);
            if self.active {
                self.append(tail, &mut done);
            }
            self.buf.clear();
            self.active = true;
            head
        } else {
            payload
        };
        if self.active {
            self.append(data, &mut done);
        }
        done
    }

    fn append(&mut self, data: &[u8], done: &mut Vec<Vec<u8>>) {
        if self.buf.len() + data.len() > MAX_SECTION {
            self.active = false;
            self.buf.clear();
            return;
        }
        self.buf.extend_from_slice(data);
        loop {
            match self.buf.first() {
                None => return,
                Some(0xFF) => {
                    // Stuffing: no more sections in this unit.
                    self.active = false;
                    self.buf.clear();
                    return;
                }
                Some(_) => {}
            }
            let Some(len) = self.buf.get(1..3) else {
                return;
            };
            let total = 3 + ((usize::from(len[0] & 0x0F) << 8) | usize::from(len[1]));
            if self.buf.len() < total {
                return;
            }
            let rest = self.buf.split_off(total);
            done.push(std::mem::replace(&mut self.buf, rest));
        }
    }
}

/// Extends 33-bit 90 kHz timestamps to 64 bits, taking the candidate nearest the last value,
/// like [`crate::time::Wrapping32Extender`] does for 32-bit milliseconds.
#[derive(Clone, Copy, Debug, Default)]
struct Wrapping33Extender {
    last: Option<i64>,
}

impl Wrapping33Extender {
    fn extend(&mut self, raw: u64) -> i64 {
        let raw = (raw as i64) & (TIMESTAMP_MODULUS - 1);
        let ext = match self.last {
            None => raw,
            Some(last) => {
                let base = last.div_euclid(TIMESTAMP_MODULUS) * TIMESTAMP_MODULUS;
                [
                    base - TIMESTAMP_MODULUS,
                    base,
                    base.saturating_add(TIMESTAMP_MODULUS),
                ]
                .into_iter()
                .map(|c| c.saturating_add(raw))
                .min_by_key(|v| v.abs_diff(last))
                .unwrap_or(raw)
            }
        };
        self.last = Some(ext);
        ext
    }
}

#[derive(Debug, Default)]
struct VideoState {
    /// The stream is H.265 (stream_type 0x24), not H.264.
    hevc: bool,
    config: Option<CodecConfig>,
    /// The last parameter sets seen, whether or not they made a valid configuration.
    vps: Option<Bytes>,
    sps: Option<Bytes>,
    pps: Option<Bytes>,
}

/// Parameter sets found in one access unit (the first of each kind).
#[derive(Debug, Default)]
struct ParameterSets<'a> {
    vps: Option<&'a [u8]>,
    sps: Option<&'a [u8]>,
    pps: Option<&'a [u8]>,
}

impl ParameterSets<'_> {
    fn any(&self) -> bool {
        self.vps.is_some() || self.sps.is_some() || self.pps.is_some()
    }
}

#[derive(Debug, Default)]
struct AacState {
    config: Option<AacConfig>,
    /// The start of an ADTS frame that continues in the next PES.
    carry: Vec<u8>,
    /// The PTS of the last PES and how many frames followed it.
    anchor: Option<(i64, u64)>,
}

/// The NAL units of an Annex B byte stream (3- and 4-byte start codes), without trailing
/// zero bytes; bytes before the first start code and empty NAL units are skipped.
#[derive(Debug)]
struct AnnexB<'a> {
    data: &'a [u8],
    /// Start of the next NAL unit, after its start code; `None` before the first one is found.
    pos: Option<usize>,
}

impl<'a> AnnexB<'a> {
    fn new(data: &'a [u8]) -> AnnexB<'a> {
        AnnexB { data, pos: None }
    }
}

/// Index of the next `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(window) = data.get(i..i + 3) {
        match window[2] {
            1 if window[0] == 0 && window[1] == 0 => return Some(i),
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

impl<'a> Iterator for AnnexB<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let start = match self.pos {
                Some(start) => start,
                None => find_start_code(self.data, 0)? + 3,
            };
            if start >= self.data.len() {
                self.pos = Some(start);
                return None;
            }
            let end = find_start_code(self.data, start);
            self.pos = Some(end.map_or(self.data.len(), |e| e + 3));
            let mut nal = self
                .data
                .get(start..end.unwrap_or(self.data.len()))
                .unwrap_or_default();
            while let Some((&0, rest)) = nal.split_last() {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
            end?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_splits_3_and_4_byte_start_codes() {
        let data = [
            0xAA, 0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0,
            0, 1, 0x65, 0, 0, 3, 1, 0, 0,
        ];
        let nals: Vec<&[u8]> = AnnexB::new(&data).collect();
        assert_eq!(
            nals,
            vec![
                &[0x09, 0xF0][..],
                &[0x67, 1, 2],
                &[0x68, 3],
                &[0x65, 0, 0, 3, 1]
            ]
        );
        assert_eq!(AnnexB::new(&[0, 0, 1]).count(), 0);
        assert_eq!(AnnexB::new(&[1, 2, 3]).count(), 0);
        assert_eq!(AnnexB::new(&[]).count(), 0);
    }

    #[test]
    fn timestamps_extend_across_the_33_bit_wrap() {
        let m = TIMESTAMP_MODULUS as u64;
        let mut e = Wrapping33Extender::default();
        assert_eq!(e.extend(m - 3600), (m - 3600) as i64);
        assert_eq!(e.extend(100), (m + 100) as i64);
        // A B-frame's PTS before the wrap after a DTS past it.
        assert_eq!(e.extend(m - 1800), (m - 1800) as i64);
        assert_eq!(e.extend(7300), (m + 7300) as i64);
        assert_eq!(e.extend(m - 10), (m - 10) as i64);
        assert_eq!(e.extend(m + 5), (m + 5) as i64, "high bits ignored");
        let mut f = Wrapping33Extender::default();
        assert_eq!(f.extend(1000), 1000);
        assert_eq!(f.extend(m - 1000), -1000, "a step back over zero");
    }

    #[test]
    fn continuity_counter() {
        let mut c = ContinuityCounter::default();
        assert!(matches!(c.check(14, true, false), Continuity::Next));
        assert!(matches!(c.check(15, true, false), Continuity::Next));
        assert!(matches!(c.check(0, true, false), Continuity::Next));
        assert!(matches!(c.check(0, true, false), Continuity::Duplicate));
        assert!(matches!(c.check(5, false, false), Continuity::Next));
        assert!(matches!(
            c.check(2, true, false),
            Continuity::Gap { expected: 1 }
        ));
        assert!(matches!(c.check(9, true, true), Continuity::Next));
        assert!(matches!(c.check(10, true, false), Continuity::Next));
    }

    #[test]
    fn sync_needs_two_sync_bytes() {
        let mut data = vec![0u8; 3 * PACKET_SIZE];
        data[5] = SYNC_BYTE;
        data[10] = SYNC_BYTE;
        data[10 + PACKET_SIZE] = SYNC_BYTE;
        assert!(matches!(find_sync(&data, false), Sync::Found(10)));
        let short = &data[..10 + PACKET_SIZE];
        assert!(matches!(find_sync(short, false), Sync::Wait(10)));
        assert!(matches!(find_sync(&[1, 2, 3], false), Sync::Wait(3)));
    }
}
