//! Bad input never hurts a good channel: random bytes, a truncated handshake, the data message
//! that panics rml_rtmp, and 500 connections that send nothing, all while a good publisher
//! pushes in real time. The good channel's segments keep appearing on time and memory stays
//! bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::http::get;
use common::publisher::{PublishOutcome, Publisher};
use common::{channel_json, fixture_tags, wait_for, TestServer, FIXTURE};
use ingest::rtmp::RtmpLimits;
use rml_rtmp::chunk_io::ChunkSerializer;
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The AMF0 data message `["@setDataFrame"]` with nothing after it.
fn bare_set_data_frame() -> Vec<u8> {
    let msg = RtmpMessage::Amf0Data {
        values: vec![rml_amf0::Amf0Value::Utf8String("@setDataFrame".into())],
    };
    let payload = msg.into_message_payload(RtmpTimestamp::new(0), 1).unwrap();
    let mut ser = ChunkSerializer::new();
    ser.serialize(&payload, true, false).unwrap().bytes
}

/// Whether the server closes `s` within `timeout`.
async fn closed_by_server(s: &mut TcpStream, timeout: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_does_not_disturb_a_good_channel() {
    let limits = RtmpLimits {
        handshake_timeout: Duration::from_secs(3),
        idle_timeout: Duration::from_secs(5),
        ..RtmpLimits::default()
    };
    let server = TestServer::start_with(
        &[
            channel_json("good", &[400_000], 2, 30),
            channel_json("bad", &[400_000], 2, 30),
        ],
        limits,
    )
    .await;
    let rss_before = rss_kib();

    // The good publisher pushes 10 s of media in real time.
    let tags = fixture_tags(FIXTURE);
    let good = match Publisher::connect(server.rtmp, "live", "good_400000").await {
        PublishOutcome::Accepted(p) => *p,
        PublishOutcome::Refused(why) => panic!("good publisher refused: {why}"),
    };
    let good_task = tokio::spawn(async move {
        let mut good = good;
        good.send_tags(&tags, 0, true).await.unwrap();
        good.finish().await.unwrap();
    });

    // Watch the good playlist: when does each segment appear, compared to its media end?
    let http = server.http;
    let watcher = tokio::spawn(async move {
        let mut seen = std::collections::HashMap::new();
        let mut lateness_ms = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(25);
        while Instant::now() < deadline && seen.len() < 5 {
            if let Ok(r) = get(http, "/live/good/index/400000/playlist.m3u8").await {
                if r.status == 200 {
                    if let Ok(m3u8_rs::Playlist::MediaPlaylist(p)) =
                        m3u8_rs::parse_playlist_res(&r.body)
                    {
                        let now = chrono::Utc::now();
                        for s in &p.segments {
                            if seen.insert(s.uri.clone(), ()).is_none() {
                                let end = s.program_date_time.unwrap()
                                    + chrono::Duration::milliseconds((s.duration * 1000.0) as i64);
                                lateness_ms.push(
                                    (now - end.with_timezone(&chrono::Utc)).num_milliseconds(),
                                );
                            }
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        lateness_ms
    });

    // 1. Random bytes, before and after a valid handshake start.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..20 {
        let mut s = TcpStream::connect(server.rtmp).await.unwrap();
        let mut junk = vec![0u8; 1 + (i * 397) % 5000];
        for b in junk.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        if i % 2 == 0 {
            junk[0] = 3; // a valid C0, then garbage
        }
        let _ = s.write_all(&junk).await;
        assert!(
            closed_by_server(&mut s, Duration::from_secs(8)).await,
            "junk connection {i} closed"
        );
    }

    // 2. A truncated handshake: C0 and half of C1, then silence.
    let mut s = TcpStream::connect(server.rtmp).await.unwrap();
    let mut c0c1 = vec![3u8];
    c0c1.extend(std::iter::repeat_n(7u8, 700));
    s.write_all(&c0c1).await.unwrap();
    assert!(
        closed_by_server(&mut s, Duration::from_secs(8)).await,
        "truncated handshake closed"
    );

    // 3. The data message that makes rml_rtmp panic, on a publishing connection.
    let mut bad = match Publisher::connect(server.rtmp, "live", "bad_400000").await {
        PublishOutcome::Accepted(p) => *p,
        PublishOutcome::Refused(why) => panic!("bad publisher refused: {why}"),
    };
    bad.send_raw(&bare_set_data_frame()).await.unwrap();
    assert!(
        bad.read_until_closed(Duration::from_secs(5)).await,
        "the connection that sent [\"@setDataFrame\"] is closed"
    );
    // Its stream can be published again right away: the slot was released.
    let again = wait_for(Duration::from_secs(5), || async {
        match Publisher::connect(server.rtmp, "live", "bad_400000").await {
            PublishOutcome::Accepted(p) => Some(*p),
            PublishOutcome::Refused(_) => None,
        }
    })
    .await;
    assert!(again.is_some(), "the bad stream name is free again");
    drop(again);

    // 4. 500 connections that send nothing.
    let rss_before_idle = rss_kib();
    let mut idle = Vec::new();
    for _ in 0..500 {
        if let Ok(s) = TcpStream::connect(server.rtmp).await {
            idle.push(s);
        }
    }
    assert_eq!(idle.len(), 500);
    let rss_with_idle = rss_kib();
    let mut closed = 0;
    for s in idle.iter_mut() {
        if closed_by_server(s, Duration::from_secs(6)).await {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 500,
        "idle connections are closed by the handshake timeout"
    );
    drop(idle);

    good_task.await.unwrap();
    let lateness = watcher.await.unwrap();
    assert_eq!(
        lateness.len(),
        5,
        "all five good segments appeared: {lateness:?}"
    );
    // A segment is listed when the next keyframe arrives: at its media end, plus polling.
    // The last one is sealed when the publisher leaves.
    let worst = lateness.iter().copied().max().unwrap();
    assert!(worst <= 1500, "good segments were late: {lateness:?} ms");

    let rss_after = rss_kib();
    eprintln!(
        "RSS KiB: start {rss_before}, before idle {rss_before_idle}, with 500 idle {rss_with_idle}, end {rss_after}"
    );
    // Idle connections cost little each (a task and a socket; no read buffer fills).
    let idle_cost = rss_with_idle.saturating_sub(rss_before_idle);
    assert!(
        idle_cost < 64 * 1024,
        "500 idle connections cost {idle_cost} KiB"
    );
    // The whole test (a good channel's window, junk sessions, idle ones) stays bounded.
    let total = rss_after.saturating_sub(rss_before);
    assert!(total < 256 * 1024, "the process grew by {total} KiB");
    server.stop().await;
}
