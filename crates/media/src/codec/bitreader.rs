//! A most-significant-bit-first reader over a byte slice, with the Exp-Golomb codes of H.264,
//! and the removal of emulation-prevention bytes that turns a NAL unit into its RBSP.
//!
//! Every read is bounds-checked: running off the end is a [`MediaError::Truncated`] that names
//! the structure being read and the byte offset where it happened.

use crate::error::MediaError;

/// Reads bits, most significant first, from a byte slice.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
    what: &'static str,
    /// Added to byte offsets in errors, so they point into the enclosing structure.
    base_offset: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `data`; errors name it "bitstream".
    pub fn new(data: &'a [u8]) -> Self {
        Self::with_context(data, "bitstream", 0)
    }

    /// A reader whose errors name `what` and report byte offsets plus `base_offset`.
    pub fn with_context(data: &'a [u8], what: &'static str, base_offset: usize) -> Self {
        BitReader {
            data,
            pos: 0,
            what,
            base_offset,
        }
    }

    /// Bits not yet read.
    pub fn bits_remaining(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// Bits read so far.
    pub fn bit_position(&self) -> usize {
        self.pos
    }

    /// The byte offset (plus the base offset) of the next bit to read.
    pub fn byte_offset(&self) -> usize {
        self.base_offset + self.pos / 8
    }

    /// An [`MediaError::Invalid`] at the current position, for callers validating a field.
    pub fn invalid(&self, reason: impl Into<String>) -> MediaError {
        MediaError::Invalid {
            what: self.what,
            offset: self.byte_offset(),
            reason: reason.into(),
        }
    }

    fn truncated(&self, bits: usize) -> MediaError {
        MediaError::Truncated {
            what: self.what,
            offset: self.byte_offset(),
            needed: bits.div_ceil(8),
            available: self.bits_remaining() / 8,
        }
    }

    /// Reads `n` bits (0 to 32) as an unsigned number.
    pub fn read_bits(&mut self, n: u32) -> Result<u32, MediaError> {
        if n > 32 {
            return Err(self.invalid(format!("cannot read {n} bits at once (max 32)")));
        }
        let n = n as usize;
        if n > self.bits_remaining() {
            return Err(self.truncated(n));
        }
        let mut value: u64 = 0;
        let mut left = n;
        while left > 0 {
            let byte = self.data[self.pos / 8];
            let bit_in_byte = self.pos % 8;
            let avail = 8 - bit_in_byte;
            let take = avail.min(left);
            let shift = avail - take;
            let bits = (u64::from(byte) >> shift) & ((1u64 << take) - 1);
            value = (value << take) | bits;
            self.pos += take;
            left -= take;
        }
        // n <= 32, so the value fits.
        Ok(value as u32)
    }

    /// Reads one bit as a flag.
    pub fn read_bit(&mut self) -> Result<bool, MediaError> {
        Ok(self.read_bits(1)? == 1)
    }

    /// Reads 8 bits.
    pub fn read_u8(&mut self) -> Result<u8, MediaError> {
        // 8 bits always fit in a u8.
        Ok(self.read_bits(8)? as u8)
    }

    /// Skips `n` bits.
    pub fn skip_bits(&mut self, n: usize) -> Result<(), MediaError> {
        if n > self.bits_remaining() {
            return Err(self.truncated(n));
        }
        self.pos += n;
        Ok(())
    }

    /// Reads an unsigned Exp-Golomb code, `ue(v)`; codes of more than 32 bits of value are invalid.
    pub fn read_ue(&mut self) -> Result<u32, MediaError> {
        let start = self.byte_offset();
        let mut leading_zeros = 0u32;
        while !self.read_bit()? {
            leading_zeros += 1;
            if leading_zeros > 31 {
                return Err(MediaError::Invalid {
                    what: self.what,
                    offset: start,
                    reason: "Exp-Golomb code longer than 32 bits".to_string(),
                });
            }
        }
        if leading_zeros == 0 {
            return Ok(0);
        }
        let suffix = self.read_bits(leading_zeros)?;
        // leading_zeros <= 31: (2^lz - 1) + suffix <= 2^32 - 2.
        Ok(((1u32 << leading_zeros) - 1) + suffix)
    }

    /// Reads a signed Exp-Golomb code, `se(v)`: 0, 1, -1, 2, -2, ...
    pub fn read_se(&mut self) -> Result<i32, MediaError> {
        let k = i64::from(self.read_ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // k <= 2^32 - 2, so |v| <= 2^31 - 1 and this never fails; no panic if it did.
        i32::try_from(v).map_err(|_| self.invalid("signed Exp-Golomb value out of range"))
    }
}

/// The RBSP of a NAL unit: its bytes with every emulation-prevention byte (the `03` of
/// `00 00 03`) removed.
pub fn nal_to_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 0x03 {
            zeros = 0;
            continue;
        }
        if b == 0 {
            zeros += 1;
        } else {
            zeros = 0;
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_bits_across_bytes() {
        let data = [0b1010_1100, 0b0101_0011, 0xFF, 0x00, 0x12];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(3).unwrap(), 0b101);
        assert!(!r.read_bit().unwrap());
        assert_eq!(r.read_bits(8).unwrap(), 0b1100_0101);
        assert_eq!(r.read_bits(0).unwrap(), 0);
        r.skip_bits(4).unwrap();
        assert_eq!(r.bits_remaining(), 24);
        assert_eq!(r.read_bits(24).unwrap(), 0xFF_00_12);
        assert_eq!(r.bits_remaining(), 0);
    }

    #[test]
    fn reads_32_bits_unaligned() {
        let data = [0x0F, 0xFF, 0xFF, 0xFF, 0xF0];
        let mut r = BitReader::new(&data);
        r.skip_bits(4).unwrap();
        assert_eq!(r.read_bits(32).unwrap(), u32::MAX);
        assert!(r.read_bits(33).is_err());
    }

    #[test]
    fn truncation_reports_offset() {
        let data = [0xAB, 0xCD];
        let mut r = BitReader::with_context(&data, "thing", 10);
        r.skip_bits(12).unwrap();
        let err = r.read_bits(8).unwrap_err();
        assert_eq!(
            err,
            MediaError::Truncated {
                what: "thing",
                offset: 11,
                needed: 1,
                available: 0
            }
        );
        assert!(r.skip_bits(5).is_err());
        assert!(r.skip_bits(4).is_ok());
        assert!(r.read_bit().is_err());
    }

    #[test]
    fn exp_golomb_unsigned_and_signed() {
        // ue: 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3, 00111 -> 6, 0001000 -> 7
        // bits: 1 010 011 00100 00111 0001000 = 1010 0110 0100 0011 1000 1000 (+pad)
        let data = [0b1010_0110, 0b0100_0011, 0b1000_1000];
        let mut r = BitReader::new(&data);
        let got: Vec<u32> = (0..6).map(|_| r.read_ue().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3, 6, 7]);

        let mut r = BitReader::new(&data);
        let got: Vec<i32> = (0..6).map(|_| r.read_se().unwrap()).collect();
        assert_eq!(got, [0, 1, -1, 2, -3, 4]);
    }

    #[test]
    fn exp_golomb_limits() {
        // 31 leading zeros, then a 1 and 31 one-bits of suffix: the largest code, 2^32 - 2.
        let bits = (0xFFFF_FFFFu64 << 1).to_be_bytes();
        let mut r = BitReader::new(&bits);
        assert_eq!(r.read_ue().unwrap(), u32::MAX - 1);
        let mut r = BitReader::new(&bits);
        assert_eq!(r.read_se().unwrap(), -(i32::MAX));

        // 32 leading zeros: invalid, not a panic or overflow.
        let zeros = [0u8, 0, 0, 0, 0x80];
        let err = BitReader::new(&zeros).read_ue().unwrap_err();
        assert!(matches!(err, MediaError::Invalid { .. }), "{err:?}");
        // Runs out of data inside the code.
        let err = BitReader::new(&[0x00, 0x01]).read_ue().unwrap_err();
        assert!(matches!(err, MediaError::Truncated { .. }), "{err:?}");
    }

    #[test]
    fn removes_emulation_prevention() {
        assert_eq!(
            nal_to_rbsp(&[0x67, 0, 0, 3, 1, 0, 0, 3, 0, 3]),
            [0x67, 0, 0, 1, 0, 0, 0, 3]
        );
        // 00 00 03 00 00 03: both escapes go.
        assert_eq!(nal_to_rbsp(&[0, 0, 3, 0, 0, 3]), [0, 0, 0, 0]);
        // A lone 03 after a single zero stays.
        assert_eq!(nal_to_rbsp(&[0, 3, 0, 0, 2]), [0, 3, 0, 0, 2]);
        assert_eq!(nal_to_rbsp(&[]), Vec::<u8>::new());
    }
}
