//! Reading a segment back: packet counts per PID and where each PES starts.
//!
//! Small by design: enough for tests elsewhere to assert what a segment holds (that it
//! starts with an IDR, which timestamps it carries), not a demuxer.

use crate::error::MediaError;

use super::pes::decode_timestamp;
use super::PACKET_SIZE;

/// What [`inspect`] found in a segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TsSummary {
    /// Packets per PID, in the order the PIDs first appear.
    pub pids: Vec<PidPackets>,
    /// Every PES start, in segment order.
    pub pes: Vec<PesStart>,
}

impl TsSummary {
    /// Packets seen on `pid`.
    pub fn packets(&self, pid: u16) -> usize {
        self.pids
            .iter()
            .find(|p| p.pid == pid)
            .map_or(0, |p| p.packets)
    }
}

/// The number of packets on one PID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidPackets {
    pub pid: u16,
    pub packets: usize,
}

/// The start of one PES: its PID, timestamps (33-bit, as written) and whether its first
/// packet has random_access_indicator set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PesStart {
    pub pid: u16,
    pub stream_id: u8,
    pub pts: Option<u64>,
    /// Only when written, that is when it differs from the PTS.
    pub dts: Option<u64>,
    pub random_access: bool,
}

impl PesStart {
    /// The decode time: the DTS, or the PTS when no DTS was written.
    pub fn decode_time(&self) -> Option<u64> {
        self.dts.or(self.pts)
    }
}

/// Summarizes a segment of whole 188-byte packets.
pub fn inspect(segment: &[u8]) -> Result<TsSummary, MediaError> {
    if !segment.len().is_multiple_of(PACKET_SIZE) {
        return Err(MediaError::Invalid {
            what: "MPEG-TS segment",
            offset: segment.len() - segment.len() % PACKET_SIZE,
            reason: format!("{} bytes is not a whole number of packets", segment.len()),
        });
    }
    let mut summary = TsSummary::default();
    for (n, packet) in segment.chunks_exact(PACKET_SIZE).enumerate() {
        let offset = n * PACKET_SIZE;
        let invalid = |at: usize, reason: &str| MediaError::Invalid {
            what: "MPEG-TS packet",
            offset: offset + at,
            reason: reason.to_owned(),
        };
        if packet[0] != 0x47 {
            return Err(invalid(0, "no sync byte"));
        }
        let pid = u16::from_be_bytes([packet[1], packet[2]]) & 0x1FFF;
        let unit_start = packet[1] & 0x40 != 0;
        let control = (packet[3] >> 4) & 3;
        match summary.pids.iter_mut().find(|p| p.pid == pid) {
            Some(p) => p.packets += 1,
            None => summary.pids.push(PidPackets { pid, packets: 1 }),
        }

        let (random_access, payload_at) = if control & 2 != 0 {
            let af_len = usize::from(packet[4]);
            if 5 + af_len > PACKET_SIZE {
                return Err(invalid(4, "adaptation field overruns the packet"));
            }
            (af_len > 0 && packet[5] & 0x40 != 0, 5 + af_len)
        } else {
            (false, 4)
        };
        let payload = if control & 1 != 0 {
            &packet[payload_at..]
        } else {
            &[]
        };
        if !unit_start || !payload.starts_with(&[0, 0, 1]) {
            continue; // a PES continuation, or a section (pointer_field, table_id, 0xB_)
        }
        let mut pes = PesStart {
            pid,
            stream_id: payload.get(3).copied().unwrap_or_default(),
            pts: None,
            dts: None,
            random_access,
        };
        // The optional PES header, when present, is marked '10'.
        if payload.len() >= 9 && payload[6] & 0xC0 == 0x80 {
            let flags = payload[7] >> 6;
            let field = |at: usize| -> Result<u64, MediaError> {
                payload
                    .get(at..at + 5)
                    .and_then(|b| b.try_into().ok())
                    .map(decode_timestamp)
                    .ok_or_else(|| invalid(payload_at + at, "PES header split over packets"))
            };
            if flags & 2 != 0 {
                pes.pts = Some(field(9)?);
            }
            if flags == 3 {
                pes.dts = Some(field(14)?);
            }
        }
        summary.pes.push(pes);
    }
    Ok(summary)
}
