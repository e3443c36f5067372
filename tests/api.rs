//! The control-plane API end to end: the spec's example create and conflict, authentication,
//! errors that name their problem, list/get/modify/delete, state changes and live changes seen
//! by a real ffmpeg publisher and by playback, and channels surviving a restart.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::http::{get, send, Response};
use common::process::ServerProcess;
use common::{fixture_path, require_tool, wait_for, TestServer, API_TOKEN, FIXTURE};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

const EXAMPLE_REQUEST: &str = include_str!("../crates/model/testdata/spec_example_request.json");
const EXAMPLE_201: &str = include_str!("../crates/model/testdata/spec_example_response_201.json");
const EXAMPLE_400: &str = include_str!("../crates/model/testdata/spec_example_response_400.json");

const CHANNELS: &str = "/v1/default/ott/channels";

async fn call(api: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Response {
    call_as(api, method, path, Some(API_TOKEN), body).await
}

async fn call_as(
    api: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let headers: Vec<(&str, &str)> = token.map(|t| ("X-Auth-Token", t)).into_iter().collect();
    let body = body.map(Value::to_string);
    send(api, method, path, &headers, body.as_deref())
        .await
        .unwrap()
}

fn body(r: &Response) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

fn example() -> Value {
    serde_json::from_str(EXAMPLE_REQUEST).unwrap()
}

/// An RTMP_PUSH channel `id` with one 400 kbit/s source and an HLS package with 2 s segments
/// and a `window` s playlist.
fn push_channel(id: &str, window: u32) -> Value {
    json!({
        "domain": "push.example.com", "app_name": "live", "id": id, "state": "ON",
        "input": { "input_protocol": "RTMP_PUSH",
                   "sources": [{ "bitrate": 400000, "width": 320, "height": 240 }] },
        "record_settings": { "rollingbuffer_duration": 0 },
        "endpoints": [{ "hls_package": [{
            "url": format!("pull.example.com/live/{id}/index.m3u8"), "hls_version": "3",
            "segment_duration_seconds": 2, "playlist_window_seconds": window }] }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_example_auth_errors_and_crud() {
    let server = TestServer::start(&[]).await;
    let api = server.api;

    // The spec's example, as an RTMP_PUSH channel: 201 with exactly the example response.
    let mut rtmp = example();
    rtmp["input"]["input_protocol"] = json!("RTMP_PUSH");
    let created = call(api, "POST", CHANNELS, Some(&rtmp)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        body(&created),
        serde_json::from_str::<Value>(EXAMPLE_201).unwrap()
    );
    // The example request again: its output URL is taken, exactly the example 400.
    let again = call(api, "POST", CHANNELS, Some(&example())).await;
    assert_eq!(again.status, 400);
    assert_eq!(
        body(&again),
        serde_json::from_str::<Value>(EXAMPLE_400).unwrap()
    );
    // The same id with other URLs: the id is taken.
    let mut same_id = push_channel("test", 30);
    same_id["app_name"] = json!("other");
    let r = call(api, "POST", CHANNELS, Some(&same_id)).await;
    assert_eq!(r.status, 400);
    assert_eq!(body(&r)["result_code"], "LIVE.100011002", "{}", r.text());

    // Authentication: missing, wrong, another project's token.
    for (path, token) in [
        (CHANNELS, None),
        (CHANNELS, Some("wrong")),
        (CHANNELS, Some("other-token")),
        ("/v1/other/ott/channels", Some(API_TOKEN)),
    ] {
        let r = call_as(api, "GET", path, token, None).await;
        assert_eq!(r.status, 401, "{path} {token:?}");
        let b = body(&r);
        assert_eq!(b["result_code"], "LIVE.100011006");
        assert!(b["result_msg"].as_str().unwrap().contains("X-Auth-Token"));
    }
    let r = call_as(
        api,
        "GET",
        "/v1/other/ott/channels",
        Some("other-token"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        body(&r)["total"],
        0,
        "projects do not see each other's channels"
    );

    // Bad input: a clear 400 naming the problem, never a 500.
    let raw = send(
        api,
        "POST",
        CHANNELS,
        &[("X-Auth-Token", API_TOKEN)],
        Some("{\"domain\": "),
    )
    .await
    .unwrap();
    assert_eq!(raw.status, 400);
    assert!(body(&raw)["result_msg"]
        .as_str()
        .unwrap()
        .contains("line 1"));
    let mut unknown = push_channel("x1", 30);
    unknown["input"]["colour"] = json!("blue");
    let r = call(api, "POST", CHANNELS, Some(&unknown)).await;
    assert_eq!(r.status, 400);
    let msg = body(&r)["result_msg"].as_str().unwrap().to_string();
    assert!(msg.contains("input") && msg.contains("colour"), "{msg}");
    let mut invalid = push_channel("x2", 30);
    invalid["endpoints"][0]["hls_package"][0]["segment_duration_seconds"] = json!(12);
    invalid["input"]["sources"][0]["bitrate"] = json!(0);
    let r = call(api, "POST", CHANNELS, Some(&invalid)).await;
    assert_eq!(r.status, 400);
    let b = body(&r);
    assert_eq!(b["id"], "x2");
    let msg = b["result_msg"].as_str().unwrap();
    assert!(
        msg.contains(
            "endpoints[0].hls_package[0].segment_duration_seconds: must be 1..=10, got 12"
        ),
        "{msg}"
    );
    assert!(msg.contains("input.sources[0].bitrate"), "{msg}");
    let r = call(api, "GET", "/v1/default/ott/nothing", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(body(&r)["result_code"], "LIVE.100011004");

    // List, filters, pagination, get.
    for id in ["a1", "a2", "a3"] {
        let r = call(api, "POST", CHANNELS, Some(&push_channel(id, 30))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let sources = &body(&r)["sources"];
        assert_eq!(
            sources[0]["url"],
            format!("rtmp://push.example.com/live/{id}_400000?request_source=ott&channel_id={id}")
        );
    }
    let list = body(&call(api, "GET", CHANNELS, None).await);
    assert_eq!(list["total"], 4);
    let ids: Vec<&str> = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["test", "a1", "a2", "a3"], "creation order");
    let page = body(&call(api, "GET", &format!("{CHANNELS}?limit=2&offset=1"), None).await);
    assert_eq!(page["total"], 4);
    assert_eq!(page["channels"].as_array().unwrap().len(), 2);
    assert_eq!(page["channels"][0]["id"], "a1");
    let filtered = body(&call(api, "GET", &format!("{CHANNELS}?app_name=live&id=a2"), None).await);
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["channels"][0]["id"], "a2");
    for bad in [
        "?limit=0",
        "?limit=101",
        "?offset=-1",
        "?limit=x",
        "?colour=blue",
    ] {
        let r = call(api, "GET", &format!("{CHANNELS}{bad}"), None).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(body(&r)["result_code"], "LIVE.100011004");
    }
    let one = call(api, "GET", &format!("{CHANNELS}/a1"), None).await;
    assert_eq!(one.status, 200);
    assert_eq!(body(&one), push_channel("a1", 30));
    let missing = call(api, "GET", &format!("{CHANNELS}/nope"), None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(body(&missing)["result_code"], "LIVE.100011005");

    // Modify: the id must match; a missing channel is 404; the change is stored.
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/a2"),
        Some(&push_channel("a1", 30)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/zz"),
        Some(&push_channel("zz", 30)),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/a1"),
        Some(&push_channel("a1", 60)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(body(&r)["result_code"], "LIVE.100000000");
    let one = body(&call(api, "GET", &format!("{CHANNELS}/a1"), None).await);
    assert_eq!(
        one["endpoints"][0]["hls_package"][0]["playlist_window_seconds"],
        60
    );
    // A modification may not take another channel's output URL.
    let mut steal = push_channel("a1", 30);
    steal["endpoints"][0]["hls_package"][0]["url"] = json!("pull.example.com/live/a2/index.m3u8");
    let r = call(api, "PUT", &format!("{CHANNELS}/a1"), Some(&steal)).await;
    assert_eq!(r.status, 400);
    assert_eq!(body(&r)["result_code"], "LIVE.100011001");

    // State and delete.
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/a3/state"),
        Some(&json!({"state": "SLEEPING"})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/a3/state"),
        Some(&json!({"state": "OFF"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        body(&call(api, "GET", &format!("{CHANNELS}/a3"), None).await)["state"],
        "OFF"
    );
    let r = call(api, "DELETE", &format!("{CHANNELS}/a3"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(body(&r)["id"], "a3");
    assert_eq!(
        call(api, "GET", &format!("{CHANNELS}/a3"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        call(api, "DELETE", &format!("{CHANNELS}/a3"), None)
            .await
            .status,
        404
    );

    let doc = call_as(api, "GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(body(&doc).is_object());
    server.stop().await;
}

fn push(rtmp: SocketAddr, stream: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-stream_loop", "-1", "-i"])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "flv"])
        .arg(format!("rtmp://{rtmp}/live/{stream}"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// `(media sequence, segments listed)` of an HLS playlist, if it is served.
async fn playlist(http: SocketAddr, path: &str) -> Option<(u64, usize)> {
    let r = get(http, path).await.ok()?;
    if r.status != 200 {
        return None;
    }
    let text = r.text();
    let sequence = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))?
        .parse()
        .ok()?;
    Some((sequence, text.matches("#EXTINF").count()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_apply_to_the_running_channel() {
    if !require_tool("ffmpeg") {
        return;
    }
    let server = TestServer::start(&[]).await;
    let api = server.api;
    let media = "/live/tv/index/400000/playlist.m3u8";
    let r = call(api, "POST", CHANNELS, Some(&push_channel("tv", 6))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut publisher = push(server.rtmp, "tv_400000");
    let started = wait_for(Duration::from_secs(30), || async {
        playlist(server.http, media).await.filter(|(_, n)| *n >= 3)
    })
    .await;
    let (seq_before, listed_before) = started.expect("playlist within 30 s");
    assert_eq!(listed_before, 3, "a 6 s window lists three 2 s segments");

    // A longer window, applied live: the publisher stays, the playlist lists more at once.
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/tv"),
        Some(&push_channel("tv", 30)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // It grows forward: the media sequence never goes back to list segments already dropped.
    let grown = wait_for(Duration::from_secs(20), || async {
        let (seq, n) = playlist(server.http, media).await?;
        assert!(
            seq >= seq_before,
            "media sequence went back: {seq} < {seq_before}"
        );
        (n >= 5).then_some(seq)
    })
    .await;
    assert!(grown.is_some(), "the longer window shows");
    assert!(
        publisher.try_wait().unwrap().is_none(),
        "the publisher survives an output change"
    );

    // OFF: playback 404, the publisher is disconnected, a new push is refused.
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/tv/state"),
        Some(&json!({"state": "OFF"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get(server.http, media).await.unwrap().status, 404);
    let ended = tokio::time::timeout(Duration::from_secs(15), publisher.wait()).await;
    assert!(
        ended.is_ok(),
        "the publisher is disconnected when the channel stops"
    );
    let mut refused = push(server.rtmp, "tv_400000");
    let status = tokio::time::timeout(Duration::from_secs(15), refused.wait())
        .await
        .expect("a push to a stopped channel ends")
        .unwrap();
    assert!(!status.success(), "a push to a stopped channel is refused");

    // ON again: pushes work and media is served.
    let r = call(
        api,
        "PUT",
        &format!("{CHANNELS}/tv/state"),
        Some(&json!({"state": "ON"})),
    )
    .await;
    assert_eq!(r.status, 200);
    let _publisher = push(server.rtmp, "tv_400000");
    let back = wait_for(Duration::from_secs(30), || async {
        playlist(server.http, media)
            .await
            .filter(|(seq, _)| *seq > seq_before)
    })
    .await;
    assert!(back.is_some(), "the channel is live again");

    // DELETE: gone from playback and from the API.
    assert_eq!(
        call(api, "DELETE", &format!("{CHANNELS}/tv"), None)
            .await
            .status,
        200
    );
    assert_eq!(get(server.http, media).await.unwrap().status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_survive_a_restart() {
    if !require_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start_opt(None, &data);
    let dev = Some(server::DEV_API_TOKEN);
    // The first start seeds the demo channel.
    let list = body(&call_as(server.api, "GET", CHANNELS, dev, None).await);
    assert_eq!(list["total"], 1);
    assert_eq!(list["channels"][0]["id"], "demo");
    let r = call_as(
        server.api,
        "POST",
        CHANNELS,
        dev,
        Some(&push_channel("kept", 30)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = call_as(
        server.api,
        "PUT",
        &format!("{CHANNELS}/demo/state"),
        dev,
        Some(&json!({"state": "OFF"})),
    )
    .await;
    assert_eq!(r.status, 200);
    server.kill9();

    let server = ServerProcess::start_opt(None, &data);
    let list = body(&call_as(server.api, "GET", CHANNELS, dev, None).await);
    assert_eq!(list["total"], 2, "{list}");
    assert_eq!(list["channels"][1], push_channel("kept", 30));
    assert_eq!(list["channels"][0]["state"], "OFF");
    let _publisher = push(server.rtmp, "kept_400000");
    let live = wait_for(Duration::from_secs(30), || async {
        playlist(server.http, "/live/kept/index/400000/playlist.m3u8").await
    })
    .await;
    assert!(
        live.is_some(),
        "the stored channel is live after the restart"
    );
    assert_eq!(
        get(server.http, "/live/demo/index.m3u8")
            .await
            .unwrap()
            .status,
        404,
        "the channel turned OFF stays off"
    );
}
