//! Elementary stream framing: AVCC access units to Annex B, raw AAC frames to ADTS.

use crate::codec::avc::{self, NAL_TYPE_AUD};
use crate::codec::sps::NAL_TYPE_SPS;
use crate::codec::{hevc, AacConfig, CodecConfig};

use super::psi::{STREAM_TYPE_H264, STREAM_TYPE_H265};
use crate::error::MediaError;

use super::TsSample;

const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// H.264 access unit delimiter, primary_pic_type 7 (any slice type), with its start code.
const AVC_AUD: [u8; 6] = [0, 0, 0, 1, 0x09, 0xF0];
/// H.265 access unit delimiter (NAL type 35, layer 0, temporal id 0), pic_type 2 (any slice
/// type), with its start code.
const HEVC_AUD: [u8; 7] = [0, 0, 0, 1, 0x46, 0x01, 0x50];

pub(crate) const ADTS_HEADER_LEN: usize = 7;
/// frame_length is 13 bits and counts the header.
const ADTS_MAX_FRAME_LEN: usize = (1 << 13) - 1;

/// What the muxer needs of a video track: H.264 or H.265, the NAL length prefix, and the
/// parameter sets that go in front of every keyframe.
#[derive(Debug)]
pub(crate) struct VideoEs<'a> {
    pub hevc: bool,
    pub nal_length_size: u8,
    /// VPS (H.265), SPS and PPS in decoding order.
    pub params: Vec<&'a [u8]>,
}

impl<'a> VideoEs<'a> {
    pub(crate) fn new(config: &'a CodecConfig) -> Result<VideoEs<'a>, MediaError> {
        let es = match config {
            CodecConfig::Avc(c) => VideoEs {
                hevc: false,
                nal_length_size: c.nal_length_size,
                params: c.sps.iter().chain(&c.pps).map(|p| p.as_ref()).collect(),
            },
            CodecConfig::Hevc(c) => VideoEs {
                hevc: true,
                nal_length_size: c.nal_length_size,
                params: c.parameter_sets().map(|p| p.as_ref()).collect(),
            },
            CodecConfig::Aac(_) => {
                return Err(MediaError::Invalid {
                    what: "MPEG-TS video track",
                    offset: 0,
                    reason: "the video configuration is an audio codec".into(),
                })
            }
        };
        match es.nal_length_size {
            1 | 2 | 4 => Ok(es),
            n => Err(MediaError::Invalid {
                what: "video configuration",
                offset: 0,
                reason: format!("nal_length_size {n}, expected 1, 2 or 4"),
            }),
        }
    }

    pub(crate) fn stream_type(&self) -> u8 {
        if self.hevc {
            STREAM_TYPE_H265
        } else {
            STREAM_TYPE_H264
        }
    }

    fn nal_type(&self, nal: &[u8]) -> u8 {
        if self.hevc {
            hevc::nal_type(nal)
        } else {
            avc::nal_type(nal)
        }
    }

    fn is_aud(&self, nal: &[u8]) -> bool {
        self.nal_type(nal)
            == if self.hevc {
                hevc::NAL_AUD
            } else {
                NAL_TYPE_AUD
            }
    }

    fn is_sps(&self, nal: &[u8]) -> bool {
        self.nal_type(nal)
            == if self.hevc {
                hevc::NAL_SPS
            } else {
                NAL_TYPE_SPS
            }
    }

    /// Where the parameter sets go: H.264 before the first slice, H.265 before the first
    /// NAL unit after the delimiter (a prefix SEI may refer to the SPS).
    fn params_position(&self, nals: &[&[u8]]) -> usize {
        let found = if self.hevc {
            nals.iter().position(|n| !self.is_aud(n))
        } else {
            nals.iter()
                .position(|n| (1..=5).contains(&self.nal_type(n)))
        };
        found.unwrap_or(nals.len())
    }

    fn aud(&self) -> &'static [u8] {
        if self.hevc {
            &HEVC_AUD
        } else {
            &AVC_AUD
        }
    }

    /// Bytes the parameter sets take with their start codes.
    pub(crate) fn params_len(&self) -> usize {
        self.params.iter().map(|p| p.len() + START_CODE.len()).sum()
    }
}

/// Lays out the Annex B form of a video sample as slices of the sample and the config, and
/// returns its length in bytes.
///
/// The access unit gets an AUD in front unless it starts with one, and a keyframe without
/// an SPS of its own gets the config's parameter sets (VPS, SPS, PPS). Every NAL unit gets
/// a 4-byte start code; empty NAL units are dropped. `nals` and `parts` are scratch space,
/// reused from sample to sample; `parts` holds the result.
pub(crate) fn annexb_parts<'a>(
    es: &VideoEs<'a>,
    sample: &TsSample<'a>,
    index: usize,
    nals: &mut Vec<&'a [u8]>,
    parts: &mut Vec<&'a [u8]>,
) -> Result<usize, MediaError> {
    split_avcc(sample.data, es.nal_length_size, index, nals)?;

    let insert_params = sample.keyframe && !nals.iter().any(|n| es.is_sps(n));
    let params_at = es.params_position(nals);

    parts.clear();
    let mut len = 0;
    let mut push = |parts: &mut Vec<&'a [u8]>, part: &'a [u8]| {
        len += part.len();
        parts.push(part);
    };
    if !nals.first().is_some_and(|n| es.is_aud(n)) {
        push(parts, es.aud());
    }
    for k in 0..=nals.len() {
        if insert_params && k == params_at {
            for &ps in &es.params {
                push(parts, &START_CODE);
                push(parts, ps);
            }
        }
        if let Some(&nal) = nals.get(k) {
            push(parts, &START_CODE);
            push(parts, nal);
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

    fn avc(nal_length_size: u8) -> CodecConfig {
        CodecConfig::Avc(crate::codec::AvcConfig {
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
        })
    }

    fn annexb(config: &CodecConfig, data: &[u8], keyframe: bool) -> Result<Vec<u8>, MediaError> {
        let sample = TsSample {
            kind: TrackKind::Video,
            dts: 0,
            pts: 0,
            keyframe,
            data,
        };
        let (mut nals, mut parts) = (Vec::new(), Vec::new());
        let es = VideoEs::new(config)?;
        let len = annexb_parts(&es, &sample, 0, &mut nals, &mut parts)?;
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
        assert!(VideoEs::new(&avc(3)).is_err());
        assert!(VideoEs::new(&avc(0)).is_err());
    }
}
