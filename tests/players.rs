//! Real players: headless Chromium running hls.js and dash.js (with its MSS support) plays a
//! live two-rendition channel, fed by two real ffmpeg pushes, for 20 s in each of HLS-TS,
//! HLS-fMP4, DASH and Smooth Streaming, and in each is forced from one rendition to the other
//! 8 s in (adaptation off, buffer flushed): the player must fetch and show the other rendition
//! (its picture size differs) and keep playing. The same players then play a finished
//! catch-up view (`?start=&end=`) of each format, read mostly from the store, with the same
//! forced switch.
//!
//! Needs `chromium` (Debian package, /usr/bin/chromium), `node`, `ffmpeg` and the players
//! installed by `npm ci --prefix tests/players`; skipped without them unless `CI` is set.
//! The browser side is tests/players/driver.mjs, which prints one JSON line per format.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::multi::{channel, start_pushes, HIGH, HIGH_SIZE, LOW, LOW_FIXTURE, LOW_SIZE};
use common::TestServer;
use serde_json::Value;
use tokio::process::Command;

/// Wall time each format plays after its first `playing` event.
const PLAY_SECONDS: f64 = 20.0;
/// How far the playhead must move in those seconds: live playback, not stalled.
const MIN_ADVANCE_SECONDS: f64 = 15.0;
/// The longest stall (or freeze of the playhead) allowed after startup.
const MAX_STALL_SECONDS: f64 = 3.0;
/// How long a player may take from loading the page to the first `playing` event.
const STARTUP_SECONDS: f64 = 20.0;
/// When, in seconds after the first `playing`, the driver forces a switch to the other rendition.
const SWITCH_AT_SECONDS: f64 = 8.0;

/// (format, player in the page, path of the package on the server)
const FORMATS: [(&str, &str, &str); 4] = [
    ("hls-ts", "hls.js", "/live/multi/index.m3u8"),
    ("hls-fmp4", "hls.js", "/live/multi/cmaf.m3u8"),
    ("dash", "dash.js", "/live/multi/manifest.mpd"),
    ("mss", "dash.js+mss", "/live/multi/Manifest"),
];

/// How a run of the driver plays each format.
#[derive(Clone, Copy)]
struct Run {
    /// Wall time each format plays after its first `playing` event.
    play_s: f64,
    /// How far the playhead must move in that time.
    min_advance_s: f64,
    /// When, after the first `playing`, the driver forces the other rendition.
    switch_at_s: f64,
}

const LIVE: Run = Run {
    play_s: PLAY_SECONDS,
    min_advance_s: MIN_ADVANCE_SECONDS,
    switch_at_s: SWITCH_AT_SECONDS,
};

/// Runs the Node driver over every format, each at its package path plus `query`; returns its
/// JSON lines and its stderr.
async fn run_driver(server: &TestServer, run: Run, query: &str) -> (Vec<Value>, String) {
    let dir = common::players_dir();
    // The driver's own watchdog is longer; `timeout` kills its whole process group, Chromium
    // included, if even that hangs.
    let limit = FORMATS.len() as f64 * (run.play_s + STARTUP_SECONDS + 10.0) + 30.0;
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &format!("{limit:.0}"), "node"])
        .arg(dir.join("driver.mjs"))
        .args(["--seconds", &run.play_s.to_string()])
        .args(["--startup-timeout", &STARTUP_SECONDS.to_string()])
        .args(["--switch-at", &run.switch_at_s.to_string()]);
    for (name, player, path) in FORMATS {
        cmd.arg(format!("{name}={player}={}{query}", server.url(path)));
    }
    let out = tokio::time::timeout(
        Duration::from_secs_f64(limit + 20.0),
        cmd.current_dir(&dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the player driver finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the player driver failed ({}): {stderr}\nstdout: {stdout}",
        out.status
    );
    let results = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (results, stderr)
}

fn num(r: &Value, key: &str) -> f64 {
    r[key].as_f64().unwrap_or(f64::NAN)
}

/// What is wrong with one format's run, if anything.
fn problems(r: &Value, run: Run) -> Vec<String> {
    let mut p = Vec::new();
    if let Some(e) = r["driver_error"].as_str() {
        p.push(format!("driver error: {e}"));
    }
    if r["attached"] != Value::Bool(true) {
        p.push("the player did not attach to the video element".into());
    }
    if r["playing"] != Value::Bool(true) {
        p.push(format!("no `playing` event within {STARTUP_SECONDS} s"));
    }
    let advanced = num(r, "advanced_s");
    if advanced.is_nan() || advanced < run.min_advance_s {
        p.push(format!(
            "currentTime advanced {advanced:.2} s in {:.2} s of wall time (at least {} s expected)",
            num(r, "wall_s"),
            run.min_advance_s
        ));
    }
    let stall = num(r, "stall_max_s");
    if stall.is_nan() || stall > MAX_STALL_SECONDS {
        p.push(format!(
            "a stall of {stall:.2} s after startup ({} stalls, {:.2} s in all)",
            r["stall_count"],
            num(r, "stall_total_s")
        ));
    }
    let frozen = num(r, "max_frozen_s");
    if frozen.is_nan() || frozen > MAX_STALL_SECONDS {
        p.push(format!(
            "the playhead stood still for {frozen:.2} s after startup"
        ));
    }
    if r["fatal_errors"].as_array().is_none_or(|a| !a.is_empty()) {
        p.push(format!("fatal player errors: {}", r["fatal_errors"]));
    }
    if !r["media_error"].is_null() {
        p.push(format!("media element error: {}", r["media_error"]));
    }
    if r["total_frames"].as_u64().unwrap_or(0) == 0 {
        p.push("no video frames decoded".into());
    }
    p.extend(switch_problems(r));
    p
}

/// The bitrate and picture size of the rendition with this picture width.
fn rendition_by_width(width: u64) -> Option<(u64, (u64, u64))> {
    [(HIGH, HIGH_SIZE), (LOW, LOW_SIZE)]
        .into_iter()
        .find(|(_, size)| size.0 == width)
}

/// Whether `path` is a media segment (not an init segment or a playlist) of the rendition of
/// `bitrate`, in the URL layout of `format` (docs/configuration.md).
fn is_media_of(format: &str, path: &str, bitrate: u64) -> bool {
    match format {
        "hls-ts" => path.contains(&format!("/index/{bitrate}/")) && path.ends_with(".ts"),
        "hls-fmp4" => {
            path.contains(&format!("/cmaf/{bitrate}/"))
                && path.ends_with(".m4s")
                && !path.contains("/audio-")
        }
        "dash" => path.contains(&format!("/video-{bitrate}/")) && path.ends_with(".m4s"),
        "mss" => path.contains(&format!("QualityLevels({bitrate})/Fragments(video=")),
        _ => false,
    }
}

/// What is wrong with the forced switch: it must name another rendition, the player must report
/// rendering it, fetch its media segments after the switch, and end showing its picture size.
fn switch_problems(r: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let request = &r["switch_request"];
    let Some(to_width) = request["to"]["width"].as_u64() else {
        p.push(format!(
            "no rendition to switch to (renditions {}, request {request})",
            r["renditions"]
        ));
        return p;
    };
    let Some((to_bitrate, to_size)) = rendition_by_width(to_width) else {
        p.push(format!(
            "switched to an unknown rendition {}",
            request["to"]
        ));
        return p;
    };
    if request["from"]["width"].as_u64() == Some(to_width) {
        p.push(format!("the switch stays on the same rendition: {request}"));
    }
    let rendered_after = r["rendered"].as_array().is_some_and(|list| {
        list.iter().any(|e| {
            e["width"].as_u64() == Some(to_width) && num(e, "at_s") >= num(request, "at_s")
        })
    });
    if !rendered_after {
        p.push(format!(
            "the player never reported rendering the {to_width}-wide rendition after the switch (rendered: {})",
            r["rendered"]
        ));
    }
    let format = r["format"].as_str().unwrap_or("?");
    let fetched = r["requests_after_switch"].as_array().map_or(0, |list| {
        list.iter()
            .filter_map(Value::as_str)
            .filter(|path| is_media_of(format, path, to_bitrate))
            .count()
    });
    if fetched == 0 {
        p.push(format!(
            "no media segment of rendition {to_bitrate} fetched after the switch: {}",
            r["requests_after_switch"]
        ));
    }
    if (r["video_width"].as_u64(), r["video_height"].as_u64()) != (Some(to_size.0), Some(to_size.1))
    {
        p.push(format!(
            "the video shows {}x{} at the end, {}x{} expected after the switch",
            r["video_width"], r["video_height"], to_size.0, to_size.1
        ));
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_and_dash_js_play_every_format_live() {
    if !common::players_installed(&["hls.js", "dashjs", "playwright-core"]) {
        return;
    }
    let server = TestServer::start(&[channel()]).await;
    let mut pushes = start_pushes(&server, -1).await;
    let (results, stderr) = run_driver(&server, LIVE, "").await;
    for push in &mut pushes {
        let _ = push.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), push.wait()).await;
    }
    server.stop().await;
    check_results(&results, &stderr, LIVE);
}

/// The same players on a finished catch-up view (`?start=&end=`) of 24 s of a channel whose
/// live window (6 s packages) has moved past most of it: HLS VOD, a static MPD and a non-live
/// Smooth manifest, served from the store's catch-up index. Each plays 12 s and is forced to
/// the other rendition 5 s in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_js_and_dash_js_play_every_format_catch_up() {
    if !common::players_installed(&["hls.js", "dashjs", "playwright-core"]) {
        return;
    }
    let recorded = channel()
        .replace(
            r#""rollingbuffer_duration": 0"#,
            r#""rollingbuffer_duration": 3600"#,
        )
        .replace(
            r#""playlist_window_seconds": 30"#,
            r#""playlist_window_seconds": 6"#,
        );
    let server = TestServer::start(&[recorded]).await;
    let began = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // 30 s of both renditions, then the publishers leave.
    let mut pushes = Vec::new();
    for (bitrate, fixture) in [(HIGH, common::FIXTURE), (LOW, LOW_FIXTURE)] {
        let url = format!("rtmp://{}/live/multi_{bitrate}", server.rtmp);
        pushes.push(common::push_fixture(&url, fixture, 2));
    }
    for push in &mut pushes {
        let status = tokio::time::timeout(Duration::from_secs(60), push.wait())
            .await
            .expect("the push ends")
            .unwrap();
        assert!(status.success(), "ffmpeg push failed");
    }
    let (from, to) = (began + 4, began + 28);
    let run = Run {
        play_s: 12.0,
        min_advance_s: 9.0,
        switch_at_s: 5.0,
    };
    let (results, stderr) = run_driver(&server, run, &format!("?start={from}&end={to}")).await;
    server.stop().await;
    check_results(&results, &stderr, run);
}

/// Checks one result per format, each without [`problems`]; prints what each player did.
fn check_results(results: &[Value], stderr: &str, run: Run) {
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["format"].as_str().unwrap_or("?"))
        .collect();
    let expected: Vec<&str> = FORMATS.iter().map(|f| f.0).collect();
    assert_eq!(
        names, expected,
        "one result per format; driver log:\n{stderr}"
    );

    // Debian's Chromium decodes H.264 and AAC; a build without them cannot play any format.
    if let Some(r) = results.iter().find(|r| r["h264_supported"] != true) {
        let msg = format!(
            "this Chromium has no H.264 in MSE (MediaSource.isTypeSupported: {}); \
             the players cannot play Headwater's H.264/AAC streams",
            r["codecs"]
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }

    let mut failures = Vec::new();
    for r in results {
        println!(
            "{:9} {:12} startup {:.2} s, advanced {:.2} s in {:.2} s, stalls {} ({:.2} s, max {:.2} s), \
             frozen max {:.2} s, frames {} (dropped {}), {}x{}, latency {}, non-fatal errors {}, \
             switch {} -> {} at {:.1} s",
            r["format"].as_str().unwrap_or("?"),
            r["player"].as_str().unwrap_or("?"),
            num(r, "startup_s"),
            num(r, "advanced_s"),
            num(r, "wall_s"),
            r["stall_count"],
            num(r, "stall_total_s"),
            num(r, "stall_max_s"),
            num(r, "max_frozen_s"),
            r["total_frames"],
            r["dropped_frames"],
            r["video_width"],
            r["video_height"],
            r["latency_s"]
                .as_f64()
                .map_or("n/a".to_string(), |l| format!("{l:.2} s")),
            r["nonfatal_errors"],
            r["switch_request"]["from"]["width"],
            r["switch_request"]["to"]["width"],
            num(&r["switch_request"], "at_s"),
        );
        let p = problems(r, run);
        if !p.is_empty() {
            failures.push(format!(
                "{} ({}): {}\n  evidence: {r}",
                r["format"],
                r["player"],
                p.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "players failed:\n{}\ndriver log:\n{stderr}",
        failures.join("\n")
    );
}
