//! Interop with GStreamer: `rtmp2sink` pushes H.264 (x264enc) + AAC (voaacenc) in FLV; the HLS
//! output is read by ffprobe.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::get;
use common::{channel_json, require_tool, wait_for, TestServer};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gstreamer_rtmp2sink_push_is_served_as_hls() {
    if !require_tool("gst-launch-1.0") || !require_tool("ffprobe") {
        return;
    }
    let server = TestServer::start(&[channel_json("gst", &[500_000], 2, 30)]).await;
    let location = format!("rtmp://{}/live/gst_500000", server.rtmp);
    // 6 s of test pattern and tone, 1 s GOP, ending with EOS so rtmp2sink closes cleanly.
    let pipeline = format!(
        "videotestsrc num-buffers=150 is-live=true ! video/x-raw,width=320,height=240,framerate=25/1 \
         ! x264enc key-int-max=25 bframes=0 tune=zerolatency bitrate=500 ! h264parse ! queue ! mux. \
         audiotestsrc num-buffers=282 is-live=true ! audio/x-raw,rate=48000,channels=2 ! audioconvert \
         ! voaacenc bitrate=64000 ! aacparse ! queue ! mux. \
         flvmux name=mux streamable=true ! rtmp2sink location={location}"
    );
    let mut gst = Command::new("gst-launch-1.0")
        .arg("-e")
        .args(pipeline.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(40), gst.wait())
        .await
        .expect("gst-launch finishes")
        .unwrap();
    assert!(status.success(), "gst-launch failed: {status}");

    let playlist = "/live/gst/index/500000/playlist.m3u8";
    let text = wait_for(Duration::from_secs(5), || async {
        let r = get(server.http, playlist).await.ok()?;
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 2).then(|| r.text())
    })
    .await
    .expect("segments listed after the push");
    let extinf: f64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|v| v.trim_end_matches(',').parse::<f64>().ok())
        .sum();
    assert!(
        (extinf - 6.0).abs() < 0.3,
        "about 6 s of media listed, got {extinf}"
    );

    let url = server.url("/live/gst/index.m3u8");
    let (codecs, _) = common::probe::probe_url(&url).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    server.stop().await;
}
