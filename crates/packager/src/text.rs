//! Number and date text for manifests, appended to a byte buffer without `core::fmt`.
//!
//! A catch-up manifest writes thousands of integers, durations and dates; these helpers write
//! each in a few nanoseconds and never allocate.

/// Appends `v` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `v` in decimal, with a `-` when negative.
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends `v` as exactly `width` decimal digits (zero-padded; only the low digits when it
/// has more).
pub fn push_padded(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let width = width.min(digits.len());
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Appends `ms` milliseconds as seconds with three decimals (`4000` → `4.000`).
pub fn push_millis_as_secs(out: &mut Vec<u8>, ms: u64) {
    push_u64(out, ms / 1000);
    out.push(b'.');
    push_padded(out, ms % 1000, 3);
}

/// Appends `v` as eight lowercase hexadecimal digits.
pub fn push_hex8(out: &mut Vec<u8>, v: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        out.push(HEX[((v >> (shift * 4)) & 0xf) as usize]);
    }
}

/// Appends the UTC date and time of `unix_ms` (milliseconds since the Unix epoch) as RFC 3339
/// with milliseconds and `Z`: `2023-11-14T22:13:24.096Z`. Years outside 0000–9999 are written
/// with their low four digits; media timelines never reach them.
pub fn push_utc_millis(out: &mut Vec<u8>, unix_ms: i64) {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000) as u64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400) as u64;
    let (year, month, day) = civil_from_days(days);
    push_padded(out, year.rem_euclid(10_000) as u64, 4);
    out.push(b'-');
    push_padded(out, u64::from(month), 2);
    out.push(b'-');
    push_padded(out, u64::from(day), 2);
    out.push(b'T');
    push_padded(out, of_day / 3600, 2);
    out.push(b':');
    push_padded(out, of_day / 60 % 60, 2);
    out.push(b':');
    push_padded(out, of_day % 60, 2);
    out.push(b'.');
    push_padded(out, ms, 3);
    out.push(b'Z');
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat};

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn integers() {
        for v in [0u64, 7, 10, 99, 1_000, 153_000_000_360_000, u64::MAX] {
            assert_eq!(text(|o| push_u64(o, v)), v.to_string());
        }
        for v in [0i64, -1, -90_000, i64::MIN, i64::MAX] {
            assert_eq!(text(|o| push_i64(o, v)), v.to_string());
        }
        assert_eq!(text(|o| push_padded(o, 7, 3)), "007");
        assert_eq!(text(|o| push_padded(o, 12345, 3)), "345");
        assert_eq!(text(|o| push_hex8(o, 0xfbabb48d)), "fbabb48d");
        assert_eq!(text(|o| push_hex8(o, 0x1f)), "0000001f");
    }

    #[test]
    fn durations() {
        assert_eq!(text(|o| push_millis_as_secs(o, 4000)), "4.000");
        assert_eq!(text(|o| push_millis_as_secs(o, 1984)), "1.984");
        assert_eq!(text(|o| push_millis_as_secs(o, 5)), "0.005");
        assert_eq!(text(|o| push_millis_as_secs(o, 123_456)), "123.456");
    }

    #[test]
    fn dates_match_chrono() {
        // Every 7,777,777 s over 1900–2200 plus leap days, ends of years and the epoch.
        let mut times: Vec<i64> = (-2_208_988_800_000i64..7_258_118_400_000)
            .step_by(7_777_777_123)
            .collect();
        times.extend([
            0,
            -1,
            999,
            951_782_400_000,     // 2000-02-29
            1_709_164_800_123,   // 2024-02-29
            1_735_689_599_999,   // 2024-12-31T23:59:59.999
            4_107_542_400_000,   // 2100-03-01
            1_700_000_004_096,   // a golden file's time
            253_402_300_799_999, // 9999-12-31T23:59:59.999
        ]);
        for ms in times {
            let want = DateTime::from_timestamp_millis(ms)
                .expect("in range")
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(text(|o| push_utc_millis(o, ms)), want, "{ms}");
        }
    }
}
