//! Response bodies of channel creation and the result codes they carry (Tables 28–30).

use serde::{Deserialize, Serialize};

use crate::channel::{ChannelConfig, ChannelState};
use crate::ingest::{
    rtmp_ingest_url, rtmp_standby_url, srt_ingest_url, srt_standby_url, SRT_DEFAULT_PORT,
};
use crate::input::{InputProtocol, SourcesInfo};

/// Result codes carried in `result_code`.
pub mod result_codes {
    /// The request succeeded.
    pub const SUCCESS: &str = "LIVE.100000000";
    /// A package URL of the channel is already used by another channel.
    pub const OUTPUT_URL_EXISTS: &str = "LIVE.100011001";
    /// A channel with this ID already exists in the project (Headwater's code).
    pub const CHANNEL_EXISTS: &str = "LIVE.100011002";
    /// An ingest stream name (`{app_name}/{id}_{bitrate}`) is already used by another channel
    /// (Headwater's code).
    pub const INGEST_STREAM_EXISTS: &str = "LIVE.100011003";
    /// The request is malformed or breaks a validation rule (Headwater's code).
    pub const INVALID_REQUEST: &str = "LIVE.100011004";
    /// No channel with this ID in the project (Headwater's code).
    pub const CHANNEL_NOT_FOUND: &str = "LIVE.100011005";
    /// `X-Auth-Token` is missing or not valid for the project (Headwater's code).
    pub const UNAUTHORIZED: &str = "LIVE.100011006";
    /// The server could not complete the request (storage failure; Headwater's code).
    pub const INTERNAL_ERROR: &str = "LIVE.100011007";
}

/// Body of a channel list, `GET /v1/{project_id}/ott/channels` (Headwater's shape: the
/// channels as they were created or last modified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelListResponse {
    /// Channels matching the filters, before `offset` and `limit` are applied.
    pub total: u64,
    /// The page of channels, ordered by creation.
    pub channels: Vec<ChannelConfig>,
}

/// Body of a state change, `PUT /v1/{project_id}/ott/channels/{id}/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelStateRequest {
    /// `ON` starts the channel, `OFF` stops it (its configuration is kept).
    pub state: ChannelState,
}

/// Body of a successful creation, status 201 (Table 28).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateChannelResponse {
    /// Result code, [`result_codes::SUCCESS`].
    #[cfg_attr(
        feature = "schema",
        schemars(description = "Result code, `LIVE.100000000`.")
    )]
    pub result_code: String,
    /// Result description.
    pub result_msg: String,
    /// Ingest domain name.
    pub domain: String,
    /// Group or application name.
    pub app_name: String,
    /// Channel ID.
    pub id: String,
    /// Ingest URLs; returned only for push channels (RTMP_PUSH, SRT_PUSH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<SourceRsp>>,
    /// Standby ingest URLs (`{id}_{bitrate}_standby`), one per source: a second encoder pushing
    /// there takes over when the primary stops. Returned for push channels that declare
    /// `secondary_sources` (a standby push is accepted either way).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary_sources: Option<Vec<SourceRsp>>,
}

impl CreateChannelResponse {
    /// The success body for `channel`, listing one ingest URL per primary source for the push
    /// protocols: RTMP for RTMP_PUSH, SRT (on [`SRT_DEFAULT_PORT`]) for SRT_PUSH.
    pub fn success(channel: &ChannelConfig) -> Self {
        Self::success_on(channel, SRT_DEFAULT_PORT)
    }

    /// [`CreateChannelResponse::success`] with SRT ingest on `srt_port`.
    pub fn success_on(channel: &ChannelConfig, srt_port: u16) -> Self {
        let url = |source: &SourcesInfo| match channel.input.input_protocol {
            InputProtocol::SrtPush => srt_ingest_url(channel, source, srt_port),
            _ => rtmp_ingest_url(channel, source),
        };
        let standby_url = |source: &SourcesInfo| match channel.input.input_protocol {
            InputProtocol::SrtPush => srt_standby_url(channel, source, srt_port),
            _ => rtmp_standby_url(channel, source),
        };
        let push = matches!(
            channel.input.input_protocol,
            InputProtocol::RtmpPush | InputProtocol::SrtPush
        );
        let sources = push.then(|| {
            channel
                .input
                .primary_sources()
                .iter()
                .map(|source| SourceRsp {
                    url: url(source),
                    bitrate: source.bitrate,
                    width: source.width,
                    height: source.height,
                    enable_snapshot: source.enable_snapshot,
                })
                .collect()
        });
        let standby = push && channel.input.secondary_sources.is_some();
        let secondary_sources = standby.then(|| {
            channel
                .input
                .primary_sources()
                .iter()
                .map(|source| SourceRsp {
                    url: standby_url(source),
                    bitrate: source.bitrate,
                    width: source.width,
                    height: source.height,
                    enable_snapshot: None,
                })
                .collect()
        });
        CreateChannelResponse {
            result_code: result_codes::SUCCESS.to_owned(),
            result_msg: "SUCCESS".to_owned(),
            domain: channel.domain.clone(),
            app_name: channel.app_name.clone(),
            id: channel.id.clone(),
            sources,
            secondary_sources,
        }
    }
}

/// One ingest URL returned at creation (Table 29 `SourceRsp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SourceRsp {
    /// RTMP ingest URL.
    pub url: String,
    /// Bitrate in bit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = crate::limits::MAX_BITRATE)))]
    pub bitrate: Option<u64>,
    /// Width of the resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_WIDTH)))]
    pub width: Option<u32>,
    /// Height of the resolution.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_HEIGHT)))]
    pub height: Option<u32>,
    /// Whether snapshots are captured from this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_snapshot: Option<bool>,
}

/// A result without channel data: the body of a failed request (Table 30: status 400; Headwater
/// also answers 401, 404 and 500 with it) and of a successful state change or deletion. The
/// channel fields are absent when the request named no readable channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorResponse {
    /// Result code, e.g. [`result_codes::OUTPUT_URL_EXISTS`].
    #[cfg_attr(
        feature = "schema",
        schemars(description = "Result code, e.g. `LIVE.100011001`; see docs/api.md.")
    )]
    pub result_code: String,
    /// Result description.
    pub result_msg: String,
    /// Ingest domain name of the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Group or application name of the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// ID of the channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl ErrorResponse {
    /// An error not tied to a channel.
    pub fn new(result_code: impl Into<String>, result_msg: impl Into<String>) -> Self {
        ErrorResponse {
            result_code: result_code.into(),
            result_msg: result_msg.into(),
            domain: None,
            app_name: None,
            id: None,
        }
    }

    /// An error about `channel`, carrying its domain, app name and ID.
    pub fn for_channel(
        channel: &ChannelConfig,
        result_code: impl Into<String>,
        result_msg: impl Into<String>,
    ) -> Self {
        ErrorResponse {
            domain: Some(channel.domain.clone()),
            app_name: Some(channel.app_name.clone()),
            id: Some(channel.id.clone()),
            ..ErrorResponse::new(result_code, result_msg)
        }
    }

    /// The error for a package `url` that another channel already serves: `output url {url} is exist`.
    pub fn output_url_exists(channel: &ChannelConfig, url: &str) -> Self {
        ErrorResponse::for_channel(
            channel,
            result_codes::OUTPUT_URL_EXISTS,
            format!("output url {url} is exist"),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::test_fixtures::{EXAMPLE_REQUEST, EXAMPLE_RESPONSE_201, EXAMPLE_RESPONSE_400};
    use crate::{parse_channel, InputProtocol};

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    #[test]
    fn spec_example_responses_deserialize() {
        let created: CreateChannelResponse =
            serde_json::from_str(EXAMPLE_RESPONSE_201).expect("201 example parses");
        assert_eq!(created.result_code, result_codes::SUCCESS);
        let sources = created.sources.as_deref().unwrap_or_default();
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].bitrate, Some(1024));
        assert_eq!(
            serde_json::to_value(&created).expect("serializes"),
            json(EXAMPLE_RESPONSE_201)
        );

        let error: ErrorResponse =
            serde_json::from_str(EXAMPLE_RESPONSE_400).expect("400 example parses");
        assert_eq!(error.result_code, result_codes::OUTPUT_URL_EXISTS);
        assert_eq!(
            serde_json::to_value(&error).expect("serializes"),
            json(EXAMPLE_RESPONSE_400)
        );
    }

    #[test]
    fn success_for_rtmp_push_matches_spec_example() {
        let mut channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        channel.input.input_protocol = InputProtocol::RtmpPush;
        let response = CreateChannelResponse::success(&channel);
        assert_eq!(
            serde_json::to_value(&response).expect("serializes"),
            json(EXAMPLE_RESPONSE_201)
        );
    }

    #[test]
    fn success_for_srt_push_lists_srt_urls() {
        let mut channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        channel.input.input_protocol = InputProtocol::SrtPush;
        channel.domain = "push.example.com:1935".to_owned();
        let response = CreateChannelResponse::success(&channel);
        let sources = response.sources.expect("SRT_PUSH lists its ingest URLs");
        assert_eq!(
            sources[0].url,
            "srt://push.example.com:9000?streamid=#!::r=ott/test_1024,m=publish"
        );
        assert_eq!(sources[0].bitrate, Some(1024));
    }

    #[test]
    fn declared_standby_sources_get_standby_ingest_urls() {
        let mut channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        channel.input.input_protocol = InputProtocol::RtmpPush;
        assert!(CreateChannelResponse::success(&channel)
            .secondary_sources
            .is_none());
        channel.input.secondary_sources = Some(vec![crate::SecondarySourcesInfo {
            bitrate: Some(1024),
            ..Default::default()
        }]);
        let response = CreateChannelResponse::success_on(&channel, 9000);
        let standby = response.secondary_sources.expect("standby URLs");
        assert_eq!(
            standby[0].url,
            "rtmp://push.testott.hls.com/ott/test_1024_standby?request_source=ott&channel_id=test"
        );
        channel.input.input_protocol = InputProtocol::SrtPush;
        let response = CreateChannelResponse::success_on(&channel, 9010);
        assert_eq!(
            response.secondary_sources.expect("standby URLs")[0].url,
            "srt://push.testott.hls.com:9010?streamid=#!::r=ott/test_1024_standby,m=publish"
        );
    }

    #[test]
    fn success_for_pull_has_no_sources() {
        let channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        let response = CreateChannelResponse::success(&channel);
        assert_eq!(response.sources, None);
        let text = serde_json::to_string(&response).expect("serializes");
        assert!(!text.contains("sources"), "{text}");
    }

    #[test]
    fn output_url_exists_matches_spec_example() {
        let channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        let error =
            ErrorResponse::output_url_exists(&channel, "pull.testott.hls.com/ott/test/index.m3u8");
        assert_eq!(
            serde_json::to_value(&error).expect("serializes"),
            json(EXAMPLE_RESPONSE_400)
        );
    }

    #[test]
    fn error_without_channel_omits_channel_fields() {
        let error = ErrorResponse::new("LIVE.1", "bad request");
        let text = serde_json::to_string(&error).expect("serializes");
        assert_eq!(
            text,
            r#"{"result_code":"LIVE.1","result_msg":"bad request"}"#
        );
    }

    #[test]
    fn responses_reject_unknown_fields() {
        let text = EXAMPLE_RESPONSE_400.replacen('{', r#"{"extra": 1,"#, 1);
        assert!(serde_json::from_str::<ErrorResponse>(&text).is_err());
    }
}
