//! Elementary stream framing: AVCC access units to Annex B, raw AAC frames to ADTS.

use crate::codec::{AacConfig, AvcConfig};
use crate::error::MediaError;

use super::TsSample;

const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// Access unit delimiter, primary_pic_type 7 (any slice type), with its start code.
const AUD: [u8; 6] = [0, 0, 0, 1, 0x09, 0xF0];
const NAL_AUD: u8 = 9;
const NAL_SPS: u8 = 7;

pub(crate) const ADTS_HEADER_LEN: usize = 7;
/// frame_length is 13 bits and counts the header.
const ADTS_MAX_FRAME_LEN: usize = (1 << 13) - 1;

pub(crate) fn check_nal_length_size(config: &AvcConfig) -> Result<(), MediaError> {
    match config.nal_length_size {
        1 | 2 | 4 => Ok(()),
        n => Err(MediaError::Invalid {
            what: "AvcConfig",
            offset: 0,
            reason: format!("nal_length_size {n}, expected 1, 2 or 4"),
        }),
    }
}

fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1F)
}

/// Lays out the Annex B form of a video sample as slices of the sample and the config, and
/// returns its length in bytes.
///
/// The access unit gets an AUD in front unless it starts with one, and a keyframe without
/// an SPS of its own gets the config's SPS and PPS before its first slice. Every NAL unit gets
/// a 4-byte start code; empty NAL units are dropped. `nals` and `parts` are scratch space,
/// reused from sample to sample; `parts` holds the result.
pub(crate) fn annexb_parts<'a>(
    config: &'a AvcConfig,
    sample: &TsSample<'a>,
    index: usize,
    nals: &mut Vec<&'a [u8]>,
    parts: &mut Vec<&'a [u8]>,
) -> Result<usize, MediaError> {
    split_avcc(sample.data, config.nal_length_size, index, nals)?;

    let insert_params = sample.keyframe && !nals.iter().any(|n| nal_type(n) == NAL_SPS);
    let first_slice = nals
        .iter()
        .position(|n| (1..=5).contains(&nal_type(n)))
        .unwrap_or(nals.len());

    parts.clear();
    let mut len = 0;
    let mut push = |parts: &mut Vec<&'a [u8]>, part: &'a [u8]| {
        len += part.len();
        parts.push(part);
    };
    if nals.first().map(|n| nal_type(n)) != Some(NAL_AUD) {
        push(parts, &AUD);
    }
    for (k, &nal) in nals.iter().enumerate() {
        if insert_params && k == first_slice {
            for ps in config.sps.iter().chain(&config.pps) {
                push(parts, &START_CODE);
                push(parts, ps);
            }
        }
        push(parts, &START_CODE);
        push(parts, nal);
    }
    if insert_params && first_slice == nals.len() {
        for ps in config.sps.iter().chain(&config.pps) {
            push(parts, &START_CODE);
            push(parts, ps);
        }
    }
    Ok(len)
}

/// Splits length-prefixed NAL units into `nals` (cleared first), skipping empty ones.
fn split_avcc<'a>(
    data: &'a [u8],
    nal_length_size: u8,
    index: usize,
    nals: &mut Vec<&'a [u8]>,
) -> Result<(), MediaError> {
    nals.clear();
    let prefix_len = usize::from(nal_length_size);
    let mut pos = 0;
    while pos < data.len() {
        let overrun = |needed: usize| MediaError::Invalid {
            what: "AVCC video sample",
            offset: pos,
            reason: format!(
                "sample {index}: NAL unit at offset {pos} needs {needed} bytes, {} left",
                data.len() - pos
            ),
        };
        let prefix = data
            .get(pos..pos + prefix_len)
            .ok_or_else(|| overrun(prefix_len))?;
        let nal_len = prefix
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let start = pos + prefix_len;
        let nal = start
            .checked_add(nal_len)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| overrun(prefix_len + nal_len))?;
        if !nal.is_empty() {
            nals.push(nal);
        }
        pos = start + nal_len;
    }
    Ok(())
}

/// The fixed part of the ADTS headers of one AAC track.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdtsHeader {
    /// Bytes 2 and 3 without the frame length bits.
    profile_rate_channels: [u8; 2],
}

impl AdtsHeader {
    /// ADTS can carry AAC Main, LC, SSR and LTP at a tabled rate with up to 7.1 channels;
    /// HE-AAC (object type 5, 29) is signalled implicitly as LC at the core rate.
    pub(crate) fn new(config: &AacConfig) -> Result<AdtsHeader, MediaError> {
        let unsupported = |detail: String| MediaError::Unsupported {
            what: "AAC configuration in ADTS",
            detail,
        };
        let profile = match config.object_type {
            1..=4 => config.object_type - 1,
            5 | 29 => 1,
            other => return Err(unsupported(format!("audio object type {other}"))),
        };
        if config.sampling_frequency_index > 12 {
            return Err(unsupported(format!(
                "sampling_frequency_index {} (explicit rate {} Hz)",
                config.sampling_frequency_index, config.sample_rate
            )));
        }
        if !(1..=7).contains(&config.channel_config) {
            return Err(unsupported(format!(
                "channel_configuration {} (0 needs an in-band program config element)",
                config.channel_config
            )));
        }
        Ok(AdtsHeader {
            profile_rate_channels: [
                (profile << 6)
                    | (config.sampling_frequency_index << 2)
                    | (config.channel_config >> 2),
                (config.channel_config & 3) << 6,
            ],
        })
    }

    /// The header of one frame of `payload_len` bytes; sample `index` names it in errors.
    pub(crate) fn for_frame(
        &self,
        payload_len: usize,
        index: usize,
    ) -> Result<[u8; ADTS_HEADER_LEN], MediaError> {
        let frame_len = payload_len + ADTS_HEADER_LEN;
        if frame_len > ADTS_MAX_FRAME_LEN {
            return Err(MediaError::Invalid {
                what: "AAC frame",
                offset: 0,
                reason: format!(
                    "sample {index}: {payload_len} bytes, ADTS allows at most {}",
                    ADTS_MAX_FRAME_LEN - ADTS_HEADER_LEN
                ),
            });
        }
        let [b2, b3] = self.profile_rate_channels;
        // syncword, MPEG-4, layer 0, no CRC; buffer fullness 0x7FF (VBR); one raw data block.
        Ok([
            0xFF,
            0xF1,
            b2,
            b3 | (frame_len >> 11) as u8,
            (frame_len >> 3) as u8,
            ((frame_len as u8 & 7) << 5) | 0x1F,
            0xFC,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::SpsInfo;
    use crate::frame::TrackKind;
    use bytes::Bytes;

    fn aac(object_type: u8, sfi: u8, channels: u8) -> AacConfig {
        AacConfig {
            asc: Bytes::new(),
            object_type,
            sampling_frequency_index: sfi,
            sample_rate: 44_100,
            channel_config: channels,
            samples_per_frame: 1024,
        }
    }

    /// Reads back the ADTS fields: (profile, sfi, channels, frame_length, fullness, blocks).
    fn parse_adts(h: &[u8; 7]) -> (u8, u8, u8, usize, u16, u8) {
        assert_eq!(h[0], 0xFF);
        assert_eq!(h[1] & 0xF6, 0xF0, "syncword, layer 0");
        assert_eq!(h[1] & 0x08, 0, "ID 0: MPEG-4");
        assert_eq!(h[1] & 1, 1, "protection_absent");
        (
            h[2] >> 6,
            (h[2] >> 2) & 0x0F,
            ((h[2] & 1) << 2) | (h[3] >> 6),
            (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5),
            (u16::from(h[5] & 0x1F) << 6) | u16::from(h[6] >> 2),
            h[6] & 3,
        )
    }

    #[test]
    fn adts_header_fields() {
        let h = AdtsHeader::new(&aac(2, 4, 2)).expect("LC");
        let b = h.for_frame(371, 0).expect("short");
        assert_eq!(parse_adts(&b), (1, 4, 2, 378, 0x7FF, 0));
        // Worked by hand from ISO 14496-3 1.A.2.2: LC, 44.1 kHz, stereo, 378-byte frame.
        assert_eq!(b, [0xFF, 0xF1, 0x50, 0x80, 0x2F, 0x5F, 0xFC]);

        for (ot, profile) in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (29, 1)] {
            let h = AdtsHeader::new(&aac(ot, 3, 6)).expect("ADTS profile");
            let b = h.for_frame(ADTS_MAX_FRAME_LEN - 7, 0).expect("fits");
            assert_eq!(
                parse_adts(&b),
                (profile, 3, 6, ADTS_MAX_FRAME_LEN, 0x7FF, 0)
            );
        }
        let b = AdtsHeader::new(&aac(2, 11, 7))
            .expect("7.1")
            .for_frame(0, 0)
            .expect("empty");
        assert_eq!(parse_adts(&b), (1, 11, 7, 7, 0x7FF, 0));
    }

    #[test]
    fn adts_rejects_what_it_cannot_carry() {
        let h = AdtsHeader::new(&aac(2, 4, 2)).expect("LC");
        assert!(h.for_frame(ADTS_MAX_FRAME_LEN - 6, 3).is_err());
        assert!(AdtsHeader::new(&aac(0, 4, 2)).is_err());
        assert!(AdtsHeader::new(&aac(42, 4, 2)).is_err());
        assert!(AdtsHeader::new(&aac(2, 15, 2)).is_err());
        assert!(AdtsHeader::new(&aac(2, 4, 0)).is_err());
    }

    fn avc(nal_length_size: u8) -> AvcConfig {
        AvcConfig {
            record: Bytes::new(),
            nal_length_size,
            sps: vec![Bytes::from_static(&[0x67, 0x42, 0xC0, 0x1E])],
            pps: vec![Bytes::from_static(&[0x68, 0xCE, 0x3C, 0x80])],
            info: SpsInfo {
                profile_idc: 66,
                constraint_flags: 0xC0,
                level_idc: 30,
                width: 320,
                height: 240,
                frame_rate: None,
            },
        }
    }

    fn annexb(config: &AvcConfig, data: &[u8], keyframe: bool) -> Result<Vec<u8>, MediaError> {
        let sample = TsSample {
            kind: TrackKind::Video,
            dts: 0,
            pts: 0,
            keyframe,
            data,
        };
        let (mut nals, mut parts) = (Vec::new(), Vec::new());
        let len = annexb_parts(config, &sample, 0, &mut nals, &mut parts)?;
        let out = parts.concat();
        assert_eq!(out.len(), len);
        Ok(out)
    }

    #[test]
    fn keyframe_gets_aud_and_parameter_sets_before_first_slice() {
        let config = avc(4);
        // SEI then IDR slice.
        let data = [0, 0, 0, 2, 0x06, 0x05, 0, 0, 0, 3, 0x65, 0x88, 0x80];
        let out = annexb(&config, &data, true).expect("valid");
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x09, 0xF0, // AUD
                0, 0, 0, 1, 0x06, 0x05, // SEI
                0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, // SPS
                0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80, // PPS
                0, 0, 0, 1, 0x65, 0x88, 0x80, // IDR
            ]
        );
        // Not a keyframe: no parameter sets.
        let out = annexb(&config, &[0, 0, 0, 2, 0x41, 0x9A], false).expect("valid");
        assert_eq!(out, [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x41, 0x9A]);
    }

    #[test]
    fn existing_aud_and_sps_are_kept_not_duplicated() {
        let config = avc(2);
        let data = [
            0, 2, 0x09, 0x10, 0, 2, 0x67, 0x64, 0, 1, 0x68, 0, 0, 0, 2, 0x65, 0x11,
        ];
        let out = annexb(&config, &data, true).expect("valid");
        assert_eq!(
            out,
            [
                0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x67, 0x64, 0, 0, 0, 1, 0x68, 0, 0, 0, 1, 0x65,
                0x11
            ]
        );
        let out = annexb(&avc(1), &[1, 0x65], true).expect("valid");
        assert_eq!(out.len(), 6 + 8 + 8 + 5);
    }

    #[test]
    fn overrunning_length_prefix_is_an_error() {
        let config = avc(4);
        for data in [
            &[0, 0, 0, 5, 0x65, 0x88][..],
            &[0, 0, 0, 1, 0x65, 0, 0][..],
            &[0, 0, 0, 2, 0x65, 0x88, 0xFF, 0xFF, 0xFF, 0xFF][..],
            &[0xFF, 0xFF, 0xFF, 0xFF][..],
        ] {
            let err = annexb(&config, data, false).expect_err("overrun");
            assert!(
                matches!(
                    err,
                    MediaError::Invalid {
                        what: "AVCC video sample",
                        ..
                    }
                ),
                "{err}"
            );
        }
        assert!(check_nal_length_size(&avc(3)).is_err());
        assert!(check_nal_length_size(&avc(0)).is_err());
    }
}
