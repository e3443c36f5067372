//! The channel: the top-level create-request body (Tables 3, 13, 14).

use serde::{Deserialize, Serialize};

use crate::audio::EncoderSettingsExpand;
use crate::endpoint::{EndpointItem, PackageRef};
use crate::ingest::ingest_stream_name;
use crate::input::InputStreamInfo;

/// One OTT channel: where its media comes from, how long it is kept and how it is served
/// (Table 3, request body of `POST /v1/{project_id}/ott/channels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Ingest domain name of the channel.
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub domain: String,
    /// Group or application name; the RTMP application of push ingest.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::URL_TOKEN)))]
    pub app_name: String,
    /// Unique channel ID; appears in URLs and ingest stream names.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::URL_TOKEN)))]
    pub id: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the channel runs (ON) or is only stored (OFF).
    pub state: ChannelState,
    /// Input streams.
    pub input: InputStreamInfo,
    /// Transcoding templates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoder_settings: Option<Vec<EncoderSettings>>,
    /// Catch-up (rolling buffer) configuration.
    pub record_settings: RecordSettings,
    /// Output packages.
    pub endpoints: Vec<EndpointItem>,
    /// Audio output configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoder_settings_expand: Option<EncoderSettingsExpand>,
}

impl ChannelConfig {
    /// Every package of every endpoint, in document order (per endpoint: HLS, DASH, MSS).
    pub fn packages(&self) -> impl Iterator<Item = PackageRef<'_>> + '_ {
        self.endpoints
            .iter()
            .enumerate()
            .flat_map(|(i, endpoint)| endpoint.packages(i))
    }

    /// The request path of every package, e.g. `/ott/test/index.m3u8`, in document order; packages
    /// whose URL is invalid are left out (validation reports them).
    pub fn all_output_paths(&self) -> Vec<String> {
        self.packages().filter_map(|p| p.url_path()).collect()
    }

    /// The push ingest stream name, `{id}_{bitrate}`, of each primary source that declares a bitrate.
    pub fn ingest_stream_names(&self) -> Vec<String> {
        self.input
            .primary_sources()
            .iter()
            .filter_map(|s| s.bitrate)
            .map(|bitrate| ingest_stream_name(&self.id, bitrate))
            .collect()
    }

    /// The standby push stream name, `{id}_{bitrate}_standby`, of each primary source that
    /// declares a bitrate, in the order of [`ChannelConfig::ingest_stream_names`].
    pub fn standby_stream_names(&self) -> Vec<String> {
        self.input
            .primary_sources()
            .iter()
            .filter_map(|s| s.bitrate)
            .map(|bitrate| crate::ingest::standby_stream_name(&self.id, bitrate))
            .collect()
    }

    /// Whether the channel should be running.
    pub fn is_on(&self) -> bool {
        self.state == ChannelState::On
    }
}

/// Channel status (Table 3 `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ChannelState {
    /// Ingest, packaging and recording start as soon as the channel is delivered.
    #[serde(rename = "ON")]
    On,
    /// The configuration is stored but the channel is not started.
    #[serde(rename = "OFF")]
    Off,
}

/// A transcoding template reference (Table 13 `encoder_settings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EncoderSettings {
    /// Transcoding template ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

/// Catch-up TV configuration (Table 14 `record_settings`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordSettings {
    /// How long recorded media is kept for catch-up, in seconds, 0–1,209,600 (14 days); 0 = no recording.
    #[cfg_attr(
        feature = "schema",
        schemars(range(max = crate::limits::MAX_ROLLINGBUFFER_DURATION))
    )]
    pub rollingbuffer_duration: u64,
}

#[cfg(test)]
mod tests {
    use crate::test_fixtures::EXAMPLE_REQUEST;
    use crate::{parse_channel, rtmp_ingest_url, SourcesInfo};

    #[test]
    fn output_paths_of_spec_example() {
        let channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        assert_eq!(
            channel.all_output_paths(),
            [
                "/ott/test/index.m3u8",
                "/ott/test/index.mpd",
                "/ott/channel/manifest"
            ]
        );
        let paths: Vec<String> = channel.packages().map(|p| p.path()).collect();
        assert_eq!(
            paths,
            [
                "endpoints[0].hls_package[0]",
                "endpoints[0].dash_package[0]",
                "endpoints[0].mss_package[0]"
            ]
        );
    }

    #[test]
    fn ingest_names_and_urls() {
        let mut channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        channel.id = "news_hd".to_owned();
        channel.input.sources = Some(vec![
            SourcesInfo {
                bitrate: Some(3_000_000),
                ..SourcesInfo::default()
            },
            SourcesInfo::default(),
            SourcesInfo {
                bitrate: Some(800_000),
                ..SourcesInfo::default()
            },
        ]);
        assert_eq!(
            channel.ingest_stream_names(),
            ["news_hd_3000000", "news_hd_800000"]
        );
        let sources = channel.input.primary_sources();
        assert_eq!(
            rtmp_ingest_url(&channel, &sources[0]),
            "rtmp://push.testott.hls.com/ott/news_hd_3000000?request_source=ott&channel_id=news_hd"
        );
        assert_eq!(
            rtmp_ingest_url(&channel, &sources[1]),
            "rtmp://push.testott.hls.com/ott/news_hd?request_source=ott&channel_id=news_hd"
        );
    }
}
