//! Channel configuration model for Headwater, mirroring field by field the OTT channel create-request
//! JSON (`POST /v1/{project_id}/ott/channels`), with its responses, result codes and validation rules.
//!
//! Parsing ([`parse_channel`], [`parse_channels`]) rejects unknown fields and unknown enum values and
//! names the JSON path of the offending value; [`ChannelConfig::validate`] then reports every rule a
//! parsed channel breaks, each with its path. The crate does no I/O.

mod audio;
mod channel;
mod encryption;
mod endpoint;
mod error;
mod ingest;
mod input;
pub mod limits;
mod parse;
pub mod request_args;
mod response;
#[cfg(feature = "schema")]
mod schema;
mod url;
mod validate;

pub use audio::{
    AudioDescription, AudioSelectorHlsSelection, AudioSelectorLangSelection,
    AudioSelectorPidSelection, AudioSelectorSettings, EncoderSettingsExpand, InputAudioSelector,
    LanguageCodeControl, LanguageSelectionPolicy,
};
pub use channel::{ChannelConfig, ChannelState, EncoderSettings, RecordSettings};
pub use encryption::{
    Encryption, EncryptionLevel, HttpHeader, RequestMode, SpekeVersion, SystemId,
};
pub use endpoint::{
    DashPackageItem, EndpointItem, HlsPackageItem, LiveRequestArgs, MssPackageItem, PackageKind,
    PackageRef, PackageRequestArgs, RecordRequestArgs, StreamSelectionItem, TimeshiftRequestArgs,
};
pub use error::ModelError;
pub use ingest::{
    ingest_stream_name, ip_port_mode_port, rtmp_ingest_url, rtmp_standby_url,
    split_ingest_stream_name, srt_ingest_url, srt_standby_url, standby_stream_name,
    SRT_DEFAULT_PORT, STANDBY_SUFFIX,
};
pub use input::{
    AdTrigger, FailoverConditions, InputPreference, InputProtocol, InputStreamInfo, Scte35Source,
    SecondarySourcesInfo, SourcesInfo,
};
pub use parse::{parse_and_validate_channel, parse_channel, parse_channels};
pub use request_args::{RequestArgsError, TimeRequest};
pub use response::{
    result_codes, ChannelListResponse, ChannelStateRequest, CreateChannelResponse, ErrorResponse,
    SourceRsp,
};
pub use url::{url_path, IpWhitelist};
pub use validate::ValidationProblem;

/// The `schemars` this crate derives `JsonSchema` with, so that users generate schemas with the
/// same version (feature `schema`).
#[cfg(feature = "schema")]
pub use schemars;

#[cfg(test)]
mod test_fixtures;
