//! A publisher reconnecting with another picture size: the DASH MPD starts a new Period at the
//! first segment of the new configuration, and each Period's init segment is the configuration
//! of its fragments. Two real ffmpeg pushes (320x240, then 160x120) to one rendition; each
//! Period's init segment and first fragment, concatenated, read by ffprobe and decoded by ffmpeg;
//! and dash.js in headless Chromium (the machinery of tests/players.rs) plays live across the
//! change.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::get;
use common::mpd::periods;
use common::probe::{decodes, probe};
use common::{push_fixture, require_tool, wait_for, TestServer};
use serde_json::Value;
use tokio::process::{Child, Command};

const CHANNEL: &str = r#"{
  "domain": "push.example.com", "app_name": "live", "id": "periods", "state": "ON",
  "input": { "input_protocol": "RTMP_PUSH", "sources": [
    {"bitrate": 400000, "width": 320, "height": 240} ] },
  "record_settings": { "rollingbuffer_duration": 0 },
  "endpoints": [{
    "dash_package": [
      { "url": "pull.example.com/live/periods/dash.mpd",
        "segment_duration_seconds": 2, "playlist_window_seconds": 120 } ]
  }]
}"#;

const MPD: &str = "/live/periods/dash.mpd";
const DIR: &str = "/live/periods/dash";
const LARGE: &str = "ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv";
const SMALL: &str = "ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv";

/// Starts pushing a fixture in real time, `loops` more times after the first (-1: forever).
fn push(server: &TestServer, fixture: &str, loops: i32) -> Child {
    let url = format!("rtmp://{}/live/periods_400000", server.rtmp);
    push_fixture(&url, fixture, loops)
}

/// Pushes a fixture once in real time and waits for ffmpeg to finish.
async fn push_once(server: &TestServer, fixture: &str) {
    let status = tokio::time::timeout(Duration::from_secs(40), push(server, fixture, 0).wait())
        .await
        .expect("the push ends")
        .unwrap();
    assert!(status.success(), "ffmpeg push of {fixture} failed");
}

/// GETs `path`, asserting a 200, with its `cache-control`.
async fn fetch(server: &TestServer, path: &str) -> (Vec<u8>, String) {
    let r = get(server.http, path).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let cache = r.header("cache-control").unwrap_or("").to_string();
    (r.body, cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_configuration_starts_a_new_period() {
    for tool in ["ffmpeg", "ffprobe"] {
        if !require_tool(tool) {
            return;
        }
    }
    let server = TestServer::start(&[CHANNEL.to_string()]).await;
    push_once(&server, LARGE).await;
    let one = wait_for(Duration::from_secs(10), || async {
        let r = get(server.http, MPD).await.ok()?;
        (r.status == 200).then(|| r.text())
    })
    .await
    .expect("an MPD after the first push");
    assert_eq!(periods(&one).len(), 1, "{one}");
    assert!(one.contains("$RepresentationID$/init.mp4"), "{one}");

    push_once(&server, SMALL).await;
    // The second session's last segment is sealed when it ends.
    let mpd = wait_for(Duration::from_secs(10), || async {
        let text = get(server.http, MPD).await.ok()?.text();
        let listed = text.matches("<S ").count();
        (periods(&text).len() == 2 && listed >= 4).then_some(text)
    })
    .await;
    let Some(mpd) = mpd else {
        let now = get(server.http, MPD).await.unwrap().text();
        panic!("two Periods within 10 s: {now}");
    };

    let found = periods(&mpd);
    let (first, second) = (&found[0], &found[1]);
    assert_eq!((first.id.as_str(), first.start.as_str()), ("0", "PT0S"));
    let change: u64 = second.id.strip_prefix('p').unwrap().parse().unwrap();
    assert!(second.start.starts_with("PT") && second.start.ends_with('S'));
    let start_secs: f64 = second.start[2..second.start.len() - 1].parse().unwrap();
    assert!(
        (start_secs - change as f64 / 90_000.0).abs() < 1e-5,
        "{mpd}"
    );
    assert_eq!(first.sets.len(), 2, "video and audio: {mpd}");
    assert_eq!(second.sets.len(), 2, "video and audio: {mpd}");
    // `$Time$` stays the absolute decode time: the new Period's offset is its start.
    let (_, _, video_offset, video_t) = &second.sets[0];
    assert_eq!(*video_offset, Some(change));
    assert_eq!(
        *video_t, change,
        "the first 160x120 fragment starts the Period"
    );
    let (_, _, audio_offset, audio_t) = &second.sets[1];
    let audio_offset = audio_offset.expect("audio presentationTimeOffset");
    assert!(*audio_t >= audio_offset, "{mpd}");
    assert!(first.sets.iter().all(|s| s.2.is_none()), "{mpd}");

    let dir = tempfile::tempdir().unwrap();
    for (period, size) in [(first, (320, 240)), (second, (160, 120))] {
        for (i, (rep, init_template, _, t)) in period.sets.iter().enumerate() {
            let init_file = init_template.rsplit('/').next().unwrap();
            assert_eq!(init_file, format!("init-{}.mp4", period.id), "{mpd}");
            let (init, cache) = fetch(&server, &format!("{DIR}/{rep}/{init_file}")).await;
            if period.id == "0" {
                assert_eq!(cache, "public, max-age=10");
            } else {
                assert!(cache.contains("immutable"), "{cache}");
            }
            let (fragment, _) = fetch(&server, &format!("{DIR}/{rep}/{t}.m4s")).await;
            let file = dir.path().join(format!("{}-{i}.mp4", period.id));
            std::fs::write(&file, [init, fragment].concat()).unwrap();
            let probed = probe(&file);
            if i == 0 {
                assert_eq!(probed.codecs, ["h264"], "{}", file.display());
                assert_eq!((probed.width, probed.height), (Some(size.0), Some(size.1)));
                assert!(probed.video().next().is_some_and(|p| p.keyframe));
            } else {
                assert_eq!(probed.codecs, ["aac"], "{}", file.display());
                assert!(probed.audio().count() > 10);
            }
            decodes(&file);
        }
    }

    // `init.mp4` is the newest configuration; an init of a Period that does not exist is not
    // served.
    let (newest, _) = fetch(&server, &format!("{DIR}/video-400000/init.mp4")).await;
    let (of_second, _) = fetch(&server, &format!("{DIR}/video-400000/init-p{change}.mp4")).await;
    assert_eq!(newest, of_second);
    let missing = get(
        server.http,
        &format!("{DIR}/video-400000/init-p{}.mp4", change - 1),
    )
    .await
    .unwrap();
    assert_eq!(missing.status, 404);

    server.stop().await;
}

/// Wall time dash.js plays after its first `playing` event.
const PLAY_SECONDS: f64 = 24.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dash_js_plays_across_the_period_change() {
    let dir = common::players_dir();
    if !common::players_installed(&["dashjs", "playwright-core"]) {
        return;
    }
    let server = TestServer::start(&[CHANNEL.to_string()]).await;
    // 10 s at 320x240, then (the publisher reconnecting at once) 160x120 until the end.
    let mut large = push(&server, LARGE, 0);
    let small = {
        let server_rtmp = server.rtmp;
        tokio::spawn(async move {
            let status = large.wait().await.unwrap();
            assert!(status.success(), "the 320x240 push failed");
            let url = format!("rtmp://{server_rtmp}/live/periods_400000");
            push_fixture(&url, SMALL, -1)
        })
    };
    // Start playing while the first configuration is live.
    let listed = wait_for(Duration::from_secs(15), || async {
        let text = get(server.http, MPD).await.ok()?.text();
        (text.matches("<S ").count() >= 4).then_some(())
    })
    .await;
    assert!(listed.is_some(), "segments listed within 15 s");

    // The driver's switch comes after the end of playback: it never happens.
    let limit = PLAY_SECONDS + 20.0 + 60.0;
    let out = tokio::time::timeout(
        Duration::from_secs_f64(limit + 20.0),
        Command::new("timeout")
            .args(["-k", "5", &format!("{limit:.0}"), "node"])
            .arg(dir.join("driver.mjs"))
            .args(["--seconds", &PLAY_SECONDS.to_string()])
            .args(["--startup-timeout", "20"])
            .args(["--switch-at", "1000"])
            .arg(format!("dash-periods=dash.js={}", server.url(MPD)))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the player driver finishes")
    .unwrap();
    let mpd = get(server.http, MPD).await.unwrap().text();
    let mut small = small.await.unwrap();
    let _ = small.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), small.wait()).await;
    server.stop().await;

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the player driver failed ({}): {stderr}\nstdout: {stdout}",
        out.status
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap();
    if r["h264_supported"] != true {
        let msg = format!("this Chromium has no H.264 in MSE: {}", r["codecs"]);
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }
    println!("dash.js across the Period change: {r}");
    let num = |key: &str| r[key].as_f64().unwrap_or(f64::NAN);
    let mut problems = Vec::new();
    if r["playing"] != true {
        problems.push("never played".to_string());
    }
    if r["fatal_errors"].as_array().is_none_or(|a| !a.is_empty()) || !r["media_error"].is_null() {
        problems.push(format!(
            "errors: {} {}",
            r["fatal_errors"], r["media_error"]
        ));
    }
    // Playback keeps up with live, with no more than the reconnect's gap of stalling.
    let advanced = num("advanced_s");
    if advanced.is_nan() || advanced < PLAY_SECONDS - 6.0 {
        problems.push(format!("advanced {advanced:.2} s"));
    }
    let frozen = num("max_frozen_s");
    if frozen.is_nan() || frozen > 3.0 {
        problems.push(format!("froze for {frozen:.2} s"));
    }
    // It starts in the first Period and ends in the second, showing each configuration.
    let widths: Vec<u64> = r["rendered"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["width"].as_u64())
        .collect();
    if widths.first() != Some(&320) || widths.last() != Some(&160) {
        problems.push(format!("rendered widths {widths:?}, 320 then 160 expected"));
    }
    // At the end it is in the second Period, showing the second configuration.
    if (r["video_width"].as_u64(), r["video_height"].as_u64()) != (Some(160), Some(120)) {
        problems.push(format!(
            "shows {}x{} at the end",
            r["video_width"], r["video_height"]
        ));
    }
    let init_errors: Vec<&Value> = r["http_errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e.as_str().is_some_and(|e| e.contains("/init")))
        .collect();
    if !init_errors.is_empty() {
        problems.push(format!("init segments failed: {init_errors:?}"));
    }
    assert!(
        problems.is_empty(),
        "{}\nresult: {r}\nMPD at the end: {mpd}\ndriver log:\n{stderr}",
        problems.join("; ")
    );
}
