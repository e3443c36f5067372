//! AVCDecoderConfigurationRecord: if it parses, its fields are in range and rebuilding a record
//! from its first SPS and PPS parses to the same stream facts.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::codec::avc::nal_type;
use media::AvcConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = AvcConfig::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert!(matches!(config.nal_length_size, 1 | 2 | 4));
    assert!(!config.sps.is_empty());
    assert!(config
        .sps
        .iter()
        .chain(&config.pps)
        .all(|ps| !ps.is_empty()));
    assert!((1..=32768).contains(&config.info.width));
    assert!((1..=32768).contains(&config.info.height));
    assert!(config
        .info
        .frame_rate
        .is_none_or(|r| r.is_finite() && r > 0.0));
    assert_eq!(config.codec_string().len(), "avc1.PPCCLL".len());
    if let Some(pps) = config.pps.iter().find(|p| nal_type(p) == 8) {
        let rebuilt = AvcConfig::build_record(&config.sps[0], pps).expect("a parsed SPS rebuilds");
        assert_eq!(rebuilt.info, config.info);
        assert_eq!(rebuilt.nal_length_size, 4);
        assert_eq!(
            AvcConfig::parse(rebuilt.record.clone()).as_ref(),
            Ok(&rebuilt)
        );
    }
});
