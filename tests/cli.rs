//! The `headwater` binary: a bad channels file fails with the JSON path, and SIGTERM shuts it
//! down cleanly.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_headwater");

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "hw-cli-{}-{name}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `headwater serve` with the demo channels file, `from` replaced by `to`; it must fail.
/// Returns what it printed on stderr.
fn serve_fails_with(from: &str, to: &str) -> String {
    let demo = include_str!("../config/demo-channels.json");
    let file = temp_file("channels.json", &demo.replacen(from, to, 1));
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--rtmp-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0"])
        .args(["--api-listen", "127.0.0.1:0", "--channels"])
        .arg(&file)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    std::fs::remove_file(&file).ok();
    assert!(!out.status.success(), "serve must refuse the channels file");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unknown_field_is_refused_with_its_path() {
    let stderr = serve_fails_with("\"bitrate\": 2500000", "\"bitratee\": 2500000");
    assert!(
        stderr.contains("[0].input.sources[0].bitratee"),
        "error names the path: {stderr}"
    );
}

#[test]
fn invalid_value_is_refused_with_its_path() {
    let stderr = serve_fails_with(
        "\"segment_duration_seconds\": 2",
        "\"segment_duration_seconds\": 12",
    );
    assert!(
        stderr.contains("endpoints[0].hls_package[0].segment_duration_seconds"),
        "error names the path: {stderr}"
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let data = std::env::temp_dir().join(format!("hw-cli-data-{}", std::process::id()));
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--rtmp-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the listening line (the demo channel is served without --channels).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = false;
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("headwater listening") {
                ready = true;
                break;
            }
        }
    }
    assert!(ready, "server started");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::fs::remove_dir_all(&data).ok();
    let status = status.expect("exited within 10 s of SIGTERM");
    assert!(status.success(), "clean exit: {status}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
}
