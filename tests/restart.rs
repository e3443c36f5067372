//! Crash safety of the store: a server killed with SIGKILL in the middle of a segment serves,
//! after a restart, every segment it had completed, each decodable, and the channel continues
//! with one discontinuity and media sequence numbers that do not go back.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http::get;
use common::probe::probe;
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
    let channels = dir.path().join("channels.json");
    std::fs::write(
        &channels,
        format!("[{}]", channel_json("crash", &[400_000], 2, 60)),
    )
    .unwrap();
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
    let base = PLAYLIST.rsplit_once('/').unwrap().0;
    for s in &after.segments {
        let r = get(server.http, &format!("{base}/{}", s.uri))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", s.uri);
        let file = dir.path().join("segment.ts");
        std::fs::write(&file, &r.body).unwrap();
        let probed = probe(&file);
        assert_eq!(probed.codecs, ["h264", "aac"], "{}", s.uri);
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
