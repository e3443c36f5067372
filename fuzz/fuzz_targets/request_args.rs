//! Playback request arguments: a date pattern (as the record `format`) and a query string, cut
//! from the input at the index its first byte gives, resolved at a fixed time. Nothing may
//! panic; a record is a past interval of at most 24 h, a time shift or delay is at most 14
//! days, and an error message quotes the query's values cut short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::request_args::{
    check_within, format_rfc3339, resolve, MAX_RECORD_SPAN_MS, MAX_SHIFT_MS,
};
use model::{
    LiveRequestArgs, PackageRequestArgs, RecordRequestArgs, TimeRequest, TimeshiftRequestArgs,
};

/// 2025-11-21T10:00:00Z.
const NOW_MS: i64 = 1_763_719_200_000;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // The split index counts characters, so it never falls inside one.
    let cut = text
        .char_indices()
        .nth(usize::from(split))
        .map_or(text.len(), |(i, _)| i);
    let (pattern, query) = text.split_at(cut);
    let args = PackageRequestArgs {
        record: Some(vec![
            RecordRequestArgs {
                start_time: Some("b".to_owned()),
                end_time: Some("e".to_owned()),
                format: Some(pattern.to_owned()),
                unit: None,
            },
            // The defaults' names, in milliseconds, as a second entry.
            RecordRequestArgs {
                unit: Some("ms".to_owned()),
                ..RecordRequestArgs::default()
            },
        ]),
        timeshift: Some(vec![TimeshiftRequestArgs {
            back_time: Some("back".to_owned()),
            unit: Some("min".to_owned()),
        }]),
        live: Some(vec![LiveRequestArgs {
            delay: Some("delay".to_owned()),
            unit: None,
        }]),
    };
    match resolve(Some(&args), query, NOW_MS) {
        Ok(TimeRequest::Record { start_ms, end_ms }) => {
            assert!(start_ms < end_ms, "{start_ms} < {end_ms}");
            assert!(end_ms <= NOW_MS, "{end_ms} <= now");
            assert!(end_ms - start_ms <= MAX_RECORD_SPAN_MS);
            let _ = format_rfc3339(start_ms);
        }
        Ok(TimeRequest::Timeshift { back_ms: ms } | TimeRequest::Delayed { delay_ms: ms }) => {
            assert!(ms > 0 && ms <= MAX_SHIFT_MS, "{ms}");
        }
        Ok(TimeRequest::Live) => {}
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            // Quoted values are cut, so a message stays short whatever the query (the pattern
            // is configuration and is quoted whole, escaped).
            assert!(message.len() < 1024 + 12 * pattern.len(), "{message}");
        }
    }
    if let Ok(request) = resolve(Some(&args), query, NOW_MS) {
        let _ = check_within(&request, NOW_MS - 86_400_000, NOW_MS - 2_000, NOW_MS);
    }
});
