//! The OpenAPI 3.1 document of the control-plane API (`/v1/{project_id}/ott/channels`), served at
//! `GET /openapi.json`.
//!
//! The body schemas are generated from the model's serde types (`model` feature `schema`), so they
//! accept exactly the field names, enum spellings and optional fields that the server parses; the
//! per-field ranges the spec states are part of them. Cross-field rules are left to
//! [`model::ChannelConfig::validate`] and show up as 400 responses.

use std::sync::OnceLock;

use bytes::Bytes;
use model::schemars::generate::SchemaSettings;
use model::schemars::JsonSchema;
use model::{
    result_codes, ChannelConfig, ChannelListResponse, ChannelStateRequest, CreateChannelResponse,
    ErrorResponse,
};
use serde_json::{json, Map, Value};

/// Where the schemas live in the document; schemars writes its `$ref`s against this path.
const SCHEMAS_PATH: &str = "/components/schemas";
/// Name of the `X-Auth-Token` security scheme.
const AUTH_SCHEME: &str = "AuthToken";

/// The spec's example create request, shown as the request example.
const EXAMPLE_REQUEST: &str = include_str!("../../model/testdata/spec_example_request.json");
/// The spec's example 201 body.
const EXAMPLE_RESPONSE_201: &str =
    include_str!("../../model/testdata/spec_example_response_201.json");
/// The spec's example 400 body.
const EXAMPLE_RESPONSE_400: &str =
    include_str!("../../model/testdata/spec_example_response_400.json");

/// The OpenAPI 3.1.0 document of the control-plane API, every schema in `components.schemas`.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Headwater control-plane API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "tags": [
            { "name": "channels", "description": "OTT channels of a project." },
            { "name": "meta", "description": "This document." },
        ],
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                AUTH_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Auth-Token",
                    "description": "Token of the project named in the path.",
                },
            },
            "parameters": {
                "ProjectId": {
                    "name": "project_id",
                    "in": "path",
                    "required": true,
                    "description": "Project ID.",
                    "schema": { "type": "string" },
                },
                "ChannelId": {
                    "name": "id",
                    "in": "path",
                    "required": true,
                    "description": "Channel ID.",
                    "schema": { "type": "string" },
                },
            },
            "responses": {
                "Unauthorized": error_response(&format!(
                    "`X-Auth-Token` is missing or not valid for the project (`{}`).",
                    result_codes::UNAUTHORIZED
                )),
                "NotFound": error_response(&format!(
                    "No channel with this ID in the project (`{}`).",
                    result_codes::CHANNEL_NOT_FOUND
                )),
                "InternalError": error_response(&format!(
                    "The change could not be stored; nothing was changed (`{}`).",
                    result_codes::INTERNAL_ERROR
                )),
            },
        },
    })
}

/// [`document`] as JSON text, built once.
pub fn document_bytes() -> Bytes {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let text = serde_json::to_vec_pretty(&document())
                .expect("a serde_json::Value always serializes");
            Bytes::from(text)
        })
        .clone()
}

const DESCRIPTION: &str = "\
Control plane of Headwater, a live streaming origin: create, list, read, change, start or stop, \
and delete the OTT channels of a project.

Request and response bodies mirror the OTT channel API JSON field by field; unknown fields are \
rejected. Failures answer with an `ErrorResponse` whose `result_code` says what went wrong; the \
result codes are documented in docs/api.md.

The schemas carry the per-field ranges and patterns of the spec. Rules that involve several fields \
(a non-zero playlist window holds at least three segments, standby sources match their primary \
sources, sources are required for pull protocols, DRM systems depend on the package format, names \
are unique, package URLs are unique, ...) are checked by the server and reported with status 400 \
and the JSON path of each offending value in `result_msg`.";

/// Every schema the operations use, keyed by type name, with `$ref`s into `components.schemas`.
fn schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.definitions_path = SCHEMAS_PATH.into();
            settings.meta_schema = None;
        })
        .into_generator();
    // Each root type lands in the definitions with everything it references.
    let _ = generator.subschema_for::<ChannelConfig>();
    let _ = generator.subschema_for::<CreateChannelResponse>();
    let _ = generator.subschema_for::<ErrorResponse>();
    let _ = generator.subschema_for::<ChannelListResponse>();
    let _ = generator.subschema_for::<ChannelStateRequest>();
    generator.take_definitions(true)
}

/// A `$ref` to the schema of `T`.
fn schema_ref<T: JsonSchema>() -> Value {
    json!({ "$ref": format!("#{SCHEMAS_PATH}/{}", T::schema_name()) })
}

fn json_content<T: JsonSchema>(examples: Option<Value>) -> Value {
    let mut media = json!({ "schema": schema_ref::<T>() });
    if let Some(examples) = examples {
        media["examples"] = examples;
    }
    json!({ "application/json": media })
}

/// A response with an `ErrorResponse` body.
fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": json_content::<ErrorResponse>(None),
    })
}

fn component_response(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn parameter_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// The generic result body of a delete or state change, for channel `id`.
fn success_example(id: &str) -> Value {
    json!({
        "result_code": result_codes::SUCCESS,
        "result_msg": "SUCCESS",
        "domain": "push.testott.hls.com",
        "app_name": "ott",
        "id": id,
    })
}

fn parse_example(text: &str) -> Value {
    serde_json::from_str(text).expect("the spec examples in model/testdata are JSON")
}

/// An operation on `/v1/...`: tagged `channels`, behind `X-Auth-Token`.
fn channel_operation(operation_id: &str, summary: &str, description: &str) -> Map<String, Value> {
    let operation = json!({
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["channels"],
        "security": [{ AUTH_SCHEME: [] }],
    });
    match operation {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

fn paths() -> Value {
    let conflicts = format!(
        "The body is not valid JSON, does not match the schema or breaks a validation rule \
         (`{invalid}`); a package URL is already served by another channel (`{url}`); a channel \
         with this ID exists (`{exists}`); or an ingest stream name `{{app_name}}/{{id}}_{{bitrate}}` \
         is already used by another channel (`{stream}`).",
        invalid = result_codes::INVALID_REQUEST,
        url = result_codes::OUTPUT_URL_EXISTS,
        exists = result_codes::CHANNEL_EXISTS,
        stream = result_codes::INGEST_STREAM_EXISTS,
    );
    let update_conflicts = format!(
        "The body is not valid JSON, does not match the schema, breaks a validation rule or has \
         an `id` other than the path's (`{invalid}`); a package URL is already served by another \
         channel (`{url}`); or an ingest stream name is already used by another channel \
         (`{stream}`).",
        invalid = result_codes::INVALID_REQUEST,
        url = result_codes::OUTPUT_URL_EXISTS,
        stream = result_codes::INGEST_STREAM_EXISTS,
    );

    let mut create = channel_operation(
        "createChannel",
        "Create a channel",
        "Stores the channel and, when its state is ON, starts it. For RTMP_PUSH channels the \
         response lists one ingest URL per primary source.",
    );
    create.insert(
        "requestBody".into(),
        json!({
            "required": true,
            "content": json_content::<ChannelConfig>(Some(json!({
                "spec": { "summary": "The spec's example request", "value": parse_example(EXAMPLE_REQUEST) },
            }))),
        }),
    );
    create.insert(
        "responses".into(),
        json!({
            "201": {
                "description": "Created.",
                "content": json_content::<CreateChannelResponse>(Some(json!({
                    "rtmpPush": {
                        "summary": "An RTMP_PUSH channel with one source",
                        "value": parse_example(EXAMPLE_RESPONSE_201),
                    },
                }))),
            },
            "400": {
                "description": conflicts,
                "content": json_content::<ErrorResponse>(Some(json!({
                    "outputUrlInUse": {
                        "summary": "A package URL is already in use",
                        "value": parse_example(EXAMPLE_RESPONSE_400),
                    },
                }))),
            },
            "401": component_response("Unauthorized"),
            "500": component_response("InternalError"),
        }),
    );

    let mut list = channel_operation(
        "listChannels",
        "List channels",
        "The channels of the project that match every given filter, in creation order, from \
         `offset`, at most `limit`.",
    );
    list.insert(
        "parameters".into(),
        json!([
            {
                "name": "limit",
                "in": "query",
                "description": "Most channels to return.",
                "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 10 },
            },
            {
                "name": "offset",
                "in": "query",
                "description": "Matching channels to skip.",
                "schema": { "type": "integer", "minimum": 0, "default": 0 },
            },
            {
                "name": "domain",
                "in": "query",
                "description": "Only channels with this ingest domain.",
                "schema": { "type": "string" },
            },
            {
                "name": "app_name",
                "in": "query",
                "description": "Only channels with this app name.",
                "schema": { "type": "string" },
            },
            {
                "name": "id",
                "in": "query",
                "description": "Only the channel with this ID.",
                "schema": { "type": "string" },
            },
        ]),
    );
    list.insert(
        "responses".into(),
        json!({
            "200": {
                "description": "The page of matching channels and how many match in all.",
                "content": json_content::<ChannelListResponse>(None),
            },
            "400": error_response(&format!(
                "`limit` or `offset` is not an integer in range (`{}`).",
                result_codes::INVALID_REQUEST
            )),
            "401": component_response("Unauthorized"),
        }),
    );

    let mut get = channel_operation(
        "getChannel",
        "Read a channel",
        "The channel as it was created or last changed.",
    );
    get.insert(
        "responses".into(),
        json!({
            "200": {
                "description": "The channel.",
                "content": json_content::<ChannelConfig>(None),
            },
            "401": component_response("Unauthorized"),
            "404": component_response("NotFound"),
        }),
    );

    let mut update = channel_operation(
        "updateChannel",
        "Replace a channel",
        "Replaces the whole configuration of the channel. A channel whose inputs are unchanged \
         keeps its publishers and media; otherwise its pipeline restarts.",
    );
    update.insert(
        "requestBody".into(),
        json!({ "required": true, "content": json_content::<ChannelConfig>(None) }),
    );
    update.insert(
        "responses".into(),
        json!({
            "200": {
                "description": "Replaced.",
                "content": json_content::<CreateChannelResponse>(None),
            },
            "400": error_response(&update_conflicts),
            "401": component_response("Unauthorized"),
            "404": component_response("NotFound"),
            "500": component_response("InternalError"),
        }),
    );

    let mut delete = channel_operation(
        "deleteChannel",
        "Delete a channel",
        "Stops the channel, disconnects its publishers and forgets its configuration.",
    );
    delete.insert(
        "responses".into(),
        json!({
            "200": {
                "description": format!(
                    "Deleted: `result_code` `{}`, `result_msg` `SUCCESS`, with the channel's \
                     `domain`, `app_name` and `id`.",
                    result_codes::SUCCESS
                ),
                "content": json_content::<ErrorResponse>(Some(json!({
                    "deleted": { "summary": "Deleted", "value": success_example("test") },
                }))),
            },
            "401": component_response("Unauthorized"),
            "404": component_response("NotFound"),
            "500": component_response("InternalError"),
        }),
    );

    let mut set_state = channel_operation(
        "setChannelState",
        "Start or stop a channel",
        "`ON` starts the channel, `OFF` stops it and disconnects its publishers; the \
         configuration is kept either way.",
    );
    set_state.insert(
        "requestBody".into(),
        json!({
            "required": true,
            "content": json_content::<ChannelStateRequest>(Some(json!({
                "start": { "summary": "Start", "value": { "state": "ON" } },
            }))),
        }),
    );
    set_state.insert(
        "responses".into(),
        json!({
            "200": {
                "description": format!(
                    "Done: `result_code` `{}`, `result_msg` `SUCCESS`, with the channel's \
                     `domain`, `app_name` and `id`.",
                    result_codes::SUCCESS
                ),
                "content": json_content::<ErrorResponse>(Some(json!({
                    "done": { "summary": "Done", "value": success_example("test") },
                }))),
            },
            "400": error_response(&format!(
                "The body is not valid JSON or does not match the schema (`{}`).",
                result_codes::INVALID_REQUEST
            )),
            "401": component_response("Unauthorized"),
            "404": component_response("NotFound"),
            "500": component_response("InternalError"),
        }),
    );

    json!({
        "/v1/{project_id}/ott/channels": {
            "parameters": [parameter_ref("ProjectId")],
            "post": create,
            "get": list,
        },
        "/v1/{project_id}/ott/channels/{id}": {
            "parameters": [parameter_ref("ProjectId"), parameter_ref("ChannelId")],
            "get": get,
            "put": update,
            "delete": delete,
        },
        "/v1/{project_id}/ott/channels/{id}/state": {
            "parameters": [parameter_ref("ProjectId"), parameter_ref("ChannelId")],
            "put": set_state,
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApiDocument",
                "summary": "This OpenAPI document",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document of this API.",
                        "content": { "application/json": { "schema": { "type": "object" } } },
                    },
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use jsonschema::Validator;
    use model::parse_and_validate_channel;

    use super::*;

    /// A validator for the component schema `name`, resolving its `$ref`s against the document's
    /// components.
    fn validator(name: &str) -> Validator {
        let doc = document();
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#{SCHEMAS_PATH}/{name}"),
            "components": { "schemas": doc["components"]["schemas"].clone() },
        });
        jsonschema::validator_for(&root).expect("component schemas compile")
    }

    fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn example_request() -> Value {
        parse_example(EXAMPLE_REQUEST)
    }

    /// The spec example with the value at JSON pointer `pointer` replaced (or added).
    fn with(pointer: &str, value: Value) -> Value {
        let mut doc = example_request();
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
        match doc
            .pointer_mut(parent)
            .expect("parent exists in the example")
        {
            Value::Object(map) => {
                map.insert(key.to_owned(), value);
            }
            other => panic!("cannot set {key} in {other}"),
        }
        doc
    }

    /// Every `$ref` in `value`, with the JSON path where it sits.
    fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "$ref" {
                        if let Value::String(target) = child {
                            out.push((at.to_owned(), target.clone()));
                        }
                    } else {
                        refs(child, &format!("{at}/{key}"), out);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    refs(child, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn document_is_openapi_3_1_json() {
        let bytes = document_bytes();
        let doc: Value = serde_json::from_slice(&bytes).expect("document is JSON");
        assert_eq!(doc, document());
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("docs/api.md")));
        // The cached bytes are shared, not rebuilt.
        assert_eq!(document_bytes().as_ptr(), bytes.as_ptr());
    }

    #[test]
    fn every_ref_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, "", &mut found);
        assert!(found.len() > 20, "expected many refs, got {found:?}");
        for (at, target) in found {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{at}: non-local $ref {target}"));
            assert!(
                pointer.starts_with("/components/"),
                "{at}: $ref {target} points outside components"
            );
            assert!(
                doc.pointer(pointer).is_some(),
                "{at}: $ref {target} does not resolve"
            );
        }
    }

    #[test]
    fn operations_are_named_secured_and_declare_their_path_parameters() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths is an object");
        let mut ids = Vec::new();
        for (path, item) in paths {
            let path_params: Vec<&str> = item["parameters"]
                .as_array()
                .map(|params| {
                    params
                        .iter()
                        .filter_map(|p| p["$ref"].as_str())
                        .filter_map(|r| doc.pointer(r.trim_start_matches('#')))
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for template in path.split('/').filter(|s| s.starts_with('{')) {
                let name = template.trim_matches(|c| c == '{' || c == '}');
                assert!(path_params.contains(&name), "{path}: {name} not declared");
            }
            for (method, operation) in item.as_object().expect("path item is an object") {
                if method == "parameters" {
                    continue;
                }
                let id = operation["operationId"].as_str().expect("operationId");
                assert!(operation["summary"].is_string(), "{id}: no summary");
                let security = &operation["security"];
                if path.starts_with("/v1/") {
                    assert_eq!(security, &json!([{ AUTH_SCHEME: [] }]), "{id}");
                    assert!(operation["responses"]["401"].is_object(), "{id}: no 401");
                } else {
                    assert_eq!(security, &json!([]), "{id}");
                }
                ids.push(id.to_owned());
            }
        }
        ids.sort();
        assert_eq!(
            ids,
            [
                "createChannel",
                "deleteChannel",
                "getChannel",
                "getOpenApiDocument",
                "listChannels",
                "setChannelState",
                "updateChannel"
            ]
        );
        let scheme = &doc["components"]["securitySchemes"][AUTH_SCHEME];
        assert_eq!(scheme["type"], "apiKey");
        assert_eq!(scheme["in"], "header");
        assert_eq!(scheme["name"], "X-Auth-Token");
    }

    #[test]
    fn spec_examples_validate() {
        let channel = validator("ChannelConfig");
        assert_eq!(errors(&channel, &example_request()), Vec::<String>::new());
        // And as the model writes it back.
        let parsed = parse_and_validate_channel(EXAMPLE_REQUEST).expect("spec example is valid");
        let written = serde_json::to_value(&parsed).expect("channel serializes");
        assert_eq!(errors(&channel, &written), Vec::<String>::new());

        let created = validator("CreateChannelResponse");
        let body = parse_example(EXAMPLE_RESPONSE_201);
        assert_eq!(errors(&created, &body), Vec::<String>::new());
        let built = CreateChannelResponse::success(&parsed);
        let built = serde_json::to_value(&built).expect("response serializes");
        assert_eq!(errors(&created, &built), Vec::<String>::new());

        let error = validator("ErrorResponse");
        let body = parse_example(EXAMPLE_RESPONSE_400);
        assert_eq!(errors(&error, &body), Vec::<String>::new());
        assert_eq!(
            errors(
                &error,
                &json!({ "result_code": "LIVE.1", "result_msg": "bad" })
            ),
            Vec::<String>::new()
        );
        assert!(!error.is_valid(&json!({ "result_msg": "no code" })));

        let state = validator("ChannelStateRequest");
        assert!(state.is_valid(&json!({ "state": "ON" })));
        assert!(!state.is_valid(&json!({ "state": "on" })));

        let list = validator("ChannelListResponse");
        assert!(list.is_valid(&json!({ "total": 1, "channels": [example_request()] })));
    }

    #[test]
    fn embedded_examples_validate_against_their_schemas() {
        let doc = document();
        let mut checked = 0;
        for item in doc["paths"].as_object().expect("paths").values() {
            for operation in item.as_object().expect("path item").values() {
                let mut media = Vec::new();
                if let Some(content) = operation["requestBody"]["content"].as_object() {
                    media.extend(content.values());
                }
                if let Some(responses) = operation["responses"].as_object() {
                    media.extend(
                        responses
                            .values()
                            .filter_map(|r| r["content"].as_object())
                            .flat_map(|c| c.values()),
                    );
                }
                for media in media {
                    let Some(examples) = media["examples"].as_object() else {
                        continue;
                    };
                    let target = media["schema"]["$ref"].as_str().expect("schema is a $ref");
                    let name = target.rsplit('/').next().expect("ref has a name");
                    let validator = validator(name);
                    for (example, body) in examples {
                        let value = &body["value"];
                        assert_eq!(errors(&validator, value), Vec::<String>::new(), "{example}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 5, "only {checked} examples checked");
    }

    #[test]
    fn unknown_fields_fail() {
        let channel = validator("ChannelConfig");
        for pointer in [
            "/extra",
            "/input/extra",
            "/input/sources/0/extra",
            "/record_settings/extra",
            "/endpoints/0/hls_package/0/extra",
            "/endpoints/0/dash_package/0/stream_selection/0/extra",
        ] {
            let doc = match pointer.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => {
                    let mut doc = example_request();
                    doc.pointer_mut(parent)
                        .and_then(Value::as_object_mut)
                        .expect("parent is an object")
                        .insert("extra".into(), json!(1));
                    doc
                }
                _ => with(pointer, json!(1)),
            };
            assert!(!channel.is_valid(&doc), "{pointer} accepted");
            assert!(parse_and_validate_channel(&doc.to_string()).is_err());
        }
        let error = validator("ErrorResponse");
        let mut body = parse_example(EXAMPLE_RESPONSE_400);
        body["extra"] = json!(1);
        assert!(!error.is_valid(&body));
    }

    /// Where the schema states a rule, it must give the same verdict as parsing plus validation.
    #[test]
    fn schema_agrees_with_the_model_on_ranges_and_spellings() {
        let channel = validator("ChannelConfig");
        let at = |pointer: &str| pointer.to_owned();
        let source = |field: &str| format!("/input/sources/0/{field}");
        let hls = |field: &str| format!("/endpoints/0/hls_package/0/{field}");
        let dash = |field: &str| format!("/endpoints/0/dash_package/0/{field}");
        let loss = at("/input/failover_conditions/input_loss_threshold_msec");
        let rolling = at("/record_settings/rollingbuffer_duration");
        let cases: Vec<(String, Value, bool)> = vec![
            (source("bitrate"), json!(0), false),
            (source("bitrate"), json!(104_857_601), false),
            (source("bitrate"), json!(1), true),
            (source("bitrate"), json!(104_857_600), true),
            (source("bitrate"), json!(-1), false),
            (source("bitrate"), json!("1024"), false),
            (source("width"), json!(4097), false),
            (source("width"), json!(4096), true),
            (source("height"), json!(2161), false),
            (source("height"), json!(0), true),
            (loss.clone(), json!(3_600_001), false),
            (loss, json!(3_600_000), true),
            (rolling.clone(), json!(1_209_601), false),
            (rolling, json!(0), true),
            (hls("segment_duration_seconds"), json!(0), false),
            (hls("segment_duration_seconds"), json!(11), false),
            (hls("segment_duration_seconds"), json!(10), true),
            (hls("playlist_window_seconds"), json!(86_401), false),
            (hls("playlist_window_seconds"), json!(0), true),
            (hls("hls_version"), json!(3), false),
            (hls("hls_version"), json!("07"), false),
            (hls("hls_version"), json!("11"), false),
            (hls("hls_version"), json!("10"), true),
            (hls("ad_marker"), json!(["ENHANCED_SCTE35"]), true),
            (hls("ad_marker"), json!(["SCTE35"]), false),
            (hls("ad_marker"), json!([]), false),
            (dash("ad_marker"), json!("xml+bin"), true),
            (dash("ad_marker"), json!("xmlxbin"), false),
            (dash("min_buffer_time"), json!(0), false),
            (dash("min_buffer_time"), json!(121), false),
            (dash("suggested_presentation_delay"), json!(120), true),
            (dash("minimum_update_period"), json!(1), true),
            (
                dash("stream_selection/0/max_bandwidth"),
                json!(104_857_601),
                false,
            ),
            (at("/state"), json!("ON"), true),
            (at("/state"), json!("on"), false),
            (at("/input/input_protocol"), json!("RTMP_PUSH"), true),
            (at("/input/input_protocol"), json!("RTSP_PULL"), false),
            (at("/id"), json!(".."), false),
            (at("/id"), json!("."), false),
            (at("/id"), json!(".a"), true),
            (at("/id"), json!("a."), true),
            (at("/id"), json!("..."), true),
            (at("/id"), json!("news/hd"), false),
            (at("/app_name"), json!(""), false),
            (at("/domain"), json!(""), false),
            // Optional fields may be written as null, as serde accepts.
            (at("/name"), Value::Null, true),
            (at("/input/failover_conditions"), Value::Null, true),
        ];
        for (pointer, value, valid) in cases {
            let doc = with(&pointer, value.clone());
            let schema_says = errors(&channel, &doc);
            let model_says = parse_and_validate_channel(&doc.to_string());
            assert_eq!(
                schema_says.is_empty(),
                valid,
                "schema on {pointer} = {value}: {schema_says:?}"
            );
            assert_eq!(
                model_says.is_ok(),
                valid,
                "model on {pointer} = {value}: {model_says:?}"
            );
        }
        // Optional fields may be left out.
        let mut minimal = example_request();
        for optional in ["name", "encoder_settings", "encoder_settings_expand"] {
            minimal.as_object_mut().expect("object").remove(optional);
        }
        minimal["input"] = json!({ "input_protocol": "RTMP_PUSH" });
        minimal["endpoints"] = json!([{ "hls_package": [{
            "url": "pull.example.com/live/index.m3u8",
            "segment_duration_seconds": 4
        }] }]);
        assert_eq!(errors(&channel, &minimal), Vec::<String>::new());
        assert!(parse_and_validate_channel(&minimal.to_string()).is_ok());
    }

    #[test]
    fn audio_and_drm_limits() {
        let channel = validator("ChannelConfig");
        let selector = |i: usize| json!({ "name": format!("sel_{i}") });
        let eight: Vec<Value> = (0..8).map(selector).collect();
        let nine: Vec<Value> = (0..9).map(selector).collect();
        assert!(channel.is_valid(&with("/input/audio_selectors", json!(eight))));
        assert!(!channel.is_valid(&with("/input/audio_selectors", json!(nine))));
        let bad_name = json!([{ "name": "has space" }]);
        assert!(!channel.is_valid(&with("/input/audio_selectors", bad_name)));
        let lang = |code: &str| {
            json!([{ "name": "a", "selector_settings": {
                "audio_language_selection": { "language_code": code } } }])
        };
        assert!(channel.is_valid(&with("/input/audio_selectors", lang("eng"))));
        assert!(!channel.is_valid(&with("/input/audio_selectors", lang("ENG"))));
        assert!(!channel.is_valid(&with("/input/audio_selectors", lang("e"))));

        let encryption = |headers: usize| {
            let headers: Vec<Value> = (0..headers)
                .map(|i| json!({ "key": format!("X-H{i}"), "value": "v" }))
                .collect();
            json!({
                "resource_id": "r",
                "system_ids": ["FairPlay"],
                "url": "https://drm.example.com/speke",
                "speke_version": "1.0",
                "request_mode": "direct_http",
                "http_headers": headers,
            })
        };
        let path = "/endpoints/0/hls_package/0/encryption";
        for (headers, valid) in [(5, true), (6, false)] {
            let doc = with(path, encryption(headers));
            assert_eq!(channel.is_valid(&doc), valid, "{headers} headers");
            assert_eq!(
                parse_and_validate_channel(&doc.to_string()).is_ok(),
                valid,
                "{headers} headers"
            );
        }
        let mut header_injection = encryption(1);
        header_injection["http_headers"][0]["value"] = json!("v\r\nX-Evil: 1");
        assert!(!channel.is_valid(&with(path, header_injection)));
        let mut no_systems = encryption(0);
        no_systems["system_ids"] = json!([]);
        assert!(!channel.is_valid(&with(path, no_systems)));
        let mut bad_version = encryption(0);
        bad_version["speke_version"] = json!("2.0");
        assert!(!channel.is_valid(&with(path, bad_version)));
    }
}
