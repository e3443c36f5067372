#![allow(clippy::unwrap_used)]

use bytes::Bytes;

use super::*;
use crate::test_support::{hex, FFMPEG_HVCC};

/// Parameter sets of x265 3.5 (ffmpeg 5.1, `-preset veryfast`, Main profile, 320x240 at
/// 25 fps), from `fixtures/ffmpeg-5.1_hevc-aac_320x240_25fps_4s_2s-gop.ts`.
const VPS: &str = "40010c01ffff01600000030090000003000003003c959009";
const SPS: &str =
    "42010101600000030090000003000003003ca00a080f16595924932bc05a020000030002000003003210";
const PPS: &str = "4401c172b46240";

#[test]
fn sps_of_x265_gives_size_profile_level_and_rate() {
    let info = parse_sps(&hex(SPS)).unwrap();
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!(info.profile_idc, 1);
    assert_eq!(info.level_idc, 60);
    assert!(!info.tier_flag);
    assert_eq!(info.profile_compatibility_flags, 0x6000_0000);
    assert_eq!(info.constraint_indicator_flags, [0x90, 0, 0, 0, 0, 0]);
    assert_eq!((info.bit_depth_luma, info.bit_depth_chroma), (8, 8));
    assert_eq!(info.chroma_format_idc, 1);
    assert_eq!(info.frame_rate, Some(25.0));
}

#[test]
fn built_record_is_byte_for_byte_what_ffmpeg_writes() {
    let built = HevcConfig::build_record(&hex(VPS), &hex(SPS), &hex(PPS)).unwrap();
    assert_eq!(built.record.as_ref(), hex(FFMPEG_HVCC).as_slice());
    assert_eq!(built.nal_length_size, 4);
    assert_eq!(built.vps, vec![Bytes::from(hex(VPS))]);
    assert_eq!(built.pps, vec![Bytes::from(hex(PPS))]);
    let parsed = HevcConfig::parse(Bytes::from(hex(FFMPEG_HVCC))).unwrap();
    assert_eq!(parsed, built);
    assert_eq!(
        parsed.parameter_sets().map(|p| p.len()).collect::<Vec<_>>(),
        vec![24, 42, 7]
    );
}

#[test]
fn codec_string_follows_iso_14496_15_annex_e() {
    let c = HevcConfig::parse(Bytes::from(hex(FFMPEG_HVCC))).unwrap();
    assert_eq!(c.codec_string(), "hvc1.1.6.L60.90");
    let mut high = c.clone();
    high.info.tier_flag = true;
    high.info.profile_idc = 2;
    high.info.profile_compatibility_flags = 0x2000_0000;
    high.info.level_idc = 153;
    high.info.constraint_indicator_flags = [0xB0, 0, 0, 0, 0, 0];
    assert_eq!(high.codec_string(), "hvc1.2.4.H153.B0");
    high.info.constraint_indicator_flags = [0, 0, 0, 0, 0, 0];
    high.info.profile_space = 1;
    assert_eq!(high.codec_string(), "hvc1.A2.4.H153");
}

#[test]
fn nal_types() {
    assert_eq!(nal_type(&hex(VPS)), NAL_VPS);
    assert_eq!(nal_type(&hex(SPS)), NAL_SPS);
    assert_eq!(nal_type(&hex(PPS)), NAL_PPS);
    assert!(is_irap(19) && is_irap(21) && !is_irap(1) && !is_irap(24));
}

#[test]
fn every_truncation_of_the_record_and_sps_is_an_error_not_a_panic() {
    let record = hex(FFMPEG_HVCC);
    for n in 0..record.len() {
        let _ = HevcConfig::parse(Bytes::copy_from_slice(&record[..n]));
    }
    assert!(HevcConfig::parse(Bytes::copy_from_slice(&record[..40])).is_err());
    let sps = hex(SPS);
    for n in 0..sps.len() {
        if let Ok(info) = parse_sps(&sps[..n]) {
            // The size comes early; a cut tail only loses the frame rate.
            assert_eq!((info.width, info.height), (320, 240));
        }
    }
    assert!(parse_sps(&sps[..10]).is_err());
}

#[test]
fn wrong_parameter_sets_are_refused() {
    assert!(HevcConfig::build_record(&hex(SPS), &hex(SPS), &hex(PPS)).is_err());
    assert!(HevcConfig::build_record(&hex(VPS), &hex(SPS), &hex(VPS)).is_err());
    assert!(parse_sps(&hex(PPS)).is_err());
    let mut version = hex(FFMPEG_HVCC);
    version[0] = 0;
    assert!(HevcConfig::parse(Bytes::from(version)).is_err());
    let mut three_byte = hex(FFMPEG_HVCC);
    three_byte[21] = (three_byte[21] & 0xFC) | 2;
    assert!(HevcConfig::parse(Bytes::from(three_byte)).is_err());
    // A record whose arrays hold no SPS.
    let mut no_sps = hex(FFMPEG_HVCC)[..23].to_vec();
    no_sps[22] = 0;
    assert!(HevcConfig::parse(Bytes::from(no_sps)).is_err());
}

#[test]
fn main10_1080p_is_cropped_by_its_conformance_window() {
    // x265 codes 1920x1080 as 1920x1088 with a conformance window of 4 chroma rows, here
    // Main 10 at 29.97 fps (`-pix_fmt yuv420p10le`, `testsrc2=size=1920x1080:rate=30000/1001`).
    let sps =
        "420101022000000300900000030000030078a003c0801107cad965654a4c2f01680800001f480003a98040";
    let info = parse_sps(&hex(sps)).unwrap();
    assert_eq!((info.width, info.height), (1920, 1080));
    assert_eq!(info.profile_idc, 2);
    assert_eq!((info.bit_depth_luma, info.bit_depth_chroma), (10, 10));
    let rate = info.frame_rate.unwrap();
    assert!((rate - 29.97).abs() < 0.01, "{rate}");
}
