//! HEVCDecoderConfigurationRecord and H.265 SPS: if a record parses, its fields are in range
//! and rebuilding a record from its first VPS, SPS and PPS parses to the same stream facts.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::codec::hevc::{parse_sps, MAX_DIMENSION};
use media::HevcConfig;

fuzz_target!(|data: &[u8]| {
    // The same bytes as a bare SPS NAL unit: never a panic, sizes in range when it parses.
    if let Ok(info) = parse_sps(data) {
        assert!((1..=MAX_DIMENSION).contains(&info.width));
        assert!((1..=MAX_DIMENSION).contains(&info.height));
    }
    let Ok(config) = HevcConfig::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert!(matches!(config.nal_length_size, 1 | 2 | 4));
    assert!(!config.sps.is_empty());
    assert!((1..=MAX_DIMENSION).contains(&config.info.width));
    assert!((1..=MAX_DIMENSION).contains(&config.info.height));
    assert!(config
        .info
        .frame_rate
        .is_none_or(|r| r.is_finite() && r > 0.0));
    assert!(config.codec_string().starts_with("hvc1."));
    if let (Some(vps), Some(pps)) = (config.vps.first(), config.pps.first()) {
        if let Ok(rebuilt) = HevcConfig::build_record(vps, &config.sps[0], pps) {
            assert_eq!(rebuilt.info, config.info);
            assert_eq!(rebuilt.nal_length_size, 4);
            assert_eq!(
                HevcConfig::parse(rebuilt.record.clone()).as_ref(),
                Ok(&rebuilt)
            );
        }
    }
});
