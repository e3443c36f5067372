//! Arbitrary text as an SRT push stream id. Nothing may panic; an accepted id names a non-empty
//! app and a non-empty stream without `/`, and parsing is stable under re-encoding the target
//! in the plain form.
#![no_main]

use ingest::srt::parse_stream_id;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(target) = parse_stream_id(text) {
        assert!(!target.app.is_empty());
        assert!(!target.stream.is_empty() && !target.stream.contains('/'));
        if !target.app.contains(['%', '#', ',', '?']) && !target.stream.contains(['%', '?', '&', '=']) {
            let again = parse_stream_id(&format!("{}/{}", target.app, target.stream))
                .expect("the plain form of an accepted target parses");
            assert_eq!((again.app, again.stream), (target.app, target.stream));
        }
    }
});
