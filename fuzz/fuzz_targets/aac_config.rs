//! ADTS headers and AudioSpecificConfigs. An ADTS header that parses is rewritten and reads back
//! the same. An AudioSpecificConfig: if it parses and ADTS can carry it, the ADTS header for a 100-byte
//! frame reads back as the same object type (LC for HE-AAC), frequency index and channels.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::AacConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok((config, len)) = AacConfig::from_adts(data) {
        assert!(len >= 7);
        // What we write for that config reads back identically.
        let header = config
            .adts_header(len - 7)
            .expect("an ADTS config fits ADTS");
        assert_eq!(AacConfig::from_adts(&header), Ok((config, len)));
    }
    let Ok(config) = AacConfig::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert!(config.sample_rate > 0);
    assert!(matches!(config.samples_per_frame, 960 | 1024 | 1920 | 2048));
    let Ok(header) = config.adts_header(100) else {
        return;
    };
    let (back, len) = AacConfig::from_adts(&header).expect("our own ADTS header parses");
    assert_eq!(len, 107);
    let expected_type = match config.object_type {
        5 | 29 => 2,
        other => other,
    };
    assert_eq!(back.object_type, expected_type);
    assert_eq!(
        back.sampling_frequency_index,
        config.sampling_frequency_index
    );
    assert_eq!(back.channel_config, config.channel_config);
});
