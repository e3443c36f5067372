//! Interop with real ffmpeg: ffmpeg pushes the fixture over RTMP in real time; ffprobe reads
//! the HLS output; `ffmpeg -xerror` reads it end to end without a single error.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::get;
use common::{channel_json, fixture_path, require_tool, wait_for, TestServer, FIXTURE};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_push_then_ffprobe_and_ffmpeg_read_hls() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") {
        return;
    }
    let server = TestServer::start(&[channel_json("ff", &[400_000], 2, 30)]).await;
    let push_url = format!("rtmp://{}/live/ff_400000", server.rtmp);
    let mut push = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re", "-i"])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "flv", &push_url])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(40), push.wait())
        .await
        .expect("ffmpeg push finishes")
        .unwrap();
    assert!(status.success(), "ffmpeg push failed: {status}");

    let playlist = "/live/ff/index/400000/playlist.m3u8";
    let listed = wait_for(Duration::from_secs(5), || async {
        let r = get(server.http, playlist).await.ok()?;
        (r.status == 200 && r.text().matches("#EXTINF").count() == 5).then_some(())
    })
    .await;
    assert!(listed.is_some(), "five segments listed after the push");

    // ffprobe: codecs and resolution of the multivariant's variant.
    let url = server.url("/live/ff/index.m3u8");
    let (codecs, size) = common::probe::probe_url(&url).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));

    // ffmpeg -xerror reads the whole window and stops at 9.5 s of media.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostats",
                "-xerror",
                "-live_start_index",
                "0",
                "-i",
                &url,
            ])
            .args([
                "-t",
                "9.5",
                "-c",
                "copy",
                "-f",
                "null",
                "-progress",
                "pipe:1",
                "-",
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ffmpeg read finishes")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg -xerror failed: {stderr}");
    let progress = String::from_utf8_lossy(&out.stdout);
    let out_time_us: i64 = progress
        .lines()
        .filter_map(|l| l.strip_prefix("out_time_us="))
        .filter_map(|v| v.trim().parse().ok())
        .max()
        .unwrap_or(0);
    assert!(
        out_time_us >= 9_300_000,
        "read {out_time_us} us of media; ffmpeg said: {stderr}"
    );
    for bad in ["corrupt", "Continuity check", "Non-monotonous", "error"] {
        assert!(!stderr.contains(bad), "ffmpeg reported {bad:?}: {stderr}");
    }
    server.stop().await;
}
