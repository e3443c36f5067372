//! HLS-TS, HLS-fMP4, DASH and MSS of one two-rendition channel fed by two real ffmpeg pushes
//! of the fixture, read by ffprobe, ffmpeg and GStreamer.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::get;
use common::multi::{channel, start_pushes, HIGH_SIZE, LOW_SIZE};
use common::{require_tool, TestServer};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_is_read_by_ffmpeg_and_gstreamer() {
    for tool in ["ffmpeg", "ffprobe", "gst-launch-1.0"] {
        if !require_tool(tool) {
            return;
        }
    }
    let server = TestServer::start(&[channel()]).await;
    let pushes = start_pushes(&server, 1).await;

    // Renditions pushed by one clock cut at the same points.
    let high = get(server.http, "/live/multi/index/400000/playlist.m3u8")
        .await
        .unwrap()
        .text();
    let low = get(server.http, "/live/multi/index/200000/playlist.m3u8")
        .await
        .unwrap()
        .text();
    let uris = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.ends_with(".ts"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        uris(&high),
        uris(&low),
        "segment names align across renditions"
    );

    // Manifests are reused while no rendition changes, and follow the live edge once one does:
    // every live manifest shows the next segment as soon as the HLS playlist does.
    let live = [
        "/live/multi/index/400000/playlist.m3u8",
        "/live/multi/cmaf/200000/audio.m3u8",
        "/live/multi/manifest.mpd",
        "/live/multi/Manifest?bitrate=high",
    ];
    let mut before = Vec::new();
    for path in live {
        before.push(get(server.http, path).await.unwrap().text());
    }
    let newest = |t: &str| t.lines().rfind(|l| l.ends_with(".ts")).map(str::to_string);
    let edge = newest(&before[0]);
    let moved = common::wait_for(Duration::from_secs(10), || async {
        let now = get(server.http, live[0]).await.ok()?.text();
        (newest(&now) != edge).then_some(())
    })
    .await;
    assert!(moved.is_some(), "a new segment within 10 s");
    for (path, old) in live.iter().zip(&before) {
        let now = get(server.http, path).await.unwrap().text();
        assert_ne!(&now, old, "{path} shows the new segment");
    }

    // HLS-fMP4: an audio rendition group, EXT-X-MAP, CMAF fragments.
    let mv = get(server.http, "/live/multi/cmaf.m3u8").await.unwrap();
    assert_eq!(mv.status, 200);
    let text = mv.text();
    assert!(text.contains("#EXT-X-MEDIA:TYPE=AUDIO"), "{text}");
    assert!(text.contains("AUDIO=\"audio\""), "{text}");
    let video = get(server.http, "/live/multi/cmaf/400000/playlist.m3u8")
        .await
        .unwrap()
        .text();
    assert!(video.contains("#EXT-X-MAP:URI=\"init-"), "{video}");
    assert!(video.contains(".m4s"), "{video}");
    let (codecs, sizes) =
        common::probe::probe_url_sizes(&server.url("/live/multi/cmaf.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "HLS-fMP4 streams: {codecs:?}"
    );
    assert_eq!(
        sizes,
        [LOW_SIZE, HIGH_SIZE],
        "one video stream per rendition"
    );
    let read = common::probe::ffmpeg_reads(&server.url("/live/multi/cmaf.m3u8"), "6").await;
    assert!(read > 5.0, "ffmpeg read {read} s of HLS-fMP4");

    // DASH: content type, both representations, and stream selection by query key.
    let mpd = get(server.http, "/live/multi/manifest.mpd").await.unwrap();
    assert_eq!(mpd.status, 200);
    assert_eq!(mpd.header("content-type"), Some("application/dash+xml"));
    let text = mpd.text();
    assert!(text.contains("id=\"video-400000\"") && text.contains("id=\"video-200000\""));
    assert!(text.contains("availabilityStartTime=\"1970-01-01T00:00:00Z\""));
    // Stream selection, in each format, with and without the key.
    for (path, key, kept, dropped) in [
        (
            "/live/multi/index.m3u8",
            "?low",
            "index/200000/",
            "index/400000/",
        ),
        (
            "/live/multi/manifest.mpd",
            "?bitrate=low",
            "\"video-200000\"",
            "\"video-400000\"",
        ),
        (
            "/live/multi/Manifest",
            "?bitrate=high",
            "Bitrate=\"400000\"",
            "Bitrate=\"200000\"",
        ),
    ] {
        let all = get(server.http, path).await.unwrap().text();
        assert!(all.contains(kept) && all.contains(dropped), "{path}: {all}");
        let selected = get(server.http, &format!("{path}{key}"))
            .await
            .unwrap()
            .text();
        assert!(
            selected.contains(kept) && !selected.contains(dropped),
            "{path}{key}: {selected}"
        );
        let other = get(server.http, &format!("{path}?unrelated=1"))
            .await
            .unwrap()
            .text();
        assert!(
            other.contains(dropped),
            "{path}?unrelated=1 keeps every rendition"
        );
    }
    let (codecs, sizes) =
        common::probe::probe_url_sizes(&server.url("/live/multi/manifest.mpd")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "DASH streams: {codecs:?}"
    );
    assert_eq!(
        sizes,
        [LOW_SIZE, HIGH_SIZE],
        "one video stream per rendition"
    );
    let time = get(server.http, "/time").await.unwrap();
    assert_eq!(time.status, 200);
    assert!(time.text().ends_with('Z'), "{}", time.text());

    // MSS: the manifest; GStreamer (mssdemux, dashdemux) decodes both streams of MSS and DASH.
    let manifest = get(server.http, "/live/multi/Manifest").await.unwrap();
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.header("content-type"),
        Some("application/vnd.ms-sstr+xml")
    );
    assert!(manifest.text().contains("<SmoothStreamingMedia"));
    for path in ["/live/multi/Manifest", "/live/multi/manifest.mpd"] {
        let (video, audio) = gst_decodes(&server.url(path)).await;
        assert!(
            video >= 50 && audio >= 50,
            "GStreamer decoded {video} pictures and {audio} audio buffers of {path}"
        );
    }
    for mut push in pushes {
        let status = tokio::time::timeout(Duration::from_secs(60), push.wait())
            .await
            .expect("ffmpeg push finishes")
            .unwrap();
        assert!(status.success(), "ffmpeg push failed: {status}");
    }
    server.stop().await;
}

/// Plays `url` with GStreamer's playbin into fake sinks (in real time) for 8 s; returns how many decoded
/// video and audio buffers reached the sinks.
async fn gst_decodes(url: &str) -> (usize, usize) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new("timeout")
            .args([
                "-k",
                "3",
                "-s",
                "INT",
                "8",
                "gst-launch-1.0",
                "-v",
                "playbin",
            ])
            .arg(format!("uri={url}"))
            .arg("video-sink=\"fakesink name=vsink silent=false sync=true\"")
            .arg("audio-sink=\"fakesink name=asink silent=false sync=true\"")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("gst-launch finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ERROR") && !stdout.contains("ERROR:"),
        "GStreamer reported errors for {url}: {stderr}"
    );
    let count = |sink: &str| {
        stdout
            .lines()
            .filter(|l| l.contains(sink) && l.contains("chain"))
            .count()
    };
    (count("vsink"), count("asink"))
}
