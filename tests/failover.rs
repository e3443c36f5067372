//! Primary/standby failover with real ffmpeg publishers: the primary freezes, the standby
//! (`{id}_{bitrate}_standby`) takes over within the loss threshold, the HLS playlist shows
//! exactly one DISCONTINUITY per switch with no step back and no gap above the threshold,
//! `ffmpeg -xerror` reads across the switches, and with PRIMARY preference the primary takes
//! over again once it has delivered steadily.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::http::get;
use common::{require_tool, wait_for, TestServer};
use tokio::process::{Child, Command};

const THRESHOLD_MS: u64 = 1_000;
const SEGMENT_SECS: u32 = 2;

fn channel(id: &str, preference: &str) -> String {
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "{id}", "state": "ON",
  "input": {{ "input_protocol": "RTMP_PUSH",
             "sources": [{{"bitrate": 900000, "width": 320, "height": 240}}],
             "failover_conditions": {{"input_loss_threshold_msec": {THRESHOLD_MS},
                                      "input_preference": "{preference}"}} }},
  "record_settings": {{ "rollingbuffer_duration": 0 }},
  "endpoints": [{{ "hls_package": [{{
    "url": "pull.example.com/live/{id}/index.m3u8", "hls_version": "3",
    "segment_duration_seconds": {SEGMENT_SECS}, "playlist_window_seconds": 120
  }}],
  "dash_package": [{{ "url": "pull.example.com/live/{id}/manifest.mpd",
    "segment_duration_seconds": {SEGMENT_SECS}, "playlist_window_seconds": 120 }}],
  "mss_package": [{{ "url": "pull.example.com/live/{id}/Manifest",
    "segment_duration_seconds": {SEGMENT_SECS}, "playlist_window_seconds": 120 }}] }}]
}}"#
    )
}

/// An endless real-time encode of a test pattern pushed over RTMP (1 s GOP).
fn live_push(url: &str, pattern: &str) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostats"])
        .args(["-re", "-f", "lavfi", "-i"])
        .arg(format!("{pattern}=size=320x240:rate=25"))
        .args([
            "-re",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            "25",
            "-keyint_min",
            "25",
            "-sc_threshold",
            "0",
            "-b:v",
            "300k",
        ])
        .args([
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", url,
        ])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let pid = child.id().unwrap().to_string();
    let ok = std::process::Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// One listed segment: (media sequence, start in unix ms from PROGRAM-DATE-TIME, duration ms,
/// discontinuity before it).
type Listed = (u64, i64, i64, bool);

async fn playlist(server: &TestServer, id: &str) -> Option<Vec<Listed>> {
    let r = get(
        server.http,
        &format!("/live/{id}/index/900000/playlist.m3u8"),
    )
    .await
    .ok()?;
    if r.status != 200 {
        return None;
    }
    let Ok((_, m3u8_rs::Playlist::MediaPlaylist(p))) = m3u8_rs::parse_playlist(&r.body) else {
        return None;
    };
    let mut out = Vec::new();
    for (i, s) in p.segments.iter().enumerate() {
        let start = s.program_date_time?.timestamp_millis();
        out.push((
            p.media_sequence + i as u64,
            start,
            (f64::from(s.duration) * 1000.0).round() as i64,
            s.discontinuity,
        ));
    }
    Some(out)
}

fn discontinuities(list: &[Listed]) -> usize {
    list.iter().filter(|s| s.3).count()
}

/// Checks the timeline across every listed switch: never back, gap at most the threshold
/// (plus one audio frame and rounding); returns the largest gap in ms.
fn check_timeline(list: &[Listed]) -> i64 {
    let mut largest = 0;
    for pair in list.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        assert_eq!(after.0, before.0 + 1, "media sequence steps by one");
        let gap = after.1 - (before.1 + before.2);
        if after.3 {
            assert!(
                gap >= -30,
                "the output went back {gap} ms at a switch: {list:?}"
            );
            assert!(
                gap <= THRESHOLD_MS as i64 + 60,
                "gap of {gap} ms at a switch, above the {THRESHOLD_MS} ms threshold: {list:?}"
            );
            largest = largest.max(gap);
        } else {
            assert!(
                gap.abs() <= 60,
                "segments are contiguous within a session: {list:?}"
            );
        }
    }
    largest
}

/// Walks every `<SegmentTimeline>` of an MPD (`S` elements) or `StreamIndex` of a Smooth
/// manifest (`c` elements): each entry starts at its `t` or where the previous one ended, and
/// must not start before the previous one ended. Returns the number of entries and of jumps
/// forward (gaps).
fn check_monotonic(manifest: &str, element: &str) -> (usize, usize) {
    let attr = |line: &str, name: &str| -> Option<u64> {
        let at = line.find(&format!(" {name}=\""))? + name.len() + 3;
        line[at..].split('"').next()?.parse().ok()
    };
    let (mut entries, mut gaps) = (0, 0);
    let mut end: Option<u64> = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with("<SegmentTimeline") || line.starts_with("<StreamIndex") {
            end = None;
            continue;
        }
        if !line.starts_with(&format!("<{element} ")) {
            continue;
        }
        let d = attr(line, "d").expect("d");
        let start = match (attr(line, "t"), end) {
            (Some(t), Some(e)) => {
                assert!(
                    t >= e,
                    "{element} t={t} starts before the previous end {e}:\n{manifest}"
                );
                if t > e {
                    gaps += 1;
                }
                t
            }
            (Some(t), None) => t,
            (None, Some(e)) => e,
            (None, None) => panic!("first {element} without t"),
        };
        let repeats = attr(line, "r").unwrap_or(0);
        end = Some(start + d * (repeats + 1));
        entries += 1 + repeats as usize;
    }
    (entries, gaps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_push_takes_over_and_primary_returns() {
    if !require_tool("ffmpeg") {
        return;
    }
    let server = TestServer::start(&[channel("fo", "PRIMARY")]).await;
    let base = format!("rtmp://{}/live", server.rtmp);
    let primary = live_push(&format!("{base}/fo_900000"), "testsrc2");
    let standby = live_push(&format!("{base}/fo_900000_standby"), "smptebars");
    let ready = wait_for(Duration::from_secs(20), || async {
        playlist(&server, "fo")
            .await
            .filter(|l| l.len() >= 3)
            .map(|_| ())
    })
    .await;
    assert!(ready.is_some(), "the primary is listed");
    let before = playlist(&server, "fo").await.unwrap();
    assert_eq!(discontinuities(&before), 0, "{before:?}");

    // Freeze the primary: its connection stays open but delivers nothing.
    signal(&primary, "-STOP");
    let frozen = Instant::now();
    let switched = wait_for(Duration::from_secs(15), || async {
        playlist(&server, "fo")
            .await
            .filter(|l| l.iter().any(|s| s.3))
    })
    .await
    .expect("the standby is listed after a DISCONTINUITY");
    let listed_after = frozen.elapsed();
    assert_eq!(
        discontinuities(&switched),
        1,
        "one DISCONTINUITY: {switched:?}"
    );
    let limit = Duration::from_millis(THRESHOLD_MS)
        + Duration::from_secs(u64::from(SEGMENT_SECS))
        + Duration::from_millis(1_500);
    assert!(
        listed_after <= limit,
        "the first standby segment was listed {listed_after:?} after the freeze (limit {limit:?})"
    );
    let gap = check_timeline(&switched);
    eprintln!("standby listed {listed_after:?} after the freeze; output gap {gap} ms");

    // The primary encoder restarts; PRIMARY preference returns to it after 10 s of steady
    // frames.
    signal(&primary, "-KILL");
    drop(primary);
    let primary = live_push(&format!("{base}/fo_900000"), "testsrc2");
    let returned = wait_for(Duration::from_secs(30), || async {
        playlist(&server, "fo")
            .await
            .filter(|l| discontinuities(l) == 2 && l.last().is_some_and(|s| !s.3))
    })
    .await
    .expect("the primary takes over again");
    check_timeline(&returned);

    // DASH and Smooth timelines stay monotonic across both switches.
    let mpd = get(server.http, "/live/fo/manifest.mpd")
        .await
        .unwrap()
        .text();
    let (entries, _) = check_monotonic(&mpd, "S");
    assert!(entries >= 6, "{mpd}");
    let mss = get(server.http, "/live/fo/Manifest").await.unwrap().text();
    let (entries, _) = check_monotonic(&mss, "c");
    assert!(entries >= 6, "{mss}");

    // ffmpeg reads the whole window, both switches included, without an error.
    let read = common::probe::ffmpeg_reads(&server.url("/live/fo/index.m3u8"), "60").await;
    let listed: i64 = returned.iter().map(|s| s.2).sum();
    assert!(
        read * 1000.0 >= (listed - 2_500) as f64,
        "ffmpeg -xerror read {read} s of {listed} ms listed"
    );
    drop(primary);
    drop(standby);
    server.stop().await;
}
