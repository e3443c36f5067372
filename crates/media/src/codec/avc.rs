//! The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) and length-prefixed NAL units.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::sps::{SequenceParameterSet, NAL_TYPE_SPS};
use crate::codec::AvcConfig;
use crate::error::MediaError;

const WHAT: &str = "AVCDecoderConfigurationRecord";

/// NAL unit type of an IDR slice.
pub const NAL_TYPE_IDR: u8 = 5;
/// NAL unit type of a picture parameter set.
pub const NAL_TYPE_PPS: u8 = 8;
/// NAL unit type of an access unit delimiter.
pub const NAL_TYPE_AUD: u8 = 9;

impl AvcConfig {
    /// Parses an AVCDecoderConfigurationRecord (the `avcC` payload, or an FLV AVC sequence header).
    ///
    /// Parameter sets are zero-copy slices of `record`. The high-profile extension after the
    /// PPS list is ignored. `info` comes from the first SPS; a record without one is invalid.
    pub fn parse(record: Bytes) -> Result<AvcConfig, MediaError> {
        let mut pos = 0usize;
        let header = take(&record, &mut pos, 6)?;
        if header[0] != 1 {
            return Err(invalid(
                0,
                format!("configurationVersion {}, expected 1", header[0]),
            ));
        }
        let nal_length_size = match header[4] & 0x03 {
            0 => 1,
            1 => 2,
            3 => 4,
            _ => {
                return Err(invalid(
                    4,
                    "lengthSizeMinusOne 2 (3-byte NAL lengths are not allowed)",
                ))
            }
        };
        let num_sps = usize::from(header[5] & 0x1F);
        let sps = parameter_sets(&record, &mut pos, num_sps, "SPS")?;
        let num_pps = usize::from(take(&record, &mut pos, 1)?[0]);
        let pps = parameter_sets(&record, &mut pos, num_pps, "PPS")?;
        let Some(first_sps) = sps.first() else {
            return Err(invalid(5, "the record holds no SPS"));
        };
        // The first SPS starts after the 6-byte header and its 2-byte length.
        let info = SequenceParameterSet::parse(first_sps)
            .map_err(|e| e.shifted(8))?
            .info();
        Ok(AvcConfig {
            record,
            nal_length_size,
            sps,
            pps,
            info,
        })
    }

    /// Builds a record with 4-byte NAL lengths from one SPS and one PPS NAL unit (each with its
    /// NAL header, without start code), as MPEG-TS ingest finds them in the stream.
    ///
    /// For the High profiles that ISO/IEC 14496-15 names (100, 110, 122, 144) the record ends
    /// with the chroma format and bit depth extension, as FFmpeg writes it.
    pub fn build_record(sps: &[u8], pps: &[u8]) -> Result<AvcConfig, MediaError> {
        let parsed = SequenceParameterSet::parse(sps)?;
        let pps_type = pps.first().map(|h| h & 0x1F);
        if pps_type != Some(NAL_TYPE_PPS) {
            return Err(MediaError::Invalid {
                what: "H.264 PPS",
                offset: 0,
                reason: format!("NAL unit type {pps_type:?}, expected {NAL_TYPE_PPS}"),
            });
        }
        let sps_len = u16::try_from(sps.len())
            .map_err(|_| invalid(0, format!("SPS of {} bytes is too long", sps.len())))?;
        let pps_len = u16::try_from(pps.len())
            .map_err(|_| invalid(0, format!("PPS of {} bytes is too long", pps.len())))?;
        let mut out = BytesMut::with_capacity(11 + sps.len() + pps.len() + 4);
        out.put_u8(1);
        // parse() succeeded, so the SPS has profile, constraint and level bytes.
        out.put_slice(&sps[1..4]);
        out.put_u8(0xFC | 0x03); // lengthSizeMinusOne = 3
        out.put_u8(0xE0 | 1); // one SPS
        out.put_u16(sps_len);
        out.put_slice(sps);
        out.put_u8(1); // one PPS
        out.put_u16(pps_len);
        out.put_slice(pps);
        if matches!(parsed.profile_idc, 100 | 110 | 122 | 144) {
            out.put_u8(0xFC | parsed.chroma_format_idc);
            out.put_u8(0xF8 | (parsed.bit_depth_luma - 8));
            out.put_u8(0xF8 | (parsed.bit_depth_chroma - 8));
            out.put_u8(0); // numOfSequenceParameterSetExt
        }
        AvcConfig::parse(out.freeze())
    }
}

fn invalid(offset: usize, reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what: WHAT,
        offset,
        reason: reason.into(),
    }
}

/// `n` bytes of `data` at `*pos`, advancing `pos`.
fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], MediaError> {
    take_from(data, pos, n, WHAT)
}

/// `n` bytes of `data` at `*pos`, advancing `pos`; running short is a truncated `what`.
pub(crate) fn take_from<'a>(
    data: &'a [u8],
    pos: &mut usize,
    n: usize,
    what: &'static str,
) -> Result<&'a [u8], MediaError> {
    let available = data.len().saturating_sub(*pos);
    if n > available {
        return Err(MediaError::Truncated {
            what,
            offset: *pos,
            needed: n,
            available,
        });
    }
    let out = &data[*pos..*pos + n];
    *pos += n;
    Ok(out)
}

/// `count` parameter sets, each after a 16-bit length, as slices of `record`.
fn parameter_sets(
    record: &Bytes,
    pos: &mut usize,
    count: usize,
    kind: &str,
) -> Result<Vec<Bytes>, MediaError> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len_bytes = take(record, pos, 2)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len == 0 {
            return Err(invalid(*pos - 2, format!("empty {kind}")));
        }
        let start = *pos;
        take(record, pos, len)?;
        out.push(record.slice(start..start + len));
    }
    Ok(out)
}

/// The nal_unit_type of a NAL unit (0, "unspecified", for an empty one).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |h| h & 0x1F)
}

/// Whether a length-prefixed access unit holds an IDR slice (before any malformed length).
pub fn contains_idr(data: &[u8], nal_length_size: u8) -> bool {
    nal_units(data, nal_length_size)
        .map_while(Result::ok)
        .any(|nal| nal_type(nal) == NAL_TYPE_IDR)
}

/// The NAL units of a length-prefixed (AVCC) access unit.
pub fn nal_units(data: &[u8], nal_length_size: u8) -> NalUnits<'_> {
    NalUnits {
        data,
        pos: 0,
        nal_length_size,
        done: false,
    }
}

/// Iterates over the NAL units of a length-prefixed access unit; after yielding an error
/// (bad length size, a length running past the end) it yields nothing more.
#[derive(Clone, Debug)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    pos: usize,
    nal_length_size: u8,
    done: bool,
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = Result<&'a [u8], MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let result = self.read_one();
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

impl<'a> NalUnits<'a> {
    fn read_one(&mut self) -> Result<&'a [u8], MediaError> {
        const WHAT: &str = "AVC NAL unit length";
        let size = usize::from(self.nal_length_size);
        if !matches!(size, 1 | 2 | 4) {
            return Err(MediaError::Invalid {
                what: WHAT,
                offset: self.pos,
                reason: format!("NAL length size {size}, expected 1, 2 or 4"),
            });
        }
        let rest = &self.data[self.pos..];
        if rest.len() < size {
            return Err(MediaError::Truncated {
                what: WHAT,
                offset: self.pos,
                needed: size,
                available: rest.len(),
            });
        }
        let len = rest[..size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let body = &rest[size..];
        if len > body.len() {
            return Err(MediaError::Truncated {
                what: "AVC NAL unit",
                offset: self.pos + size,
                needed: len,
                available: body.len(),
            });
        }
        self.pos += size + len;
        Ok(&body[..len])
    }
}

/// Whether `nal` is a sequence parameter set.
pub fn is_sps(nal: &[u8]) -> bool {
    nal_type(nal) == NAL_TYPE_SPS
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::hex;

    /// The AVC sequence header (after the 5-byte FLV video tag header) that ffmpeg 5.1 with
    /// x264 core 164 wrote for
    /// `ffmpeg -f lavfi -i testsrc=size=320x240:rate=25 -pix_fmt yuv420p -c:v libx264 -g 25 -bf 2 -crf 35 -f flv`.
    pub(crate) const FFMPEG_AVCC_320X240: &str = "0164000dffe100196764000dacd94141fb011000000300100000030320f142996001000668ebe094b22cfdf8f800";
    const FFMPEG_SPS: &str = "6764000dacd94141fb011000000300100000030320f1429960";
    const FFMPEG_PPS: &str = "68ebe094b22c";

    #[test]
    fn parses_ffmpeg_record() {
        let record = Bytes::from(hex(FFMPEG_AVCC_320X240));
        let cfg = AvcConfig::parse(record.clone()).unwrap();
        assert_eq!(cfg.nal_length_size, 4);
        assert_eq!(cfg.sps.len(), 1);
        assert_eq!(cfg.pps.len(), 1);
        assert_eq!(cfg.sps[0].as_ref(), hex(FFMPEG_SPS).as_slice());
        assert_eq!(cfg.pps[0].as_ref(), hex(FFMPEG_PPS).as_slice());
        assert_eq!((cfg.info.width, cfg.info.height), (320, 240));
        assert_eq!(cfg.info.frame_rate, Some(25.0));
        assert_eq!(cfg.codec_string(), "avc1.64000D");
        // Zero-copy: the parameter sets point into the record.
        let range = record.as_ptr_range();
        assert!(range.contains(&cfg.sps[0].as_ptr()));
        assert!(range.contains(&cfg.pps[0].as_ptr()));
    }

    #[test]
    fn build_round_trips_through_parse() {
        let sps = hex(FFMPEG_SPS);
        let pps = hex(FFMPEG_PPS);
        let built = AvcConfig::build_record(&sps, &pps).unwrap();
        // FFmpeg writes the same bytes for this stream.
        assert_eq!(built.record.as_ref(), hex(FFMPEG_AVCC_320X240).as_slice());
        let parsed = AvcConfig::parse(built.record.clone()).unwrap();
        assert_eq!(parsed, built);
        assert_eq!(parsed.sps[0].as_ref(), sps.as_slice());
        assert_eq!(parsed.pps[0].as_ref(), pps.as_slice());

        // Baseline: no high-profile extension.
        let sps = hex("6742c01ed900a02ff970110000030001000003003c0f162e48");
        let built = AvcConfig::build_record(&sps, &hex("68cb83cb20")).unwrap();
        assert_eq!(built.record.len(), 11 + sps.len() + 5);
        assert_eq!(built.codec_string(), "avc1.42C01E");
        assert_eq!((built.info.width, built.info.height), (640, 360));

        assert!(AvcConfig::build_record(&sps, &hex("658884")).is_err());
        assert!(AvcConfig::build_record(&sps, &[]).is_err());
        assert!(AvcConfig::build_record(&hex(FFMPEG_PPS), &hex("68cb83cb20")).is_err());
    }

    #[test]
    fn length_sizes() {
        let mut rec = hex(FFMPEG_AVCC_320X240);
        for (bits, size) in [(0u8, 1u8), (1, 2), (3, 4)] {
            rec[4] = 0xFC | bits;
            let cfg = AvcConfig::parse(Bytes::from(rec.clone())).unwrap();
            assert_eq!(cfg.nal_length_size, size);
        }
        rec[4] = 0xFE;
        let err = AvcConfig::parse(Bytes::from(rec)).unwrap_err();
        assert!(
            matches!(err, MediaError::Invalid { offset: 4, .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_malformed_records() {
        let good = hex(FFMPEG_AVCC_320X240);
        // Wrong version.
        let mut v = good.clone();
        v[0] = 0;
        assert!(matches!(
            AvcConfig::parse(Bytes::from(v)),
            Err(MediaError::Invalid { offset: 0, .. })
        ));
        // No SPS.
        let err =
            AvcConfig::parse(Bytes::from_static(&[1, 0x64, 0, 13, 0xFF, 0xE0, 0])).unwrap_err();
        assert!(err.to_string().contains("no SPS"), "{err}");
        // Every truncation before the end of the PPS list is an error, never a panic.
        let pps_end = good.len() - 4;
        for len in 0..pps_end {
            assert!(
                AvcConfig::parse(Bytes::from(good[..len].to_vec())).is_err(),
                "{len}"
            );
        }
        // The extension is optional.
        assert!(AvcConfig::parse(Bytes::from(good[..pps_end].to_vec())).is_ok());
        // An SPS that does not parse: error offset points into the record.
        let mut bad = good.clone();
        bad[8] = 0x68;
        let err = AvcConfig::parse(Bytes::from(bad)).unwrap_err();
        assert!(
            matches!(err, MediaError::Invalid { offset: 8, .. }),
            "{err}"
        );
    }

    #[test]
    fn iterates_nal_units() {
        let data = [
            0, 0, 0, 2, 0x09, 0xF0, 0, 0, 0, 3, 0x65, 0x88, 0x84, 0, 0, 0, 0,
        ];
        let nals: Vec<&[u8]> = nal_units(&data, 4).map(Result::unwrap).collect();
        assert_eq!(nals, [&[0x09, 0xF0][..], &[0x65, 0x88, 0x84][..], &[][..]]);
        assert_eq!(nal_type(nals[1]), NAL_TYPE_IDR);
        assert_eq!(nal_type(&[]), 0);
        assert!(contains_idr(&data, 4));
        assert!(!contains_idr(&[0, 2, 0x41, 0x9A], 2));
        assert!(contains_idr(&[2, 0x41, 0x9A, 1, 0x25], 1));
        assert!(is_sps(&[0x67]));

        // A length past the end: one error, then the iterator stops.
        let bad = [0, 0, 0, 2, 0x09, 0xF0, 0, 0, 0, 9, 0x65];
        let mut it = nal_units(&bad, 4);
        assert!(it.next().unwrap().is_ok());
        assert!(matches!(
            it.next(),
            Some(Err(MediaError::Truncated { offset: 10, .. }))
        ));
        assert!(it.next().is_none());
        assert!(!contains_idr(&bad, 4));
        // A partial length prefix.
        let mut it = nal_units(&[0, 0, 1], 4);
        assert!(matches!(it.next(), Some(Err(MediaError::Truncated { .. }))));
        assert!(it.next().is_none());
        // An impossible length size.
        let mut it = nal_units(&[0, 0, 1, 5], 3);
        assert!(matches!(it.next(), Some(Err(MediaError::Invalid { .. }))));
        assert!(it.next().is_none());
        assert_eq!(nal_units(&[], 4).count(), 0);
    }
}
