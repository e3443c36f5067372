//! One channel, packages with different segment durations (HLS-TS 6 s, HLS-fMP4 4 s, DASH 2 s,
//! Smooth 6 s), fed by a real ffmpeg push: media is stored once, cut every 2 s, and each package
//! serves its own duration, read by ffprobe and ffmpeg.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::get;
use common::probe::{ffmpeg_reads, probe_url};
use common::{fixture_path, require_tool, wait_for, TestServer, FIXTURE};
use tokio::process::Command;

const CHANNEL: &str = r#"{
  "domain": "push.example.com", "app_name": "live", "id": "mixed", "state": "ON",
  "input": { "input_protocol": "RTMP_PUSH", "sources": [
    {"bitrate": 400000, "width": 320, "height": 240} ] },
  "record_settings": { "rollingbuffer_duration": 0 },
  "endpoints": [{
    "hls_package": [
      { "url": "pull.example.com/live/mixed/ts6.m3u8", "hls_version": "3",
        "segment_duration_seconds": 6, "playlist_window_seconds": 60 },
      { "url": "pull.example.com/live/mixed/cmaf4.m3u8", "hls_version": "7",
        "segment_duration_seconds": 4, "playlist_window_seconds": 60 } ],
    "dash_package": [
      { "url": "pull.example.com/live/mixed/dash2.mpd",
        "segment_duration_seconds": 2, "playlist_window_seconds": 30 } ],
    "mss_package": [
      { "url": "pull.example.com/live/mixed/Manifest",
        "segment_duration_seconds": 6, "playlist_window_seconds": 60 } ]
  }]
}"#;

/// `(media sequence, [(duration, uri)])` of a media playlist.
fn entries(playlist: &str) -> (u64, Vec<(f64, String)>) {
    let mut sequence = 0;
    let mut out = Vec::new();
    let mut duration = None;
    for line in playlist.lines() {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = v.trim().parse().unwrap();
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            duration = v.trim_end_matches(',').parse::<f64>().ok();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((duration.take().unwrap(), line.to_string()));
        }
    }
    (sequence, out)
}

fn target_duration(playlist: &str) -> Option<u64> {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Every `d="…"` of the elements named `element` in `xml`.
fn durations(xml: &str, element: &str) -> Vec<u64> {
    xml.split(&format!("<{element} "))
        .skip(1)
        .filter_map(|e| e.split('>').next())
        .filter_map(|attrs| {
            attrs
                .split_whitespace()
                .find_map(|a| a.strip_prefix("d=\""))
        })
        .filter_map(|d| d.split('"').next())
        .map(|d| d.parse().unwrap())
        .collect()
}

/// All but the first (which may hold what the session had of its first period) and, where the
/// session is still running, all complete.
fn assert_whole(name: &str, values: &[f64], want: f64, tolerance: f64, text: &str) {
    assert!(values.len() >= 3, "{name}: too few segments: {text}");
    for v in &values[1..] {
        assert!(
            (v - want).abs() <= tolerance,
            "{name}: {v} instead of {want}: {text}"
        );
    }
    assert!(values[0] <= want + tolerance, "{name}: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_package_serves_its_own_segment_duration() {
    for tool in ["ffmpeg", "ffprobe"] {
        if !require_tool(tool) {
            return;
        }
    }
    let server = TestServer::start(&[CHANNEL.to_string()]).await;
    let url = format!("rtmp://{}/live/mixed_400000", server.rtmp);
    let mut push = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-stream_loop", "-1", "-i"])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "flv", &url])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let ts = "/live/mixed/ts6/400000/playlist.m3u8";
    let listed = wait_for(Duration::from_secs(45), || async {
        let r = get(server.http, ts).await.ok()?;
        (r.status == 200 && entries(&r.text()).1.len() >= 3).then(|| r.text())
    })
    .await;
    let Some(first) = listed else {
        panic!("three 6 s segments listed within 45 s");
    };

    // HLS-TS at 6 s: whole groups of three stored 2 s segments.
    assert_eq!(target_duration(&first), Some(6), "{first}");
    let (seq_before, before) = entries(&first);
    let d: Vec<f64> = before.iter().map(|(d, _)| *d).collect();
    assert_whole("HLS-TS", &d, 6.0, 0.1, &first);

    // HLS-fMP4 at 4 s.
    let cmaf = get(server.http, "/live/mixed/cmaf4/400000/playlist.m3u8")
        .await
        .unwrap()
        .text();
    assert_eq!(target_duration(&cmaf), Some(4), "{cmaf}");
    let d: Vec<f64> = entries(&cmaf).1.iter().map(|(d, _)| *d).collect();
    assert_whole("HLS-fMP4", &d, 4.0, 0.1, &cmaf);
    let audio = get(server.http, "/live/mixed/cmaf4/400000/audio.m3u8")
        .await
        .unwrap()
        .text();
    let d: Vec<f64> = entries(&audio).1.iter().map(|(d, _)| *d).collect();
    assert_whole("HLS-fMP4 audio", &d, 4.0, 0.1, &audio);

    // DASH at 2 s: the stored segments themselves (SegmentTimeline in 90 kHz).
    let mpd = get(server.http, "/live/mixed/dash2.mpd")
        .await
        .unwrap()
        .text();
    assert!(mpd.contains("maxSegmentDuration=\"PT2"), "{mpd}");
    let video: Vec<f64> = durations(&mpd, "S")
        .into_iter()
        .map(|d| d as f64 / 90_000.0)
        .filter(|d| *d > 1.5)
        .collect();
    assert!(!video.is_empty(), "{mpd}");
    assert!(video.iter().all(|d| (d - 2.0).abs() < 0.1), "{mpd}");

    // Smooth at 6 s (100 ns units; the audio within an AAC frame of the video).
    let manifest = get(server.http, "/live/mixed/Manifest")
        .await
        .unwrap()
        .text();
    let d: Vec<f64> = durations(&manifest, "c")
        .into_iter()
        .map(|d| d as f64 / 1e7)
        .collect();
    assert!(d.len() >= 4, "{manifest}");
    assert!(d.iter().all(|d| *d <= 6.1), "{manifest}");
    assert!(
        d.iter().filter(|d| (**d - 6.0).abs() < 0.1).count() >= 2,
        "{manifest}"
    );

    // Numbering stays put while the playlist moves: a URI keeps its media sequence number.
    let moved = wait_for(Duration::from_secs(15), || async {
        let now = get(server.http, ts).await.ok()?.text();
        (entries(&now).1.last() != before.last()).then_some(now)
    })
    .await;
    let Some(now) = moved else {
        panic!("a new 6 s segment within 15 s");
    };
    let (seq_now, after) = entries(&now);
    assert!(seq_now >= seq_before);
    for (i, (_, uri)) in before.iter().enumerate() {
        if let Some(j) = after.iter().position(|(_, u)| u == uri) {
            assert_eq!(seq_before + i as u64, seq_now + j as u64, "{uri}");
        }
    }

    // Independent readers: ffprobe sees both streams of each; ffmpeg -xerror reads across
    // group boundaries.
    for path in [
        "/live/mixed/ts6.m3u8",
        "/live/mixed/cmaf4.m3u8",
        "/live/mixed/dash2.mpd",
    ] {
        let (codecs, size) = probe_url(&server.url(path)).await;
        assert!(
            codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
            "{path}: {codecs:?}"
        );
        assert_eq!(size, Some((320, 240)), "{path}");
    }
    for path in ["/live/mixed/ts6.m3u8", "/live/mixed/cmaf4.m3u8"] {
        let read = ffmpeg_reads(&server.url(path), "12").await;
        assert!(read > 11.0, "ffmpeg read {read} s of {path}");
    }

    push.kill().await.unwrap();
    server.stop().await;
}
