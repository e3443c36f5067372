//! RTMP push to live HLS, end to end: a publisher written with rml_rtmp's client pushes a
//! real ffmpeg-made fixture; the playlists parse with m3u8-rs and ffprobe demuxes every segment.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::http::get;
use common::publisher::{PublishOutcome, Publisher};
use common::{channel_json, fixture_tags, require_tool, wait_for, TestServer, FIXTURE};
use m3u8_rs::{MediaPlaylist, Playlist};

fn two_windows_channel(id: &str) -> String {
    // One rendition; two HLS packages with the same 2 s segments: a 20 s window and a 6 s one.
    channel_json(id, &[400_000], 2, 20).replace(
        r#"}] }]"#,
        &format!(
            r#"}}, {{ "url": "pull.example.com/live/{id}/short.m3u8", "hls_version": "3",
                 "segment_duration_seconds": 2, "playlist_window_seconds": 6 }}] }}]"#
        ),
    )
}

async fn media_playlist(server: &TestServer, path: &str) -> Option<MediaPlaylist> {
    let r = get(server.http, path).await.ok()?;
    if r.status != 200 {
        return None;
    }
    match m3u8_rs::parse_playlist_res(&r.body) {
        Ok(Playlist::MediaPlaylist(p)) => Some(p),
        other => panic!("not a media playlist: {other:?}"),
    }
}

async fn publish(server: &TestServer, stream: &str) -> Publisher {
    match Publisher::connect(server.rtmp, "live", stream).await {
        PublishOutcome::Accepted(p) => *p,
        PublishOutcome::Refused(why) => panic!("publish refused: {why}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_replay_gives_valid_live_hls() {
    let server = TestServer::start(&[two_windows_channel("replay")]).await;
    let tags = fixture_tags(FIXTURE);
    let mut p = publish(
        &server,
        "replay_400000?request_source=ott&channel_id=replay",
    )
    .await;
    p.metadata(320, 240).await.unwrap();
    p.send_tags(&tags, 0, false).await.unwrap();
    p.finish().await.unwrap();

    // 10 s in 2 s segments: five segments once the publisher has left.
    let playlist = wait_for(Duration::from_secs(10), || async {
        media_playlist(&server, "/live/replay/index/400000/playlist.m3u8")
            .await
            .filter(|p| p.segments.len() == 5)
    })
    .await
    .expect("five segments listed");

    // Multivariant: one variant, described from the actual stream.
    let r = get(server.http, "/live/replay/index.m3u8").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert!(r.header("cache-control").unwrap().contains("max-age="));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let Ok(Playlist::MasterPlaylist(mv)) = m3u8_rs::parse_playlist_res(&r.body) else {
        panic!("not a multivariant playlist: {}", r.text());
    };
    assert_eq!(mv.variants.len(), 1);
    let v = &mv.variants[0];
    assert_eq!(v.bandwidth, 400_000);
    assert_eq!(v.uri, "index/400000/playlist.m3u8");
    let res = v.resolution.unwrap();
    assert_eq!((res.width, res.height), (320, 240));
    let codecs = v.codecs.clone().unwrap();
    assert!(
        codecs.starts_with("avc1.64") && codecs.ends_with(",mp4a.40.2"),
        "{codecs}"
    );
    assert_eq!(v.frame_rate, Some(25.0));

    // Media playlist header.
    assert_eq!(playlist.version, Some(3));
    assert_eq!(playlist.target_duration, 2);
    assert!(!playlist.end_list);
    assert!(playlist
        .segments
        .iter()
        .all(|s| s.program_date_time.is_some()));
    assert_eq!(
        playlist.segments.iter().filter(|s| s.discontinuity).count(),
        0
    );
    // PDT advances by EXTINF.
    for w in playlist.segments.windows(2) {
        let a = w[0].program_date_time.unwrap();
        let b = w[1].program_date_time.unwrap();
        let gap_ms = (b - a).num_milliseconds() as f64;
        assert!((gap_ms - f64::from(w[0].duration) * 1000.0).abs() <= 1.0);
    }

    // The short package lists three segments: window 6 s of 2 s segments.
    let short = media_playlist(&server, "/live/replay/short/400000/playlist.m3u8")
        .await
        .unwrap();
    assert_eq!(short.segments.len(), 3);
    assert_eq!(short.media_sequence, playlist.media_sequence + 2);
    let total: f32 = short.segments.iter().map(|s| s.duration).sum();
    assert!(total <= 6.001);

    if !require_tool("ffprobe") {
        server.stop().await;
        return;
    }
    let dir = std::env::temp_dir().join(format!("hw-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut probes = Vec::new();
    for (i, seg) in playlist.segments.iter().enumerate() {
        let r = get(
            server.http,
            &format!("/live/replay/index/400000/{}", seg.uri),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "segment {}", seg.uri);
        assert_eq!(r.header("content-type"), Some("video/mp2t"));
        assert!(r.header("cache-control").unwrap().contains("immutable"));
        assert_eq!(r.body.len() % 188, 0);
        let path = dir.join(format!("{i}.ts"));
        std::fs::write(&path, &r.body).unwrap();
        let probe = common::probe::probe(&path);
        assert_eq!(probe.codecs, vec!["h264", "aac"], "segment {i}");
        assert_eq!((probe.width, probe.height), (Some(320), Some(240)));
        let first = probe.video().next().expect("video packets");
        assert!(first.keyframe, "segment {i} starts with a keyframe");
        probes.push(probe);
    }
    std::fs::remove_dir_all(&dir).ok();

    let frame = 3600; // 25 fps on the 90 kHz clock
    for i in 0..probes.len() {
        let v: Vec<_> = probes[i].video().collect();
        let first_dts = v[0].dts;
        let min_pts = v.iter().map(|p| p.pts).min().unwrap();
        let max_pts = v.iter().map(|p| p.pts).max().unwrap();
        // EXTINF equals the media duration within 1 ms.
        let media_duration = match probes.get(i + 1) {
            Some(next) => next.video().next().unwrap().dts - first_dts,
            None => v.last().unwrap().dts + frame - first_dts,
        };
        let extinf_ticks = f64::from(playlist.segments[i].duration) * 90_000.0;
        assert!(
            (extinf_ticks - media_duration as f64).abs() <= 90.0,
            "segment {i}: EXTINF {extinf_ticks} vs media {media_duration}"
        );
        if let Some(next) = probes.get(i + 1) {
            // Video presentation continues from one segment to the next.
            let next_min = next.video().map(|p| p.pts).min().unwrap();
            let gap = next_min - (max_pts + frame);
            assert!(gap.abs() <= frame, "segment {i}: video pts gap {gap}");
        }
        // Audio present and within one frame of the first picture shown.
        let first_audio = probes[i].audio().next().expect("audio packets").pts;
        if i > 0 {
            assert!(
                (first_audio - min_pts).abs() <= frame,
                "segment {i}: audio {first_audio} vs video {min_pts}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_gives_one_discontinuity_and_monotonic_sequence() {
    let server = TestServer::start(&[channel_json("again", &[400_000], 2, 60)]).await;
    let tags = fixture_tags(FIXTURE);
    let path = "/live/again/index/400000/playlist.m3u8";

    let mut p = publish(&server, "again_400000").await;
    p.send_tags(&tags, 0, false).await.unwrap();
    // Drop TCP without deleteStream, as some encoders do.
    p.drop_connection();
    let first = wait_for(Duration::from_secs(10), || async {
        media_playlist(&server, path)
            .await
            .filter(|p| p.segments.len() == 5)
    })
    .await
    .expect("first session sealed");

    // The publisher comes back with its clock restarted at zero.
    let mut p = wait_for(Duration::from_secs(5), || async {
        match Publisher::connect(server.rtmp, "live", "again_400000").await {
            PublishOutcome::Accepted(p) => Some(*p),
            PublishOutcome::Refused(_) => None,
        }
    })
    .await
    .expect("republish accepted once the first session ended");
    p.send_tags(&tags, 0, false).await.unwrap();
    p.finish().await.unwrap();
    let second = wait_for(Duration::from_secs(10), || async {
        media_playlist(&server, path)
            .await
            .filter(|p| p.segments.len() == 10)
    })
    .await
    .expect("second session sealed");

    assert_eq!(
        second.media_sequence, first.media_sequence,
        "old segments stay listed"
    );
    let disc: Vec<usize> = second
        .segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.discontinuity)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(disc, vec![5], "exactly one discontinuity, at the reconnect");
    assert_eq!(second.discontinuity_sequence, 0);
    // Segment names (start times) only grow.
    let starts: Vec<i64> = second
        .segments
        .iter()
        .map(|s| s.uri.trim_end_matches(".ts").parse().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[1] > w[0]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_unknown_names_and_a_second_publisher() {
    let server = TestServer::start(&[channel_json("solo", &[400_000], 2, 10)]).await;
    for (app, stream) in [
        ("nope", "solo_400000"),
        ("live", "solo_999"),
        ("live", "other_400000"),
    ] {
        match Publisher::connect(server.rtmp, app, stream).await {
            PublishOutcome::Refused(_) => {}
            PublishOutcome::Accepted(_) => panic!("{app}/{stream} must be refused"),
        }
    }
    let tags = fixture_tags(FIXTURE);
    let mut first = publish(&server, "solo_400000").await;
    first.send_tags(&tags[..50], 0, false).await.unwrap();
    match Publisher::connect(server.rtmp, "live", "solo_400000").await {
        PublishOutcome::Refused(_) => {}
        PublishOutcome::Accepted(_) => panic!("second publisher must be refused"),
    }
    // The first keeps going.
    first.send_tags(&tags[50..], 0, false).await.unwrap();
    first.finish().await.unwrap();
    let p = wait_for(Duration::from_secs(10), || async {
        media_playlist(&server, "/live/solo/index/400000/playlist.m3u8")
            .await
            .filter(|p| p.segments.len() == 5)
    })
    .await;
    assert!(p.is_some(), "the first publisher's media is all there");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_get_plain_404_and_options_get_cors() {
    let server = TestServer::start(&[channel_json("web", &[400_000], 2, 10)]).await;
    for path in [
        "/",
        "/nothing.m3u8",
        "/live/web/index.m3u8",
        "/live/web/index/400000/playlist.m3u8",
        "/live/web/index/400000/123.ts",
        "/live/web/index/999/playlist.m3u8",
        "/live/web/index/400000/abc.ts",
    ] {
        let r = get(server.http, path).await.unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
    let r = common::http::request(server.http, "OPTIONS", "/live/web/index.m3u8")
        .await
        .unwrap();
    assert!(r.status < 300);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = get(server.http, "/healthz").await.unwrap();
    assert_eq!(r.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_renditions_give_two_aligned_variants() {
    let server = TestServer::start(&[channel_json("abr", &[400_000, 800_000], 2, 30)]).await;
    let tags = fixture_tags(FIXTURE);
    // Both renditions from one encoder: same input timestamps, published together.
    let mut hi = publish(&server, "abr_800000").await;
    let mut lo = publish(&server, "abr_400000").await;
    for tag in &tags {
        hi.send_tag(tag, 0).await.unwrap();
        lo.send_tag(tag, 0).await.unwrap();
    }
    hi.finish().await.unwrap();
    lo.finish().await.unwrap();
    let lists = wait_for(Duration::from_secs(10), || async {
        let a = media_playlist(&server, "/live/abr/index/400000/playlist.m3u8").await?;
        let b = media_playlist(&server, "/live/abr/index/800000/playlist.m3u8").await?;
        (a.segments.len() >= 4 && b.segments.len() >= 4).then_some((a, b))
    })
    .await
    .expect("both renditions have segments");
    let r = get(server.http, "/live/abr/index.m3u8").await.unwrap();
    let Ok(Playlist::MasterPlaylist(mv)) = m3u8_rs::parse_playlist_res(&r.body) else {
        panic!("not a multivariant playlist");
    };
    let mut bw: Vec<u64> = mv.variants.iter().map(|v| v.bandwidth).collect();
    bw.sort_unstable();
    assert_eq!(bw, vec![400_000, 800_000]);
    // Cut on the same timeline multiples: every shared start time is on a 2 s boundary grid,
    // and the two renditions' segment starts differ by less than the publish skew (< 1 s).
    let (a, b) = lists;
    for (x, y) in a.segments.iter().zip(b.segments.iter()).skip(1) {
        let sx: i64 = x.uri.trim_end_matches(".ts").parse().unwrap();
        let sy: i64 = y.uri.trim_end_matches(".ts").parse().unwrap();
        assert!((sx - sy).abs() < 90_000, "{sx} vs {sy}");
    }
    server.stop().await;
}

/// Enhanced RTMP tags (FourCC `hvc1`, as OBS 29.1+ and ffmpeg 6.1+ send H.265) and AAC tags
/// made from the H.265 MPEG-TS fixture: ffmpeg 5.1 cannot write Enhanced RTMP, so the test
/// publisher sends what such an encoder sends.
fn enhanced_rtmp_hevc_tags() -> Vec<media::flv::FlvTag> {
    use media::flv::FlvTagType;
    use media::ts::{TsDemuxer, TsEvent};
    use media::{CodecConfig, TrackKind};
    let ts = std::fs::read(common::fixture_path(
        "ffmpeg-5.1_hevc-aac_320x240_25fps_4s_2s-gop.ts",
    ))
    .unwrap();
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    demuxer.push(&ts, &mut events);
    demuxer.finish(&mut events);
    let first_dts = events
        .iter()
        .find_map(|e| match e {
            TsEvent::Frame(f) => Some(f.dts.ticks),
            _ => None,
        })
        .unwrap();
    let ms = |ticks: i64| ((ticks - first_dts) / 90) as u32;
    let mut tags = Vec::new();
    let mut tag = |tag_type, timestamp_ms, body: Vec<u8>| {
        tags.push(common::publisher::tag(tag_type, timestamp_ms, body))
    };
    for event in events {
        match event {
            TsEvent::Track(t) => match &t.codec {
                CodecConfig::Hevc(c) => {
                    // IsExHeader | keyframe | SequenceStart, FourCC, the record.
                    let mut body = vec![0x90, b'h', b'v', b'c', b'1'];
                    body.extend_from_slice(&c.record);
                    tag(FlvTagType::Video, 0, body);
                }
                CodecConfig::Aac(c) => {
                    let mut body = vec![0xAF, 0x00];
                    body.extend_from_slice(&c.asc);
                    tag(FlvTagType::Audio, 0, body);
                }
                CodecConfig::Avc(_) => panic!("the fixture is H.265"),
            },
            TsEvent::Frame(f) if f.kind == TrackKind::Video => {
                let cts = ((f.pts.ticks - f.dts.ticks) / 90) as i32;
                let frame_type = if f.keyframe { 0x10 } else { 0x20 };
                // IsExHeader | frame type | CodedFrames, FourCC, SI24 composition time.
                let mut body = vec![0x80 | frame_type | 1, b'h', b'v', b'c', b'1'];
                body.extend_from_slice(&cts.to_be_bytes()[1..]);
                body.extend_from_slice(&f.data);
                tag(FlvTagType::Video, ms(f.dts.ticks), body);
            }
            TsEvent::Frame(f) => {
                let mut body = vec![0xAF, 0x01];
                body.extend_from_slice(&f.data);
                tag(FlvTagType::Audio, ms(f.dts.ticks), body);
            }
            TsEvent::Error(e) => panic!("fixture: {e}"),
        }
    }
    tags.sort_by_key(|t| t.timestamp_ms);
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhanced_rtmp_h265_push_gives_h265_hls() {
    if !require_tool("ffprobe") || !require_tool("ffmpeg") {
        return;
    }
    let server = TestServer::start(&[channel_json("hevc", &[400_000], 2, 20)]).await;
    let tags = enhanced_rtmp_hevc_tags();
    let mut publisher = publish(&server, "hevc_400000").await;
    // Three passes of the 4 s fixture, in real time, on one continuing clock.
    for pass in 0..3u32 {
        publisher.send_tags(&tags, pass * 4000, true).await.unwrap();
    }
    publisher.finish().await.unwrap();
    let listed = wait_for(Duration::from_secs(5), || async {
        let p = media_playlist(&server, "/live/hevc/index/400000/playlist.m3u8").await?;
        (p.segments.len() >= 4).then_some(())
    })
    .await;
    assert!(
        listed.is_some(),
        "H.265 segments listed after the RTMP push"
    );
    let variants = get(server.http, "/live/hevc/index.m3u8")
        .await
        .unwrap()
        .text();
    assert!(variants.contains("hvc1.1.6.L60.90"), "{variants}");
    let (codecs, size) = common::probe::probe_url(&server.url("/live/hevc/index.m3u8")).await;
    assert!(
        codecs.iter().any(|c| c == "hevc") && codecs.iter().any(|c| c == "aac"),
        "{codecs:?}"
    );
    assert_eq!(size, Some((320, 240)));
    let read = common::probe::ffmpeg_reads(&server.url("/live/hevc/index.m3u8"), "7").await;
    assert!(read >= 6.5, "ffmpeg -xerror read {read} s of the H.265 HLS");
    server.stop().await;
}
