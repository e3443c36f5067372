//! Crash safety of the store: a server killed with SIGKILL in the middle of a segment serves,
//! after a restart, every segment it had completed, each decodable, and the channel continues
//! with one discontinuity and media sequence numbers that do not go back.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http::get;
use common::probe::{ffmpeg_reads, probe};
use common::process::ServerProcess;
use common::publisher::{PublishOutcome, Publisher};
use common::{channel_json, fixture_tags, require_tool, wait_for, FIXTURE};
use m3u8_rs::{MediaPlaylist, Playlist};

const PLAYLIST: &str = "/live/crash/index/400000/playlist.m3u8";

async fn playlist(http: SocketAddr) -> Option<MediaPlaylist> {
    let r = get(http, PLAYLIST).await.ok()?;
    if r.status != 200 {
        return None;
    }
    match m3u8_rs::parse_playlist_res(&r.body) {
        Ok(Playlist::MediaPlaylist(p)) => Some(p),
        _ => None,
    }
}

/// Writes the channels file of channel `crash` (one 400 kbit/s source, 2 s segments, a 60 s
/// window, an hour of rolling buffer) into `dir`.
/// Fetches the live playlist's segment `uri` (200 expected) into `dir` and probes it: H.264
/// and AAC expected.
async fn fetch_and_probe(
    http: SocketAddr,
    dir: &std::path::Path,
    uri: &str,
) -> common::probe::Probe {
    let base = PLAYLIST.rsplit_once('/').unwrap().0;
    let r = get(http, &format!("{base}/{uri}")).await.unwrap();
    assert_eq!(r.status, 200, "{uri}");
    let file = dir.join("segment.ts");
    std::fs::write(&file, &r.body).unwrap();
    let probed = probe(&file);
    assert_eq!(probed.codecs, ["h264", "aac"], "{uri}");
    probed
}

fn write_channel(dir: &std::path::Path) -> std::path::PathBuf {
    let channels = dir.join("channels.json");
    let json = channel_json("crash", &[400_000], 2, 60).replace(
        r#""rollingbuffer_duration": 0"#,
        r#""rollingbuffer_duration": 3600"#,
    );
    std::fs::write(&channels, format!("[{json}]")).unwrap();
    channels
}

async fn publisher(rtmp: SocketAddr) -> Publisher {
    match Publisher::connect(rtmp, "live", "crash_400000").await {
        PublishOutcome::Accepted(p) => *p,
        PublishOutcome::Refused(why) => panic!("publish refused: {why}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_segment_then_restart() {
    if !require_tool("ffprobe") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let channels = write_channel(dir.path());
    let data = dir.path().join("data");
    let tags = fixture_tags(FIXTURE);

    // Push 7 s of the fixture in real time: segments at 0, 2 and 4 s are complete, the one from
    // 6 s is open when the server dies.
    let server = ServerProcess::start(&channels, &data);
    let mut p = publisher(server.rtmp).await;
    p.metadata(320, 240).await.unwrap();
    let head: Vec<_> = tags
        .iter()
        .filter(|t| t.timestamp_ms < 7_000)
        .cloned()
        .collect();
    p.send_tags(&head, 0, true).await.unwrap();
    let before = wait_for(Duration::from_secs(5), || async {
        playlist(server.http)
            .await
            .filter(|p| p.segments.len() >= 3)
    })
    .await
    .expect("three segments before the crash");
    server.kill9();
    p.drop_connection();

    // Restart on the same data directory: every segment listed before the crash is listed
    // again, with the same sequence numbers, and decodes.
    let started = Instant::now();
    let server = ServerProcess::start(&channels, &data);
    let after = wait_for(Duration::from_secs(5), || async {
        playlist(server.http).await
    })
    .await
    .expect("playlist after restart");
    eprintln!("serving {:?} after the restart began", started.elapsed());
    assert_eq!(after.media_sequence, before.media_sequence);
    let uris: Vec<&str> = after.segments.iter().map(|s| s.uri.as_str()).collect();
    for s in &before.segments {
        assert!(uris.contains(&s.uri.as_str()), "{} lost: {uris:?}", s.uri);
    }
    for s in &after.segments {
        let probed = fetch_and_probe(server.http, dir.path(), &s.uri).await;
        assert!(probed.video().next().is_some_and(|v| v.keyframe));
        let expected = (s.duration as f64 * 25.0).round() as usize;
        assert!(
            probed.video().count().abs_diff(expected) <= 1,
            "{}: {} pictures for {} s",
            s.uri,
            probed.video().count(),
            s.duration
        );
    }

    // The catch-up view of the pre-crash interval (read from the store's index after the
    // restart) lists exactly the segments completed before the crash, as a finished playlist,
    // and ffmpeg reads it through.
    let first = before.segments[0].uri.split('.').next().unwrap();
    let first: i64 = first.parse().unwrap();
    // The first whole second inside the buffer (a start before the oldest moment is refused).
    let from = (first + 89_999) / 90_000;
    // The end of the last completed segment, rounded up: past by the time of the crash (the
    // open segment had begun then), so not refused as in the future.
    let listed: f32 = before.segments.iter().map(|s| s.duration).sum();
    let to = (first + (f64::from(listed) * 90_000.0) as i64 + 89_999) / 90_000;
    let catch_up = format!("{PLAYLIST}?start={from}&end={to}");
    let r = get(server.http, &catch_up).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let vod = match m3u8_rs::parse_playlist_res(&r.body) {
        Ok(Playlist::MediaPlaylist(p)) => p,
        other => panic!("{other:?}"),
    };
    assert!(vod.end_list, "{}", r.text());
    let vod_uris: Vec<&str> = vod.segments.iter().map(|s| s.uri.as_str()).collect();
    let before_uris: Vec<&str> = before.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(vod_uris, before_uris, "the pre-crash segments, no more");
    let read = ffmpeg_reads(&server.url_of(&catch_up), "30").await;
    let total: f32 = before.segments.iter().map(|s| s.duration).sum();
    assert!(
        (read - f64::from(total)).abs() < 0.5,
        "read {read} s of {total} s"
    );

    // The publisher comes back: numbering continues, one discontinuity.
    let mut p = publisher(server.rtmp).await;
    p.metadata(320, 240).await.unwrap();
    p.send_tags(&tags, 0, false).await.unwrap();
    p.finish().await.unwrap();
    let last_before = after.media_sequence + after.segments.len() as u64 - 1;
    let resumed = wait_for(Duration::from_secs(10), || async {
        playlist(server.http)
            .await
            .filter(|p| p.media_sequence + p.segments.len() as u64 > last_before + 5)
    })
    .await
    .expect("five more segments");
    assert!(resumed.media_sequence >= after.media_sequence);
    let first_new = (last_before + 1 - resumed.media_sequence) as usize;
    assert!(resumed.segments[first_new].discontinuity);
    assert_eq!(
        resumed.segments.iter().filter(|s| s.discontinuity).count(),
        1
    );
}

/// A full disk: the data directory is a 1 MB tmpfs that the media fills about halfway through a
/// 30 s push. The live playlist keeps advancing to the end of the push, every segment it lists
/// is served and decodes, the error is logged, and the server stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_keeps_the_live_playlist_advancing() {
    if !require_tool("ffprobe") || !require_tool("unshare") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let channels = write_channel(dir.path());
    let data = dir.path().join("data");
    let Some(server) = ServerProcess::start_on_tmpfs(&channels, &data, 1 << 20) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs (unshare)"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    };
    let tags = fixture_tags(FIXTURE);
    let mut p = publisher(server.rtmp).await;
    p.metadata(320, 240).await.unwrap();
    let mut newest = Vec::new();
    for i in 0..3u32 {
        p.send_tags(&tags, i * 10_000, true).await.unwrap();
        let listed = playlist(server.http).await.expect("playlist");
        newest.push(listed.media_sequence + listed.segments.len() as u64);
    }
    p.finish().await.unwrap();
    eprintln!("newest sequence after each 10 s: {newest:?}");
    assert!(
        newest.windows(2).all(|w| w[1] >= w[0] + 4),
        "the playlist advanced 5 segments every 10 s: {newest:?}"
    );
    let mut log = Vec::new();
    while let Ok(line) = server.log.try_recv() {
        log.push(line);
    }
    assert!(
        log.iter().any(|l| l.contains("cannot write media data")),
        "the full disk was hit and logged"
    );
    let last = wait_for(Duration::from_secs(5), || async {
        playlist(server.http)
            .await
            .filter(|p| p.media_sequence + p.segments.len() as u64 >= 15)
    })
    .await
    .expect("all 15 segments of the push listed");
    for s in last.segments.iter().rev().take(5) {
        fetch_and_probe(server.http, dir.path(), &s.uri).await;
    }
    assert_eq!(get(server.http, "/healthz").await.unwrap().status, 200);
}
