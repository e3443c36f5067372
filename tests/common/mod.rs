//! Shared helpers of the end-to-end tests: an in-process server, an RTMP publisher built on
//! rml_rtmp's client session, fixture reading and a small HTTP client.
#![allow(dead_code, clippy::unwrap_used)]

pub mod http;
pub mod mpd;
pub mod multi;
pub mod nginx;
pub mod probe;
pub mod process;
pub mod publisher;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ingest::rtmp::RtmpLimits;
use media::flv::{FlvReader, FlvTag};
use server::{BoundServer, ServeOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The API token of project `default` in [`TestServer`]s.
pub const API_TOKEN: &str = "test-token";

pub const FIXTURE: &str = "ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv";

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// Every tag of an FLV fixture.
pub fn fixture_tags(name: &str) -> Vec<FlvTag> {
    let data = std::fs::read(fixture_path(name)).unwrap();
    let mut reader = FlvReader::new();
    reader.push(&data);
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag().unwrap() {
        tags.push(tag);
    }
    tags
}

/// One channel `test` in app `live` with the given sources and one HLS package.
pub fn channel_json(id: &str, bitrates: &[u64], segment_secs: u32, window_secs: u32) -> String {
    let sources: Vec<String> = bitrates
        .iter()
        .map(|b| format!(r#"{{"bitrate": {b}, "width": 320, "height": 240}}"#))
        .collect();
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "{id}", "state": "ON",
  "input": {{ "input_protocol": "RTMP_PUSH", "sources": [{}] }},
  "record_settings": {{ "rollingbuffer_duration": 0 }},
  "endpoints": [{{ "hls_package": [{{
    "url": "pull.example.com/live/{id}/index.m3u8", "hls_version": "3",
    "segment_duration_seconds": {segment_secs}, "playlist_window_seconds": {window_secs}
  }}] }}]
}}"#,
        sources.join(",")
    )
}

/// A server running in this process on ephemeral loopback ports.
pub struct TestServer {
    pub rtmp: SocketAddr,
    /// SRT push ingest (UDP).
    pub srt: SocketAddr,
    pub http: SocketAddr,
    /// The control-plane API; project `default` takes [`API_TOKEN`].
    pub api: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _data: tempdir::TempDir,
}

pub mod tempdir {
    /// A directory removed on drop.
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new() -> TempDir {
            let n = std::process::id();
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let p = std::env::temp_dir().join(format!("headwater-test-{n}-{t}"));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestServer {
    pub async fn start(channels: &[String]) -> TestServer {
        Self::start_with(channels, RtmpLimits::default()).await
    }

    pub async fn start_with(channels: &[String], rtmp_limits: RtmpLimits) -> TestServer {
        let json = format!("[{}]", channels.join(","));
        let channels = model::parse_channels(&json).unwrap();
        let data = tempdir::TempDir::new();
        let bound = BoundServer::bind(ServeOptions {
            rtmp_listen: "127.0.0.1:0".parse().unwrap(),
            srt_listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: "127.0.0.1:0".parse().unwrap(),
            api_listen: "127.0.0.1:0".parse().unwrap(),
            api_tokens: server::api::ApiTokens::parse([
                format!("default:{API_TOKEN}").as_str(),
                "other:other-token",
            ])
            .unwrap(),
            data_dir: data.0.clone(),
            channels,
            seed_channels: Vec::new(),
            rtmp_limits,
            segment_cache_bytes: server::DEFAULT_SEGMENT_CACHE_BYTES,
            http_workers: 0,
        })
        .await
        .unwrap();
        let rtmp = bound.rtmp_addr().unwrap();
        let srt = bound.srt_addr().unwrap();
        let http = bound.http_addr().unwrap();
        let api = bound.api_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.run(async move {
            let _ = rx.await;
        }));
        TestServer {
            rtmp,
            srt,
            http,
            api,
            stop: Some(tx),
            task: Some(task),
            _data: data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts ffmpeg pushing `fixture` in real time to `url` (RTMP), `loops` more times after the
/// first (`-1`: until killed); killed when the handle drops.
pub fn push_fixture(url: &str, fixture: &str, loops: i32) -> tokio::process::Child {
    tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-re"])
        .args(["-stream_loop", &loops.to_string(), "-i"])
        .arg(fixture_path(fixture))
        .args(["-c", "copy", "-f", "flv", url])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Whether a program is installed; in CI a missing one fails the test instead of skipping.
pub fn require_tool(name: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{name} is required in CI but not installed");
        }
        eprintln!("SKIPPED: {name} is not installed (CI installs it; see .ci/run)");
    }
    found
}

/// Where the browser players' driver and npm packages live (tests/players).
pub fn players_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/players")
}

/// Whether Chromium, Node, ffmpeg and the npm `packages` of [`players_dir`] are installed; in
/// CI anything missing fails the test instead of skipping it.
pub fn players_installed(packages: &[&str]) -> bool {
    for tool in ["ffmpeg", "node", "chromium"] {
        if !require_tool(tool) {
            return false;
        }
    }
    let dir = players_dir();
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !dir.join("node_modules")
                .join(p)
                .join("package.json")
                .is_file()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "npm packages {missing:?} are not installed in {} (run `npm ci --prefix tests/players`)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; they are required in CI");
    }
    eprintln!("SKIPPED: {msg}");
    false
}
