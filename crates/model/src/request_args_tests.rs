//! Unit tests of the request argument resolver: defaults, custom names, formats, units, rules,
//! the calendar arithmetic and the buffer check.

use super::*;
use crate::endpoint::{LiveRequestArgs, TimeshiftRequestArgs};

/// 2025-11-21T10:00:00Z.
const NOW: i64 = 1_763_719_200_000;
const HOUR: i64 = 3_600_000;

fn record(start: &str, end: &str, format: &str, unit: Option<&str>) -> RecordRequestArgs {
    RecordRequestArgs {
        start_time: Some(start.to_owned()),
        end_time: Some(end.to_owned()),
        format: Some(format.to_owned()),
        unit: unit.map(str::to_owned),
    }
}

fn records(entries: Vec<RecordRequestArgs>) -> PackageRequestArgs {
    PackageRequestArgs {
        record: Some(entries),
        ..PackageRequestArgs::default()
    }
}

fn timeshift(back: &str, unit: Option<&str>) -> TimeshiftRequestArgs {
    TimeshiftRequestArgs {
        back_time: Some(back.to_owned()),
        unit: unit.map(str::to_owned),
    }
}

fn live(delay: &str, unit: Option<&str>) -> LiveRequestArgs {
    LiveRequestArgs {
        delay: Some(delay.to_owned()),
        unit: unit.map(str::to_owned),
    }
}

fn ok(args: Option<&PackageRequestArgs>, query: &str) -> TimeRequest {
    resolve(args, query, NOW).unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn err(args: Option<&PackageRequestArgs>, query: &str) -> RequestArgsError {
    match resolve(args, query, NOW) {
        Ok(request) => panic!("{query}: expected an error, got {request:?}"),
        Err(error) => error,
    }
}

fn message(args: Option<&PackageRequestArgs>, query: &str) -> String {
    err(args, query).to_string()
}

fn rec(start_ms: i64, end_ms: i64) -> TimeRequest {
    TimeRequest::Record { start_ms, end_ms }
}

#[test]
fn no_time_parameter_is_live() {
    for query in [
        "",
        "?",
        "low",
        "?low&bitrate=low",
        "a=1&&b=2&",
        "=5",
        "starts=1&ends=2",
    ] {
        assert_eq!(ok(None, query), TimeRequest::Live, "{query:?}");
    }
    let empty = PackageRequestArgs::default();
    assert_eq!(ok(Some(&empty), "low"), TimeRequest::Live);
}

#[test]
fn defaults_apply_without_configuration() {
    assert_eq!(DEFAULT_START_PARAM, "start");
    assert_eq!(DEFAULT_END_PARAM, "end");
    assert_eq!(DEFAULT_RECORD_FORMAT, "timestamp");
    assert_eq!(DEFAULT_UNIT, "second");
    assert_eq!(DEFAULT_BACK_PARAM, "back");
    assert_eq!(DEFAULT_DELAY_PARAM, "delay");
    assert_eq!(
        ok(None, "start=1763700000&end=1763703600"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    assert_eq!(
        ok(None, "?back=3600"),
        TimeRequest::Timeshift { back_ms: 3_600_000 }
    );
    assert_eq!(
        ok(None, "delay=30"),
        TimeRequest::Delayed { delay_ms: 30_000 }
    );
    // Empty lists and missing fields fall back to the defaults too.
    let empty_lists = PackageRequestArgs {
        record: Some(vec![]),
        timeshift: Some(vec![]),
        live: Some(vec![]),
    };
    assert_eq!(
        ok(Some(&empty_lists), "start=1763700000&end=1763703600"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    assert_eq!(
        ok(Some(&empty_lists), "back=10"),
        TimeRequest::Timeshift { back_ms: 10_000 }
    );
    let blank_entry = records(vec![RecordRequestArgs::default()]);
    assert_eq!(
        ok(Some(&blank_entry), "start=1763700000&end=1763703600"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
}

#[test]
fn custom_names_replace_the_defaults() {
    let args = records(vec![record("begin", "end", "timestamp", Some("second"))]);
    assert_eq!(
        ok(Some(&args), "begin=1763700000&end=1763703600"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    // `start` is no longer a record parameter.
    assert_eq!(ok(Some(&args), "start=1763700000"), TimeRequest::Live);
}

#[test]
fn several_entries_first_match_wins() {
    let args = records(vec![
        record("begin", "finish", "timestamp", Some("ms")),
        record("from", "to", "YYYYMMDDHHmmss", None),
    ]);
    assert_eq!(
        ok(Some(&args), "begin=1763700000000&finish=1763703600000"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    assert_eq!(
        ok(Some(&args), "from=20251121044000&to=20251121054000"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    // Both entries present: the first in list order is used, with its own format.
    assert_eq!(
        ok(
            Some(&args),
            "from=20251121044000&to=20251121054000&begin=1763700000000"
        ),
        rec(1_763_700_000_000, NOW)
    );
    let shifts = PackageRequestArgs {
        timeshift: Some(vec![
            timeshift("shift", Some("minute")),
            timeshift("t", None),
        ]),
        live: Some(vec![live("lag", Some("ms")), live("d", Some("s"))]),
        ..PackageRequestArgs::default()
    };
    assert_eq!(
        ok(Some(&shifts), "t=90"),
        TimeRequest::Timeshift { back_ms: 90_000 }
    );
    assert_eq!(
        ok(Some(&shifts), "shift=2&t=90"),
        TimeRequest::Timeshift { back_ms: 120_000 }
    );
    assert_eq!(
        ok(Some(&shifts), "d=4"),
        TimeRequest::Delayed { delay_ms: 4000 }
    );
    assert_eq!(
        ok(Some(&shifts), "lag=2500"),
        TimeRequest::Delayed { delay_ms: 2500 }
    );
    assert_eq!(ok(Some(&shifts), "back=60&delay=5"), TimeRequest::Live);
}

#[test]
fn timestamps_in_seconds_and_milliseconds() {
    let seconds = records(vec![record("s", "e", "timestamp", Some("seconds"))]);
    assert_eq!(
        ok(Some(&seconds), "s=1763700000&e=1763700001"),
        rec(1_763_700_000_000, 1_763_700_001_000)
    );
    let millis = records(vec![record("s", "e", "TIMESTAMP", Some("Millisecond"))]);
    assert_eq!(
        ok(Some(&millis), "s=1763700000123&e=1763700000124"),
        rec(1_763_700_000_123, 1_763_700_000_124)
    );
    assert_eq!(
        message(None, "start=-5"),
        "start=-5: not a Unix time in seconds (a whole number, e.g. 1763700000); \
         negative times are refused"
    );
    assert_eq!(
        message(Some(&millis), "s=1.5"),
        "s=1.5: not a Unix time in milliseconds (a whole number, e.g. 1763700000000)"
    );
    assert_eq!(
        message(None, "start="),
        "start=: not a Unix time in seconds (a whole number, e.g. 1763700000)"
    );
    assert_eq!(
        message(None, "start"),
        "start=: not a Unix time in seconds (a whole number, e.g. 1763700000)"
    );
    assert!(message(None, "start=99999999999999999999").ends_with("; too large"));
    assert!(message(None, "start=9999999999999999").ends_with("; too large"));
}

#[test]
fn date_patterns() {
    let compact = records(vec![record("begin", "end", "YYYYMMDDHHmmss", None)]);
    assert_eq!(
        ok(Some(&compact), "begin=20251121044000&end=20251121054000"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    let iso = records(vec![record(
        "begin",
        "end",
        "YYYY-MM-DDTHH:mm:ss.SSSZ",
        None,
    )]);
    assert_eq!(
        ok(
            Some(&iso),
            "begin=2025-11-21T04:40:00.250Z&end=2025-11-21T05:40:00.000Z"
        ),
        rec(1_763_700_000_250, 1_763_703_600_000)
    );
    // Percent-encoded values, as players send them.
    let seconds_iso = records(vec![record("begin", "end", "YYYY-MM-DDTHH:mm:ssZ", None)]);
    assert_eq!(
        ok(
            Some(&seconds_iso),
            "begin=2025-11-21T04%3A40%3A00Z&end=2025-11-21T09%3a30%3a00Z"
        ),
        rec(1_763_700_000_000, NOW - HOUR / 2)
    );
    // A space separator, sent as `+` or `%20`; a literal `+` matches both.
    let spaced = records(vec![record("b", "e", "YYYY-MM-DD HH:mm:ss", None)]);
    assert_eq!(
        ok(
            Some(&spaced),
            "b=2025-11-21+04:40:00&e=2025-11-21%2005:40:00"
        ),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    let plus = records(vec![record("b", "e", "YYYYMMDD+HHmmss", None)]);
    assert_eq!(
        ok(Some(&plus), "b=20251121+044000&e=20251121%2B054000"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
}

#[test]
fn date_values_are_checked() {
    let compact = records(vec![record("begin", "end", "YYYYMMDDHHmmss", None)]);
    let bad = |value: &str| message(Some(&compact), &format!("begin={value}"));
    let prefix =
        |value: &str| format!("begin={value}: not a date in the format YYYYMMDDHHmmss (UTC); ");
    assert_eq!(
        bad("20251301000000"),
        prefix("20251301000000") + "month 13 is not 01..12"
    );
    assert_eq!(
        bad("20251100000000"),
        prefix("20251100000000") + "November 2025 has no day 00"
    );
    assert_eq!(
        bad("20231131000000"),
        prefix("20231131000000") + "November 2023 has no day 31"
    );
    assert_eq!(
        bad("20231121240000"),
        prefix("20231121240000") + "hour 24 is not 00..23"
    );
    assert_eq!(
        bad("20231121236000"),
        prefix("20231121236000") + "minute 60 is not 00..59"
    );
    assert_eq!(
        bad("20231121235960"),
        prefix("20231121235960") + "second 60 is not 00..59"
    );
    assert_eq!(
        bad("2025112104400"),
        prefix("2025112104400") + "expected 2 digits for ss at character 13"
    );
    assert_eq!(
        bad("202511210440001"),
        prefix("202511210440001") + "the value goes on after the date, at character 15"
    );
    assert_eq!(
        bad("2025-13-01"),
        prefix("2025-13-01") + "expected 2 digits for MM at character 5"
    );
    let dashed = records(vec![record("begin", "end", "YYYY-MM-DD HH:mm:ss", None)]);
    assert_eq!(
        message(Some(&dashed), "begin=2025-11-21T04:40:00"),
        "begin=2025-11-21T04:40:00: not a date in the format YYYY-MM-DD HH:mm:ss (UTC); \
         expected ' ' at character 11, got 'T'"
    );
    assert_eq!(
        message(Some(&dashed), "begin=2025-11-21"),
        "begin=2025-11-21: not a date in the format YYYY-MM-DD HH:mm:ss (UTC); \
         the value ends before the ' ' at character 11"
    );
}

#[test]
fn leap_days() {
    let args = records(vec![record("b", "e", "YYYY-MM-DD", None)]);
    // Not a valid pattern (no time): a configuration error, not the client's.
    let error = err(Some(&args), "b=2024-02-29");
    assert!(error.is_config_error());
    assert_eq!(
        error.to_string(),
        "the package's request_args.record[0].format cannot be used: must be \"timestamp\" or a \
         date pattern such as YYYYMMDDHHmmss (YYYY, MM, DD, HH, mm and ss each once, optionally \
         SSS, other characters literal), got \"YYYY-MM-DD\": HH is missing"
    );

    let args = records(vec![record("b", "e", "YYYYMMDDHHmmss", None)]);
    let now_2024 = days_from_civil(2024, 3, 2) * MS_PER_DAY;
    assert_eq!(
        resolve(Some(&args), "b=20240229000000&e=20240229120000", now_2024),
        Ok(rec(
            days_from_civil(2024, 2, 29) * MS_PER_DAY,
            days_from_civil(2024, 2, 29) * MS_PER_DAY + 12 * HOUR
        ))
    );
    assert_eq!(
        message(Some(&args), "b=20230229000000"),
        "b=20230229000000: not a date in the format YYYYMMDDHHmmss (UTC); \
         February 2023 has no day 29"
    );
    assert!(message(Some(&args), "b=21000229000000").ends_with("February 2100 has no day 29"));
    assert_eq!(
        resolve(Some(&args), "b=20000229000000&e=20000229010000", NOW),
        Ok(rec(951_782_400_000, 951_786_000_000))
    );
}

#[test]
fn start_without_end_runs_until_now() {
    assert_eq!(ok(None, "start=1763700000"), rec(1_763_700_000_000, NOW));
    // ... under the same 24 h limit.
    assert_eq!(
        message(None, &format!("start={}", (NOW - 25 * HOUR) / 1000)),
        "the interval is 25 h long; at most 24 h"
    );
    let args = records(vec![record("begin", "stop", "timestamp", None)]);
    assert_eq!(
        err(Some(&args), "stop=1763703600"),
        RequestArgsError::MissingStart {
            start: "begin".to_owned(),
            end: "stop".to_owned()
        }
    );
    assert_eq!(
        message(Some(&args), "stop=1763703600"),
        "stop needs begin: give the start of the interval too (begin alone asks for the \
         interval from then until now)"
    );
}

#[test]
fn interval_rules() {
    let args = records(vec![record("begin", "end", "timestamp", None)]);
    let now_s = NOW / 1000;
    assert_eq!(
        message(Some(&args), "begin=1763703600&end=1763700000"),
        "end must be after begin"
    );
    assert_eq!(
        message(Some(&args), "begin=1763700000&end=1763700000"),
        "end must be after begin"
    );
    // Exactly 24 h passes; one second more does not.
    assert_eq!(
        ok(
            Some(&args),
            &format!("begin={}&end={}", now_s - 86_400, now_s)
        ),
        rec(NOW - 24 * HOUR, NOW)
    );
    assert_eq!(
        message(
            Some(&args),
            &format!("begin={}&end={}", now_s - 86_401, now_s)
        ),
        "the interval is 24 h 1 s long; at most 24 h"
    );
    assert_eq!(
        message(
            Some(&args),
            &format!("begin={}&end={}", now_s - 40 * 3600, now_s - 10 * 3600)
        ),
        "the interval is 30 h long; at most 24 h"
    );
    assert_eq!(
        err(Some(&args), &format!("begin={now_s}")),
        RequestArgsError::InFuture {
            param: "begin".to_owned(),
            now_ms: NOW
        }
    );
    assert_eq!(
        message(
            Some(&args),
            &format!("begin={}&end={}", now_s + 60, now_s + 120)
        ),
        "begin is in the future (server time 2025-11-21T10:00:00Z); the interval must have happened"
    );
    assert_eq!(
        message(
            Some(&args),
            &format!("begin={}&end={}", now_s - 60, now_s + 1)
        ),
        "end is in the future (server time 2025-11-21T10:00:00Z); the interval must have happened"
    );
    // The end may be now exactly.
    assert_eq!(
        ok(Some(&args), &format!("begin={}&end={now_s}", now_s - 60)),
        rec(NOW - 60_000, NOW)
    );
}

#[test]
fn delay_and_back_units() {
    let cases: [(&str, Option<&str>, &str, u64); 12] = [
        ("d", None, "30", 30_000),
        ("d", Some("second"), "2.5", 2_500),
        ("d", Some("s"), "0.0005", 1),
        ("d", Some("seconds"), "0.0004", 0),
        ("d", Some("SECONDS"), "007", 7_000),
        ("d", Some("millisecond"), "1500", 1_500),
        ("d", Some("ms"), "1", 1),
        ("d", Some("milliseconds"), "0", 0),
        ("d", Some("minute"), "2", 120_000),
        ("d", Some("min"), "1.5", 90_000),
        ("d", Some("minutes"), "0.123456789", 7_407),
        ("d", Some("minute"), "20160", 1_209_600_000),
    ];
    for (name, unit, value, expect_ms) in cases {
        let delays = PackageRequestArgs {
            live: Some(vec![live(name, unit)]),
            ..PackageRequestArgs::default()
        };
        let shifts = PackageRequestArgs {
            timeshift: Some(vec![timeshift(name, unit)]),
            ..PackageRequestArgs::default()
        };
        let query = format!("{name}={value}");
        let (delayed, shifted) = if expect_ms == 0 {
            (TimeRequest::Live, TimeRequest::Live)
        } else {
            (
                TimeRequest::Delayed {
                    delay_ms: expect_ms,
                },
                TimeRequest::Timeshift { back_ms: expect_ms },
            )
        };
        assert_eq!(ok(Some(&delays), &query), delayed, "{unit:?} {value}");
        assert_eq!(ok(Some(&shifts), &query), shifted, "{unit:?} {value}");
    }
    assert_eq!(ok(None, "delay=0"), TimeRequest::Live);
    assert_eq!(ok(None, "back=0.0"), TimeRequest::Live);
}

#[test]
fn delay_and_back_values_are_checked() {
    assert_eq!(
        message(None, "delay=-30"),
        "delay=-30: not a number of seconds, 0 or more (e.g. 30 or 2.5); negative values are refused"
    );
    assert_eq!(
        message(None, "back=abc"),
        "back=abc: not a number of seconds, 0 or more (e.g. 30 or 2.5)"
    );
    for bad in ["", "1.", ".5", "1e3", "+3", " 3", "1.2.3", "0x10", "１"] {
        assert!(
            matches!(
                err(None, &format!("back={bad}")),
                RequestArgsError::BadValue { .. }
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        message(None, "back=1.0000000001"),
        "back=1.0000000001: not a number of seconds, 0 or more (e.g. 30 or 2.5); at most 9 decimals"
    );
    let ms = PackageRequestArgs {
        live: Some(vec![live("delay", Some("ms"))]),
        ..PackageRequestArgs::default()
    };
    assert_eq!(
        message(Some(&ms), "delay=2.5"),
        "delay=2.5: not a whole number of milliseconds, 0 or more (e.g. 30000); \
         milliseconds are whole numbers"
    );
    // 14 days pass; more does not.
    assert_eq!(
        ok(None, "back=1209600"),
        TimeRequest::Timeshift {
            back_ms: 1_209_600_000
        }
    );
    assert_eq!(
        message(None, "back=1209600.001"),
        "back=1209600.001 goes too far back; the buffer holds at most 14 days"
    );
    assert_eq!(
        err(None, "delay=99999999999999999999999"),
        RequestArgsError::TooFarBack {
            param: "delay".to_owned(),
            value: "99999999999999999999999".to_owned()
        }
    );
    let minutes = PackageRequestArgs {
        timeshift: Some(vec![timeshift("back", Some("minutes"))]),
        ..PackageRequestArgs::default()
    };
    assert!(matches!(
        err(Some(&minutes), "back=20160.01"),
        RequestArgsError::TooFarBack { .. }
    ));
}

#[test]
fn conflicts() {
    assert_eq!(
        err(None, "start=1763700000&delay=30"),
        RequestArgsError::Conflict {
            first: "start".to_owned(),
            second: "delay".to_owned()
        }
    );
    assert_eq!(
        message(None, "back=60&delay=30"),
        "back and delay cannot be used together: a request asks for one of a recording, a time \
         shift or a delayed live stream"
    );
    // Whatever the values, and with the end alone too.
    assert!(matches!(
        err(None, "end=1763700000&back=0"),
        RequestArgsError::Conflict { .. }
    ));
    assert!(matches!(
        err(None, "start=1&back=x&delay=y"),
        RequestArgsError::Conflict { .. }
    ));
}

#[test]
fn query_parsing() {
    // Unrelated parameters, bare names and stream selection keys are ignored.
    assert_eq!(
        ok(
            None,
            "low&bitrate=low&start=1763700000&token=a%ZZb&end=1763703600"
        ),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    // Names are decoded too.
    let args = records(vec![record("begin time", "end", "timestamp", None)]);
    assert_eq!(
        ok(Some(&args), "begin%20time=1763700000&end=1763703600"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    assert_eq!(
        ok(Some(&args), "begin+time=1763700000&end=1763703600"),
        rec(1_763_700_000_000, 1_763_703_600_000)
    );
    // A repeated parameter with the same value is fine, with another one it is refused.
    assert_eq!(
        ok(None, "delay=5&delay=5"),
        TimeRequest::Delayed { delay_ms: 5000 }
    );
    assert_eq!(
        message(None, "delay=5&delay=6"),
        "delay is given more than once, with different values"
    );
    // Percent-decoding: malformed escapes stay, `+` is a space.
    assert_eq!(percent_decode("a%20b+c"), "a b c");
    assert_eq!(percent_decode("%41%4a%4A"), "AJJ");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%4"), "%4");
    assert_eq!(percent_decode("%zz%+1"), "%zz% 1");
    assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    assert_eq!(percent_decode("%C3%A9"), "é");
    // Long queries are refused, not read in part.
    let long = format!("start=1763700000&pad={}", "x".repeat(MAX_QUERY_LEN));
    assert_eq!(
        message(None, &long),
        format!(
            "the query string is {} bytes long; at most 8192 bytes are accepted",
            long.len()
        )
    );
    let just_fits = format!("delay=1&pad={}", "x".repeat(MAX_QUERY_LEN - 12));
    assert_eq!(just_fits.len(), MAX_QUERY_LEN);
    assert_eq!(
        ok(None, &just_fits),
        TimeRequest::Delayed { delay_ms: 1000 }
    );
}

#[test]
fn quoted_values_are_cut_and_cleaned() {
    let long = "9".repeat(100) + "x";
    let text = message(None, &format!("start={long}"));
    assert!(
        text.starts_with(&format!("start={}…: not", "9".repeat(64))),
        "{text}"
    );
    assert_eq!(
        message(None, "back=1%0A2"),
        "back=1\u{FFFD}2: not a number of seconds, 0 or more (e.g. 30 or 2.5)"
    );
}

#[test]
fn configuration_errors_are_the_servers() {
    let minutes = records(vec![record("s", "e", "timestamp", Some("minute"))]);
    let error = err(Some(&minutes), "s=1");
    assert!(error.is_config_error());
    assert_eq!(
        error.to_string(),
        "the package's request_args.record[0].unit cannot be used: must be second or millisecond \
         (also s, seconds, ms, milliseconds), got \"minute\""
    );
    // Only a request that uses the broken entry notices.
    assert_eq!(
        ok(Some(&minutes), "delay=3"),
        TimeRequest::Delayed { delay_ms: 3000 }
    );
    let hours = PackageRequestArgs {
        live: Some(vec![live("delay", Some("hour"))]),
        ..PackageRequestArgs::default()
    };
    assert_eq!(
        message(Some(&hours), "delay=1"),
        "the package's request_args.live[0].unit cannot be used: must be second, millisecond or \
         minute (also s, seconds, ms, milliseconds, min, minutes), got \"hour\""
    );
    assert!(!err(None, "delay=x").is_config_error());
}

#[test]
fn patterns() {
    for good in [
        "YYYYMMDDHHmmss",
        "YYYY-MM-DDTHH:mm:ssZ",
        "YYYY-MM-DDTHH:mm:ss.SSSZ",
        "YYYY-MM-DD HH:mm:ss",
        "ssmmHHDDMMYYYY",
        "YYYY/MM/DD_HH.mm.ss UTC",
    ] {
        assert_eq!(check_record_format(good), Ok(()), "{good}");
    }
    assert_eq!(check_record_format("timestamp"), Ok(()));
    assert_eq!(check_record_format("Timestamp"), Ok(()));
    let cases = [
        ("", "YYYY is missing"),
        ("unix", "YYYY is missing"),
        ("YYYYMMDDHHmm", "ss is missing"),
        (
            "YYYYMMDDHHmmssSSSSSS",
            "SSS appears 2 times; once is allowed",
        ),
        (
            "YYYYMMDDHHmmssYYYY",
            "YYYY appears 2 times; once is allowed",
        ),
        (
            "YYYYMMDDHHmmsss",
            "a lone 's' (the tokens are YYYY, MM, DD, HH, mm, ss and SSS)",
        ),
        (
            "YYYY-M-DD HH:mm:ss",
            "a lone 'M' (the tokens are YYYY, MM, DD, HH, mm, ss and SSS)",
        ),
        ("yyyyMMddHHmmss", "YYYY is missing"),
    ];
    for (pattern, reason) in cases {
        assert_eq!(
            check_record_format(pattern),
            Err(reason.to_owned()),
            "{pattern}"
        );
    }
}

#[test]
fn days_from_civil_known_values() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(1969, 12, 31), -1);
    assert_eq!(days_from_civil(2000, 2, 29), 951_782_400 / 86_400);
    assert_eq!(days_from_civil(2000, 3, 1), 951_868_800 / 86_400);
    assert_eq!(days_from_civil(2100, 1, 1), 4_102_444_800 / 86_400);
    assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    assert_eq!(days_from_civil(1600, 3, 1), -135_080);
    assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(civil_from_days(951_782_400 / 86_400), (2000, 2, 29));
    assert_eq!(civil_from_days(4_102_444_800 / 86_400), (2100, 1, 1));
    // Round trips over four centuries around the epoch, and far out.
    for days in (-146_097..=146_097).step_by(7) {
        let (y, m, d) = civil_from_days(days);
        let year = i32::try_from(y).expect("a small year");
        assert_eq!(days_from_civil(year, m, d), days, "{y}-{m}-{d}");
        assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(year, m));
    }
    let (y, m, d) = civil_from_days(i64::MAX);
    assert!(y > 0 && (1..=12).contains(&m) && (1..=31).contains(&d));
    let (y, ..) = civil_from_days(i64::MIN);
    assert!(y < 0);
    // Nonsense input gives nonsense, not a panic.
    let _ = days_from_civil(i32::MIN, u32::MAX, u32::MAX);
    let _ = days_from_civil(i32::MAX, 0, 0);
}

#[test]
fn rfc3339() {
    assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(format_rfc3339(4_102_444_800_000), "2100-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(NOW), "2025-11-21T10:00:00Z");
    assert_eq!(
        format_rfc3339(1_763_700_000_250),
        "2025-11-21T04:40:00.250Z"
    );
    assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    let _ = format_rfc3339(i64::MIN);
    let _ = format_rfc3339(i64::MAX);
}

#[test]
fn buffer_check() {
    let from = NOW - 2 * HOUR; // 2025-11-21T08:00:00Z
    let until = NOW - 4_000;
    let within = |request: TimeRequest| check_within(&request, from, until, NOW);
    assert_eq!(within(TimeRequest::Live), Ok(()));
    assert_eq!(within(TimeRequest::Delayed { delay_ms: 1000 }), Ok(()));
    assert_eq!(
        within(TimeRequest::Timeshift {
            back_ms: 2 * HOUR as u64
        }),
        Ok(())
    );
    assert_eq!(within(rec(from, from + HOUR)), Ok(()));
    assert_eq!(within(rec(until - 1, NOW)), Ok(()));

    let error = within(TimeRequest::Timeshift {
        back_ms: 3 * HOUR as u64,
    })
    .expect_err("three hours back is before the buffer");
    assert_eq!(
        error,
        RequestArgsError::OutsideBuffer {
            requested_ms: NOW - 3 * HOUR,
            available_from_ms: from,
            available_until_ms: until
        }
    );
    assert_eq!(
        error.to_string(),
        "2025-11-21T07:00:00Z is not in the buffer any more; the oldest available moment is \
         2025-11-21T08:00:00Z"
    );
    assert!(within(TimeRequest::Delayed { delay_ms: u64::MAX }).is_err());
    assert_eq!(
        within(rec(from - 1000, from + HOUR))
            .expect_err("starts a second early")
            .to_string(),
        "2025-11-21T07:59:59Z is not in the buffer any more; the oldest available moment is \
         2025-11-21T08:00:00Z"
    );
    assert_eq!(
        within(rec(until, NOW))
            .expect_err("starts after the newest segment")
            .to_string(),
        "nothing is recorded from 2025-11-21T09:59:56Z on; the buffer holds \
         2025-11-21T08:00:00Z to 2025-11-21T09:59:56Z"
    );
    assert_eq!(
        check_within(&TimeRequest::Delayed { delay_ms: 1 }, NOW, NOW, NOW),
        Err(RequestArgsError::EmptyBuffer)
    );
    assert_eq!(
        RequestArgsError::EmptyBuffer.to_string(),
        "nothing is recorded yet"
    );
    assert_eq!(check_within(&TimeRequest::Live, 0, 0, NOW), Ok(()));
}

#[test]
fn durations_in_messages() {
    assert_eq!(Duration(0).to_string(), "0 s");
    assert_eq!(Duration(30 * HOUR).to_string(), "30 h");
    assert_eq!(Duration(HOUR + 60_500).to_string(), "1 h 1 min 500 ms");
    assert_eq!(
        Duration(i64::MIN).to_string(),
        "2562047788015 h 12 min 55 s 808 ms"
    );
}

/// The examples of docs/configuration.md ("Request arguments"), word for word.
#[test]
fn documented_messages() {
    let compact = records(vec![record("begin", "end", "YYYYMMDDHHmmss", None)]);
    let stamps = records(vec![record("begin", "end", "timestamp", None)]);
    let now_s = NOW / 1000;
    let cases = [
        (
            message(Some(&compact), "begin=2025-13-01"),
            "begin=2025-13-01: not a date in the format YYYYMMDDHHmmss (UTC); expected 2 digits \
             for MM at character 5",
        ),
        (
            message(Some(&compact), "begin=20230229000000"),
            "begin=20230229000000: not a date in the format YYYYMMDDHHmmss (UTC); February 2023 \
             has no day 29",
        ),
        (
            message(None, "start=-5"),
            "start=-5: not a Unix time in seconds (a whole number, e.g. 1763700000); negative \
             times are refused",
        ),
        (
            message(Some(&stamps), "begin=1763703600&end=1763700000"),
            "end must be after begin",
        ),
        (
            message(
                Some(&stamps),
                &format!("begin={}&end={}", now_s - 40 * 3600, now_s - 10 * 3600),
            ),
            "the interval is 30 h long; at most 24 h",
        ),
        (
            message(Some(&stamps), &format!("begin={}", now_s + 1)),
            "begin is in the future (server time 2025-11-21T10:00:00Z); the interval must have \
             happened",
        ),
        (
            message(Some(&stamps), "end=1763700000"),
            "end needs begin: give the start of the interval too (begin alone asks for the \
             interval from then until now)",
        ),
        (
            message(None, "delay=-30"),
            "delay=-30: not a number of seconds, 0 or more (e.g. 30 or 2.5); negative values are \
             refused",
        ),
        (
            message(None, "back=2000000"),
            "back=2000000 goes too far back; the buffer holds at most 14 days",
        ),
        (
            message(None, "start=1763700000&delay=30"),
            "start and delay cannot be used together: a request asks for one of a recording, a \
             time shift or a delayed live stream",
        ),
        (
            message(None, "delay=5&delay=6"),
            "delay is given more than once, with different values",
        ),
        (
            check_within(
                &TimeRequest::Timeshift {
                    back_ms: 3 * HOUR as u64,
                },
                NOW - 2 * HOUR,
                NOW,
                NOW,
            )
            .map_err(|e| e.to_string())
            .expect_err("before the buffer"),
            "2025-11-21T07:00:00Z is not in the buffer any more; the oldest available moment is \
             2025-11-21T08:00:00Z",
        ),
    ];
    for (got, documented) in cases {
        assert_eq!(got, documented);
    }
}
