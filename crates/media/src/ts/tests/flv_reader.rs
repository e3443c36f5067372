//! Just enough FLV reading to feed real encoder output to the muxer in tests: H.264 and AAC
//! tags, their sequence headers, and timestamps. Independent of the crate's own FLV code.

use bytes::Bytes;

use crate::codec::{AacConfig, AvcConfig, SpsInfo};
use crate::frame::TrackKind;

/// A sample that owns its bytes; times on the 90 kHz clock.
pub(super) struct OwnedSample {
    pub kind: TrackKind,
    pub dts: i64,
    pub pts: i64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

pub(super) struct FlvStream {
    pub video: AvcConfig,
    pub audio: AacConfig,
    pub samples: Vec<OwnedSample>,
}

fn u24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// Reads an FLV with one H.264 and one AAC track, shifting every time by `offset` ticks.
pub(super) fn read(flv: &[u8], offset: i64) -> FlvStream {
    assert_eq!(&flv[..3], b"FLV", "FLV signature");
    let header_len = u32::from_be_bytes(flv[5..9].try_into().expect("4 bytes")) as usize;
    let mut pos = header_len + 4;
    let (mut video, mut audio, mut samples) = (None, None, Vec::new());
    while pos + 11 <= flv.len() {
        let tag_type = flv[pos] & 0x1F;
        let size = u24(&flv[pos + 1..]) as usize;
        let ms = i64::from(u24(&flv[pos + 4..]) | (u32::from(flv[pos + 7]) << 24));
        let body = &flv[pos + 11..pos + 11 + size];
        pos += 11 + size + 4;
        match tag_type {
            9 => {
                assert_eq!(body[0] & 0x0F, 7, "AVC");
                // Composition time: signed 24 bits.
                let cts = i64::from((u24(&body[2..]) << 8) as i32 >> 8);
                match body[1] {
                    0 => video = Some(avc_config(&body[5..])),
                    1 => samples.push(OwnedSample {
                        kind: TrackKind::Video,
                        dts: offset + ms * 90,
                        pts: offset + (ms + cts) * 90,
                        keyframe: body[0] >> 4 == 1,
                        data: body[5..].to_vec(),
                    }),
                    _ => {}
                }
            }
            8 => {
                assert_eq!(body[0] >> 4, 10, "AAC");
                match body[1] {
                    0 => audio = Some(aac_config(&body[2..])),
                    _ => samples.push(OwnedSample {
                        kind: TrackKind::Audio,
                        dts: offset + ms * 90,
                        pts: offset + ms * 90,
                        keyframe: true,
                        data: body[2..].to_vec(),
                    }),
                }
            }
            _ => {}
        }
    }
    FlvStream {
        video: video.expect("AVC sequence header"),
        audio: audio.expect("AAC sequence header"),
        samples,
    }
}

/// AVCDecoderConfigurationRecord: only the fields the muxer uses, plus profile and level.
fn avc_config(record: &[u8]) -> AvcConfig {
    fn sets(record: &[u8], pos: &mut usize, count: usize) -> Vec<Bytes> {
        (0..count)
            .map(|_| {
                let len = usize::from(u16::from_be_bytes([record[*pos], record[*pos + 1]]));
                let set = Bytes::copy_from_slice(&record[*pos + 2..*pos + 2 + len]);
                *pos += 2 + len;
                set
            })
            .collect()
    }
    let mut pos = 6;
    let sps = sets(record, &mut pos, usize::from(record[5] & 0x1F));
    let pps_count = usize::from(record[pos]);
    pos += 1;
    let pps = sets(record, &mut pos, pps_count);
    AvcConfig {
        record: Bytes::copy_from_slice(record),
        nal_length_size: (record[4] & 3) + 1,
        sps,
        pps,
        info: SpsInfo {
            profile_idc: record[1],
            constraint_flags: record[2],
            level_idc: record[3],
            width: 0,
            height: 0,
            frame_rate: None,
        },
    }
}

/// AudioSpecificConfig: object type, rate index and channels.
fn aac_config(asc: &[u8]) -> AacConfig {
    const RATES: [u32; 13] = [
        96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025,
        8_000, 7_350,
    ];
    let sampling_frequency_index = ((asc[0] & 7) << 1) | (asc[1] >> 7);
    AacConfig {
        asc: Bytes::copy_from_slice(asc),
        object_type: asc[0] >> 3,
        sampling_frequency_index,
        sample_rate: RATES[usize::from(sampling_frequency_index)],
        channel_config: (asc[1] >> 3) & 0x0F,
        samples_per_frame: 1024,
    }
}
