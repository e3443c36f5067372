//! Channel configuration JSON: any input parses or fails with a path; a parsed channel
//! validates without panicking and round-trips through serde.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match model::parse_channels(text) {
        Ok(channels) => {
            for c in &channels {
                let _ = c.validate();
                let json = serde_json::to_string(c).expect("a parsed channel serializes");
                let back = model::parse_channel(&json).expect("and parses back");
                assert_eq!(&back, c);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
