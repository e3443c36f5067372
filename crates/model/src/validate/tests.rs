//! Table-driven validation tests: for every rule, documents that pass and documents that break it,
//! each a small edit of the spec's example request (which is valid).

use serde_json::{json, Value};

use crate::parse_channel;
use crate::test_fixtures::EXAMPLE_REQUEST;

/// One change to the spec example, addressed by JSON pointer.
enum Edit {
    /// Insert or replace the value (`/-` appends to an array).
    Set(&'static str, Value),
    /// Remove the key.
    Remove(&'static str),
}

fn set(pointer: &'static str, value: Value) -> Edit {
    Edit::Set(pointer, value)
}

fn remove(pointer: &'static str) -> Edit {
    Edit::Remove(pointer)
}

struct Case {
    rule: &'static str,
    edits: Vec<Edit>,
    /// `None`: the document is valid; `Some((path, message part))`: that problem is reported.
    expect: Option<(&'static str, &'static str)>,
}

fn ok(rule: &'static str, edits: Vec<Edit>) -> Case {
    Case {
        rule,
        edits,
        expect: None,
    }
}

fn bad(rule: &'static str, edits: Vec<Edit>, path: &'static str, message: &'static str) -> Case {
    Case {
        rule,
        edits,
        expect: Some((path, message)),
    }
}

fn apply(doc: &mut Value, edit: &Edit) -> Result<(), String> {
    let pointer = match edit {
        Edit::Set(pointer, _) | Edit::Remove(pointer) => *pointer,
    };
    let (parent, key) = pointer
        .rsplit_once('/')
        .ok_or_else(|| format!("bad pointer {pointer}"))?;
    let parent = doc
        .pointer_mut(parent)
        .ok_or_else(|| format!("no parent for {pointer}"))?;
    match (parent, edit) {
        (Value::Object(map), Edit::Set(_, value)) => {
            map.insert(key.to_owned(), value.clone());
        }
        (Value::Object(map), Edit::Remove(_)) => {
            map.remove(key)
                .ok_or_else(|| format!("nothing at {pointer}"))?;
        }
        (Value::Array(items), Edit::Set(_, value)) if key == "-" => items.push(value.clone()),
        (Value::Array(items), Edit::Set(_, value)) => {
            let slot = key
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("no element {pointer}"))?;
            *slot = value.clone();
        }
        _ => return Err(format!("cannot apply edit at {pointer}")),
    }
    Ok(())
}

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in &cases {
        let mut doc: Value = serde_json::from_str(EXAMPLE_REQUEST).expect("spec example is JSON");
        if let Err(err) = case.edits.iter().try_for_each(|e| apply(&mut doc, e)) {
            failures.push(format!("{}: {err}", case.rule));
            continue;
        }
        let channel = match parse_channel(&doc.to_string()) {
            Ok(channel) => channel,
            Err(err) => {
                failures.push(format!("{}: does not parse: {err}", case.rule));
                continue;
            }
        };
        let result = channel.validate();
        match (&case.expect, &result) {
            (None, Ok(())) => {}
            (None, Err(problems)) => failures.push(format!(
                "{}: expected valid, got {}",
                case.rule,
                show(problems)
            )),
            (Some((path, message)), Err(problems))
                if problems
                    .iter()
                    .any(|p| p.path == *path && p.message.contains(message)) => {}
            (Some((path, message)), _) => failures.push(format!(
                "{}: expected `{path}: ...{message}...`, got {}",
                case.rule,
                result
                    .as_ref()
                    .map_or_else(|p| show(p), |()| "valid".to_owned())
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn show(problems: &[crate::ValidationProblem]) -> String {
    let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!("[{}]", list.join("; "))
}

/// A DRM block for `/endpoints/0/<kind>/0/encryption`.
fn drm(mode: &str, systems: Value) -> Value {
    json!({
        "resource_id": "content-1",
        "system_ids": systems,
        "url": "https://drm.example.com/speke/v1",
        "speke_version": "1.0",
        "request_mode": mode,
    })
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn headers(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"key": format!("X-Auth-{i}"), "value": "secret"}))
            .collect(),
    )
}

fn selectors(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"name": format!("sel-{i}")}))
            .collect(),
    )
}

#[test]
fn spec_example_is_valid() {
    run(vec![ok("spec example", vec![])]);
}

#[test]
fn channel_identity() {
    run(vec![
        ok("id with - _ .", vec![set("/id", json!("News_HD-1.0"))]),
        bad(
            "id empty",
            vec![set("/id", json!(""))],
            "id",
            "must not be empty",
        ),
        bad(
            "id charset",
            vec![set("/id", json!("a/b"))],
            "id",
            "only letters, digits",
        ),
        bad(
            "id space",
            vec![set("/id", json!("a b"))],
            "id",
            "only letters, digits",
        ),
        bad(
            "id dot-dot",
            vec![set("/id", json!(".."))],
            "id",
            "must not be \"..\"",
        ),
        ok(
            "app_name charset",
            vec![set("/app_name", json!("live_2.a-b"))],
        ),
        bad(
            "app_name empty",
            vec![set("/app_name", json!(""))],
            "app_name",
            "must not be empty",
        ),
        bad(
            "app_name charset",
            vec![set("/app_name", json!("o?tt"))],
            "app_name",
            "only letters, digits",
        ),
        ok(
            "domain with port",
            vec![set("/domain", json!("push.example.com:1935"))],
        ),
        bad(
            "domain empty",
            vec![set("/domain", json!(""))],
            "domain",
            "must not be empty",
        ),
        bad(
            "domain invalid",
            vec![set("/domain", json!("push example.com"))],
            "domain",
            "not a valid host name",
        ),
    ]);
}

#[test]
fn source_ranges() {
    run(vec![
        ok(
            "bitrate max",
            vec![set("/input/sources/0/bitrate", json!(104_857_600))],
        ),
        ok(
            "bitrate min",
            vec![set("/input/sources/0/bitrate", json!(1))],
        ),
        bad(
            "bitrate zero",
            vec![set("/input/sources/0/bitrate", json!(0))],
            "input.sources[0].bitrate",
            "must be 1..=104857600, got 0",
        ),
        bad(
            "bitrate too high",
            vec![set("/input/sources/0/bitrate", json!(104_857_601))],
            "input.sources[0].bitrate",
            "must be 1..=104857600, got 104857601",
        ),
        ok(
            "width max",
            vec![set("/input/sources/0/width", json!(4096))],
        ),
        ok("width zero", vec![set("/input/sources/0/width", json!(0))]),
        bad(
            "width too high",
            vec![set("/input/sources/0/width", json!(4097))],
            "input.sources[0].width",
            "must be 0..=4096, got 4097",
        ),
        ok(
            "height max",
            vec![set("/input/sources/0/height", json!(2160))],
        ),
        bad(
            "height too high",
            vec![set("/input/sources/0/height", json!(2161))],
            "input.sources[0].height",
            "must be 0..=2160, got 2161",
        ),
        bad(
            "secondary bitrate range",
            vec![
                set("/input/sources/0/bitrate", json!(0)),
                set(
                    "/input/secondary_sources",
                    json!([{"url": "http://192.168.0.2/ott/test.flv", "bitrate": 0, "width": 100, "height": 100}]),
                ),
            ],
            "input.secondary_sources[0].bitrate",
            "must be 1..=104857600, got 0",
        ),
    ]);
}

#[test]
fn package_durations() {
    run(vec![
        ok(
            "segment 10",
            vec![set(
                "/endpoints/0/hls_package/0/segment_duration_seconds",
                json!(10),
            )],
        ),
        ok(
            "segment 1",
            vec![set(
                "/endpoints/0/mss_package/0/segment_duration_seconds",
                json!(1),
            )],
        ),
        bad(
            "segment 12",
            vec![set(
                "/endpoints/0/hls_package/0/segment_duration_seconds",
                json!(12),
            )],
            "endpoints[0].hls_package[0].segment_duration_seconds",
            "must be 1..=10, got 12",
        ),
        bad(
            "segment 0 dash",
            vec![set(
                "/endpoints/0/dash_package/0/segment_duration_seconds",
                json!(0),
            )],
            "endpoints[0].dash_package[0].segment_duration_seconds",
            "must be 1..=10, got 0",
        ),
        bad(
            "segment huge mss",
            vec![set(
                "/endpoints/0/mss_package/0/segment_duration_seconds",
                json!(u32::MAX),
            )],
            "endpoints[0].mss_package[0].segment_duration_seconds",
            "must be 1..=10",
        ),
        ok(
            "window max",
            vec![set(
                "/endpoints/0/hls_package/0/playlist_window_seconds",
                json!(86_400),
            )],
        ),
        ok(
            "window zero",
            vec![set(
                "/endpoints/0/hls_package/0/playlist_window_seconds",
                json!(0),
            )],
        ),
        ok(
            "window three segments",
            vec![set(
                "/endpoints/0/dash_package/0/playlist_window_seconds",
                json!(12),
            )],
        ),
        bad(
            "window too long",
            vec![set(
                "/endpoints/0/hls_package/0/playlist_window_seconds",
                json!(86_401),
            )],
            "endpoints[0].hls_package[0].playlist_window_seconds",
            "must be 0..=86400, got 86401",
        ),
        bad(
            "window two segments",
            vec![set(
                "/endpoints/0/mss_package/0/playlist_window_seconds",
                json!(8),
            )],
            "endpoints[0].mss_package[0].playlist_window_seconds",
            "at least 3 segments (>= 12 s for 4 s segments), got 8",
        ),
        ok(
            "rollingbuffer 14 days",
            vec![set(
                "/record_settings/rollingbuffer_duration",
                json!(1_209_600),
            )],
        ),
        ok(
            "rollingbuffer off",
            vec![set("/record_settings/rollingbuffer_duration", json!(0))],
        ),
        bad(
            "rollingbuffer too long",
            vec![set(
                "/record_settings/rollingbuffer_duration",
                json!(1_209_601),
            )],
            "record_settings.rollingbuffer_duration",
            "must be 0..=1209600, got 1209601",
        ),
        ok(
            "loss threshold max",
            vec![set(
                "/input/failover_conditions/input_loss_threshold_msec",
                json!(3_600_000),
            )],
        ),
        bad(
            "loss threshold too long",
            vec![set(
                "/input/failover_conditions/input_loss_threshold_msec",
                json!(3_600_001),
            )],
            "input.failover_conditions.input_loss_threshold_msec",
            "must be 0..=3600000, got 3600001",
        ),
    ]);
}

#[test]
fn sources_per_protocol() {
    run(vec![
        ok(
            "RTMP_PUSH without sources",
            vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                remove("/input/sources"),
            ],
        ),
        ok(
            "SRT_PUSH without sources",
            vec![
                set("/input/input_protocol", json!("SRT_PUSH")),
                remove("/input/sources"),
            ],
        ),
        bad(
            "FLV_PULL without sources",
            vec![remove("/input/sources")],
            "input.sources",
            "must list at least one source for FLV_PULL",
        ),
        bad(
            "HLS_PULL with empty sources",
            vec![
                set("/input/input_protocol", json!("HLS_PULL")),
                set("/input/sources", json!([])),
            ],
            "input.sources",
            "must list at least one source for HLS_PULL",
        ),
        ok(
            "RTMP_PUSH unique bitrates",
            vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                set(
                    "/input/sources",
                    json!([{"bitrate": 3_000_000}, {"bitrate": 800_000}]),
                ),
            ],
        ),
        bad(
            "RTMP_PUSH source without bitrate",
            vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                set(
                    "/input/sources",
                    json!([{"bitrate": 3_000_000}, {"width": 1280}]),
                ),
            ],
            "input.sources[1].bitrate",
            "is required for RTMP_PUSH",
        ),
        bad(
            "SRT_PUSH source without bitrate",
            vec![
                set("/input/input_protocol", json!("SRT_PUSH")),
                set("/input/sources", json!([{"passphrase": "0123456789"}])),
            ],
            "input.sources[0].bitrate",
            "is required for SRT_PUSH",
        ),
        bad(
            "RTMP_PUSH duplicate bitrates",
            vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                set(
                    "/input/sources",
                    json!([{"bitrate": 800_000}, {"bitrate": 3_000_000}, {"bitrate": 800_000}]),
                ),
            ],
            "input.sources[2].bitrate",
            "duplicates input.sources[0].bitrate (800000)",
        ),
        ok(
            "pull sources may share a bitrate",
            vec![set(
                "/input/sources/-",
                json!({"url": "http://192.168.0.2/ott/test.flv", "bitrate": 1024}),
            )],
        ),
        bad(
            "pull source without url",
            vec![remove("/input/sources/0/url")],
            "input.sources[0].url",
            "is required for FLV_PULL",
        ),
        bad(
            "pull secondary without url",
            vec![set(
                "/input/secondary_sources",
                json!([{"bitrate": 1024, "width": 100, "height": 100}]),
            )],
            "input.secondary_sources[0].url",
            "is required for FLV_PULL",
        ),
    ]);
}

#[test]
fn source_urls() {
    run(vec![
        ok(
            "FLV_PULL https",
            vec![set(
                "/input/sources/0/url",
                json!("https://cdn.example.com/live/a.flv"),
            )],
        ),
        ok(
            "HLS_PULL http",
            vec![
                set("/input/input_protocol", json!("HLS_PULL")),
                set(
                    "/input/sources/0/url",
                    json!("http://origin.example.com/live/index.m3u8"),
                ),
            ],
        ),
        ok(
            "SRT_PULL srt with port",
            vec![
                set("/input/input_protocol", json!("SRT_PULL")),
                set(
                    "/input/sources/0/url",
                    json!("srt://203.0.113.5:9000?streamid=live/a"),
                ),
            ],
        ),
        bad(
            "FLV_PULL srt scheme",
            vec![set("/input/sources/0/url", json!("srt://203.0.113.5:9000"))],
            "input.sources[0].url",
            "scheme must be http or https for FLV_PULL, got \"srt\"",
        ),
        bad(
            "HLS_PULL rtmp scheme",
            vec![
                set("/input/input_protocol", json!("HLS_PULL")),
                set(
                    "/input/sources/0/url",
                    json!("rtmp://origin.example.com/live/a"),
                ),
            ],
            "input.sources[0].url",
            "scheme must be http or https for HLS_PULL",
        ),
        bad(
            "SRT_PULL http scheme",
            vec![
                set("/input/input_protocol", json!("SRT_PULL")),
                set("/input/sources/0/url", json!("http://203.0.113.5:9000")),
            ],
            "input.sources[0].url",
            "scheme must be srt for SRT_PULL",
        ),
        bad(
            "SRT_PULL without port",
            vec![
                set("/input/input_protocol", json!("SRT_PULL")),
                set("/input/sources/0/url", json!("srt://203.0.113.5")),
            ],
            "input.sources[0].url",
            "must have a port",
        ),
        bad(
            "url without scheme",
            vec![set(
                "/input/sources/0/url",
                json!("192.168.0.1/ott/test.flv"),
            )],
            "input.sources[0].url",
            "has no scheme",
        ),
        bad(
            "url with space",
            vec![set(
                "/input/sources/0/url",
                json!("http://192.168.0.1/ott/my test.flv"),
            )],
            "input.sources[0].url",
            "whitespace",
        ),
        ok(
            "backup urls",
            vec![set(
                "/input/sources/0/backup_urls",
                json!([
                    "http://192.168.0.2/ott/test.flv",
                    "https://b.example.com/t.flv"
                ]),
            )],
        ),
        bad(
            "backup url scheme",
            vec![set(
                "/input/sources/0/backup_urls",
                json!([
                    "http://192.168.0.2/ott/test.flv",
                    "ftp://b.example.com/t.flv"
                ]),
            )],
            "input.sources[0].backup_urls[1]",
            "scheme must be http or https",
        ),
        ok(
            "push source url not checked",
            vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                set("/input/sources/0/url", json!("anything")),
            ],
        ),
    ]);
}

#[test]
fn secondary_sources() {
    run(vec![
        ok(
            "matching standby",
            vec![set(
                "/input/secondary_sources",
                json!([{"url": "http://192.168.0.2/ott/test.flv", "bitrate": 1024, "width": 100, "height": 100}]),
            )],
        ),
        bad(
            "standby count",
            vec![set(
                "/input/secondary_sources",
                json!([
                    {"url": "http://192.168.0.2/ott/test.flv", "bitrate": 1024, "width": 100, "height": 100},
                    {"url": "http://192.168.0.3/ott/test.flv", "bitrate": 1024, "width": 100, "height": 100},
                ]),
            )],
            "input.secondary_sources",
            "must have as many entries as input.sources (1), got 2",
        ),
        bad(
            "standby without primaries",
            vec![
                set("/input/input_protocol", json!("SRT_PUSH")),
                remove("/input/sources"),
                set("/input/secondary_sources", json!([{"bitrate": 1024}])),
            ],
            "input.secondary_sources",
            "must have as many entries as input.sources (0), got 1",
        ),
        bad(
            "standby width",
            vec![set(
                "/input/secondary_sources",
                json!([{"url": "http://192.168.0.2/ott/test.flv", "bitrate": 1024, "width": 200, "height": 100}]),
            )],
            "input.secondary_sources[0].width",
            "must match input.sources[0].width (100), got 200",
        ),
        bad(
            "standby height",
            vec![set(
                "/input/secondary_sources",
                json!([{"url": "http://192.168.0.2/ott/test.flv", "bitrate": 1024, "width": 100, "height": 50}]),
            )],
            "input.secondary_sources[0].height",
            "must match input.sources[0].height (100), got 50",
        ),
        bad(
            "standby bitrate missing",
            vec![set(
                "/input/secondary_sources",
                json!([{"url": "http://192.168.0.2/ott/test.flv", "width": 100, "height": 100}]),
            )],
            "input.secondary_sources[0].bitrate",
            "must match input.sources[0].bitrate (1024), got none",
        ),
    ]);
}

#[test]
fn audio_selectors_and_descriptions() {
    let lang = |code: &str| json!([{"name": "main", "selector_settings": {"audio_language_selection": {"language_code": code, "language_selection_policy": "STRICT"}}}]);
    run(vec![
        ok(
            "8 selectors",
            vec![set("/input/audio_selectors", selectors(8))],
        ),
        bad(
            "9 selectors",
            vec![set("/input/audio_selectors", selectors(9))],
            "input.audio_selectors",
            "must have at most 8 entries, got 9",
        ),
        bad(
            "duplicate selector",
            vec![set(
                "/input/audio_selectors",
                json!([{"name": "a"}, {"name": "b"}, {"name": "a"}]),
            )],
            "input.audio_selectors[2].name",
            "duplicates input.audio_selectors[0].name \"a\"",
        ),
        bad(
            "selector charset",
            vec![set("/input/audio_selectors", json!([{"name": "main.en"}]))],
            "input.audio_selectors[0].name",
            "letters, digits, '-' and '_', got \"main.en\"",
        ),
        bad(
            "selector empty name",
            vec![set("/input/audio_selectors", json!([{"name": ""}]))],
            "input.audio_selectors[0].name",
            "must be non-empty",
        ),
        ok(
            "language eng",
            vec![set("/input/audio_selectors", lang("eng"))],
        ),
        ok(
            "language en",
            vec![set("/input/audio_selectors", lang("en"))],
        ),
        bad(
            "language uppercase",
            vec![set("/input/audio_selectors", lang("EN"))],
            "input.audio_selectors[0].selector_settings.audio_language_selection.language_code",
            "must be 2 or 3 lowercase letters, got \"EN\"",
        ),
        bad(
            "language too long",
            vec![set("/input/audio_selectors", lang("engl"))],
            "input.audio_selectors[0].selector_settings.audio_language_selection.language_code",
            "2 or 3 lowercase letters",
        ),
        bad(
            "language too short",
            vec![set("/input/audio_selectors", lang("e"))],
            "input.audio_selectors[0].selector_settings.audio_language_selection.language_code",
            "2 or 3 lowercase letters",
        ),
        ok(
            "pid 8191",
            vec![set(
                "/input/audio_selectors",
                json!([{"name": "p", "selector_settings": {"audio_pid_selection": {"pid": 8191}}}]),
            )],
        ),
        bad(
            "pid 8192",
            vec![set(
                "/input/audio_selectors",
                json!([{"name": "p", "selector_settings": {"audio_pid_selection": {"pid": 8192}}}]),
            )],
            "input.audio_selectors[0].selector_settings.audio_pid_selection.pid",
            "must be 0..=8191, got 8192",
        ),
        ok(
            "description names a selector",
            vec![
                set("/input/audio_selectors", selectors(2)),
                set(
                    "/encoder_settings_expand",
                    json!({"audio_descriptions": [
                        {"name": "out_en", "audio_selector_name": "sel-1", "language_code_control": "USE_CONFIGURED", "language_code": "eng", "stream_name": "English"},
                        {"name": "out-2", "audio_selector_name": "sel-0"},
                    ]}),
                ),
            ],
        ),
        bad(
            "description unknown selector",
            vec![
                set("/input/audio_selectors", selectors(2)),
                set(
                    "/encoder_settings_expand",
                    json!({"audio_descriptions": [{"name": "out", "audio_selector_name": "sel-9"}]}),
                ),
            ],
            "encoder_settings_expand.audio_descriptions[0].audio_selector_name",
            "names no selector in input.audio_selectors, got \"sel-9\"",
        ),
        bad(
            "description without selectors",
            vec![set(
                "/encoder_settings_expand",
                json!({"audio_descriptions": [{"name": "out", "audio_selector_name": "main"}]}),
            )],
            "encoder_settings_expand.audio_descriptions[0].audio_selector_name",
            "names no selector",
        ),
        bad(
            "description duplicate name",
            vec![
                set("/input/audio_selectors", selectors(1)),
                set(
                    "/encoder_settings_expand",
                    json!({"audio_descriptions": [
                        {"name": "out", "audio_selector_name": "sel-0"},
                        {"name": "out", "audio_selector_name": "sel-0"},
                    ]}),
                ),
            ],
            "encoder_settings_expand.audio_descriptions[1].name",
            "duplicates encoder_settings_expand.audio_descriptions[0].name",
        ),
        bad(
            "description charset",
            vec![
                set("/input/audio_selectors", selectors(1)),
                set(
                    "/encoder_settings_expand",
                    json!({"audio_descriptions": [{"name": "out en", "audio_selector_name": "sel-0"}]}),
                ),
            ],
            "encoder_settings_expand.audio_descriptions[0].name",
            "letters, digits, '-' and '_'",
        ),
        bad(
            "description language",
            vec![
                set("/input/audio_selectors", selectors(1)),
                set(
                    "/encoder_settings_expand",
                    json!({"audio_descriptions": [{"name": "out", "audio_selector_name": "sel-0", "language_code": "english"}]}),
                ),
            ],
            "encoder_settings_expand.audio_descriptions[0].language_code",
            "2 or 3 lowercase letters, got \"english\"",
        ),
    ]);
}

#[test]
fn encryption() {
    let hls_enc = "/endpoints/0/hls_package/0/encryption";
    let dash_enc = "/endpoints/0/dash_package/0/encryption";
    let mss_enc = "/endpoints/0/mss_package/0/encryption";
    let proxy = || {
        with(
            drm("functiongraph_proxy", json!(["FairPlay"])),
            "urn",
            json!("urn:fss:region:project:function:default:drm:latest"),
        )
    };
    run(vec![
        ok(
            "HLS FairPlay direct",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "http_headers",
                    headers(5),
                ),
            )],
        ),
        ok(
            "DASH Widevine PlayReady",
            vec![set(
                dash_enc,
                drm("direct_http", json!(["Widevine", "PlayReady"])),
            )],
        ),
        ok(
            "MSS PlayReady",
            vec![set(
                mss_enc,
                with(
                    drm("direct_http", json!(["PlayReady"])),
                    "level",
                    json!("profile"),
                ),
            )],
        ),
        bad(
            "HLS Widevine",
            vec![set(hls_enc, drm("direct_http", json!(["Widevine"])))],
            "endpoints[0].hls_package[0].encryption.system_ids[0]",
            "Widevine is not supported for hls_package (allowed: FairPlay)",
        ),
        bad(
            "DASH FairPlay",
            vec![set(
                dash_enc,
                drm("direct_http", json!(["PlayReady", "FairPlay"])),
            )],
            "endpoints[0].dash_package[0].encryption.system_ids[1]",
            "FairPlay is not supported for dash_package",
        ),
        bad(
            "MSS Widevine",
            vec![set(mss_enc, drm("direct_http", json!(["Widevine"])))],
            "endpoints[0].mss_package[0].encryption.system_ids[0]",
            "not supported for mss_package (allowed: PlayReady)",
        ),
        bad(
            "no system ids",
            vec![set(hls_enc, drm("direct_http", json!([])))],
            "endpoints[0].hls_package[0].encryption.system_ids",
            "must not be empty",
        ),
        bad(
            "empty resource id",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "resource_id",
                    json!(""),
                ),
            )],
            "endpoints[0].hls_package[0].encryption.resource_id",
            "must not be empty",
        ),
        bad(
            "key server url",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "url",
                    json!("drm.example.com/speke"),
                ),
            )],
            "endpoints[0].hls_package[0].encryption.url",
            "is not a valid key server URL",
        ),
        bad(
            "6 headers",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "http_headers",
                    headers(6),
                ),
            )],
            "endpoints[0].hls_package[0].encryption.http_headers",
            "must have at most 5 entries, got 6",
        ),
        bad(
            "headers with proxy",
            vec![set(hls_enc, with(proxy(), "http_headers", headers(1)))],
            "endpoints[0].hls_package[0].encryption.http_headers",
            "only allowed with request_mode direct_http",
        ),
        bad(
            "header name",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "http_headers",
                    json!([{"key": "X Auth", "value": "v"}]),
                ),
            )],
            "endpoints[0].hls_package[0].encryption.http_headers[0].key",
            "must be an HTTP header name",
        ),
        bad(
            "header injection",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "http_headers",
                    json!([{"key": "X-Auth", "value": "v\r\nHost: evil"}]),
                ),
            )],
            "endpoints[0].hls_package[0].encryption.http_headers[0].value",
            "control characters",
        ),
        ok("proxy with urn", vec![set(hls_enc, proxy())]),
        bad(
            "proxy without urn",
            vec![set(
                hls_enc,
                drm("functiongraph_proxy", json!(["FairPlay"])),
            )],
            "endpoints[0].hls_package[0].encryption.urn",
            "is required with request_mode functiongraph_proxy",
        ),
        bad(
            "proxy with empty urn",
            vec![set(hls_enc, with(proxy(), "urn", json!("")))],
            "endpoints[0].hls_package[0].encryption.urn",
            "must not be empty",
        ),
        bad(
            "direct with urn",
            vec![set(
                hls_enc,
                with(
                    drm("direct_http", json!(["FairPlay"])),
                    "urn",
                    json!("urn:fss:x"),
                ),
            )],
            "endpoints[0].hls_package[0].encryption.urn",
            "only allowed with request_mode functiongraph_proxy",
        ),
    ]);
}

#[test]
fn dash_and_hls_specifics() {
    run(vec![
        ok(
            "DASH timings 1 and 120",
            vec![
                set(
                    "/endpoints/0/dash_package/0/suggested_presentation_delay",
                    json!(120),
                ),
                set(
                    "/endpoints/0/dash_package/0/minimum_update_period",
                    json!(1),
                ),
                set("/endpoints/0/dash_package/0/min_buffer_time", json!(120)),
            ],
        ),
        bad(
            "suggested_presentation_delay 0",
            vec![set(
                "/endpoints/0/dash_package/0/suggested_presentation_delay",
                json!(0),
            )],
            "endpoints[0].dash_package[0].suggested_presentation_delay",
            "must be 1..=120, got 0",
        ),
        bad(
            "minimum_update_period 121",
            vec![set(
                "/endpoints/0/dash_package/0/minimum_update_period",
                json!(121),
            )],
            "endpoints[0].dash_package[0].minimum_update_period",
            "must be 1..=120, got 121",
        ),
        bad(
            "min_buffer_time 0",
            vec![set("/endpoints/0/dash_package/0/min_buffer_time", json!(0))],
            "endpoints[0].dash_package[0].min_buffer_time",
            "must be 1..=120, got 0",
        ),
        ok(
            "HLS ad marker",
            vec![set(
                "/endpoints/0/hls_package/0/ad_marker",
                json!(["ENHANCED_SCTE35"]),
            )],
        ),
        bad(
            "HLS ad marker other",
            vec![set(
                "/endpoints/0/hls_package/0/ad_marker",
                json!(["SCTE35"]),
            )],
            "endpoints[0].hls_package[0].ad_marker",
            "must be [\"ENHANCED_SCTE35\"], got [\"SCTE35\"]",
        ),
        bad(
            "HLS ad marker twice",
            vec![set(
                "/endpoints/0/hls_package/0/ad_marker",
                json!(["ENHANCED_SCTE35", "ENHANCED_SCTE35"]),
            )],
            "endpoints[0].hls_package[0].ad_marker",
            "must be [\"ENHANCED_SCTE35\"]",
        ),
        ok(
            "DASH ad marker",
            vec![set(
                "/endpoints/0/dash_package/0/ad_marker",
                json!("xml+bin"),
            )],
        ),
        bad(
            "DASH ad marker other",
            vec![set("/endpoints/0/dash_package/0/ad_marker", json!("xml"))],
            "endpoints[0].dash_package[0].ad_marker",
            "must be \"xml+bin\", got \"xml\"",
        ),
        ok(
            "hls_version 10",
            vec![set("/endpoints/0/hls_package/0/hls_version", json!("10"))],
        ),
        bad(
            "hls_version 11",
            vec![set("/endpoints/0/hls_package/0/hls_version", json!("11"))],
            "endpoints[0].hls_package[0].hls_version",
            "must be an integer 1..=10",
        ),
        bad(
            "hls_version 0",
            vec![set("/endpoints/0/hls_package/0/hls_version", json!("0"))],
            "endpoints[0].hls_package[0].hls_version",
            "got \"0\"",
        ),
        bad(
            "hls_version text",
            vec![set("/endpoints/0/hls_package/0/hls_version", json!("v3"))],
            "endpoints[0].hls_package[0].hls_version",
            "got \"v3\"",
        ),
    ]);
}

#[test]
fn input_options() {
    run(vec![
        ok("scte35 with HLS_PULL", vec![
            set("/input/input_protocol", json!("HLS_PULL")),
            set("/input/scte35_source", json!("SEGMENTS")),
            set("/input/ad_triggers", json!(["Splice insert", "Distributor placement opportunity"])),
        ]),
        bad("scte35 with FLV_PULL", vec![set("/input/scte35_source", json!("SEGMENTS"))],
            "input.scte35_source", "is only allowed with input_protocol HLS_PULL, got FLV_PULL"),
        ok("ip whitelist", vec![
            set("/input/input_protocol", json!("SRT_PUSH")),
            set("/input/ip_whitelist", json!("10.0.0.1, 192.168.0.0/16,2001:db8::/32,::1")),
        ]),
        bad("ip_port_mode without a port", vec![
                set("/input/input_protocol", json!("SRT_PUSH")),
                set("/input/sources", json!([{"bitrate": 1000}])),
                set("/input/ip_port_mode", json!(true)),
            ],
            "domain", "with ip_port_mode, must carry the channel's SRT port"),
        bad("ip_port_mode on RTMP", vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                set("/input/sources", json!([{"bitrate": 1000}])),
                set("/input/ip_port_mode", json!(true)),
            ],
            "input.ip_port_mode", "is only used with SRT_PUSH, not RTMP_PUSH"),
        bad("short SRT passphrase", vec![
                set("/input/input_protocol", json!("SRT_PUSH")),
                set("/input/sources", json!([{"bitrate": 1000, "passphrase": "short"}])),
            ],
            "input.sources[0].passphrase", "must be 10 to 79 characters (SRT), got 5"),
        bad("passphrase on RTMP", vec![
                set("/input/input_protocol", json!("RTMP_PUSH")),
                set("/input/sources", json!([{"bitrate": 1000, "passphrase": "0123456789"}])),
            ],
            "input.sources[0].passphrase", "is only used with SRT_PUSH and SRT_PULL, not RTMP_PUSH"),
        bad("ip whitelist prefix", vec![set("/input/ip_whitelist", json!("10.0.0.1,10.0.0.0/33"))],
            "input.ip_whitelist", "entry 2 \"10.0.0.0/33\" is not an IPv4/IPv6 address or CIDR: prefix \"33\" must be 0..=32"),
        bad("ip whitelist v6 prefix", vec![set("/input/ip_whitelist", json!("2001:db8::/129"))],
            "input.ip_whitelist", "must be 0..=128"),
        bad("ip whitelist empty entry", vec![set("/input/ip_whitelist", json!("10.0.0.1,,10.0.0.2"))],
            "input.ip_whitelist", "entry 2 \"\" is not an IPv4/IPv6 address or CIDR: is empty"),
        bad("ip whitelist host name", vec![set("/input/ip_whitelist", json!("encoder.example.com"))],
            "input.ip_whitelist", "entry 1 \"encoder.example.com\""),
    ]);
}

#[test]
fn package_urls_and_selection() {
    run(vec![
        ok(
            "package url with scheme",
            vec![set(
                "/endpoints/0/hls_package/0/url",
                json!("https://pull.example.com/ott/test/index.m3u8"),
            )],
        ),
        bad(
            "package url directory",
            vec![set(
                "/endpoints/0/hls_package/0/url",
                json!("pull.testott.hls.com/ott/test/"),
            )],
            "endpoints[0].hls_package[0].url",
            "must end in a file name",
        ),
        bad(
            "package url without path",
            vec![set(
                "/endpoints/0/dash_package/0/url",
                json!("pull.testott.hls.com"),
            )],
            "endpoints[0].dash_package[0].url",
            "has no path",
        ),
        bad(
            "package url rtmp",
            vec![set(
                "/endpoints/0/mss_package/0/url",
                json!("rtmp://pull.testott.hls.com/ott/channel/manifest"),
            )],
            "endpoints[0].mss_package[0].url",
            "scheme must be http or https",
        ),
        bad(
            "package url traversal",
            vec![set(
                "/endpoints/0/hls_package/0/url",
                json!("pull.testott.hls.com/ott/../index.m3u8"),
            )],
            "endpoints[0].hls_package[0].url",
            "'..' segments",
        ),
        bad(
            "package url without host",
            vec![set(
                "/endpoints/0/hls_package/0/url",
                json!("/ott/test/index.m3u8"),
            )],
            "endpoints[0].hls_package[0].url",
            "not a valid host name",
        ),
        ok(
            "selection min = max",
            vec![set(
                "/endpoints/0/hls_package/0/stream_selection/0",
                json!({"min_bandwidth": 0, "max_bandwidth": 0}),
            )],
        ),
        ok(
            "selection bounds",
            vec![set(
                "/endpoints/0/hls_package/0/stream_selection/0",
                json!({"min_bandwidth": 0, "max_bandwidth": 104_857_600}),
            )],
        ),
        bad(
            "selection min > max",
            vec![set(
                "/endpoints/0/dash_package/0/stream_selection/0",
                json!({"key": "k", "min_bandwidth": 2_000_000, "max_bandwidth": 1_000_000}),
            )],
            "endpoints[0].dash_package[0].stream_selection[0].min_bandwidth",
            "must be <= max_bandwidth (1000000), got 2000000",
        ),
        bad(
            "selection max too high",
            vec![set(
                "/endpoints/0/mss_package/0/stream_selection/0/max_bandwidth",
                json!(104_857_601),
            )],
            "endpoints[0].mss_package[0].stream_selection[0].max_bandwidth",
            "must be 0..=104857600, got 104857601",
        ),
        bad(
            "selection min too high",
            vec![set(
                "/endpoints/0/hls_package/0/stream_selection/0",
                json!({"min_bandwidth": 104_857_601}),
            )],
            "endpoints[0].hls_package[0].stream_selection[0].min_bandwidth",
            "must be 0..=104857600",
        ),
    ]);
}

#[test]
fn outputs_overall() {
    run(vec![
        ok(
            "distinct paths",
            vec![set(
                "/endpoints/0/dash_package/0/url",
                json!("pull.testott.hls.com/ott/test/index2.m3u8"),
            )],
        ),
        bad(
            "duplicate path, other host",
            vec![set(
                "/endpoints/0/dash_package/0/url",
                json!("http://other.example.com/ott/test/index.m3u8"),
            )],
            "endpoints[0].dash_package[0].url",
            "path /ott/test/index.m3u8 is already used by endpoints[0].hls_package[0].url",
        ),
        bad(
            "duplicate path, second endpoint",
            vec![set(
                "/endpoints/-",
                json!({"mss_package": [{"url": "pull.testott.hls.com/ott/test/index.mpd?x=1", "segment_duration_seconds": 2}]}),
            )],
            "endpoints[1].mss_package[0].url",
            "already used by endpoints[0].dash_package[0].url",
        ),
        ok(
            "only one MSS package",
            vec![set(
                "/endpoints",
                json!([{"mss_package": [{"url": "a.example.com/live/manifest", "segment_duration_seconds": 2}]}]),
            )],
        ),
        bad(
            "no endpoints",
            vec![set("/endpoints", json!([]))],
            "endpoints",
            "must contain at least one hls_package, dash_package or mss_package",
        ),
        bad(
            "empty endpoint",
            vec![set("/endpoints", json!([{}, {"hls_package": []}]))],
            "endpoints",
            "must contain at least one",
        ),
    ]);
}

#[test]
fn request_args() {
    const HLS: &str = "/endpoints/0/hls_package/0/request_args";
    const ARGS: &str = "endpoints[0].hls_package[0].request_args";
    run(vec![
        ok(
            "custom names, several entries",
            vec![set(
                HLS,
                json!({
                    "record": [
                        {"start_time": "begin", "end_time": "end", "format": "timestamp", "unit": "second"},
                        {"start_time": "from", "end_time": "to", "format": "YYYY-MM-DDTHH:mm:ss.SSSZ"},
                        {"start_time": "begin", "end_time": "end", "format": "TIMESTAMP", "unit": "ms"}
                    ],
                    "timeshift": [{"back_time": "shift", "unit": "minute"}, {"back_time": "back"}],
                    "live": [{"delay": "lag", "unit": "milliseconds"}]
                }),
            )],
        ),
        ok(
            "empty lists",
            vec![set(HLS, json!({"record": [], "timeshift": [], "live": []}))],
        ),
        ok(
            "pattern with a unit (ignored)",
            vec![set(
                "/endpoints/0/dash_package/0/request_args",
                json!({"record": [{"format": "YYYYMMDDHHmmss", "unit": "s"}]}),
            )],
        ),
        ok(
            "one name in two packages",
            vec![
                set(HLS, json!({"live": [{"delay": "t"}]})),
                set(
                    "/endpoints/0/dash_package/0/request_args",
                    json!({"timeshift": [{"back_time": "t"}]}),
                ),
            ],
        ),
        bad(
            "format without time",
            vec![set(HLS, json!({"record": [{"format": "YYYY-MM-DD"}]}))],
            "endpoints[0].hls_package[0].request_args.record[0].format",
            "must be \"timestamp\" or a date pattern such as YYYYMMDDHHmmss (YYYY, MM, DD, HH, mm \
             and ss each once, optionally SSS, other characters literal), got \"YYYY-MM-DD\": \
             HH is missing",
        ),
        bad(
            "unknown format",
            vec![set(
                HLS,
                json!({"record": [{"format": "timestamp"}, {"format": "unix"}]}),
            )],
            "endpoints[0].hls_package[0].request_args.record[1].format",
            "got \"unix\": YYYY is missing",
        ),
        bad(
            "token twice",
            vec![set(
                HLS,
                json!({"record": [{"format": "YYYYMMDDHHmmssss"}]}),
            )],
            "endpoints[0].hls_package[0].request_args.record[0].format",
            "ss appears 2 times; once is allowed",
        ),
        bad(
            "record unit minute",
            vec![set(
                HLS,
                json!({"record": [{"format": "timestamp", "unit": "minute"}]}),
            )],
            "endpoints[0].hls_package[0].request_args.record[0].unit",
            "must be second or millisecond (also s, seconds, ms, milliseconds), got \"minute\"",
        ),
        bad(
            "timeshift unit hour",
            vec![set(
                "/endpoints/0/dash_package/0/request_args",
                json!({"timeshift": [{"back_time": "back", "unit": "hour"}]}),
            )],
            "endpoints[0].dash_package[0].request_args.timeshift[0].unit",
            "must be second, millisecond or minute (also s, seconds, ms, milliseconds, min, \
             minutes), got \"hour\"",
        ),
        bad(
            "live unit empty",
            vec![set(
                "/endpoints/0/mss_package/0/request_args",
                json!({"live": [{"delay": "delay", "unit": ""}]}),
            )],
            "endpoints[0].mss_package[0].request_args.live[0].unit",
            "got \"\"",
        ),
        bad(
            "empty start name",
            vec![set(HLS, json!({"record": [{"start_time": ""}]}))],
            "endpoints[0].hls_package[0].request_args.record[0].start_time",
            "must not be empty",
        ),
        bad(
            "empty delay name",
            vec![set(HLS, json!({"live": [{"delay": ""}]}))],
            "endpoints[0].hls_package[0].request_args.live[0].delay",
            "must not be empty",
        ),
        bad(
            "start = end",
            vec![set(
                HLS,
                json!({"record": [{"start_time": "t", "end_time": "t"}]}),
            )],
            "endpoints[0].hls_package[0].request_args.record[0].end_time",
            "\"t\" is also the record start_time parameter \
             (at endpoints[0].hls_package[0].request_args.record[0].start_time); \
             one name cannot serve two roles",
        ),
        bad(
            "delay = back_time",
            vec![set(
                HLS,
                json!({"timeshift": [{"back_time": "x"}], "live": [{"delay": "x"}]}),
            )],
            "endpoints[0].hls_package[0].request_args.live[0].delay",
            "\"x\" is also the timeshift back_time parameter \
             (at endpoints[0].hls_package[0].request_args.timeshift[0].back_time)",
        ),
        bad(
            "end of a second entry = start of the first",
            vec![set(
                HLS,
                json!({"record": [{"start_time": "a", "end_time": "b"}, {"start_time": "c", "end_time": "a"}]}),
            )],
            "endpoints[0].hls_package[0].request_args.record[1].end_time",
            "\"a\" is also the record start_time parameter",
        ),
        bad(
            "a default name",
            vec![set(HLS, json!({"record": [{"start_time": "delay"}]}))],
            "endpoints[0].hls_package[0].request_args.record[0].start_time",
            "\"delay\" is also the live delay parameter (by default); one name cannot serve two \
             roles",
        ),
        bad(
            "a default name of the same entry",
            vec![set(HLS, json!({"timeshift": [{"back_time": "end"}]}))],
            "endpoints[0].hls_package[0].request_args.timeshift[0].back_time",
            "\"end\" is also the record end_time parameter (by default)",
        ),
    ]);
    // Each problem is reported once, at its own path.
    let mut doc: Value = serde_json::from_str(EXAMPLE_REQUEST).expect("spec example is JSON");
    doc["endpoints"][0]["hls_package"][0]["request_args"] = json!({
        "record": [{"start_time": "s", "end_time": "s", "format": "YYYY", "unit": "h"}],
    });
    let channel = parse_channel(&doc.to_string()).expect("parses");
    let problems = channel.validate().expect_err("three problems");
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("{ARGS}.record[0].format"),
            format!("{ARGS}.record[0].unit"),
            format!("{ARGS}.record[0].end_time"),
        ]
    );
}

#[test]
fn every_problem_is_reported() {
    let mut doc: Value = serde_json::from_str(EXAMPLE_REQUEST).expect("spec example is JSON");
    doc["id"] = json!("");
    doc["input"]["sources"][0]["width"] = json!(5000);
    doc["endpoints"][0]["hls_package"][0]["segment_duration_seconds"] = json!(12);
    let channel = parse_channel(&doc.to_string()).expect("parses");
    let problems = channel.validate().expect_err("three problems");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "id: must not be empty",
            "input.sources[0].width: must be 0..=4096, got 5000",
            "endpoints[0].hls_package[0].segment_duration_seconds: must be 1..=10, got 12",
            // 3600 s is fine for 12 s segments; only the range is reported.
        ]
    );
}
