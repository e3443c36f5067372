//! The MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) and ADTS headers (1.A.2.2).
//!
//! HE-AAC is recognised in both signallings: explicit (object type 5 or 29 first) and
//! backward-compatible (an LC config followed by the 0x2B7 sync extension with sbrPresentFlag).
//! For HE-AAC, `sample_rate` is the SBR output rate and `samples_per_frame` counts output
//! samples (2048, or 1920), so `samples_per_frame / sample_rate` is always the frame duration.

use bytes::Bytes;

use crate::codec::bitreader::BitReader;
use crate::codec::AacConfig;
use crate::error::MediaError;

const WHAT: &str = "AudioSpecificConfig";
const ADTS: &str = "ADTS header";

/// Length of an ADTS header without CRC.
pub const ADTS_HEADER_LEN: usize = 7;
/// Largest ADTS frame, header included (a 13-bit field).
pub const ADTS_MAX_FRAME_LEN: usize = (1 << 13) - 1;

/// Sample rates of sampling_frequency_index 0 to 12.
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Object types whose config is a GASpecificConfig.
const GA_OBJECT_TYPES: [u8; 12] = [1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23];

const SBR: u8 = 5;
const PS: u8 = 29;

impl AacConfig {
    /// Parses an AudioSpecificConfig (an `esds` DecoderSpecificInfo, or an FLV AAC sequence header).
    pub fn parse(asc: Bytes) -> Result<AacConfig, MediaError> {
        let mut r = BitReader::with_context(&asc, WHAT, 0);
        let mut object_type = read_object_type(&mut r)?;
        let (sampling_frequency_index, core_rate) = read_frequency(&mut r)?;
        let channel_config = r.read_bits(4)? as u8;

        // Explicit hierarchical SBR/PS signalling: the extension rate, then the core object type.
        let mut sbr_rate = None;
        let mut core_type = object_type;
        if object_type == SBR || object_type == PS {
            sbr_rate = Some(read_frequency(&mut r)?.1);
            core_type = read_object_type(&mut r)?;
            if core_type == 22 {
                r.skip_bits(4)?; // extensionChannelConfiguration
            }
        }
        if !GA_OBJECT_TYPES.contains(&core_type) {
            return Err(MediaError::Unsupported {
                what: "AAC object type",
                detail: format!("{} ({})", core_type, object_type_name(core_type)),
            });
        }

        // GASpecificConfig: only frameLengthFlag matters; the rest is read to reach extensions.
        let frame_length_flag = r.read_bit()?;
        let core_samples = if frame_length_flag { 960 } else { 1024 };
        if object_type != SBR && object_type != PS && channel_config != 0 {
            // A backward-compatible extension after the GASpecificConfig; tolerate its absence
            // or damage, since the core config alone is playable.
            if let Ok(Some((ext_type, rate))) = read_sync_extension(&mut r, core_type) {
                object_type = ext_type;
                sbr_rate = Some(rate);
            }
        }

        let (sample_rate, samples_per_frame) = match sbr_rate {
            Some(rate) if rate == 2 * core_rate => (rate, 2 * core_samples),
            Some(rate) => (rate, core_samples),
            None => (core_rate, core_samples),
        };
        Ok(AacConfig {
            asc,
            object_type,
            sampling_frequency_index,
            sample_rate,
            channel_config,
            samples_per_frame,
        })
    }

    /// The 7-byte ADTS header (no CRC) for a raw AAC frame of `payload_len` bytes.
    ///
    /// HE-AAC goes out as LC (profile 1) with implicit SBR signalling, at the core
    /// sampling_frequency_index. Configs ADTS cannot describe (an explicit frequency, channel
    /// configuration 0 or above 7, object types above 4) are [`MediaError::Unsupported`].
    pub fn adts_header(&self, payload_len: usize) -> Result<[u8; 7], MediaError> {
        let profile: u8 = match self.object_type {
            1..=4 => self.object_type - 1,
            SBR | PS => 1,
            other => {
                return Err(MediaError::Unsupported {
                    what: "ADTS profile",
                    detail: format!(
                        "AAC object type {other} ({}) cannot be carried in ADTS",
                        object_type_name(other)
                    ),
                })
            }
        };
        let sfi = self.sampling_frequency_index;
        if usize::from(sfi) >= SAMPLE_RATES.len() {
            return Err(MediaError::Unsupported {
                what: "ADTS sampling frequency",
                detail: format!(
                    "sampling_frequency_index {sfi} (explicit rate) cannot be carried in ADTS"
                ),
            });
        }
        let ch = self.channel_config;
        if !(1..=7).contains(&ch) {
            return Err(MediaError::Unsupported {
                what: "ADTS channel configuration",
                detail: format!("channel_configuration {ch} cannot be carried in ADTS"),
            });
        }
        let frame_len = payload_len
            .checked_add(ADTS_HEADER_LEN)
            .filter(|&len| len <= ADTS_MAX_FRAME_LEN)
            .ok_or_else(|| MediaError::Invalid {
                what: ADTS,
                offset: 3,
                reason: format!(
                    "AAC frame of {payload_len} bytes does not fit ADTS (at most {} bytes)",
                    ADTS_MAX_FRAME_LEN - ADTS_HEADER_LEN
                ),
            })?;
        // At most 13 bits, checked above.
        let len = frame_len as u16;
        Ok([
            0xFF,
            0xF1, // MPEG-4, layer 0, no CRC
            (profile << 6) | (sfi << 2) | (ch >> 2),
            ((ch & 0x03) << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            (((len & 0x07) as u8) << 5) | 0x1F, // buffer fullness 0x7FF: variable rate
            0xFC,                               // one raw data block
        ])
    }

    /// Reads an ADTS header (at least its first 7 bytes) and returns the config it describes,
    /// with an AudioSpecificConfig built from it, and the whole frame's length, header included.
    pub fn from_adts(header: &[u8]) -> Result<(AacConfig, usize), MediaError> {
        let header_len = adts_header_len(header)?;
        if header.len() < ADTS_HEADER_LEN {
            return Err(MediaError::Truncated {
                what: ADTS,
                offset: 0,
                needed: ADTS_HEADER_LEN,
                available: header.len(),
            });
        }
        let profile = header[2] >> 6;
        let sfi = (header[2] >> 2) & 0x0F;
        let ch = ((header[2] & 0x01) << 2) | (header[3] >> 6);
        let frame_len = (usize::from(header[3] & 0x03) << 11)
            | (usize::from(header[4]) << 3)
            | usize::from(header[5] >> 5);
        let raw_blocks = (header[6] & 0x03) + 1;
        if usize::from(sfi) >= SAMPLE_RATES.len() {
            return Err(MediaError::Invalid {
                what: ADTS,
                offset: 2,
                reason: format!("sampling_frequency_index {sfi}"),
            });
        }
        if ch == 0 {
            return Err(MediaError::Unsupported {
                what: "ADTS channel configuration",
                detail: "channel_configuration 0 (program config element in the stream)".into(),
            });
        }
        if frame_len < header_len {
            return Err(MediaError::Invalid {
                what: ADTS,
                offset: 3,
                reason: format!(
                    "frame length {frame_len} is shorter than the {header_len}-byte header"
                ),
            });
        }
        if raw_blocks != 1 {
            return Err(MediaError::Unsupported {
                what: "ADTS frame",
                detail: format!("{raw_blocks} raw data blocks in one frame"),
            });
        }
        let object_type = profile + 1;
        let asc = [
            (object_type << 3) | (sfi >> 1),
            ((sfi & 0x01) << 7) | (ch << 3),
        ];
        let config = AacConfig::parse(Bytes::copy_from_slice(&asc))?;
        Ok((config, frame_len))
    }
}

/// The length of the ADTS header starting `header`: 7, or 9 with a CRC.
pub fn adts_header_len(header: &[u8]) -> Result<usize, MediaError> {
    if header.len() < 2 {
        return Err(MediaError::Truncated {
            what: ADTS,
            offset: 0,
            needed: 2,
            available: header.len(),
        });
    }
    if header[0] != 0xFF || header[1] & 0xF0 != 0xF0 {
        return Err(MediaError::Invalid {
            what: ADTS,
            offset: 0,
            reason: format!("no syncword: {:02x} {:02x}", header[0], header[1]),
        });
    }
    if header[1] & 0x06 != 0 {
        return Err(MediaError::Invalid {
            what: ADTS,
            offset: 1,
            reason: format!("layer {}, expected 0", (header[1] >> 1) & 0x03),
        });
    }
    Ok(if header[1] & 0x01 == 1 { 7 } else { 9 })
}

/// audioObjectType with the escape: 31 means 32 plus 6 more bits.
fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, MediaError> {
    let t = r.read_bits(5)? as u8;
    if t == 31 {
        Ok(32 + r.read_bits(6)? as u8)
    } else if t == 0 {
        Err(r.invalid("audio object type 0 (null)"))
    } else {
        Ok(t)
    }
}

/// samplingFrequencyIndex with the escape: 15 means an explicit 24-bit rate.
fn read_frequency(r: &mut BitReader<'_>) -> Result<(u8, u32), MediaError> {
    let index = r.read_bits(4)? as u8;
    let rate = match index {
        15 => r.read_bits(24)?,
        i => match SAMPLE_RATES.get(usize::from(i)) {
            Some(&rate) => rate,
            None => return Err(r.invalid(format!("reserved sampling_frequency_index {i}"))),
        },
    };
    if rate == 0 {
        return Err(r.invalid("explicit sampling frequency 0"));
    }
    Ok((index, rate))
}

/// The rest of GASpecificConfig after frameLengthFlag, then a backward-compatible SBR/PS
/// sync extension if one follows: `Some((5 or 29, output rate))` when SBR is present.
fn read_sync_extension(
    r: &mut BitReader<'_>,
    core_type: u8,
) -> Result<Option<(u8, u32)>, MediaError> {
    if r.read_bit()? {
        r.skip_bits(14)?; // coreCoderDelay
    }
    let extension_flag = r.read_bit()?;
    if core_type == 6 || core_type == 20 {
        r.skip_bits(3)?; // layerNr
    }
    if extension_flag {
        match core_type {
            22 => r.skip_bits(16)?,
            17 | 19 | 20 | 23 => r.skip_bits(3)?,
            _ => {}
        }
        r.skip_bits(1)?; // extensionFlag3
    }
    if (17..=27).contains(&core_type) {
        r.skip_bits(2)?; // epConfig
    }
    if r.bits_remaining() < 16 || r.read_bits(11)? != 0x2B7 {
        return Ok(None);
    }
    if read_object_type(r)? != SBR || !r.read_bit()? {
        return Ok(None);
    }
    let (_, rate) = read_frequency(r)?;
    let mut ext_type = SBR;
    if r.bits_remaining() >= 12 && r.read_bits(11)? == 0x548 && r.read_bit()? {
        ext_type = PS;
    }
    Ok(Some((ext_type, rate)))
}

fn object_type_name(t: u8) -> &'static str {
    match t {
        1 => "AAC Main",
        2 => "AAC LC",
        3 => "AAC SSR",
        4 => "AAC LTP",
        5 => "SBR",
        6 => "AAC Scalable",
        7 => "TwinVQ",
        8 => "CELP",
        9 => "HVXC",
        17 => "ER AAC LC",
        19 => "ER AAC LTP",
        20 => "ER AAC Scalable",
        21 => "ER TwinVQ",
        22 => "ER BSAC",
        23 => "ER AAC LD",
        29 => "PS",
        32 => "Layer-1",
        33 => "Layer-2",
        34 => "Layer-3 (MP3)",
        36 => "ALS",
        39 => "ER AAC ELD",
        42 => "USAC",
        _ => "not AAC",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codec::sps::test_util::BitWriter;

    fn parse(bytes: &[u8]) -> AacConfig {
        AacConfig::parse(Bytes::copy_from_slice(bytes)).unwrap()
    }

    fn summary(c: &AacConfig) -> (u8, u8, u32, u8, u32) {
        (
            c.object_type,
            c.sampling_frequency_index,
            c.sample_rate,
            c.channel_config,
            c.samples_per_frame,
        )
    }

    #[test]
    fn lc_configs() {
        let c = parse(&[0x12, 0x10]);
        assert_eq!(summary(&c), (2, 4, 44100, 2, 1024));
        assert_eq!(c.codec_string(), "mp4a.40.2");
        assert_eq!(c.asc.as_ref(), &[0x12, 0x10]);
        assert_eq!(summary(&parse(&[0x11, 0x90])), (2, 3, 48000, 2, 1024));
        // frameLengthFlag: 960-sample frames.
        assert_eq!(summary(&parse(&[0x11, 0x94])), (2, 3, 48000, 2, 960));
        // Mono 22.05 kHz.
        assert_eq!(summary(&parse(&[0x13, 0x88])), (2, 7, 22050, 1, 1024));
    }

    #[test]
    fn ffmpeg_sync_extension_without_sbr_stays_lc() {
        // The ASC ffmpeg 5.1's native AAC encoder writes into FLV for 44.1 kHz stereo: a 0x2B7
        // sync extension naming SBR with sbrPresentFlag 0.
        let c = parse(&[0x12, 0x10, 0x56, 0xE5, 0x00]);
        assert_eq!(summary(&c), (2, 4, 44100, 2, 1024));
    }

    #[test]
    fn he_aac_explicit_and_backward_compatible() {
        // Explicit SBR: core 22.05 kHz stereo, output 44.1 kHz.
        let c = parse(&[0x2B, 0x92, 0x08, 0x00]);
        assert_eq!(summary(&c), (5, 7, 44100, 2, 2048));
        assert_eq!(c.codec_string(), "mp4a.40.5");
        // Explicit PS: core 24 kHz mono, output 48 kHz.
        let c = parse(&[0xEB, 0x09, 0x88, 0x00]);
        assert_eq!(summary(&c), (29, 6, 48000, 1, 2048));
        // Backward-compatible: LC 24 kHz stereo + 0x2B7, SBR present, 48 kHz.
        let c = parse(&[0x13, 0x10, 0x56, 0xE5, 0x98]);
        assert_eq!(summary(&c), (5, 6, 48000, 2, 2048));
        // ... and 0x548 with psPresentFlag.
        let mut w = BitWriter::default();
        w.bits(5, 2).bits(4, 6).bits(4, 1).bits(3, 0);
        w.bits(11, 0x2B7).bits(5, 5).bits(1, 1).bits(4, 3);
        w.bits(11, 0x548).bits(1, 1);
        let c = parse(&w.finish());
        assert_eq!(summary(&c), (29, 6, 48000, 1, 2048));
    }

    #[test]
    fn escapes() {
        // Explicit 24-bit sampling rate.
        let mut w = BitWriter::default();
        w.bits(5, 2)
            .bits(4, 15)
            .bits(24, 44100)
            .bits(4, 2)
            .bits(3, 0);
        let c = parse(&w.finish());
        assert_eq!(summary(&c), (2, 15, 44100, 2, 1024));
        assert!(matches!(
            c.adts_header(10),
            Err(MediaError::Unsupported { .. })
        ));
        // Object type escape: 31 + 6 bits = 32 + 10 = 42 (USAC), not AAC.
        let mut w = BitWriter::default();
        w.bits(5, 31).bits(6, 10).bits(4, 3).bits(4, 2).bits(8, 0);
        let err = AacConfig::parse(Bytes::from(w.finish())).unwrap_err();
        assert_eq!(err.to_string(), "unsupported AAC object type: 42 (USAC)");
    }

    #[test]
    fn rejects_bad_configs() {
        for bad in [
            &[][..],
            &[0x12],             // truncated before channels
            &[0x00, 0x10],       // object type 0
            &[0x16, 0x90],       // reserved frequency index 13
            &[0x17, 0x80, 0, 0], // explicit rate truncated
        ] {
            assert!(
                AacConfig::parse(Bytes::copy_from_slice(bad)).is_err(),
                "{bad:02x?}"
            );
        }
        let err = AacConfig::parse(Bytes::from_static(&[0x12])).unwrap_err();
        assert!(
            matches!(err, MediaError::Truncated { offset: 0, .. }),
            "{err}"
        );
        let err = AacConfig::parse(Bytes::from_static(&[0x00, 0x10])).unwrap_err();
        assert!(matches!(err, MediaError::Invalid { .. }), "{err}");
    }

    #[test]
    fn adts_header_matches_ffmpeg() {
        // First header of `ffmpeg -f lavfi -i sine=sample_rate=48000 -c:a aac -ac 2 -f adts`.
        let ffmpeg = [0xFF, 0xF1, 0x4C, 0x80, 0x24, 0xFF, 0xFC];
        let (c, len) = AacConfig::from_adts(&ffmpeg).unwrap();
        assert_eq!(len, 295);
        assert_eq!(summary(&c), (2, 3, 48000, 2, 1024));
        assert_eq!(c.asc.as_ref(), &[0x11, 0x90]);
        assert_eq!(parse(&[0x11, 0x90]).adts_header(288).unwrap(), ffmpeg);
    }

    #[test]
    fn adts_round_trip() {
        let configs: [&[u8]; 6] = [
            &[0x12, 0x10],
            &[0x11, 0x90],
            &[0x13, 0x88],
            &[0x2B, 0x92, 0x08, 0x00],
            &[0xEB, 0x09, 0x88, 0x00],
            &[0x0A, 0x10], // AAC Main 44.1k stereo
        ];
        for asc in configs {
            let c = parse(asc);
            for payload in [0usize, 1, 300, ADTS_MAX_FRAME_LEN - 7] {
                let header = c.adts_header(payload).unwrap();
                let (back, len) = AacConfig::from_adts(&header).unwrap();
                assert_eq!(len, payload + 7);
                let expected_type = if matches!(c.object_type, 5 | 29) {
                    2
                } else {
                    c.object_type
                };
                assert_eq!(back.object_type, expected_type, "{asc:02x?}");
                assert_eq!(back.sampling_frequency_index, c.sampling_frequency_index);
                assert_eq!(back.channel_config, c.channel_config);
            }
        }
        let c = parse(&[0x12, 0x10]);
        let err = c.adts_header(ADTS_MAX_FRAME_LEN - 6).unwrap_err();
        assert!(matches!(err, MediaError::Invalid { .. }), "{err}");
        assert!(c.adts_header(usize::MAX).is_err());
    }

    #[test]
    fn rejects_bad_adts() {
        let good = [0xFF, 0xF1, 0x4C, 0x80, 0x24, 0xFF, 0xFC];
        assert!(AacConfig::from_adts(&good[..6]).is_err());
        assert!(AacConfig::from_adts(&[]).is_err());
        let mut h = good;
        h[0] = 0xFE;
        assert!(matches!(
            AacConfig::from_adts(&h),
            Err(MediaError::Invalid { offset: 0, .. })
        ));
        let mut h = good;
        h[1] = 0xF3; // layer 1
        assert!(matches!(
            AacConfig::from_adts(&h),
            Err(MediaError::Invalid { offset: 1, .. })
        ));
        let mut h = good;
        h[2] = 0x74; // frequency index 13
        assert!(AacConfig::from_adts(&h).is_err());
        let mut h = good;
        h[3] = 0x80;
        h[4] = 0x00; // length 7 is fine, length 6 is not
        h[5] = 0xE0 | 0x1F;
        assert!(AacConfig::from_adts(&h).is_ok());
        h[5] = 0xC0 | 0x1F;
        assert!(AacConfig::from_adts(&h).is_err());
        let mut h = good;
        h[6] = 0xFD; // two raw data blocks
        assert!(matches!(
            AacConfig::from_adts(&h),
            Err(MediaError::Unsupported { .. })
        ));
        let mut h = good;
        h[3] = 0x00; // channel configuration 0
        assert!(matches!(
            AacConfig::from_adts(&h),
            Err(MediaError::Unsupported { .. })
        ));
        // With CRC the header is 9 bytes.
        assert_eq!(adts_header_len(&[0xFF, 0xF0]).unwrap(), 9);
        assert_eq!(adts_header_len(&good).unwrap(), 7);
    }
}
