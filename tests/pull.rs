//! Pull inputs against real upstreams: HTTP-FLV from ffmpeg's HTTP server, HLS from nginx
//! with the RTMP module fed by ffmpeg, a static two-variant HLS with `max_bandwidth_limit`, a
//! static fMP4 (CMAF) HLS with `#EXT-X-MAP`, and SRT from `srt-live-transmit` as listener
//! (Debian srt-tools). Then failover between two pulled upstreams: the primary is killed, the
//! standby takes over, and with PRIMARY preference the primary takes over again once it is
//! back.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::http::get;
use common::nginx::{free_port, Nginx};
use common::{fixture_path, require_tool, wait_for, TestServer, FIXTURE};
use tokio::process::{Child, Command};

/// A pull channel `id` with one source (and optionally a standby) and a 2 s HLS package.
fn pull_channel(
    id: &str,
    protocol: &str,
    source: &str,
    standby: Option<&str>,
    extra: &str,
) -> String {
    let standby = standby
        .map(|s| format!(r#", "secondary_sources": [{s}]"#))
        .unwrap_or_default();
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "{id}", "state": "ON",
  "input": {{ "input_protocol": "{protocol}", "sources": [{source}]{standby}{extra} }},
  "record_settings": {{ "rollingbuffer_duration": 0 }},
  "endpoints": [{{ "hls_package": [{{
    "url": "pull.example.com/live/{id}/index.m3u8", "hls_version": "3",
    "segment_duration_seconds": 2, "playlist_window_seconds": 120
  }}] }}]
}}"#
    )
}

/// The fixture looped forever in real time, served once over HTTP-FLV by ffmpeg itself.
fn ffmpeg_flv_server(port: u16, fixture: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostats"])
        .args(["-re", "-stream_loop", "-1", "-i"])
        .arg(fixture_path(fixture))
        .args(["-c", "copy", "-f", "flv", "-listen", "1"])
        .arg(format!("http://127.0.0.1:{port}/live.flv"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// (segments listed, discontinuities) of the channel's 900 kbit/s-or-only rendition playlist.
async fn listed(server: &TestServer, id: &str, rendition: &str) -> Option<(usize, usize)> {
    let r = get(
        server.http,
        &format!("/live/{id}/index/{rendition}/playlist.m3u8"),
    )
    .await
    .ok()?;
    (r.status == 200).then(|| {
        let text = r.text();
        (
            text.matches("#EXTINF").count(),
            text.matches("#EXT-X-DISCONTINUITY\n").count(),
        )
    })
}

async fn wait_listed(server: &TestServer, id: &str, rendition: &str, n: usize, secs: u64) -> bool {
    wait_for(Duration::from_secs(secs), || async {
        listed(server, id, rendition)
            .await
            .filter(|l| l.0 >= n)
            .map(|_| ())
    })
    .await
    .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flv_pull_from_ffmpeg_http_server() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") {
        return;
    }
    let port = free_port();
    let _upstream = ffmpeg_flv_server(port, FIXTURE);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let source = format!(
        r#"{{"url": "http://127.0.0.1:{port}/live.flv", "bitrate": 900000, "width": 320, "height": 240}}"#
    );
    let server = TestServer::start(&[pull_channel("flv", "FLV_PULL", &source, None, "")]).await;
    assert!(
        wait_listed(&server, "flv", "900000", 3, 25).await,
        "FLV pull is listed"
    );
    let (codecs, size) = common::probe::probe_url(&server.url("/live/flv/index.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));
    let read = common::probe::ffmpeg_reads(&server.url("/live/flv/index.m3u8"), "5").await;
    assert!(read >= 4.5, "ffmpeg -xerror read {read} s");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_pull_from_nginx_rtmp() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") || !common::nginx::installed() {
        return;
    }
    let nginx = Nginx::start(2);
    let mut push = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostats"])
        .args(["-re", "-stream_loop", "-1", "-i"])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "flv"])
        .arg(format!("rtmp://{}/live/up", nginx.rtmp))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let upstream = format!("http://{}/hls/up.m3u8", nginx.http);
    let ready = wait_for(Duration::from_secs(20), || async {
        let r = get(nginx.http, "/hls/up.m3u8").await.ok()?;
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 2).then_some(())
    })
    .await;
    assert!(ready.is_some(), "nginx-rtmp writes HLS");
    let source = format!(r#"{{"url": "{upstream}", "bitrate": 900000}}"#);
    let server = TestServer::start(&[pull_channel("hp", "HLS_PULL", &source, None, "")]).await;
    assert!(
        wait_listed(&server, "hp", "900000", 4, 30).await,
        "HLS pull is listed"
    );
    let (codecs, size) = common::probe::probe_url(&server.url("/live/hp/index.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));
    let read = common::probe::ffmpeg_reads(&server.url("/live/hp/index.m3u8"), "6").await;
    assert!(read >= 5.5, "ffmpeg -xerror read {read} s");
    let _ = push.kill().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_pull_takes_the_variant_under_max_bandwidth_limit() {
    if !require_tool("ffprobe") || !common::nginx::installed() {
        return;
    }
    let nginx = Nginx::start(2);
    let upstream = format!("http://{}/fixtures/hls-two-variants/index.m3u8", nginx.http);
    let source = format!(r#"{{"url": "{upstream}", "bitrate": 300000}}"#);
    // Variants: 145,200 (160x120) and 365,200 (320x240).
    let server = TestServer::start(&[
        pull_channel(
            "low",
            "HLS_PULL",
            &source,
            None,
            r#", "max_bandwidth_limit": 200000"#,
        ),
        pull_channel(
            "high",
            "HLS_PULL",
            &source.replace("300000", "400000"),
            None,
            "",
        ),
    ])
    .await;
    assert!(wait_listed(&server, "low", "300000", 2, 30).await);
    assert!(wait_listed(&server, "high", "400000", 2, 30).await);
    let (_, size) = common::probe::probe_url(&server.url("/live/low/index.m3u8")).await;
    assert_eq!(
        size,
        Some((160, 120)),
        "max_bandwidth_limit 200000 takes the 145,200 variant"
    );
    let (_, size) = common::probe::probe_url(&server.url("/live/high/index.m3u8")).await;
    assert_eq!(
        size,
        Some((320, 240)),
        "no limit takes the highest BANDWIDTH"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_pull_of_fmp4_segments() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") || !common::nginx::installed() {
        return;
    }
    let nginx = Nginx::start(2);
    // FFmpeg's fMP4 HLS: #EXT-X-MAP init segment, three 2 s .m4s segments, H.264 and AAC.
    let upstream = format!("http://{}/fixtures/hls-fmp4/index.m3u8", nginx.http);
    let source = format!(r#"{{"url": "{upstream}", "bitrate": 300000}}"#);
    let server = TestServer::start(&[pull_channel("fm", "HLS_PULL", &source, None, "")]).await;
    assert!(
        wait_listed(&server, "fm", "300000", 2, 30).await,
        "the fMP4 HLS pull is listed"
    );
    let (codecs, size) = common::probe::probe_url(&server.url("/live/fm/index.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));
    let read = common::probe::ffmpeg_reads(&server.url("/live/fm/index.m3u8"), "4").await;
    assert!(read >= 3.5, "ffmpeg -xerror read {read} s");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_pull_from_srt_live_transmit() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") || !require_tool("srt-live-transmit") {
        return;
    }
    let (udp_port, srt_port) = (free_port(), free_port());
    let passphrase = "pull-passphrase-1";
    // Auto-reconnect (`-a yes`): the listener takes a caller again if the first connection
    // breaks, as a loaded CI machine can make the first attempt time out.
    let mut relay = Command::new("srt-live-transmit")
        .args(["-q", "-a", "yes"])
        .arg(format!("udp://127.0.0.1:{udp_port}"))
        .arg(format!(
            "srt://127.0.0.1:{srt_port}?mode=listener&passphrase={passphrase}"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut feed = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostats"])
        .args(["-re", "-stream_loop", "-1", "-i"])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(format!("udp://127.0.0.1:{udp_port}?pkt_size=1316"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let source = format!(
        r#"{{"url": "srt://127.0.0.1:{srt_port}", "bitrate": 900000, "latency": 200, "passphrase": "{passphrase}"}}"#
    );
    let server = TestServer::start(&[pull_channel("sp", "SRT_PULL", &source, None, "")]).await;
    assert!(
        wait_listed(&server, "sp", "900000", 3, 45).await,
        "SRT pull is listed"
    );
    let (codecs, size) = common::probe::probe_url(&server.url("/live/sp/index.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));
    let _ = feed.kill().await;
    let _ = relay.kill().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_primary_fails_over_to_standby_and_returns() {
    if !require_tool("ffmpeg") {
        return;
    }
    let (p_port, s_port) = (free_port(), free_port());
    let primary = ffmpeg_flv_server(p_port, FIXTURE);
    let _standby = ffmpeg_flv_server(
        s_port,
        "ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let source = format!(r#"{{"url": "http://127.0.0.1:{p_port}/live.flv", "bitrate": 900000}}"#);
    let standby = format!(r#"{{"url": "http://127.0.0.1:{s_port}/live.flv", "bitrate": 900000}}"#);
    let failover = r#", "failover_conditions": {"input_loss_threshold_msec": 1000, "input_preference": "PRIMARY"}"#;
    let server = TestServer::start(&[pull_channel(
        "pf",
        "FLV_PULL",
        &source,
        Some(&standby),
        failover,
    )])
    .await;
    assert!(
        wait_listed(&server, "pf", "900000", 3, 25).await,
        "the primary is listed"
    );
    assert_eq!(listed(&server, "pf", "900000").await.unwrap().1, 0);

    drop(primary); // killed: the pull's connection ends
    let killed = Instant::now();
    let switched = wait_for(Duration::from_secs(15), || async {
        listed(&server, "pf", "900000")
            .await
            .filter(|l| l.1 == 1)
            .map(|_| ())
    })
    .await;
    assert!(
        switched.is_some(),
        "one DISCONTINUITY after the primary died"
    );
    let after = killed.elapsed();
    assert!(
        after <= Duration::from_millis(1_000 + 2_000 + 1_500),
        "standby listed {after:?} after the kill"
    );
    // ffprobe starts three segments from the live edge: once those are the standby's, it
    // sees the standby's picture size.
    let mut size = None;
    for _ in 0..20 {
        size = common::probe::probe_url(&server.url("/live/pf/index.m3u8"))
            .await
            .1;
        if size == Some((160, 120)) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(size, Some((160, 120)), "the standby's picture is live");

    // The primary comes back; after 10 s of steady frames it takes over again.
    let _primary = ffmpeg_flv_server(p_port, FIXTURE);
    let returned = wait_for(Duration::from_secs(40), || async {
        listed(&server, "pf", "900000")
            .await
            .filter(|l| l.1 == 2)
            .map(|_| ())
    })
    .await;
    assert!(returned.is_some(), "the primary takes over again");
    let read = common::probe::ffmpeg_reads(&server.url("/live/pf/index.m3u8"), "60").await;
    assert!(
        read >= 10.0,
        "ffmpeg -xerror read {read} s across both switches"
    );
    server.stop().await;
}
