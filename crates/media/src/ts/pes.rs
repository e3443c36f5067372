//! PES packet headers and their 33-bit timestamps.

use crate::error::MediaError;

/// 2^33: PTS, DTS and the PCR base wrap at this many 90 kHz ticks.
pub(crate) const TIMESTAMP_MODULUS: i64 = 1 << 33;

/// `ticks` modulo 2^33, as written in PTS, DTS and PCR fields.
pub(crate) fn ts33(ticks: i64) -> u64 {
    // 2^33 divides 2^64, so this is exact for every i64.
    ticks.rem_euclid(TIMESTAMP_MODULUS) as u64
}

/// A PES header with PTS and, when it differs, DTS: at most 19 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PesHeader {
    bytes: [u8; 19],
    len: u8,
}

impl PesHeader {
    /// The header of a PES carrying `payload_len` bytes (`None`: unbounded, video only).
    pub(crate) fn new(
        stream_id: u8,
        pts: i64,
        dts: i64,
        payload_len: Option<usize>,
    ) -> Result<PesHeader, MediaError> {
        let pts = ts33(pts);
        let dts = ts33(dts);
        let with_dts = dts != pts;
        let header_data_len: u8 = if with_dts { 10 } else { 5 };
        let packet_len = match payload_len {
            None => 0,
            Some(n) => {
                let total = n + 3 + usize::from(header_data_len);
                u16::try_from(total).map_err(|_| MediaError::Invalid {
                    what: "PES packet",
                    offset: 0,
                    reason: format!("{total} bytes do not fit PES_packet_length"),
                })?
            }
        };
        let mut bytes = [0u8; 19];
        bytes[..4].copy_from_slice(&[0, 0, 1, stream_id]);
        bytes[4..6].copy_from_slice(&packet_len.to_be_bytes());
        // '10', not scrambled, no priority, data_alignment_indicator: every PES starts an
        // access unit (video) or an ADTS frame (audio).
        bytes[6] = 0x84;
        bytes[7] = if with_dts { 0xC0 } else { 0x80 };
        bytes[8] = header_data_len;
        if with_dts {
            bytes[9..14].copy_from_slice(&encode_timestamp(0b0011, pts));
            bytes[14..19].copy_from_slice(&encode_timestamp(0b0001, dts));
        } else {
            bytes[9..14].copy_from_slice(&encode_timestamp(0b0010, pts));
        }
        Ok(PesHeader {
            bytes,
            len: 9 + header_data_len,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A 33-bit timestamp in the 5-byte PES layout, behind the 4-bit `prefix`.
pub(crate) fn encode_timestamp(prefix: u8, ts: u64) -> [u8; 5] {
    [
        (prefix << 4) | ((ts >> 29) as u8 & 0x0E) | 1,
        (ts >> 22) as u8,
        ((ts >> 14) as u8 & 0xFE) | 1,
        (ts >> 7) as u8,
        ((ts << 1) as u8 & 0xFE) | 1,
    ]
}

/// The 33-bit timestamp in a 5-byte PES field (prefix and marker bits ignored).
pub(crate) fn decode_timestamp(b: &[u8; 5]) -> u64 {
    (u64::from(b[0] & 0x0E) << 29)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] & 0xFE) << 14)
        | (u64::from(b[3]) << 7)
        | (u64::from(b[4]) >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_wrap_at_2_pow_33() {
        let m = TIMESTAMP_MODULUS;
        for (ticks, written) in [
            (0, 0u64),
            (1, 1),
            (m - 1, (m - 1) as u64),
            (m, 0),
            (m + 12_345, 12_345),
            (3 * m + 90_000, 90_000),
            (-1, (m - 1) as u64),
            (i64::MAX, (i64::MAX % m) as u64),
            (i64::MIN, 0),
        ] {
            assert_eq!(ts33(ticks), written, "ts33({ticks})");
            for prefix in [0b0010, 0b0011, 0b0001] {
                let b = encode_timestamp(prefix, written);
                assert_eq!(b[0] >> 4, prefix);
                assert_eq!(b[0] & 1, 1, "marker bit");
                assert_eq!(b[2] & 1, 1, "marker bit");
                assert_eq!(b[4] & 1, 1, "marker bit");
                assert_eq!(decode_timestamp(&b), written);
            }
        }
        // Known encoding of PTS 0x1_2345_6789 (ISO 13818-1 2.4.3.7 bit layout).
        assert_eq!(
            encode_timestamp(0b0010, 0x1_2345_6789),
            [0x29, 0x8D, 0x15, 0xCF, 0x13]
        );
    }

    #[test]
    fn header_omits_dts_equal_to_pts_modulo_2_pow_33() {
        let h = PesHeader::new(0xC0, 1000, 1000 + TIMESTAMP_MODULUS, Some(100)).expect("fits");
        let b = h.as_bytes();
        assert_eq!(b.len(), 14);
        assert_eq!(&b[..4], &[0, 0, 1, 0xC0]);
        assert_eq!(u16::from_be_bytes([b[4], b[5]]), 100 + 8);
        assert_eq!((b[7], b[8]), (0x80, 5));

        let h = PesHeader::new(0xE0, 3003, 0, None).expect("fits");
        let b = h.as_bytes();
        assert_eq!(b.len(), 19);
        assert_eq!(u16::from_be_bytes([b[4], b[5]]), 0, "unbounded video PES");
        assert_eq!((b[7], b[8]), (0xC0, 10));
        assert_eq!(decode_timestamp(b[9..14].try_into().expect("5")), 3003);
        assert_eq!(decode_timestamp(b[14..19].try_into().expect("5")), 0);

        assert!(PesHeader::new(0xC0, 0, 0, Some(65_535)).is_err());
    }
}
