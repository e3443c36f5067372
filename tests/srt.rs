//! SRT push with real ffmpeg (libsrt): stream id forms, passphrases, the IP whitelist, and a
//! refused protocol. ffmpeg's SRT output drops its tail on close unless the URL has `linger=3`.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::http::get;
use common::{fixture_path, require_tool, wait_for, TestServer, FIXTURE};
use tokio::process::Command;

const PASSPHRASE: &str = "correct-horse-battery";

/// An SRT_PUSH channel `id` in app `live` with one 900 kbit/s source and a 2 s HLS package.
fn srt_channel(id: &str, passphrase: Option<&str>, whitelist: Option<&str>) -> String {
    let passphrase = passphrase
        .map(|p| format!(r#", "passphrase": "{p}""#))
        .unwrap_or_default();
    let whitelist = whitelist
        .map(|w| format!(r#", "ip_whitelist": "{w}""#))
        .unwrap_or_default();
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "{id}", "state": "ON",
  "input": {{ "input_protocol": "SRT_PUSH",
             "sources": [{{"bitrate": 900000, "width": 320, "height": 240{passphrase}}}]{whitelist} }},
  "record_settings": {{ "rollingbuffer_duration": 0 }},
  "endpoints": [{{ "hls_package": [{{
    "url": "pull.example.com/live/{id}/index.m3u8", "hls_version": "3",
    "segment_duration_seconds": 2, "playlist_window_seconds": 30
  }}] }}]
}}"#
    )
}

/// A stream id or passphrase as it goes into an ffmpeg `srt://` URL: ffmpeg 5.1 passes the
/// query values on as written (no URL decoding), so only the query separators are escaped
/// away; spaces are not used.
fn encode(value: &str) -> String {
    assert!(!value.contains(['&', ' ', '?']), "{value:?}");
    value.to_string()
}

/// Pushes `seconds` of the fixture over SRT in real time; returns whether ffmpeg succeeded.
async fn push(url: &str, seconds: &str) -> bool {
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-t",
            seconds,
            "-i",
        ])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "mpegts", url])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(40), child.wait()).await {
        Ok(Ok(status)) => status.success(),
        _ => false,
    }
}

async fn segments_listed(server: &TestServer, id: &str) -> usize {
    let playlist = format!("/live/{id}/index/900000/playlist.m3u8");
    match get(server.http, &playlist).await {
        Ok(r) if r.status == 200 => r.text().matches("#EXTINF").count(),
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushes_srt_in_both_stream_id_forms() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") {
        return;
    }
    let server =
        TestServer::start(&[srt_channel("s1", None, None), srt_channel("s2", None, None)]).await;
    // The access-control form.
    let sid = encode("#!::r=live/s1_900000,m=publish");
    let url = format!("srt://{}?streamid={sid}&linger=3", server.srt);
    assert!(
        push(&url, "6").await,
        "ffmpeg SRT push (access-control stream id)"
    );
    let listed = wait_for(Duration::from_secs(5), || async {
        (segments_listed(&server, "s1").await >= 3).then_some(())
    })
    .await;
    assert!(listed.is_some(), "segments listed after the SRT push");
    let (codecs, size) = common::probe::probe_url(&server.url("/live/s1/index.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "h264") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));
    let read = common::probe::ffmpeg_reads(&server.url("/live/s1/index.m3u8"), "5").await;
    assert!(
        read >= 4.5,
        "ffmpeg -xerror read {read} s of the SRT-fed HLS"
    );

    // The plain form.
    let url = format!(
        "srt://{}?streamid={}&linger=3",
        server.srt,
        encode("live/s2_900000")
    );
    assert!(push(&url, "4").await, "ffmpeg SRT push (plain stream id)");
    let listed = wait_for(Duration::from_secs(5), || async {
        (segments_listed(&server, "s2").await >= 2).then_some(())
    })
    .await;
    assert!(
        listed.is_some(),
        "segments listed after the plain-form push"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passphrase_is_enforced() {
    if !require_tool("ffmpeg") {
        return;
    }
    let server = TestServer::start(&[srt_channel("enc", Some(PASSPHRASE), None)]).await;
    let sid = encode("#!::r=live/enc_900000,m=publish");
    let base = format!("srt://{}?streamid={sid}&linger=3", server.srt);
    // No passphrase, then a wrong one: refused in the handshake, nothing stored.
    assert!(!push(&base, "2").await, "an unencrypted push is refused");
    let wrong = format!(
        "{base}&passphrase={}&pbkeylen=16",
        encode("not-the-passphrase")
    );
    assert!(!push(&wrong, "2").await, "a wrong passphrase is refused");
    assert_eq!(segments_listed(&server, "enc").await, 0);
    // The right one, at two key lengths.
    for pbkeylen in ["16", "32"] {
        let right = format!(
            "{base}&passphrase={}&pbkeylen={pbkeylen}",
            encode(PASSPHRASE)
        );
        assert!(
            push(&right, "4").await,
            "push with the passphrase (pbkeylen {pbkeylen})"
        );
    }
    let listed = wait_for(Duration::from_secs(5), || async {
        (segments_listed(&server, "enc").await >= 3).then_some(())
    })
    .await;
    assert!(
        listed.is_some(),
        "segments of the encrypted pushes are listed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whitelist_and_protocol_are_enforced() {
    if !require_tool("ffmpeg") {
        return;
    }
    let server = TestServer::start(&[
        srt_channel("far", None, Some("10.0.0.0/8, 2001:db8::/32")),
        srt_channel("near", None, Some("192.168.0.0/16,127.0.0.1/32")),
    ])
    .await;
    let url = |id: &str| {
        format!(
            "srt://{}?streamid={}&linger=3",
            server.srt,
            encode(&format!("#!::r=live/{id}_900000,m=publish"))
        )
    };
    assert!(
        !push(&url("far"), "2").await,
        "127.0.0.1 is not in 10.0.0.0/8"
    );
    assert!(push(&url("near"), "4").await, "127.0.0.1/32 is whitelisted");
    assert_eq!(segments_listed(&server, "far").await, 0);
    let listed = wait_for(Duration::from_secs(5), || async {
        (segments_listed(&server, "near").await >= 2).then_some(())
    })
    .await;
    assert!(listed.is_some());
    // An SRT_PUSH channel takes no RTMP push.
    let rtmp = format!("rtmp://{}/live/near_900000", server.rtmp);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-t", "1", "-i"])
        .arg(fixture_path(FIXTURE))
        .args(["-c", "copy", "-f", "flv", &rtmp])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .unwrap();
    assert!(
        !status.success(),
        "RTMP push to an SRT_PUSH channel is refused"
    );
    // An unknown stream is refused too.
    assert!(!push(&url("nobody"), "1").await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_port_mode_gives_the_channel_a_port_without_stream_id() {
    if !require_tool("ffmpeg") {
        return;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let channel = srt_channel("own", None, None)
        .replace(
            r#""domain": "push.example.com""#,
            &format!(r#""domain": "127.0.0.1:{port}""#),
        )
        .replace(
            r#""input_protocol": "SRT_PUSH","#,
            r#""input_protocol": "SRT_PUSH", "ip_port_mode": true,"#,
        );
    let server = TestServer::start(&[channel]).await;
    // The channel's own listener comes up with the registry watcher (every 500 ms).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let url = format!("srt://127.0.0.1:{port}?linger=3");
    assert!(push(&url, "4").await, "ffmpeg SRT push without a stream id");
    let listed = wait_for(Duration::from_secs(5), || async {
        (segments_listed(&server, "own").await >= 2).then_some(())
    })
    .await;
    assert!(
        listed.is_some(),
        "segments of the ip_port_mode push are listed"
    );
    server.stop().await;
}

/// An SRT_PUSH channel with one package of each kind (HLS-TS, HLS-fMP4, DASH, Smooth).
fn srt_channel_every_format(id: &str) -> String {
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "{id}", "state": "ON",
  "input": {{ "input_protocol": "SRT_PUSH",
             "sources": [{{"bitrate": 900000, "width": 320, "height": 240}}] }},
  "record_settings": {{ "rollingbuffer_duration": 0 }},
  "endpoints": [{{
    "hls_package": [
      {{ "url": "pull.example.com/live/{id}/index.m3u8", "hls_version": "3",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30 }},
      {{ "url": "pull.example.com/live/{id}/cmaf.m3u8", "hls_version": "7",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30 }} ],
    "dash_package": [
      {{ "url": "pull.example.com/live/{id}/manifest.mpd",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30 }} ],
    "mss_package": [
      {{ "url": "pull.example.com/live/{id}/Manifest",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30 }} ]
  }}]
}}"#
    )
}

/// 4 s of x265 Main profile 320x240 and AAC in MPEG-TS, made by ffmpeg (fixtures/README.md).
const HEVC_FIXTURE: &str = "ffmpeg-5.1_hevc-aac_320x240_25fps_4s_2s-gop.ts";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_pushes_h265_over_srt_and_every_format_carries_it() {
    if !require_tool("ffmpeg") || !require_tool("ffprobe") {
        return;
    }
    let server = TestServer::start(&[srt_channel_every_format("hevc")]).await;
    let url = format!(
        "srt://{}?streamid={}&linger=3",
        server.srt,
        encode("#!::r=live/hevc_900000,m=publish")
    );
    // The fixture three times over (12 s), in real time.
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-stream_loop", "2", "-i"])
        .arg(fixture_path(HEVC_FIXTURE))
        .args(["-c", "copy", "-f", "mpegts", &url])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pushed = tokio::time::timeout(Duration::from_secs(40), child.wait()).await;
    assert!(
        matches!(pushed, Ok(Ok(status)) if status.success()),
        "ffmpeg H.265 SRT push: {pushed:?}"
    );
    let listed = wait_for(Duration::from_secs(5), || async {
        (segments_listed(&server, "hevc").await >= 4).then_some(())
    })
    .await;
    assert!(listed.is_some(), "H.265 segments listed after the SRT push");

    // The multivariant playlists name the codec (ISO/IEC 14496-15 Annex E).
    for path in ["/live/hevc/index.m3u8", "/live/hevc/cmaf.m3u8"] {
        let text = get(server.http, path).await.unwrap().text();
        assert!(text.contains("hvc1.1.6.L60.90"), "{path}: {text}");
    }
    let mpd = get(server.http, "/live/hevc/manifest.mpd")
        .await
        .unwrap()
        .text();
    assert!(mpd.contains("codecs=\"hvc1.1.6.L60.90\""), "{mpd}");
    let smooth = get(server.http, "/live/hevc/Manifest")
        .await
        .unwrap()
        .text();
    assert!(
        smooth.contains("FourCC=\"HVC1\"")
            && smooth.contains("CodecPrivateData=\"0000000140010C01"),
        "{smooth}"
    );

    for path in [
        "/live/hevc/index.m3u8",
        "/live/hevc/cmaf.m3u8",
        "/live/hevc/manifest.mpd",
    ] {
        let (codecs, size) = common::probe::probe_url(&server.url(path)).await;
        assert!(
            codecs.iter().any(|c| c == "hevc") && codecs.iter().any(|c| c == "aac"),
            "{path}: {codecs:?}"
        );
        assert_eq!(size, Some((320, 240)), "{path}");
        if path.ends_with(".m3u8") {
            let read = common::probe::ffmpeg_reads(&server.url(path), "6").await;
            assert!(read >= 5.5, "ffmpeg -xerror read {read} s of {path}");
        }
    }
    server.stop().await;
}
