//! Regular expressions of the JSON Schema (feature `schema`): the charset rules that validation
//! checks, spelled so that the published schema states them too. ECMA-262 syntax without
//! look-around, which every JSON Schema implementation runs.

use crate::limits;

/// Shortest output segment, in seconds.
pub(crate) const SEGMENT_MIN: u32 = limits::MIN_SEGMENT_DURATION_SECONDS;
/// Longest output segment, in seconds.
pub(crate) const SEGMENT_MAX: u32 = limits::MAX_SEGMENT_DURATION_SECONDS;
/// Lower bound of the DASH timing fields, in seconds.
pub(crate) const DASH_TIMING_MIN: u32 = *limits::DASH_TIMING_SECONDS.start();
/// Upper bound of the DASH timing fields, in seconds.
pub(crate) const DASH_TIMING_MAX: u32 = *limits::DASH_TIMING_SECONDS.end();

/// `id` and `app_name`: letters, digits, `-`, `_` and `.`, but not `.` or `..`.
pub(crate) const URL_TOKEN: &str =
    r"^(?:[A-Za-z0-9_-]|[A-Za-z0-9._-][A-Za-z0-9_-]|[A-Za-z0-9_-]\.|[A-Za-z0-9._-]{3,})$";
/// Names of audio selectors and audio outputs: letters, digits, `-` and `_`.
pub(crate) const NAME: &str = r"^[A-Za-z0-9_-]+$";
/// A language code of 2 or 3 lowercase letters.
pub(crate) const LANGUAGE_CODE: &str = r"^[a-z]{2,3}$";
/// `hls_version`: an integer 1–10 written as digits without leading zeros.
pub(crate) const HLS_VERSION: &str = r"^(?:[1-9]|10)$";
/// The only `ad_marker` entry of an HLS package ([`crate::limits::HLS_AD_MARKER`]).
pub(crate) const HLS_AD_MARKER: &str = r"^ENHANCED_SCTE35$";
/// The only `ad_marker` of a DASH package ([`crate::limits::DASH_AD_MARKER`]).
pub(crate) const DASH_AD_MARKER: &str = r"^xml\+bin$";
/// A DRM request header name: an RFC 9110 token.
pub(crate) const HEADER_NAME: &str = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
/// A DRM request header value: no control characters but tab (no CR or LF to inject headers).
pub(crate) const HEADER_VALUE: &str = r"^[^\u0000-\u0008\u000A-\u001F\u007F-\u009F]*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_marker_patterns_spell_the_limits() {
        assert_eq!(HLS_AD_MARKER, format!("^{}$", limits::HLS_AD_MARKER));
        assert_eq!(
            DASH_AD_MARKER,
            format!("^{}$", limits::DASH_AD_MARKER.replace('+', r"\+"))
        );
    }
}
