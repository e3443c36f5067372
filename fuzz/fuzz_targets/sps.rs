//! H.264 SPS: any input parses or fails; a parsed SPS has a sane picture size, and the
//! summary agrees with the full parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::codec::sps::{parse_sps, SequenceParameterSet};

fuzz_target!(|data: &[u8]| {
    // Also as an SPS payload behind a valid NAL header, so most inputs get past byte 0.
    let mut nal = Vec::with_capacity(data.len() + 1);
    nal.push(0x67);
    nal.extend_from_slice(data);
    for input in [data, &nal[..]] {
        let Ok(sps) = SequenceParameterSet::parse(input) else {
            continue;
        };
        assert!((1..=32768).contains(&sps.width));
        assert!((1..=32768).contains(&sps.height));
        assert!(sps.width <= sps.pic_width_in_mbs * 16);
        assert!(sps.chroma_format_idc <= 3);
        assert!((8..=14).contains(&sps.bit_depth_luma));
        assert!(sps.frame_rate().is_none_or(|r| r.is_finite() && r > 0.0));
        assert_eq!(parse_sps(input).ok(), Some(sps.info()));
    }
});
