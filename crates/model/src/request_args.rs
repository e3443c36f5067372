//! Playback request arguments: what time a manifest request asks for, read from its query string
//! with the names a package's `request_args` configures (Tables 22–25).
//!
//! The configuration holds the *names* of query parameters. With
//! `record: [{start_time: "begin", end_time: "end", format: "timestamp", unit: "second"}]` a
//! catch-up request reads `?begin=1763700000&end=1763703600`. [`resolve`] turns the package's
//! configuration, the query string and the current time into a [`TimeRequest`]; it does no I/O
//! and never reads the clock (the caller passes `now_ms`). It does not know what the on-disk
//! buffer holds either: [`check_within`] checks a resolved request against the buffer's bounds.
//!
//! # Names and defaults
//!
//! When `request_args` is absent, or one of its lists is missing or empty, or a name field is
//! missing (or empty, which validation refuses), the defaults apply: record `start` / `end` with
//! format `timestamp` and unit `second` ([`DEFAULT_START_PARAM`], [`DEFAULT_END_PARAM`],
//! [`DEFAULT_RECORD_FORMAT`], [`DEFAULT_UNIT`]), time shift `back` ([`DEFAULT_BACK_PARAM`]) and
//! live delay `delay` ([`DEFAULT_DELAY_PARAM`]), both in seconds. A list that has entries
//! replaces the defaults of its kind. Of several entries of one list, the first (in list order)
//! whose parameter the query carries is used, with its own format and unit.
//!
//! # Query string
//!
//! `&`-separated `name=value` pairs (a bare `name` has an empty value); names and values are
//! percent-decoded (`%XX`, and `+` as a space), a malformed escape stays as written. Parameters
//! no role uses are ignored (stream selection keys such as `?low` or `?bitrate=low` share the
//! query). A parameter given twice with different values is refused
//! ([`RequestArgsError::Repeated`]). A query longer than [`MAX_QUERY_LEN`] bytes is refused
//! ([`RequestArgsError::QueryTooLong`]) rather than read in part, so that a time parameter
//! beyond the limit is never silently dropped.
//!
//! # Rules
//!
//! - **Record** (catch-up): `start` is required. `end` may be left out: the interval then runs
//!   from `start` until `now_ms` (the interval so far), under the same rules. `end` without
//!   `start` is refused ([`RequestArgsError::MissingStart`]). The start must be before now,
//!   the end after the start and not after now (the interval must have happened; clamping to
//!   what is recorded is the caller's business), and the interval at most
//!   [`MAX_RECORD_SPAN_MS`] (24 h) long.
//! - **Time shift** (`back`) and **live delay** (`delay`): a non-negative duration in the
//!   entry's unit, at most 14 days ([`MAX_SHIFT_MS`], the longest rolling buffer); `0` means
//!   the live edge ([`TimeRequest::Live`]).
//! - **Conflicts**: a request asks for one of a recording, a time shift or a delayed live view.
//!   Parameters of two of them in one query are refused ([`RequestArgsError::Conflict`]),
//!   whatever their values, rather than one silently beating the other.
//!
//! # Formats and units
//!
//! A record `format` is `timestamp` (Unix time in the entry's `unit`, `second` or
//! `millisecond`, a whole number ≥ 0) or a date pattern in UTC made of the tokens `YYYY`, `MM`,
//! `DD`, `HH`, `mm`, `ss` (each exactly once), an optional `SSS` (milliseconds) and literal
//! characters that must match exactly, e.g. `YYYYMMDDHHmmss` or `YYYY-MM-DDTHH:mm:ss.SSSZ`
//! (a literal `+` also matches a space, which is what an unescaped `+` decodes to). With a
//! pattern, `unit` is ignored. Every token takes exactly its number of digits.
//!
//! Units (ASCII case ignored): `second`, `s`, `seconds`; `millisecond`, `ms`, `milliseconds`;
//! and for `back` and `delay` also `minute`, `min`, `minutes`. Durations in seconds or minutes
//! may have up to 9 decimals (`2.5`), rounded to the nearest millisecond; milliseconds are whole.

use std::borrow::Cow;
use std::fmt;

use crate::endpoint::{PackageRequestArgs, RecordRequestArgs};
use crate::limits::MAX_ROLLINGBUFFER_DURATION;

/// Name of the record start parameter when none is configured.
pub const DEFAULT_START_PARAM: &str = "start";
/// Name of the record end parameter when none is configured.
pub const DEFAULT_END_PARAM: &str = "end";
/// Record time format when none is configured.
pub const DEFAULT_RECORD_FORMAT: &str = "timestamp";
/// Unit of record timestamps, time shifts and delays when none is configured.
pub const DEFAULT_UNIT: &str = "second";
/// Name of the time shift parameter when none is configured.
pub const DEFAULT_BACK_PARAM: &str = "back";
/// Name of the live delay parameter when none is configured.
pub const DEFAULT_DELAY_PARAM: &str = "delay";
/// Longest record interval, in milliseconds (24 hours).
pub const MAX_RECORD_SPAN_MS: i64 = 86_400_000;
/// Longest time shift or live delay, in milliseconds: the longest rolling buffer (14 days).
pub const MAX_SHIFT_MS: u64 = MAX_ROLLINGBUFFER_DURATION * 1000;
/// Longest query string read, in bytes (8 KiB); a longer one is refused.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// Longest piece of a request value quoted back in an error message, in characters.
const MAX_QUOTED_CHARS: usize = 64;
const MS_PER_DAY: i64 = 86_400_000;

/// What time a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeRequest {
    /// No time parameter: the live edge.
    Live,
    /// live.delay: the live window, its edge moved back by `delay_ms`.
    Delayed {
        /// How far back the edge is, in milliseconds (> 0).
        delay_ms: u64,
    },
    /// timeshift.back_time: a live window that ends `back_ms` before now.
    Timeshift {
        /// How far before now the window ends, in milliseconds (> 0).
        back_ms: u64,
    },
    /// record start/end: a finished (VOD) view of `[start_ms, end_ms)` in Unix milliseconds.
    Record {
        /// Start, Unix milliseconds; before now.
        start_ms: i64,
        /// End, Unix milliseconds; after the start, not after now, at most 24 h after the start.
        end_ms: i64,
    },
}

/// Why a request's time parameters cannot be served. Every variant but
/// [`RequestArgsError::Config`] is the client's fault, and its [`Display`](fmt::Display) is meant
/// to be the body of an HTTP 400 answer: it names the parameter and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestArgsError {
    /// The query string is longer than [`MAX_QUERY_LEN`].
    QueryTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A parameter's value is not in the expected format.
    BadValue {
        /// The parameter's name.
        param: String,
        /// The value as received (decoded; long values cut, control characters replaced).
        value: String,
        /// What was expected, e.g. `a date in the format YYYYMMDDHHmmss (UTC)`.
        expected: String,
        /// What exactly is wrong, when known, e.g. `February 2023 has no day 29`.
        detail: Option<String>,
    },
    /// A parameter is given twice with different values.
    Repeated {
        /// The parameter's name.
        param: String,
    },
    /// The record end is given without the start.
    MissingStart {
        /// Name of the start parameter.
        start: String,
        /// Name of the end parameter.
        end: String,
    },
    /// The record end is not after the start.
    EndBeforeStart {
        /// Name of the start parameter.
        start: String,
        /// Name of the end parameter.
        end: String,
    },
    /// The record interval is longer than [`MAX_RECORD_SPAN_MS`].
    TooLong {
        /// The interval's length in milliseconds.
        span_ms: i64,
    },
    /// A record time is in the future (the start at or after now, or the end after now).
    InFuture {
        /// The parameter's name.
        param: String,
        /// The server's time, Unix milliseconds.
        now_ms: i64,
    },
    /// A time shift or delay goes back further than the longest buffer ([`MAX_SHIFT_MS`]).
    TooFarBack {
        /// The parameter's name.
        param: String,
        /// The value as received.
        value: String,
    },
    /// Parameters of two different requests (record, time shift, delay) are given together.
    Conflict {
        /// One parameter.
        first: String,
        /// The other.
        second: String,
    },
    /// The package's configuration cannot be applied (validation would have reported it): a
    /// server-side fault, not the client's.
    Config {
        /// Where in `request_args`, e.g. `record[0].format`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// From [`check_within`]: the requested time is not in the buffer.
    OutsideBuffer {
        /// The requested moment (the record start, or the shifted live edge), Unix ms.
        requested_ms: i64,
        /// The oldest moment the buffer holds, Unix ms.
        available_from_ms: i64,
        /// The newest moment the buffer holds, Unix ms.
        available_until_ms: i64,
    },
    /// From [`check_within`]: the buffer holds nothing yet.
    EmptyBuffer,
}

impl RequestArgsError {
    /// Whether the package's configuration is at fault rather than the request (an HTTP 500
    /// rather than a 400).
    pub fn is_config_error(&self) -> bool {
        matches!(self, RequestArgsError::Config { .. })
    }
}

impl fmt::Display for RequestArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestArgsError::QueryTooLong { len } => write!(
                f,
                "the query string is {len} bytes long; at most {MAX_QUERY_LEN} bytes are accepted"
            ),
            RequestArgsError::BadValue {
                param,
                value,
                expected,
                detail,
            } => {
                write!(f, "{param}={value}: not {expected}")?;
                match detail {
                    Some(detail) => write!(f, "; {detail}"),
                    None => Ok(()),
                }
            }
            RequestArgsError::Repeated { param } => {
                write!(f, "{param} is given more than once, with different values")
            }
            RequestArgsError::MissingStart { start, end } => write!(
                f,
                "{end} needs {start}: give the start of the interval too \
                 ({start} alone asks for the interval from then until now)"
            ),
            RequestArgsError::EndBeforeStart { start, end } => {
                write!(f, "{end} must be after {start}")
            }
            RequestArgsError::TooLong { span_ms } => write!(
                f,
                "the interval is {} long; at most {}",
                Duration(*span_ms),
                Duration(MAX_RECORD_SPAN_MS)
            ),
            RequestArgsError::InFuture { param, now_ms } => write!(
                f,
                "{param} is in the future (server time {}); the interval must have happened",
                format_rfc3339(*now_ms)
            ),
            RequestArgsError::TooFarBack { param, value } => write!(
                f,
                "{param}={value} goes too far back; the buffer holds at most {} days",
                MAX_ROLLINGBUFFER_DURATION / 86_400
            ),
            RequestArgsError::Conflict { first, second } => write!(
                f,
                "{first} and {second} cannot be used together: a request asks for one of a \
                 recording, a time shift or a delayed live stream"
            ),
            RequestArgsError::Config { field, reason } => write!(
                f,
                "the package's request_args.{field} cannot be used: {reason}"
            ),
            RequestArgsError::OutsideBuffer {
                requested_ms,
                available_from_ms,
                available_until_ms,
            } => {
                let requested = format_rfc3339(*requested_ms);
                let from = format_rfc3339(*available_from_ms);
                if requested_ms < available_from_ms {
                    write!(
                        f,
                        "{requested} is not in the buffer any more; the oldest available \
                         moment is {from}"
                    )
                } else {
                    write!(
                        f,
                        "nothing is recorded from {requested} on; the buffer holds {from} to {}",
                        format_rfc3339(*available_until_ms)
                    )
                }
            }
            RequestArgsError::EmptyBuffer => write!(f, "nothing is recorded yet"),
        }
    }
}

impl std::error::Error for RequestArgsError {}

/// What a request asks for: the live edge, a delayed or time-shifted live view, or a recorded
/// interval. See the [module documentation](self) for names, defaults, formats and rules.
///
/// `query` is the request's query string, without or with its leading `?`; `now_ms` the current
/// time in Unix milliseconds.
pub fn resolve(
    args: Option<&PackageRequestArgs>,
    query: &str,
    now_ms: i64,
) -> Result<TimeRequest, RequestArgsError> {
    let query = Query::parse(query)?;
    let record = record_entries(args)
        .into_iter()
        .find(|e| query.has(e.start) || query.has(e.end));
    let shift = shift_entries(args, Shift::Timeshift)
        .into_iter()
        .find(|e| query.has(e.name));
    let delay = shift_entries(args, Shift::Live)
        .into_iter()
        .find(|e| query.has(e.name));

    let record_param = record
        .as_ref()
        .map(|r| if query.has(r.start) { r.start } else { r.end });
    let present: Vec<&str> = [record_param, shift.map(|s| s.name), delay.map(|d| d.name)]
        .into_iter()
        .flatten()
        .collect();
    if let [first, second, ..] = present[..] {
        return Err(RequestArgsError::Conflict {
            first: first.to_owned(),
            second: second.to_owned(),
        });
    }

    if let Some(record) = record {
        return resolve_record(&query, &record, now_ms);
    }
    if let Some(shift) = shift {
        let back_ms = shift_value(&query, &shift)?;
        return Ok(if back_ms == 0 {
            TimeRequest::Live
        } else {
            TimeRequest::Timeshift { back_ms }
        });
    }
    if let Some(delay) = delay {
        let delay_ms = shift_value(&query, &delay)?;
        return Ok(if delay_ms == 0 {
            TimeRequest::Live
        } else {
            TimeRequest::Delayed { delay_ms }
        });
    }
    Ok(TimeRequest::Live)
}

/// Checks a resolved request against what the buffer holds, `[buffer_start_ms, buffer_end_ms]`
/// in Unix milliseconds (the start of its oldest segment and the end of its newest).
///
/// The live edge always passes. A delayed or time-shifted view passes when its edge
/// (`now_ms` minus the delay) is not older than the buffer's start; that it may be newer than
/// the buffer's end is the live case. A record passes when its start lies in
/// `[buffer_start_ms, buffer_end_ms)`: it starts at a held moment; an end past what is held
/// is for the caller to clamp, and a start before it is refused rather than silently cut, so
/// the player learns the oldest available moment from the message. When the buffer is empty
/// (`buffer_end_ms <= buffer_start_ms`) every request but the live edge is refused.
pub fn check_within(
    request: &TimeRequest,
    buffer_start_ms: i64,
    buffer_end_ms: i64,
    now_ms: i64,
) -> Result<(), RequestArgsError> {
    let (requested_ms, is_record) = match *request {
        TimeRequest::Live => return Ok(()),
        TimeRequest::Delayed { delay_ms: back } | TimeRequest::Timeshift { back_ms: back } => (
            now_ms.saturating_sub(i64::try_from(back).unwrap_or(i64::MAX)),
            false,
        ),
        TimeRequest::Record { start_ms, .. } => (start_ms, true),
    };
    if buffer_end_ms <= buffer_start_ms {
        return Err(RequestArgsError::EmptyBuffer);
    }
    if requested_ms < buffer_start_ms || (is_record && requested_ms >= buffer_end_ms) {
        return Err(RequestArgsError::OutsideBuffer {
            requested_ms,
            available_from_ms: buffer_start_ms,
            available_until_ms: buffer_end_ms,
        });
    }
    Ok(())
}

/// Formats Unix milliseconds as an RFC 3339 UTC time, `2025-11-21T10:00:00Z`, with `.SSS`
/// before the `Z` when the milliseconds are not zero.
pub fn format_rfc3339(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(MS_PER_DAY);
    let in_day = unix_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (secs, millis) = (in_day / 1000, in_day % 1000);
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if millis != 0 {
        text.push_str(&format!(".{millis:03}"));
    }
    text.push('Z');
    text
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (negative
/// before), after Howard Hinnant's `days_from_civil`. `month` is 1–12 and `day` 1–31; other
/// values give a meaningless result, never a panic.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    // The year runs from March, so that February's leap day comes last.
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9).rem_euclid(12);
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month 1–12, day 1–31) `days` after 1970-01-01, the inverse of
/// [`days_from_civil`]; any `days` works.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i128::from(month <= 2);
    // |year| < 2^64 / 365; month and day are small.
    (year as i64, month as u32, day as u32)
}

/// Whether `year` is a leap year of the Gregorian calendar.
fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A time unit of `unit` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Millisecond,
    Second,
    Minute,
}

impl Unit {
    /// Reads a unit name, ignoring ASCII case.
    pub(crate) fn parse(text: &str) -> Option<Unit> {
        match text.to_ascii_lowercase().as_str() {
            "millisecond" | "milliseconds" | "ms" => Some(Unit::Millisecond),
            "second" | "seconds" | "s" => Some(Unit::Second),
            "minute" | "minutes" | "min" => Some(Unit::Minute),
            _ => None,
        }
    }

    fn ms(self) -> u64 {
        match self {
            Unit::Millisecond => 1,
            Unit::Second => 1000,
            Unit::Minute => 60_000,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Unit::Millisecond => "milliseconds",
            Unit::Second => "seconds",
            Unit::Minute => "minutes",
        }
    }
}

/// Record units: what a Unix timestamp counts.
pub(crate) const RECORD_UNITS: &str = "second or millisecond (also s, seconds, ms, milliseconds)";
/// Time shift and delay units.
pub(crate) const SHIFT_UNITS: &str =
    "second, millisecond or minute (also s, seconds, ms, milliseconds, min, minutes)";

/// Reads a record `unit`: seconds or milliseconds.
pub(crate) fn parse_record_unit(text: &str) -> Result<Unit, String> {
    match Unit::parse(text) {
        Some(unit @ (Unit::Second | Unit::Millisecond)) => Ok(unit),
        _ => Err(format!("must be {RECORD_UNITS}, got {:?}", quote(text))),
    }
}

/// Reads a time shift or delay `unit`.
pub(crate) fn parse_shift_unit(text: &str) -> Result<Unit, String> {
    Unit::parse(text).ok_or_else(|| format!("must be {SHIFT_UNITS}, got {:?}", quote(text)))
}

/// One piece of a date pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millis,
    Literal(char),
}

/// The tokens of date patterns, longest first for matching, with their digit counts.
const TOKENS: [(&str, Token, usize); 7] = [
    ("YYYY", Token::Year, 4),
    ("SSS", Token::Millis, 3),
    ("MM", Token::Month, 2),
    ("DD", Token::Day, 2),
    ("HH", Token::Hour, 2),
    ("mm", Token::Minute, 2),
    ("ss", Token::Second, 2),
];

fn token_text(token: Token) -> &'static str {
    TOKENS
        .iter()
        .find(|(_, t, _)| *t == token)
        .map_or("?", |(text, _, _)| text)
}

fn token_width(token: Token) -> usize {
    TOKENS
        .iter()
        .find(|(_, t, _)| *t == token)
        .map_or(1, |(_, _, width)| *width)
}

/// A record time format: Unix time in a unit, or a date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RecordFormat {
    Timestamp(Unit),
    Pattern { text: String, tokens: Vec<Token> },
}

/// The message validation gives for a format that is neither `timestamp` nor a valid pattern.
pub(crate) const FORMAT_RULE: &str = "must be \"timestamp\" or a date pattern such as \
     YYYYMMDDHHmmss (YYYY, MM, DD, HH, mm and ss each once, optionally SSS, other characters \
     literal)";

/// Checks a record `format` field: `timestamp` (any ASCII case) or a valid date pattern.
pub(crate) fn check_record_format(format: &str) -> Result<(), String> {
    if format.eq_ignore_ascii_case(DEFAULT_RECORD_FORMAT) {
        return Ok(());
    }
    parse_pattern(format).map(|_| ())
}

/// Splits a date pattern into tokens and checks that each of `YYYY`, `MM`, `DD`, `HH`, `mm`,
/// `ss` appears exactly once, `SSS` at most once, and no letter of a token stands alone.
fn parse_pattern(pattern: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        match TOKENS.iter().find(|(text, _, _)| rest.starts_with(text)) {
            Some((text, token, _)) => {
                tokens.push(*token);
                rest = &rest[text.len()..];
            }
            None => {
                if matches!(c, 'Y' | 'M' | 'D' | 'H' | 'm' | 's' | 'S') {
                    return Err(format!(
                        "a lone {c:?} (the tokens are YYYY, MM, DD, HH, mm, ss and SSS)"
                    ));
                }
                tokens.push(Token::Literal(c));
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    for (text, token, _) in TOKENS {
        let count = tokens.iter().filter(|t| **t == token).count();
        match (token, count) {
            (Token::Millis, 0 | 1) | (_, 1) => {}
            (_, 0) => return Err(format!("{text} is missing")),
            _ => return Err(format!("{text} appears {count} times; once is allowed")),
        }
    }
    Ok(tokens)
}

impl RecordFormat {
    /// Reads an entry's `format` and `unit`; the error is the field at fault and why.
    fn parse(format: &str, unit: &str) -> Result<RecordFormat, (&'static str, String)> {
        if format.eq_ignore_ascii_case(DEFAULT_RECORD_FORMAT) {
            return parse_record_unit(unit)
                .map(RecordFormat::Timestamp)
                .map_err(|reason| ("unit", reason));
        }
        let tokens = parse_pattern(format)
            .map_err(|reason| ("format", format!("{FORMAT_RULE}, got {format:?}: {reason}")))?;
        Ok(RecordFormat::Pattern {
            text: format.to_owned(),
            tokens,
        })
    }

    fn expected(&self) -> String {
        match self {
            RecordFormat::Timestamp(unit) => format!(
                "a Unix time in {} (a whole number, e.g. {})",
                unit.plural(),
                if *unit == Unit::Millisecond {
                    "1763700000000"
                } else {
                    "1763700000"
                }
            ),
            RecordFormat::Pattern { text, .. } => {
                format!("a date in the format {} (UTC)", quote(text))
            }
        }
    }

    /// The Unix milliseconds a value stands for; the error says what is wrong with it.
    fn read(&self, value: &str) -> Result<i64, Option<String>> {
        match self {
            RecordFormat::Timestamp(unit) => read_timestamp(value, *unit),
            RecordFormat::Pattern { tokens, .. } => read_date(tokens, value).map_err(Some),
        }
    }
}

fn read_timestamp(value: &str, unit: Unit) -> Result<i64, Option<String>> {
    if value.starts_with('-') {
        return Err(Some("negative times are refused".to_owned()));
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(None);
    }
    value
        .parse::<i64>()
        .ok()
        .and_then(|v| v.checked_mul(unit.ms() as i64))
        .ok_or_else(|| Some("too large".to_owned()))
}

/// Reads a date following `tokens` exactly, as UTC.
fn read_date(tokens: &[Token], value: &str) -> Result<i64, String> {
    let mut fields = [0u32; 7];
    let mut chars = value.chars().peekable();
    let mut position = 1;
    for token in tokens {
        match *token {
            Token::Literal(want) => {
                let got = chars.next();
                let matches = got == Some(want) || (want == '+' && got == Some(' '));
                if !matches {
                    return Err(match got {
                        Some(got) => {
                            format!("expected {want:?} at character {position}, got {got:?}")
                        }
                        None => {
                            format!("the value ends before the {want:?} at character {position}")
                        }
                    });
                }
                position += 1;
            }
            token => {
                let width = token_width(token);
                let mut number = 0u32;
                for _ in 0..width {
                    match chars.next().and_then(|c| c.to_digit(10)) {
                        Some(digit) => number = number * 10 + digit,
                        None => {
                            return Err(format!(
                                "expected {width} digits for {} at character {position}",
                                token_text(token)
                            ))
                        }
                    }
                }
                position += width;
                let slot = TOKENS.iter().position(|(_, t, _)| *t == token).unwrap_or(0);
                fields[slot] = number;
            }
        }
    }
    if chars.peek().is_some() {
        return Err(format!(
            "the value goes on after the date, at character {position}"
        ));
    }
    let [year, millis, month, day, hour, minute, second] = fields;
    // Four digits: 0..=9999.
    let year = year as i32;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} is not 01..12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        let name = MONTH_NAMES.get(month as usize - 1).copied().unwrap_or("?");
        return Err(format!("{name} {year:04} has no day {day:02}"));
    }
    if hour > 23 {
        return Err(format!("hour {hour:02} is not 00..23"));
    }
    if minute > 59 {
        return Err(format!("minute {minute:02} is not 00..59"));
    }
    if second > 59 {
        return Err(format!("second {second:02} is not 00..59"));
    }
    let seconds = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Ok(seconds * 1000 + i64::from(millis))
}

/// The names one record entry uses, with defaults filled in.
#[derive(Debug, Clone, Copy)]
struct RecordNames<'a> {
    index: usize,
    start: &'a str,
    end: &'a str,
    format: &'a str,
    unit: &'a str,
}

/// A configured name, or `default` when it is missing or empty.
pub(crate) fn name_or<'a>(name: Option<&'a str>, default: &'a str) -> &'a str {
    name.filter(|n| !n.is_empty()).unwrap_or(default)
}

fn record_names(index: usize, entry: &RecordRequestArgs) -> RecordNames<'_> {
    RecordNames {
        index,
        start: name_or(entry.start_time.as_deref(), DEFAULT_START_PARAM),
        end: name_or(entry.end_time.as_deref(), DEFAULT_END_PARAM),
        format: name_or(entry.format.as_deref(), DEFAULT_RECORD_FORMAT),
        unit: name_or(entry.unit.as_deref(), DEFAULT_UNIT),
    }
}

fn record_entries(args: Option<&PackageRequestArgs>) -> Vec<RecordNames<'_>> {
    match args.and_then(|a| a.record.as_deref()) {
        Some(list) if !list.is_empty() => list
            .iter()
            .enumerate()
            .map(|(i, e)| record_names(i, e))
            .collect(),
        _ => vec![RecordNames {
            index: 0,
            start: DEFAULT_START_PARAM,
            end: DEFAULT_END_PARAM,
            format: DEFAULT_RECORD_FORMAT,
            unit: DEFAULT_UNIT,
        }],
    }
}

/// Which duration list: `timeshift` or `live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    Timeshift,
    Live,
}

/// The names one time shift or live entry uses, with defaults filled in.
#[derive(Debug, Clone, Copy)]
struct ShiftNames<'a> {
    list: Shift,
    index: usize,
    name: &'a str,
    unit: &'a str,
}

fn shift_entries<'a>(args: Option<&'a PackageRequestArgs>, list: Shift) -> Vec<ShiftNames<'a>> {
    let entries: Vec<(Option<&'a str>, Option<&'a str>)> = match list {
        Shift::Timeshift => args
            .and_then(|a| a.timeshift.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|e| (e.back_time.as_deref(), e.unit.as_deref()))
            .collect(),
        Shift::Live => args
            .and_then(|a| a.live.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|e| (e.delay.as_deref(), e.unit.as_deref()))
            .collect(),
    };
    let default = match list {
        Shift::Timeshift => DEFAULT_BACK_PARAM,
        Shift::Live => DEFAULT_DELAY_PARAM,
    };
    let names = |index: usize, name: Option<&'a str>, unit: Option<&'a str>| ShiftNames {
        list,
        index,
        name: name_or(name, default),
        unit: name_or(unit, DEFAULT_UNIT),
    };
    if entries.is_empty() {
        return vec![names(0, None, None)];
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(i, (name, unit))| names(i, name, unit))
        .collect()
}

fn resolve_record(
    query: &Query<'_>,
    names: &RecordNames<'_>,
    now_ms: i64,
) -> Result<TimeRequest, RequestArgsError> {
    let start = query.get(names.start)?;
    let end = query.get(names.end)?;
    let Some(start) = start else {
        return Err(RequestArgsError::MissingStart {
            start: names.start.to_owned(),
            end: names.end.to_owned(),
        });
    };
    let format = RecordFormat::parse(names.format, names.unit).map_err(|(field, reason)| {
        RequestArgsError::Config {
            field: format!("record[{}].{field}", names.index),
            reason,
        }
    })?;
    let read = |param: &str, value: &str| {
        format
            .read(value)
            .map_err(|detail| RequestArgsError::BadValue {
                param: param.to_owned(),
                value: quote(value).into_owned(),
                expected: format.expected(),
                detail,
            })
    };
    let start_ms = read(names.start, start)?;
    let end_ms = match end {
        Some(end) => read(names.end, end)?,
        None => now_ms,
    };
    if start_ms >= now_ms {
        return Err(RequestArgsError::InFuture {
            param: names.start.to_owned(),
            now_ms,
        });
    }
    if end_ms <= start_ms {
        return Err(RequestArgsError::EndBeforeStart {
            start: names.start.to_owned(),
            end: names.end.to_owned(),
        });
    }
    if end_ms > now_ms {
        return Err(RequestArgsError::InFuture {
            param: names.end.to_owned(),
            now_ms,
        });
    }
    let span_ms = end_ms.saturating_sub(start_ms);
    if span_ms > MAX_RECORD_SPAN_MS {
        return Err(RequestArgsError::TooLong { span_ms });
    }
    Ok(TimeRequest::Record { start_ms, end_ms })
}

/// The duration a time shift or delay parameter asks for, in milliseconds.
fn shift_value(query: &Query<'_>, names: &ShiftNames<'_>) -> Result<u64, RequestArgsError> {
    let value = query.get(names.name)?.unwrap_or_default();
    let unit = parse_shift_unit(names.unit).map_err(|reason| RequestArgsError::Config {
        field: format!(
            "{}[{}].unit",
            match names.list {
                Shift::Timeshift => "timeshift",
                Shift::Live => "live",
            },
            names.index
        ),
        reason,
    })?;
    read_duration(value, unit).map_err(|error| match error {
        DurationError::TooLarge => RequestArgsError::TooFarBack {
            param: names.name.to_owned(),
            value: quote(value).into_owned(),
        },
        DurationError::Bad(detail) => RequestArgsError::BadValue {
            param: names.name.to_owned(),
            value: quote(value).into_owned(),
            expected: match unit {
                Unit::Millisecond => {
                    "a whole number of milliseconds, 0 or more (e.g. 30000)".to_owned()
                }
                unit => format!("a number of {}, 0 or more (e.g. 30 or 2.5)", unit.plural()),
            },
            detail,
        },
    })
}

#[derive(Debug)]
enum DurationError {
    /// Longer than [`MAX_SHIFT_MS`].
    TooLarge,
    /// Not a number in the expected form, with what is wrong when known.
    Bad(Option<String>),
}

/// Most decimals read in a duration.
const MAX_DECIMALS: usize = 9;

/// Reads `digits[.digits]` in `unit` as milliseconds, rounded to the nearest (halves up).
fn read_duration(value: &str, unit: Unit) -> Result<u64, DurationError> {
    if value.starts_with('-') {
        return Err(DurationError::Bad(Some(
            "negative values are refused".to_owned(),
        )));
    }
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(DurationError::Bad(None));
    }
    let whole: u64 = whole.parse().map_err(|_| DurationError::TooLarge)?;
    let mut ms = u128::from(whole) * u128::from(unit.ms());
    if let Some(fraction) = fraction {
        if unit == Unit::Millisecond {
            return Err(DurationError::Bad(Some(
                "milliseconds are whole numbers".to_owned(),
            )));
        }
        if fraction.len() > MAX_DECIMALS {
            return Err(DurationError::Bad(Some(format!(
                "at most {MAX_DECIMALS} decimals"
            ))));
        }
        let scale = 10u128.pow(fraction.len() as u32);
        let digits: u128 = fraction.parse().map_err(|_| DurationError::Bad(None))?;
        ms += (digits * u128::from(unit.ms()) + scale / 2) / scale;
    }
    if ms > u128::from(MAX_SHIFT_MS) {
        return Err(DurationError::TooLarge);
    }
    // At most MAX_SHIFT_MS, so it fits.
    Ok(ms as u64)
}

/// A query string split into percent-decoded pairs.
#[derive(Debug)]
struct Query<'q> {
    pairs: Vec<(Cow<'q, str>, Cow<'q, str>)>,
}

impl<'q> Query<'q> {
    fn parse(query: &'q str) -> Result<Query<'q>, RequestArgsError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        if query.len() > MAX_QUERY_LEN {
            return Err(RequestArgsError::QueryTooLong { len: query.len() });
        }
        let pairs = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        Ok(Query { pairs })
    }

    fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// The value of `name`; refused when it is given twice with different values.
    fn get(&self, name: &str) -> Result<Option<&str>, RequestArgsError> {
        let mut found: Option<&str> = None;
        for (n, v) in &self.pairs {
            if n != name {
                continue;
            }
            match found {
                None => found = Some(v),
                Some(first) if first == v => {}
                Some(_) => {
                    return Err(RequestArgsError::Repeated {
                        param: name.to_owned(),
                    })
                }
            }
        }
        Ok(found)
    }
}

/// Percent-decodes a query component (`+` is a space); a malformed escape stays as written,
/// and bytes that are not UTF-8 become U+FFFD. Shared with stream selection, so every query
/// key is read the same way.
pub fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(high), Some(low)) => {
                    // Two hex digits make one byte.
                    out.push((high * 16 + low) as u8);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A request value as quoted in messages: at most [`MAX_QUOTED_CHARS`] characters (then `…`),
/// control characters replaced by U+FFFD.
fn quote(value: &str) -> Cow<'_, str> {
    let short = value.chars().count() <= MAX_QUOTED_CHARS;
    if short && !value.chars().any(char::is_control) {
        return Cow::Borrowed(value);
    }
    let mut text: String = value
        .chars()
        .take(MAX_QUOTED_CHARS)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if !short {
        text.push('…');
    }
    Cow::Owned(text)
}

/// Milliseconds written as `30 h`, `24 h 1 s` or `1 min 500 ms`.
struct Duration(i64);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.unsigned_abs();
        let parts = [
            (ms / 3_600_000, "h"),
            (ms / 60_000 % 60, "min"),
            (ms / 1000 % 60, "s"),
            (ms % 1000, "ms"),
        ];
        let mut written = false;
        for (amount, unit) in parts {
            if amount != 0 {
                if written {
                    f.write_str(" ")?;
                }
                write!(f, "{amount} {unit}")?;
                written = true;
            }
        }
        if !written {
            f.write_str("0 s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "request_args_tests.rs"]
mod tests;
