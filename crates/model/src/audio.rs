//! Audio selection on input and audio output descriptions (Tables 8–12, 26–27).

use serde::{Deserialize, Serialize};

/// A named audio selector that picks input audio by language, PID or HLS rendition (Table 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InputAudioSelector {
    /// Selector name, unique in the channel: letters, digits, `-` and `_`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NAME)))]
    pub name: String,
    /// How the selector picks its audio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector_settings: Option<AudioSelectorSettings>,
}

/// The ways an audio selector can pick audio (Table 9 `AudioSelectorSettings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AudioSelectorSettings {
    /// Pick by language code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_language_selection: Option<AudioSelectorLangSelection>,
    /// Pick by MPEG-TS PID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_pid_selection: Option<AudioSelectorPidSelection>,
    /// Pick an HLS audio rendition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_hls_selection: Option<AudioSelectorHlsSelection>,
}

/// Language selector (Table 10 `AudioSelectorLangSelection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AudioSelectorLangSelection {
    /// Language code of 2 or 3 lowercase letters.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::LANGUAGE_CODE)))]
    pub language_code: String,
    /// What to do when no stream has that language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language_selection_policy: Option<LanguageSelectionPolicy>,
}

/// Language output policy of a language selector (Table 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum LanguageSelectionPolicy {
    /// Prefer the language; fall back to the audio stream with the lowest PID.
    #[serde(rename = "LOOSE")]
    Loose,
    /// Only the language; insert silence when it is missing.
    #[serde(rename = "STRICT")]
    Strict,
}

/// PID selector (Table 11 `AudioSelectorPidSelection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AudioSelectorPidSelection {
    /// MPEG-TS PID of the audio stream.
    #[cfg_attr(feature = "schema", schemars(range(max = crate::limits::MAX_PID)))]
    pub pid: u32,
}

/// HLS rendition selector (Table 12 `AudioSelectorHlsSelection`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AudioSelectorHlsSelection {
    /// NAME of the HLS audio rendition.
    pub name: String,
    /// GROUP-ID of the HLS audio rendition.
    pub group_id: String,
}

/// Audio output configuration (Table 26 `EncoderSettingsExpand`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EncoderSettingsExpand {
    /// Audio output settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_descriptions: Option<Vec<AudioDescription>>,
}

/// One audio output, fed by a named audio selector (Table 27 `audio_descriptions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AudioDescription {
    /// Output name, unique in the channel: letters, digits, `-` and `_`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NAME)))]
    pub name: String,
    /// Name of the input audio selector this output takes its audio from.
    pub audio_selector_name: String,
    /// Whether the advertised language follows the input or is the configured one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language_code_control: Option<LanguageCodeControl>,
    /// Advertised language code of 2 or 3 lowercase letters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::LANGUAGE_CODE)))]
    pub language_code: Option<String>,
    /// Advertised stream name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_name: Option<String>,
}

/// Where an audio output's advertised language comes from (Table 27 `language_code_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum LanguageCodeControl {
    /// Use the input's language when it has one, else the configured code and name.
    #[serde(rename = "FOLLOW_INPUT")]
    FollowInput,
    /// Always use the configured code and name.
    #[serde(rename = "USE_CONFIGURED")]
    UseConfigured,
}
