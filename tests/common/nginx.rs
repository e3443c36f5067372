//! nginx with the RTMP module (Debian `libnginx-mod-rtmp`) as an HLS upstream: ffmpeg pushes
//! RTMP to it, it writes HLS that its HTTP server serves. It also serves the fixtures
//! directory under `/fixtures/`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tempdir::TempDir;

pub const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// A free loopback TCP port (bound then released; a race with another process is unlikely).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Whether nginx and its RTMP module are installed; in CI a missing one fails the test.
pub fn installed() -> bool {
    let found = super::require_tool("nginx") && std::path::Path::new(RTMP_MODULE).exists();
    if !found && std::env::var_os("CI").is_some() {
        panic!(
            "nginx with {RTMP_MODULE} is required in CI (apt-get install nginx libnginx-mod-rtmp)"
        );
    }
    found
}

/// A running nginx on loopback ports; stopped on drop.
pub struct Nginx {
    child: Child,
    pub rtmp: SocketAddr,
    pub http: SocketAddr,
    _dir: TempDir,
}

impl Nginx {
    /// Starts nginx with `hls_fragment` seconds per HLS fragment; waits until both ports answer.
    pub fn start(fragment_secs: u32) -> Nginx {
        let dir = TempDir::new();
        let d = dir.0.display().to_string();
        for sub in ["hls", "logs", "tmp"] {
            std::fs::create_dir_all(dir.0.join(sub)).unwrap();
        }
        let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let fixtures = fixtures.canonicalize().unwrap();
        let (rtmp_port, http_port) = (free_port(), free_port());
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let user = if root { "user root;" } else { "" };
        let conf = format!(
            r#"load_module {RTMP_MODULE};
{user}
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        application live {{
            live on;
            record off;
            hls on;
            hls_path {d}/hls;
            hls_fragment {fragment_secs}s;
            hls_playlist_length {window}s;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
    server {{
        listen 127.0.0.1:{http_port};
        location /hls/ {{ alias {d}/hls/; add_header Cache-Control no-cache; }}
        location /fixtures/ {{ alias {f}/; }}
    }}
}}
"#,
            window = fragment_secs * 10,
            f = fixtures.display(),
        );
        let conf_path = dir.0.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let rtmp: SocketAddr = format!("127.0.0.1:{rtmp_port}").parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(rtmp).is_ok()
                && std::net::TcpStream::connect(http).is_ok()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            rtmp,
            http,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
