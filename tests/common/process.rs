//! The `headwater` binary as a child process, for tests that kill and restart it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_headwater");

/// A running `headwater serve` on ephemeral loopback ports; killed on drop.
pub struct ServerProcess {
    child: Child,
    pub rtmp: SocketAddr,
    /// SRT push ingest (UDP).
    pub srt: SocketAddr,
    pub http: SocketAddr,
    /// The control-plane API (development token of project `default`).
    pub api: SocketAddr,
    /// Log lines after the listening line.
    pub log: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts the binary with `channels_file` and `data_dir`; waits (20 s at most) until it
    /// listens and reads its addresses from the log.
    pub fn start(channels_file: &Path, data_dir: &Path) -> ServerProcess {
        Self::start_opt(Some(channels_file), data_dir)
    }

    /// [`Self::start`], with or without a channels file to import.
    pub fn start_opt(channels_file: Option<&Path>, data_dir: &Path) -> ServerProcess {
        Self::start_command(Command::new(BIN), channels_file, data_dir)
    }

    /// [`Self::start`] with `data_dir` on a tmpfs of `size_bytes` of its own (a full disk once
    /// the media fills it), mounted in a private mount namespace with `unshare`: as root, or
    /// in a user namespace otherwise. `None` when neither is possible here.
    pub fn start_on_tmpfs(
        channels_file: &Path,
        data_dir: &Path,
        size_bytes: u64,
    ) -> Option<ServerProcess> {
        let works = |flags: &str| {
            Command::new("unshare")
                .arg(flags)
                .args(["sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"])
                .status()
                .is_ok_and(|s| s.success())
        };
        let flags = ["--mount", "-Urm"].into_iter().find(|f| works(f))?;
        std::fs::create_dir_all(data_dir).unwrap();
        let mut command = Command::new("unshare");
        command
            .arg(flags)
            .args(["--propagation", "private", "sh", "-c"])
            .arg(format!(
                r#"mount -t tmpfs -o size={size_bytes} tmpfs "$0" && exec "$@""#
            ))
            .arg(data_dir)
            .arg(BIN);
        Some(Self::start_command(command, Some(channels_file), data_dir))
    }

    fn start_command(
        mut command: Command,
        channels_file: Option<&Path>,
        data_dir: &Path,
    ) -> ServerProcess {
        command
            .args(["serve", "--rtmp-listen", "127.0.0.1:0"])
            .args(["--srt-listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0"])
            .args(["--api-listen", "127.0.0.1:0"]);
        if let Some(file) = channels_file {
            command.arg("--channels").arg(file);
        }
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[headwater] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            if line.contains("headwater listening") {
                let field = |name: &str| -> SocketAddr {
                    let at = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
                    let rest = &line[at..];
                    let end = rest.find(' ').unwrap_or(rest.len());
                    rest[..end].parse().unwrap()
                };
                return ServerProcess {
                    rtmp: field("rtmp_addr"),
                    srt: field("srt_addr"),
                    http: field("http_addr"),
                    api: field("api_addr"),
                    child,
                    log: rx,
                };
            }
            seen.push(line);
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("headwater did not start: {seen:?}");
    }

    /// The URL of `path` on the playback listener.
    pub fn url_of(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    /// SIGKILL: no shutdown code runs, as in a crash.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
