//! ffprobe as an independent demuxer of what Headwater serves.

use std::path::Path;
use std::process::Command;

/// One packet as ffprobe reports it.
#[derive(Debug, Clone)]
pub struct ProbePacket {
    pub video: bool,
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
}

/// Streams (codec names) and packets of a file, from ffprobe.
#[derive(Debug)]
pub struct Probe {
    pub codecs: Vec<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub packets: Vec<ProbePacket>,
}

impl Probe {
    pub fn video(&self) -> impl Iterator<Item = &ProbePacket> {
        self.packets.iter().filter(|p| p.video)
    }
    pub fn audio(&self) -> impl Iterator<Item = &ProbePacket> {
        self.packets.iter().filter(|p| !p.video)
    }
}

/// Runs ffprobe on `path`; panics with ffprobe's message if it reports an error.
pub fn probe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_packets",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let mut codecs = Vec::new();
    let mut video_index = None;
    let (mut width, mut height) = (None, None);
    for s in &streams {
        codecs.push(s["codec_name"].as_str().unwrap_or("").to_string());
        if s["codec_type"] == "video" {
            video_index = s["index"].as_u64();
            width = s["width"].as_u64();
            height = s["height"].as_u64();
        }
    }
    let packets = v["packets"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| ProbePacket {
            video: p["stream_index"].as_u64() == video_index,
            pts: p["pts"].as_i64().unwrap_or(i64::MIN),
            dts: p["dts"].as_i64().unwrap_or(i64::MIN),
            keyframe: p["flags"].as_str().unwrap_or("").contains('K'),
        })
        .collect();
    Probe {
        codecs,
        width,
        height,
        packets,
    }
}

/// Codec names and the video size ffprobe reports for a URL (a live HLS playlist), bounded
/// to 30 s.
pub async fn probe_url(url: &str) -> (Vec<String>, Option<(u64, u64)>) {
    let (codecs, sizes) = probe_url_sizes(url).await;
    (codecs, sizes.first().copied())
}

/// Codec names and the picture size of every video stream (sorted, without repeats) that
/// ffprobe finds at `url`: one per variant or representation of a multi-rendition manifest.
pub async fn probe_url_sizes(url: &str) -> (Vec<String>, Vec<(u64, u64)>) {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new("ffprobe")
            .args(["-v", "error", "-show_streams", "-of", "json", url])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ffprobe finishes")
    .expect("run ffprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let codecs = streams
        .iter()
        .filter_map(|s| s["codec_name"].as_str().map(str::to_string))
        .collect();
    let mut sizes: Vec<(u64, u64)> = streams
        .iter()
        .filter(|s| s["codec_type"] == "video")
        .filter_map(|s| Some((s["width"].as_u64()?, s["height"].as_u64()?)))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    (codecs, sizes)
}

/// Runs `ffmpeg -xerror` over `url`, copying `seconds` of media; returns the media time read.
pub async fn ffmpeg_reads(url: &str, seconds: &str) -> f64 {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-nostats", "-xerror"])
            .args(["-live_start_index", "0", "-i", url])
            .args(["-t", seconds, "-c", "copy", "-f", "null"])
            .args(["-progress", "pipe:1", "-"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ffmpeg read finishes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ffmpeg -xerror failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("out_time_us="))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .fold(0.0, f64::max)
        / 1e6
}

/// Runs `ffmpeg -xerror` over a finished presentation at `url` (any format), copying all of
/// it; returns the media time read.
pub async fn ffmpeg_reads_all(url: &str) -> f64 {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-nostats", "-xerror", "-i", url])
            .args(["-c", "copy", "-f", "null", "-progress", "pipe:1", "-"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("ffmpeg read finishes")
    .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg -xerror failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("out_time_us="))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .fold(0.0, f64::max)
        / 1e6
}

/// ffmpeg decodes every frame of `file`, failing on the first error.
pub fn decodes(file: &Path) {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "error",
            "-xerror",
            "-i",
        ])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg -xerror on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
