//! Channel outputs: HLS, DASH and MSS packages, stream selection and playback request args
//! (Tables 15–19, 22–25).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::encryption::Encryption;
use crate::limits::{DEFAULT_HLS_VERSION, HLS_VERSIONS};

/// One group of output packages of the channel (Table 15 `EndpointItem`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointItem {
    /// HLS outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls_package: Option<Vec<HlsPackageItem>>,
    /// MPEG-DASH outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dash_package: Option<Vec<DashPackageItem>>,
    /// Microsoft Smooth Streaming outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss_package: Option<Vec<MssPackageItem>>,
}

impl EndpointItem {
    /// Every package of this endpoint, HLS first, then DASH, then MSS, each tagged with its position.
    pub fn packages(&self, endpoint: usize) -> impl Iterator<Item = PackageRef<'_>> + '_ {
        // The three package types share these fields; one view serves them all.
        macro_rules! refs {
            ($field:ident, $kind:expr) => {
                self.$field
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(move |(index, p)| PackageRef {
                        endpoint,
                        kind: $kind,
                        index,
                        url: &p.url,
                        stream_selection: p.stream_selection.as_deref().unwrap_or_default(),
                        segment_duration_seconds: p.segment_duration_seconds,
                        playlist_window_seconds: p.playlist_window_seconds,
                        encryption: p.encryption.as_ref(),
                        request_args: p.request_args.as_ref(),
                    })
            };
        }
        refs!(hls_package, PackageKind::Hls)
            .chain(refs!(dash_package, PackageKind::Dash))
            .chain(refs!(mss_package, PackageKind::Mss))
    }
}

/// The streaming format of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageKind {
    /// HLS (`hls_package`).
    Hls,
    /// MPEG-DASH (`dash_package`).
    Dash,
    /// Microsoft Smooth Streaming (`mss_package`).
    Mss,
}

impl PackageKind {
    /// The JSON field that holds packages of this kind, e.g. `hls_package`.
    pub fn field_name(self) -> &'static str {
        match self {
            PackageKind::Hls => "hls_package",
            PackageKind::Dash => "dash_package",
            PackageKind::Mss => "mss_package",
        }
    }
}

/// The fields every package kind shares, borrowed from one package, with where it sits in the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageRef<'a> {
    /// Index in `endpoints`.
    pub endpoint: usize,
    /// Which package list it is in.
    pub kind: PackageKind,
    /// Index in that list.
    pub index: usize,
    /// The package's streaming URL as configured.
    pub url: &'a str,
    /// Bitrate filters; empty when none.
    pub stream_selection: &'a [StreamSelectionItem],
    /// Output segment duration in seconds.
    pub segment_duration_seconds: u32,
    /// Playlist window in seconds.
    pub playlist_window_seconds: Option<u32>,
    /// DRM settings.
    pub encryption: Option<&'a Encryption>,
    /// Playback request argument names.
    pub request_args: Option<&'a PackageRequestArgs>,
}

impl PackageRef<'_> {
    /// JSON path of the package, e.g. `endpoints[0].hls_package[1]`.
    pub fn path(&self) -> String {
        format!(
            "endpoints[{}].{}[{}]",
            self.endpoint,
            self.kind.field_name(),
            self.index
        )
    }

    /// The request path this package is served at, e.g. `/ott/demo/index.m3u8`, if its URL is valid.
    pub fn url_path(&self) -> Option<String> {
        crate::url::url_path(self.url)
    }
}

/// An HLS output (Table 16 `HlsPackageItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HlsPackageItem {
    /// Streaming URL: `host/path` or `http(s)://host/path`; the path is what players request.
    pub url: String,
    /// Only streams whose bitrate falls in one of these ranges are output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selection: Option<Vec<StreamSelectionItem>>,
    /// HLS version number as a decimal string, 1–10 (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::HLS_VERSION)))]
    pub hls_version: Option<String>,
    /// Output segment duration in seconds, 1–10.
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = crate::schema::SEGMENT_MIN, max = crate::schema::SEGMENT_MAX))
    )]
    pub segment_duration_seconds: u32,
    /// Playlist length in seconds, 0–86,400; when non-zero at least three segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(max = crate::limits::MAX_PLAYLIST_WINDOW_SECONDS))
    )]
    pub playlist_window_seconds: Option<u32>,
    /// DRM settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Advertising configuration (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ads: Option<Map<String, Value>>,
    /// Other parameters (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_args: Option<Map<String, Value>>,
    /// Playback request argument names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_args: Option<PackageRequestArgs>,
    /// Ad marker; for HLS only `["ENHANCED_SCTE35"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(equal = 1), inner(regex(pattern = crate::schema::HLS_AD_MARKER)))
    )]
    pub ad_marker: Option<Vec<String>>,
}

impl HlsPackageItem {
    /// The HLS version to write in playlists: `hls_version` when it is a valid 1–10, else 3.
    pub fn hls_version_number(&self) -> u8 {
        self.hls_version
            .as_deref()
            .and_then(parse_hls_version)
            .unwrap_or(DEFAULT_HLS_VERSION)
    }
}

/// Parses an `hls_version` string: plain decimal digits without leading zeros, in 1–10.
pub(crate) fn parse_hls_version(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        return None;
    }
    text.parse::<u8>().ok().filter(|v| HLS_VERSIONS.contains(v))
}

/// An MPEG-DASH output (Table 17 `DashPackageItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DashPackageItem {
    /// Streaming URL: `host/path` or `http(s)://host/path`; the path is what players request.
    pub url: String,
    /// Only streams whose bitrate falls in one of these ranges are output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selection: Option<Vec<StreamSelectionItem>>,
    /// Output segment duration in seconds, 1–10.
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = crate::schema::SEGMENT_MIN, max = crate::schema::SEGMENT_MAX))
    )]
    pub segment_duration_seconds: u32,
    /// Manifest window in seconds, 0–86,400; when non-zero at least three segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(max = crate::limits::MAX_PLAYLIST_WINDOW_SECONDS))
    )]
    pub playlist_window_seconds: Option<u32>,
    /// DRM settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Advertising configuration (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ads: Option<Map<String, Value>>,
    /// Other parameters (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_args: Option<Map<String, Value>>,
    /// Playback request argument names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_args: Option<PackageRequestArgs>,
    /// Ad marker; for DASH only `xml+bin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::DASH_AD_MARKER)))]
    pub ad_marker: Option<String>,
    /// MPD `suggestedPresentationDelay` in seconds, 1–120.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = crate::schema::DASH_TIMING_MIN, max = crate::schema::DASH_TIMING_MAX))
    )]
    pub suggested_presentation_delay: Option<u32>,
    /// MPD `minimumUpdatePeriod` in seconds, 1–120.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = crate::schema::DASH_TIMING_MIN, max = crate::schema::DASH_TIMING_MAX))
    )]
    pub minimum_update_period: Option<u32>,
    /// MPD `minBufferTime` in seconds, 1–120.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = crate::schema::DASH_TIMING_MIN, max = crate::schema::DASH_TIMING_MAX))
    )]
    pub min_buffer_time: Option<u32>,
}

/// A Microsoft Smooth Streaming output (Table 18 `MssPackageItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MssPackageItem {
    /// Streaming URL: `host/path` or `http(s)://host/path`; the path is what players request.
    pub url: String,
    /// Only streams whose bitrate falls in one of these ranges are output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selection: Option<Vec<StreamSelectionItem>>,
    /// Output fragment duration in seconds, 1–10.
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = crate::schema::SEGMENT_MIN, max = crate::schema::SEGMENT_MAX))
    )]
    pub segment_duration_seconds: u32,
    /// Manifest window in seconds, 0–86,400; when non-zero at least three segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(max = crate::limits::MAX_PLAYLIST_WINDOW_SECONDS))
    )]
    pub playlist_window_seconds: Option<u32>,
    /// DRM settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Other parameters (free-form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_args: Option<Map<String, Value>>,
    /// Playback delay in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_segment: Option<u64>,
    /// Playback request argument names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_args: Option<PackageRequestArgs>,
}

/// A bitrate filter: streams with bitrate in `[min_bandwidth, max_bandwidth]` are output (Table 19).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StreamSelectionItem {
    /// Query parameter of the streaming URL that selects this filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Highest bitrate in bit/s, 0–104,857,600.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_BITRATE)))]
    pub max_bandwidth: Option<u64>,
    /// Lowest bitrate in bit/s, 0–104,857,600.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_BITRATE)))]
    pub min_bandwidth: Option<u64>,
}

/// Names of the query parameters players use for catch-up, time shift and live delay (Table 22).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PackageRequestArgs {
    /// Catch-up (recording) parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Vec<RecordRequestArgs>>,
    /// Time-shift parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeshift: Option<Vec<TimeshiftRequestArgs>>,
    /// Live parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Vec<LiveRequestArgs>>,
}

/// Catch-up request parameters (Table 23 `RecordRequestArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordRequestArgs {
    /// Name of the start time parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Name of the end time parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Time format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Time unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Time-shift request parameters (Table 24 `TimeshiftRequestArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeshiftRequestArgs {
    /// Name of the time-shift duration parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_time: Option<String>,
    /// Time unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Live request parameters (Table 25 `LiveRequestArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LiveRequestArgs {
    /// Name of the delay parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    /// Time unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hls(version: Option<&str>) -> HlsPackageItem {
        HlsPackageItem {
            url: "example.com/live/index.m3u8".to_owned(),
            stream_selection: None,
            hls_version: version.map(str::to_owned),
            segment_duration_seconds: 4,
            playlist_window_seconds: None,
            encryption: None,
            ads: None,
            ext_args: None,
            request_args: None,
            ad_marker: None,
        }
    }

    #[test]
    fn hls_version_number_defaults_to_3() {
        assert_eq!(hls(None).hls_version_number(), 3);
        assert_eq!(hls(Some("1")).hls_version_number(), 1);
        assert_eq!(hls(Some("7")).hls_version_number(), 7);
        assert_eq!(hls(Some("10")).hls_version_number(), 10);
        for invalid in ["", "0", "11", "07", "+7", "seven", "7.0", "300"] {
            assert_eq!(hls(Some(invalid)).hls_version_number(), 3, "{invalid}");
        }
    }
}
