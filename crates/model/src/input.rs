//! Channel input: protocol, primary and standby sources, failover and ad signalling (Tables 4–7).

use serde::{Deserialize, Serialize};

use crate::audio::InputAudioSelector;
use crate::limits::DEFAULT_INPUT_LOSS_THRESHOLD_MSEC;

/// Channel input stream information (Table 4 `InputStreamInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InputStreamInfo {
    /// How media reaches the channel: pulled from upstream or pushed by an encoder.
    pub input_protocol: InputProtocol,
    /// Primary source streams; optional for RTMP_PUSH and SRT_PUSH, mandatory otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<SourcesInfo>>,
    /// Standby source streams, one per primary source with the same bitrate and resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_sources: Option<Vec<SecondarySourcesInfo>>,
    /// When to switch between the primary and standby sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover_conditions: Option<FailoverConditions>,
    /// For HLS_PULL: pull the highest-bandwidth variant below this (bit/s); without it, the highest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bandwidth_limit: Option<u64>,
    /// For SRT_PUSH from encoders that cannot send a streamid: identify the stream by IP and port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_port_mode: Option<bool>,
    /// For SRT_PUSH: comma-separated IPv4/IPv6 addresses or CIDRs allowed to push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_whitelist: Option<String>,
    /// Where SCTE-35 ad signals come from; HLS_PULL only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scte35_source: Option<Scte35Source>,
    /// Which SCTE-35 segmentation types count as ad triggers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_triggers: Option<Vec<AdTrigger>>,
    /// Audio selectors (at most 8) that audio outputs pick their input audio from.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = crate::limits::MAX_AUDIO_SELECTORS)))]
    pub audio_selectors: Option<Vec<InputAudioSelector>>,
}

impl InputStreamInfo {
    /// The primary sources, empty when none are declared.
    pub fn primary_sources(&self) -> &[SourcesInfo] {
        self.sources.as_deref().unwrap_or_default()
    }

    /// The standby sources, empty when none are declared.
    pub fn standby_sources(&self) -> &[SecondarySourcesInfo] {
        self.secondary_sources.as_deref().unwrap_or_default()
    }

    /// The failover conditions, or the defaults (2,000 ms, EQUAL) when none are declared.
    pub fn failover(&self) -> FailoverConditions {
        self.failover_conditions.clone().unwrap_or_default()
    }

    /// The audio selectors, empty when none are declared.
    pub fn audio_selector_list(&self) -> &[InputAudioSelector] {
        self.audio_selectors.as_deref().unwrap_or_default()
    }
}

/// Channel input protocol (Table 4 `input_protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum InputProtocol {
    /// Pull HTTP-FLV from an upstream URL.
    #[serde(rename = "FLV_PULL")]
    FlvPull,
    /// An encoder pushes RTMP to this origin.
    #[serde(rename = "RTMP_PUSH")]
    RtmpPush,
    /// Pull an HLS playlist from an upstream URL.
    #[serde(rename = "HLS_PULL")]
    HlsPull,
    /// Pull (call) an SRT listener upstream.
    #[serde(rename = "SRT_PULL")]
    SrtPull,
    /// An encoder pushes SRT to this origin.
    #[serde(rename = "SRT_PUSH")]
    SrtPush,
}

impl InputProtocol {
    /// The spec spelling, e.g. `FLV_PULL`.
    pub fn as_str(self) -> &'static str {
        match self {
            InputProtocol::FlvPull => "FLV_PULL",
            InputProtocol::RtmpPush => "RTMP_PUSH",
            InputProtocol::HlsPull => "HLS_PULL",
            InputProtocol::SrtPull => "SRT_PULL",
            InputProtocol::SrtPush => "SRT_PUSH",
        }
    }

    /// Whether an encoder pushes to the origin (sources are then optional and named by bitrate).
    pub fn is_push(self) -> bool {
        matches!(self, InputProtocol::RtmpPush | InputProtocol::SrtPush)
    }

    /// URL schemes a source URL may use with this protocol; empty for push protocols.
    pub fn source_url_schemes(self) -> &'static [&'static str] {
        match self {
            InputProtocol::FlvPull | InputProtocol::HlsPull => &["http", "https"],
            InputProtocol::SrtPull => &["srt"],
            InputProtocol::RtmpPush | InputProtocol::SrtPush => &[],
        }
    }
}

impl std::fmt::Display for InputProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A primary source stream of the channel (Table 5 `SourcesInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SourcesInfo {
    /// Source stream URL for pull protocols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Bitrate in bit/s, (0, 104,857,600]; for push protocols it names the ingest stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = crate::limits::MAX_BITRATE)))]
    pub bitrate: Option<u64>,
    /// Width of the resolution, 0–4096.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_WIDTH)))]
    pub width: Option<u32>,
    /// Height of the resolution, 0–2160.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_HEIGHT)))]
    pub height: Option<u32>,
    /// Whether to capture snapshots from this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_snapshot: Option<bool>,
    /// Whether to use `bitrate` to fix the bitrate (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_for3u8: Option<bool>,
    /// Encryption passphrase for SRT_PUSH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// Standby URLs of this stream, tried when `url` fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_urls: Option<Vec<String>>,
    /// SRT streamid of the source for SRT_PULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// SRT latency of the pull for SRT_PULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<u64>,
}

/// A standby source stream, paired by position with a primary source (Table 6 `SecondarySourcesInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SecondarySourcesInfo {
    /// Standby stream URL for pull protocols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Bitrate in bit/s; must match the paired primary source.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = crate::limits::MAX_BITRATE)))]
    pub bitrate: Option<u64>,
    /// Width of the resolution; must match the paired primary source.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_WIDTH)))]
    pub width: Option<u32>,
    /// Height of the resolution; must match the paired primary source.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_HEIGHT)))]
    pub height: Option<u32>,
    /// Whether to use `bitrate` to fix the bitrate (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_for3u8: Option<bool>,
    /// Encryption passphrase for SRT_PUSH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passphrase: Option<String>,
    /// Standby URLs of this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_urls: Option<Vec<String>>,
    /// SRT streamid of the source for SRT_PULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// SRT latency of the pull for SRT_PULL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<u64>,
}

/// When to switch between primary and standby sources (Table 7 `FailoverConditions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FailoverConditions {
    /// How long input may be lost before switching, in ms, 0–3,600,000 (default 2,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(max = crate::limits::MAX_INPUT_LOSS_THRESHOLD_MSEC))
    )]
    pub input_loss_threshold_msec: Option<u64>,
    /// Whether the primary is preferred or both are equal (default EQUAL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_preference: Option<InputPreference>,
}

impl FailoverConditions {
    /// The input loss threshold in milliseconds, 2,000 when not set.
    pub fn input_loss_threshold_msec(&self) -> u64 {
        self.input_loss_threshold_msec
            .unwrap_or(DEFAULT_INPUT_LOSS_THRESHOLD_MSEC)
    }

    /// The input preference, EQUAL when not set.
    pub fn input_preference(&self) -> InputPreference {
        self.input_preference.unwrap_or_default()
    }
}

/// Whether the primary source has priority or primary and standby are switched equally (Table 7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum InputPreference {
    /// Return to the primary as soon as it is healthy again.
    #[serde(rename = "PRIMARY")]
    Primary,
    /// Stay on whichever source is live; no automatic switch back to the primary.
    #[default]
    #[serde(rename = "EQUAL")]
    Equal,
}

/// Source of SCTE-35 ad signals (Table 4 `scte35_source`); HLS_PULL only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Scte35Source {
    /// Signals carried in the pulled HLS segments.
    #[serde(rename = "SEGMENTS")]
    Segments,
}

/// An SCTE-35 segmentation type treated as an ad trigger (Table 4 `ad_triggers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum AdTrigger {
    /// splice_insert commands.
    #[serde(rename = "Splice insert")]
    SpliceInsert,
    /// Provider advertisement segmentation descriptors.
    #[serde(rename = "Provider advertisement")]
    ProviderAdvertisement,
    /// Distributor advertisement segmentation descriptors.
    #[serde(rename = "Distributor advertisement")]
    DistributorAdvertisement,
    /// Provider placement opportunity segmentation descriptors.
    #[serde(rename = "Provider placement opportunity")]
    ProviderPlacementOpportunity,
    /// Distributor placement opportunity segmentation descriptors.
    #[serde(rename = "Distributor placement opportunity")]
    DistributorPlacementOpportunity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_defaults() {
        let none = FailoverConditions::default();
        assert_eq!(none.input_loss_threshold_msec(), 2_000);
        assert_eq!(none.input_preference(), InputPreference::Equal);
        let set = FailoverConditions {
            input_loss_threshold_msec: Some(0),
            input_preference: Some(InputPreference::Primary),
        };
        assert_eq!(set.input_loss_threshold_msec(), 0);
        assert_eq!(set.input_preference(), InputPreference::Primary);
    }

    #[test]
    fn ad_triggers_use_spec_spelling() {
        let triggers: Vec<AdTrigger> = serde_json::from_str(
            r#"["Splice insert", "Provider advertisement", "Distributor advertisement",
                "Provider placement opportunity", "Distributor placement opportunity"]"#,
        )
        .expect("all five spec strings parse");
        assert_eq!(triggers.len(), 5);
        assert_eq!(
            serde_json::to_string(&AdTrigger::ProviderPlacementOpportunity).expect("serializes"),
            r#""Provider placement opportunity""#
        );
    }

    #[test]
    fn protocol_spelling_and_kind() {
        for (protocol, text) in [
            (InputProtocol::FlvPull, "FLV_PULL"),
            (InputProtocol::RtmpPush, "RTMP_PUSH"),
            (InputProtocol::HlsPull, "HLS_PULL"),
            (InputProtocol::SrtPull, "SRT_PULL"),
            (InputProtocol::SrtPush, "SRT_PUSH"),
        ] {
            assert_eq!(protocol.to_string(), text);
            let json = serde_json::to_string(&protocol).expect("serializes");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(protocol.is_push(), text.ends_with("_PUSH"));
            assert_eq!(protocol.source_url_schemes().is_empty(), protocol.is_push());
        }
    }
}
