//! Transport stream packets: splitting one PES over 188-byte packets of one PID.

use super::PACKET_SIZE;

const SYNC_BYTE: u8 = 0x47;
/// Payload bytes of a packet without adaptation field.
const MAX_PAYLOAD: usize = PACKET_SIZE - 4;

const AF_DISCONTINUITY: u8 = 0x80;
const AF_RANDOM_ACCESS: u8 = 0x40;
const AF_PCR: u8 = 0x10;

/// What the first packet of a PES announces in its adaptation field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PesFlags {
    /// Set random_access_indicator: decoding can start here.
    pub(crate) random_access: bool,
    /// A PCR base (33 bits, extension 0) to carry.
    pub(crate) pcr: Option<u64>,
}

/// One elementary PID's packets within a segment: its continuity counter, starting at 0,
/// and whether its first packet (which gets `discontinuity_indicator`) is written yet.
#[derive(Debug)]
pub(crate) struct PidWriter {
    pid: u16,
    cc: u8,
    started: bool,
}

impl PidWriter {
    pub(crate) fn new(pid: u16) -> PidWriter {
        PidWriter {
            pid,
            cc: 0,
            started: false,
        }
    }

    /// Writes a PES made of `header` then the concatenation of `body` (`body_len` bytes in
    /// all) as whole packets. The last packet is filled up with adaptation-field stuffing.
    pub(crate) fn write_pes(
        &mut self,
        out: &mut Vec<u8>,
        flags: PesFlags,
        header: &[u8],
        body: &[&[u8]],
        body_len: usize,
    ) {
        let mut payload = Payload::new(header, body);
        let mut remaining = header.len() + body_len;
        let mut first = true;
        while remaining > 0 {
            let mut af_flags = 0;
            if first {
                if !self.started {
                    af_flags |= AF_DISCONTINUITY;
                }
                if flags.random_access {
                    af_flags |= AF_RANDOM_ACCESS;
                }
                if flags.pcr.is_some() {
                    af_flags |= AF_PCR;
                }
            }
            let pcr = if first { flags.pcr } else { None };
            let take = write_packet_header(out, self.pid, first, self.cc, af_flags, pcr, remaining);
            payload.copy_to(out, take);
            remaining -= take;
            self.cc = (self.cc + 1) & 0x0F;
            first = false;
        }
        self.started = true;
    }
}

/// Writes a packet's 4-byte header and adaptation field for a PES with `remaining` bytes
/// left, and returns how many of them fit in the packet's payload.
///
/// The adaptation field carries `af_flags` (and `pcr` when given), and is stretched with
/// stuffing when `remaining` does not fill the packet.
fn write_packet_header(
    out: &mut Vec<u8>,
    pid: u16,
    unit_start: bool,
    cc: u8,
    af_flags: u8,
    pcr: Option<u64>,
    remaining: usize,
) -> usize {
    // Adaptation field bytes after its length byte that must be there: flags, PCR.
    let af_content = match (af_flags, pcr) {
        (0, None) => 0,
        (_, None) => 1,
        (_, Some(_)) => 7,
    };
    let room = if af_content == 0 {
        MAX_PAYLOAD
    } else {
        MAX_PAYLOAD - 1 - af_content
    };
    let take = remaining.min(room);
    // Whole adaptation field, length byte included; 0 means none.
    let af_len = MAX_PAYLOAD - take;

    let pusi = if unit_start { 0x40 } else { 0 };
    let afc = if af_len > 0 { 0x30 } else { 0x10 };
    out.extend_from_slice(&[
        SYNC_BYTE,
        pusi | ((pid >> 8) as u8 & 0x1F),
        pid as u8,
        afc | (cc & 0x0F),
    ]);
    if af_len > 0 {
        out.push((af_len - 1) as u8);
        if af_len > 1 {
            out.push(af_flags);
            let mut used = 2;
            if let Some(base) = pcr {
                out.extend_from_slice(&encode_pcr(base));
                used += 6;
            }
            out.resize(out.len() + (af_len - used), 0xFF);
        }
    }
    take
}

/// A PCR with 33-bit `base` and extension 0, as written in an adaptation field.
pub(crate) fn encode_pcr(base: u64) -> [u8; 6] {
    [
        (base >> 25) as u8,
        (base >> 17) as u8,
        (base >> 9) as u8,
        (base >> 1) as u8,
        ((base as u8 & 1) << 7) | 0x7E,
        0,
    ]
}

/// The bytes of a PES, read in order from a header and a list of slices.
struct Payload<'h, 'b, 'd> {
    head: &'h [u8],
    parts: &'b [&'d [u8]],
    part: usize,
    offset: usize,
}

impl<'h, 'b, 'd> Payload<'h, 'b, 'd> {
    fn new(head: &'h [u8], parts: &'b [&'d [u8]]) -> Self {
        Payload {
            head,
            parts,
            part: 0,
            offset: 0,
        }
    }

    /// Appends the next `n` bytes to `out` (fewer if the payload ends first).
    fn copy_to(&mut self, out: &mut Vec<u8>, mut n: usize) {
        if !self.head.is_empty() {
            let take = n.min(self.head.len());
            out.extend_from_slice(&self.head[..take]);
            self.head = &self.head[take..];
            n -= take;
        }
        while n > 0 {
            let Some(part) = self.parts.get(self.part) else {
                return;
            };
            let rest = part.get(self.offset..).unwrap_or_default();
            let take = n.min(rest.len());
            out.extend_from_slice(&rest[..take]);
            n -= take;
            self.offset += take;
            if self.offset >= part.len() {
                self.part += 1;
                self.offset = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits packets and checks their framing; returns the adaptation field (after its
    /// length byte; `None` when absent) and the payload of each.
    fn split(out: &[u8], pid: u16) -> Vec<(Option<&[u8]>, &[u8])> {
        assert_eq!(out.len() % PACKET_SIZE, 0);
        out.chunks(PACKET_SIZE)
            .map(|p| {
                assert_eq!(p[0], SYNC_BYTE);
                assert_eq!(u16::from_be_bytes([p[1], p[2]]) & 0x1FFF, pid);
                let afc = (p[3] >> 4) & 3;
                assert!(afc == 1 || afc == 3, "payload always present");
                if afc == 3 {
                    let len = usize::from(p[4]);
                    assert!(len <= 182, "room for at least one payload byte");
                    (Some(&p[5..5 + len]), &p[5 + len..])
                } else {
                    (None, &p[4..])
                }
            })
            .collect()
    }

    #[test]
    fn stuffing_fills_last_packet_for_every_length() {
        let data: Vec<u8> = (0..400u32).map(|i| (i % 251) as u8).collect();
        let pcr_base = 0x1_2345_6789u64;
        for header_len in [0usize, 9, 14] {
            let header = vec![0xAB; header_len];
            for len in 0..=400 {
                if header_len + len == 0 {
                    continue;
                }
                // Split the body over odd-sized parts to exercise the cursor.
                let body = &data[..len];
                let cut = len / 3;
                let parts: [&[u8]; 3] = [&body[..cut], &[], &body[cut..]];
                for (random_access, pcr) in [(false, None), (true, None), (true, Some(pcr_base))] {
                    for started in [false, true] {
                        let flags = PesFlags { random_access, pcr };
                        let mut w = PidWriter::new(0x101);
                        w.started = started;
                        w.cc = 14;
                        let mut out = Vec::new();
                        w.write_pes(&mut out, flags, &header, &parts, len);
                        let packets = split(&out, 0x101);
                        let mut joined = Vec::new();
                        for (i, (af, payload)) in packets.iter().enumerate() {
                            let p = &out[i * PACKET_SIZE..];
                            assert_eq!(p[1] & 0x40 != 0, i == 0, "PUSI only on the first packet");
                            assert_eq!(p[3] & 0x0F, ((14 + i) % 16) as u8, "continuity counter");
                            assert!(!payload.is_empty());
                            joined.extend_from_slice(payload);
                            let last = i + 1 == packets.len();
                            let want = if i > 0 {
                                0
                            } else {
                                (if started { 0 } else { AF_DISCONTINUITY })
                                    | (if random_access { AF_RANDOM_ACCESS } else { 0 })
                                    | (if pcr.is_some() { AF_PCR } else { 0 })
                            };
                            let content = match (want, pcr) {
                                (0, _) => 0,
                                (_, None) => 1,
                                (_, Some(_)) => 7,
                            };
                            let Some(af) = af else {
                                assert_eq!(content, 0, "flags need an adaptation field");
                                continue;
                            };
                            let stuffing = if content > 0 {
                                assert_eq!(af[0], want, "flags, len {len}");
                                if let Some(base) = pcr {
                                    assert_eq!(af[1..7], encode_pcr(base));
                                }
                                &af[content..]
                            } else {
                                assert!(last, "adaptation field mid-PES, len {len}");
                                if af.is_empty() {
                                    af
                                } else {
                                    assert_eq!(af[0], 0, "stuffing-only field has no flags");
                                    &af[1..]
                                }
                            };
                            assert!(stuffing.iter().all(|&b| b == 0xFF));
                            assert!(stuffing.is_empty() || last, "stuffing only at the end");
                        }
                        let mut expected = header.clone();
                        expected.extend_from_slice(body);
                        assert_eq!(joined, expected, "payload, len {len}");
                        // As few packets as the layout allows.
                        let first_room = if pcr.is_some() {
                            176
                        } else if random_access || !started {
                            182
                        } else {
                            184
                        };
                        let total = header_len + len;
                        let want_packets = if total <= first_room {
                            1
                        } else {
                            1 + (total - first_room).div_ceil(184)
                        };
                        assert_eq!(packets.len(), want_packets, "len {len}");
                        assert_eq!(w.cc, ((14 + want_packets) % 16) as u8);
                        assert!(w.started);
                    }
                }
            }
        }
    }

    #[test]
    fn one_and_two_byte_adaptation_fields() {
        // 183 bytes: a 1-byte adaptation field (length 0); 182: length 1, flags only.
        for (len, af) in [(183usize, vec![0u8]), (182, vec![1, 0])] {
            let mut w = PidWriter::new(0x100);
            w.started = true;
            let data = vec![7u8; len];
            let mut out = Vec::new();
            w.write_pes(
                &mut out,
                PesFlags {
                    random_access: false,
                    pcr: None,
                },
                &data,
                &[],
                0,
            );
            assert_eq!(out.len(), PACKET_SIZE);
            assert_eq!(out[3] >> 4, 3);
            assert_eq!(out[4..4 + af.len()], af[..]);
            assert!(out[4 + af.len()..].iter().all(|&b| b == 7));
        }
    }

    #[test]
    fn pcr_layout() {
        let b = encode_pcr((1 << 33) - 1);
        assert_eq!(b, [0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x00]);
        let b = encode_pcr(1);
        assert_eq!(b, [0, 0, 0, 0, 0xFE, 0x00]);
        let b = encode_pcr(2);
        assert_eq!(b, [0, 0, 0, 1, 0x7E, 0x00]);
    }
}
