//! Reading channel documents from JSON text, with the path of any error.

use serde::de::DeserializeOwned;

use crate::{ChannelConfig, ModelError};

/// Parses one channel create-request body; unknown fields and enum values are errors naming their path.
pub fn parse_channel(json: &str) -> Result<ChannelConfig, ModelError> {
    from_str(json)
}

/// Parses a JSON array of channels (a configuration file); error paths start with the index, `[0].id`.
pub fn parse_channels(json: &str) -> Result<Vec<ChannelConfig>, ModelError> {
    from_str(json)
}

/// Parses one channel and runs [`ChannelConfig::validate`], so the result is ready to apply.
pub fn parse_and_validate_channel(json: &str) -> Result<ChannelConfig, ModelError> {
    let channel = parse_channel(json)?;
    channel
        .validate()
        .map_err(|problems| ModelError::Invalid { problems })?;
    Ok(channel)
}

fn from_str<T: DeserializeOwned>(json: &str) -> Result<T, ModelError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut de)?;
    // Trailing characters after the document are an error too, at the root.
    de.end().map_err(|err| ModelError::Json {
        path: ".".to_owned(),
        message: err.to_string(),
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::test_fixtures::EXAMPLE_REQUEST;

    fn example() -> Value {
        serde_json::from_str(EXAMPLE_REQUEST).expect("spec example is JSON")
    }

    /// Sets `value` at a JSON pointer whose parent exists in the spec example.
    fn with(pointer: &str, value: Value) -> Value {
        let mut doc = example();
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
        match doc.pointer_mut(parent).expect("parent exists") {
            Value::Object(map) => {
                map.insert(key.to_owned(), value);
            }
            Value::Array(items) => {
                let index: usize = key.parse().expect("array index");
                items[index] = value;
            }
            other => panic!("cannot set {key} in {other}"),
        }
        doc
    }

    fn channel_error(doc: &Value) -> String {
        parse_channel(&doc.to_string())
            .expect_err("document must be rejected")
            .to_string()
    }

    #[test]
    fn spec_example_parses_and_round_trips() {
        let channel = parse_channel(EXAMPLE_REQUEST).expect("spec example parses");
        assert_eq!(channel.id, "test");
        assert_eq!(channel.input.input_protocol, crate::InputProtocol::FlvPull);
        assert_eq!(channel.input.primary_sources()[0].bitrate, Some(1024));
        assert_eq!(channel.endpoints[0].packages(0).count(), 3);
        let back = serde_json::to_value(&channel).expect("channel serializes");
        assert_eq!(back, example());
        // And the re-serialized text parses to the same channel.
        let again = parse_channel(&back.to_string()).expect("round trip parses");
        assert_eq!(again, channel);
    }

    #[test]
    fn spec_example_validates() {
        let channel = parse_and_validate_channel(EXAMPLE_REQUEST).expect("spec example is valid");
        assert!(!channel.is_on());
    }

    #[test]
    fn channels_array_parses() {
        let doc = Value::Array(vec![example(), with("/id", json!("second"))]);
        let channels = parse_channels(&doc.to_string()).expect("array parses");
        assert_eq!(channels.len(), 2);
        assert_eq!(channels[1].id, "second");
    }

    #[test]
    fn unknown_field_names_its_full_path() {
        let cases = [
            ("/colour", "colour"),
            ("/input/sources/0/bitratee", "input.sources[0].bitratee"),
            (
                "/input/failover_conditions/threshold",
                "input.failover_conditions.threshold",
            ),
            ("/record_settings/days", "record_settings.days"),
            (
                "/endpoints/0/hls_package/0/stream_selection/0/bw",
                "endpoints[0].hls_package[0].stream_selection[0].bw",
            ),
            (
                "/endpoints/0/dash_package/0/hls_version",
                "endpoints[0].dash_package[0].hls_version",
            ),
            (
                "/endpoints/0/mss_package/0/ads",
                "endpoints[0].mss_package[0].ads",
            ),
            ("/endpoints/0/smooth_package", "endpoints[0].smooth_package"),
        ];
        for (pointer, path) in cases {
            let message = channel_error(&with(pointer, json!(1)));
            let key = path.rsplit('.').next().unwrap_or(path);
            let key = key.rsplit(']').next().unwrap_or(key);
            assert!(
                message.starts_with(&format!("{path}: unknown field `{key}`")),
                "{pointer}: {message}"
            );
        }
    }

    #[test]
    fn unknown_field_in_deep_structures() {
        let encryption = json!({
            "resource_id": "r", "system_ids": ["FairPlay"], "url": "https://drm.example.com/speke",
            "speke_version": "1.0", "request_mode": "direct_http",
            "http_headers": [{"key": "a", "value": "b", "secret": 1}]
        });
        let message = channel_error(&with("/endpoints/0/hls_package/0/encryption", encryption));
        assert!(
            message.starts_with(
                "endpoints[0].hls_package[0].encryption.http_headers[0].secret: unknown field `secret`"
            ),
            "{message}"
        );
        let selectors = json!([{"name": "a", "selector_settings": {"audio_pid_selection": {"pid": 1, "pcr": 2}}}]);
        let message = channel_error(&with("/input/audio_selectors", selectors));
        assert!(
            message.starts_with(
                "input.audio_selectors[0].selector_settings.audio_pid_selection.pcr: unknown field"
            ),
            "{message}"
        );
        let request_args = json!({"live": [{"delay": "d", "unit": "s", "offset": "o"}]});
        let message = channel_error(&with(
            "/endpoints/0/dash_package/0/request_args",
            request_args,
        ));
        assert!(
            message.starts_with(
                "endpoints[0].dash_package[0].request_args.live[0].offset: unknown field"
            ),
            "{message}"
        );
        let expand = json!({"audio_descriptions": [{"name": "a", "audio_selector_name": "b", "codec": "aac"}]});
        let message = channel_error(&with("/encoder_settings_expand", expand));
        assert!(
            message
                .starts_with("encoder_settings_expand.audio_descriptions[0].codec: unknown field"),
            "{message}"
        );
    }

    #[test]
    fn unknown_field_in_array_of_channels_names_the_index() {
        let doc = Value::Array(vec![example(), with("/input/sources/0/bitratee", json!(1))]);
        let message = parse_channels(&doc.to_string())
            .expect_err("unknown field rejected")
            .to_string();
        assert!(
            message.starts_with("[1].input.sources[0].bitratee: unknown field `bitratee`"),
            "{message}"
        );
    }

    #[test]
    fn wrong_enum_value_names_its_path() {
        let encryption = |field: &str, value: Value| {
            let mut enc = json!({
                "resource_id": "r", "system_ids": ["FairPlay"], "url": "https://drm.example.com/speke",
                "speke_version": "1.0", "request_mode": "direct_http"
            });
            enc[field] = value;
            enc
        };
        let cases = [
            ("/input/input_protocol", json!("FLV"), "input.input_protocol"),
            ("/state", json!("on"), "state"),
            ("/input/failover_conditions/input_preference", json!("SECONDARY"), "input.failover_conditions.input_preference"),
            ("/input/scte35_source", json!("MANIFEST"), "input.scte35_source"),
            ("/input/ad_triggers", json!(["Splice insert", "splice insert"]), "input.ad_triggers[1]"),
            (
                "/input/audio_selectors",
                json!([{"name": "a", "selector_settings": {"audio_language_selection": {"language_code": "en", "language_selection_policy": "FUZZY"}}}]),
                "input.audio_selectors[0].selector_settings.audio_language_selection.language_selection_policy",
            ),
            (
                "/encoder_settings_expand",
                json!({"audio_descriptions": [{"name": "a", "audio_selector_name": "a", "language_code_control": "FOLLOW"}]}),
                "encoder_settings_expand.audio_descriptions[0].language_code_control",
            ),
            ("/endpoints/0/hls_package/0/encryption", encryption("level", json!("channel")), "endpoints[0].hls_package[0].encryption.level"),
            ("/endpoints/0/hls_package/0/encryption", encryption("system_ids", json!(["Fairplay"])), "endpoints[0].hls_package[0].encryption.system_ids[0]"),
            ("/endpoints/0/hls_package/0/encryption", encryption("speke_version", json!("2.0")), "endpoints[0].hls_package[0].encryption.speke_version"),
            ("/endpoints/0/hls_package/0/encryption", encryption("request_mode", json!("proxy")), "endpoints[0].hls_package[0].encryption.request_mode"),
        ];
        for (pointer, value, path) in cases {
            let message = channel_error(&with(pointer, value));
            assert!(
                message.starts_with(&format!("{path}: unknown variant")),
                "{pointer}: {message}"
            );
        }
    }

    #[test]
    fn schema_errors_name_their_path() {
        let mut doc = example();
        if let Some(map) = doc
            .pointer_mut("/record_settings")
            .and_then(Value::as_object_mut)
        {
            map.remove("rollingbuffer_duration");
        }
        let message = channel_error(&doc);
        assert!(
            message.starts_with("record_settings: missing field `rollingbuffer_duration`"),
            "{message}"
        );
        let message = channel_error(&with("/input/sources/0/bitrate", json!(-1)));
        assert!(
            message.starts_with("input.sources[0].bitrate: invalid value"),
            "{message}"
        );
        let message = channel_error(&with("/endpoints/0/hls_package/0/ads", json!([1])));
        assert!(
            message.starts_with("endpoints[0].hls_package[0].ads: invalid type"),
            "{message}"
        );
        let message = channel_error(&with("/endpoints/0/hls_package/0/hls_version", json!(3)));
        assert!(
            message.starts_with("endpoints[0].hls_package[0].hls_version: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(parse_channel("{").is_err());
        assert!(parse_channel("").is_err());
        let trailing = format!("{EXAMPLE_REQUEST} {{}}");
        let message = parse_channel(&trailing)
            .expect_err("trailing data")
            .to_string();
        assert!(message.contains("trailing characters"), "{message}");
    }

    #[test]
    fn free_form_objects_round_trip() {
        let doc = with(
            "/endpoints/0/hls_package/0/ext_args",
            json!({"a": [1, {"b": null}], "c": "d"}),
        );
        let channel = parse_channel(&doc.to_string()).expect("ext_args is free-form");
        assert_eq!(serde_json::to_value(&channel).expect("serializes"), doc);
    }

    #[test]
    fn invalid_channel_error_lists_all_problems() {
        let doc = with(
            "/endpoints/0/hls_package/0/segment_duration_seconds",
            json!(12),
        );
        let doc = {
            let mut doc = doc;
            doc["id"] = json!("");
            doc
        };
        let err = parse_and_validate_channel(&doc.to_string()).expect_err("invalid");
        assert_eq!(err.path(), "id");
        let message = err.to_string();
        assert!(
            message.starts_with("invalid channel: id: must not be empty"),
            "{message}"
        );
        assert!(
            message.contains(
                "endpoints[0].hls_package[0].segment_duration_seconds: must be 1..=10, got 12"
            ),
            "{message}"
        );
    }
}
