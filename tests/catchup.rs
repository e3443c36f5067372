//! Catch-up, timeshift and live delay end to end, in every format: a publisher pushes 30 s in
//! real time to a channel with a rolling buffer; the live HLS playlist, polled during the push,
//! gives the segments the channel made (the expected lists). Then:
//!
//! - `?delay=` (during the push) lists a live window ending that long before now;
//! - `?back=` lists a window that lies wholly before the live window (read from the store's
//!   catch-up index), and every segment it names is served;
//! - `?start=&end=` gives a finished view (HLS `EXT-X-ENDLIST`, static MPD, non-live Smooth)
//!   listing exactly the segments overlapping the interval, across the store and the live
//!   window, which ffmpeg reads through without error;
//! - requests outside the buffer, longer than 24 h, malformed or mixing kinds get a 400.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::http::get;
use common::probe::{ffmpeg_reads, ffmpeg_reads_all};
use common::publisher::{PublishOutcome, Publisher};
use common::{fixture_tags, require_tool, TestServer, FIXTURE};

const ID: &str = "catchup";
const BITRATE: u64 = 400_000;
const SEGMENT_SECS: i64 = 2;
const HLS: &str = "/live/catchup/index.m3u8";
const HLS_MEDIA: &str = "/live/catchup/index/400000/playlist.m3u8";
const FMP4: &str = "/live/catchup/cmaf.m3u8";
const FMP4_MEDIA: &str = "/live/catchup/cmaf/400000/playlist.m3u8";
const DASH: &str = "/live/catchup/manifest.mpd";
/// 4 s segments: groups of two stored 2 s segments.
const LONG_MEDIA: &str = "/live/catchup/long/400000/playlist.m3u8";
const MSS: &str = "/live/catchup/mss/Manifest";

/// Four packages with a 6 s window over 2 s segments and a one-hour rolling buffer: the live
/// window holds about the last 12 s, older media only the store. DASH names its parameters
/// itself (`begin`/`finish` as dates, `rewind` in milliseconds).
fn channel() -> String {
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "{ID}", "state": "ON",
  "input": {{ "input_protocol": "RTMP_PUSH", "sources": [{{"bitrate": {BITRATE}, "width": 320, "height": 240}}] }},
  "record_settings": {{ "rollingbuffer_duration": 3600 }},
  "endpoints": [{{
    "hls_package": [
      {{ "url": "pull.example.com/live/{ID}/index.m3u8", "hls_version": "3",
         "segment_duration_seconds": 2, "playlist_window_seconds": 6 }},
      {{ "url": "pull.example.com/live/{ID}/cmaf.m3u8", "hls_version": "7",
         "segment_duration_seconds": 2, "playlist_window_seconds": 6 }},
      {{ "url": "pull.example.com/live/{ID}/long.m3u8", "hls_version": "3",
         "segment_duration_seconds": 4, "playlist_window_seconds": 12 }}
    ],
    "dash_package": [
      {{ "url": "pull.example.com/live/{ID}/manifest.mpd",
         "segment_duration_seconds": 2, "playlist_window_seconds": 6,
         "request_args": {{
           "record": [{{ "start_time": "begin", "end_time": "finish", "format": "YYYYMMDDHHmmss" }}],
           "timeshift": [{{ "back_time": "rewind", "unit": "millisecond" }}]
         }} }}
    ],
    "mss_package": [
      {{ "url": "pull.example.com/live/{ID}/mss/Manifest",
         "segment_duration_seconds": 2, "playlist_window_seconds": 6 }}
    ]
  }}]
}}"#
    )
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The segment starts (90 kHz) an HLS media playlist lists, from URIs `{start}.ts`/`.m4s`,
/// with whether it ends the list.
fn hls_starts(body: &str) -> (Vec<i64>, bool) {
    let starts = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let name = l.rsplit('/').next().unwrap();
            name.split('.').next().unwrap().parse::<i64>().unwrap()
        })
        .collect();
    (starts, body.contains("#EXT-X-ENDLIST"))
}

/// Every `name="value"` attribute of the first element named `element` (`<element `).
fn attribute(body: &str, element: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("<{element} "))?;
    let rest = &body[at..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let key = format!(" {name}=\"");
    let v = tag.find(&key)? + key.len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_string())
}

/// The video segment starts (90 kHz) of a DASH MPD: the `S` elements of the video
/// AdaptationSet's timeline (`t`, `d`, `r`) in its SegmentTemplate's timescale, across Periods.
fn dash_video_starts(body: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find("contentType=\"video\"") {
        rest = &rest[at..];
        let set_end = rest.find("</AdaptationSet>").unwrap();
        let set = &rest[..set_end];
        let timescale: i64 = attribute(set, "SegmentTemplate", "timescale")
            .unwrap()
            .parse()
            .unwrap();
        let mut t = 0i64;
        for s in set.split("<S ").skip(1) {
            let s = &s[..s.find("/>").unwrap()];
            let get = |k: &str| {
                let key = format!("{k}=\"");
                s.find(&key).map(|i| {
                    let v = &s[i + key.len()..];
                    v[..v.find('"').unwrap()].parse::<i64>().unwrap()
                })
            };
            if let Some(start) = get("t") {
                t = start;
            }
            let d = get("d").unwrap();
            for _ in 0..=get("r").unwrap_or(0) {
                out.push((i128::from(t) * 90_000 / i128::from(timescale)) as i64);
                t += d;
            }
        }
        rest = &rest[set_end..];
    }
    out
}

/// Smooth `c` starts of the video StreamIndex, as 90 kHz channel time.
fn mss_video_starts(body: &str) -> Vec<i64> {
    let at = body.find("Type=\"video\"").unwrap();
    let rest = &body[at..];
    let set = &rest[..rest.find("</StreamIndex>").unwrap()];
    let mut out = Vec::new();
    let mut t = 0i128;
    for c in set.split("<c ").skip(1) {
        let c = &c[..c.find("/>").unwrap()];
        let get = |k: &str| {
            let key = format!("{k}=\"");
            c.find(&key).map(|i| {
                let v = &c[i + key.len()..];
                v[..v.find('"').unwrap()].parse::<i128>().unwrap()
            })
        };
        if let Some(start) = get("t") {
            t = start;
        }
        // 100 ns units since 2020-01-01 to 90 kHz since 1970, to the nearest tick.
        out.push(((t * 9 + 500) / 1000 + 1_577_836_800 * 90_000) as i64);
        t += get("d").unwrap();
    }
    out
}

fn smooth_fragment_urls(body: &str, starts: &[i64]) -> Vec<String> {
    assert!(body.contains("QualityLevels({bitrate})/Fragments(video={start time})"));
    starts
        .iter()
        .map(|s| {
            let hns = (i128::from(*s) - 1_577_836_800 * 90_000) * 1000 / 9;
            format!("/live/catchup/mss/QualityLevels({BITRATE})/Fragments(video={hns})")
        })
        .collect()
}

/// The segments of `truth` (start → end, 90 kHz) overlapping `[from, to)` seconds.
fn overlapping(truth: &BTreeMap<i64, i64>, from: f64, to: f64) -> Vec<i64> {
    truth
        .iter()
        .filter(|(s, e)| (**e as f64) / 90_000.0 > from && (**s as f64) / 90_000.0 < to)
        .map(|(s, _)| *s)
        .collect()
}

/// `YYYYMMDDHHmmss` (UTC) of Unix seconds.
fn date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y%m%d%H%M%S")
        .to_string()
}

async fn body(http: std::net::SocketAddr, path: &str) -> String {
    let r = get(http, path).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_args_in_every_format() {
    if !require_tool("ffmpeg") {
        return;
    }
    let server = TestServer::start(&[channel()]).await;
    let http = server.http;
    let rtmp = server.rtmp;
    let tags = fixture_tags(FIXTURE);
    let push = tokio::spawn(async move {
        let mut p = match Publisher::connect(rtmp, "live", &format!("{ID}_{BITRATE}")).await {
            PublishOutcome::Accepted(p) => *p,
            PublishOutcome::Refused(why) => panic!("publish refused: {why}"),
        };
        p.metadata(320, 240).await.unwrap();
        for i in 0..3u32 {
            p.send_tags(&tags, i * 10_000, true).await.unwrap();
        }
        p.finish().await.unwrap();
    });

    // The expected segments: every one the live playlist lists during the push.
    let mut truth: BTreeMap<i64, i64> = BTreeMap::new();
    let mut delayed = Vec::new();
    let started = std::time::Instant::now();
    while !push.is_finished() && started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = get(http, HLS_MEDIA).await {
            if r.status == 200 {
                let text = r.text();
                let mut duration = None;
                for line in text.lines() {
                    if let Some(d) = line.strip_prefix("#EXTINF:") {
                        duration = d.split(',').next().and_then(|d| d.parse::<f64>().ok());
                    } else if !line.starts_with('#') && !line.is_empty() {
                        let (starts, _) = hls_starts(line);
                        let d = (duration.unwrap() * 90_000.0).round() as i64;
                        truth.insert(starts[0], starts[0] + d);
                    }
                }
            }
        }
        // Live delay, once the live window has moved on (about 24 s in).
        if delayed.is_empty() && started.elapsed() > Duration::from_secs(24) {
            let before = now_secs();
            let hls = body(http, &format!("{HLS_MEDIA}?delay=10")).await;
            let dash = body(http, &format!("{DASH}?delay=10")).await;
            let mss = body(http, &format!("{MSS}?delay=10")).await;
            delayed.push((before, now_secs(), hls, dash, mss));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    push.await.unwrap();
    // The last segment is sealed when the publisher leaves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (starts, _) = hls_starts(&body(http, HLS_MEDIA).await);
    assert!(starts.iter().all(|s| truth.contains_key(s)) || truth.len() >= 14);
    assert!(truth.len() >= 13, "{} segments seen", truth.len());
    let first = *truth.keys().next().unwrap() as f64 / 90_000.0;
    let seen: Vec<i64> = truth.keys().copied().collect();
    eprintln!("{} segments from {first}", seen.len());

    // Delay: a live window whose newest segment ended at least 10 s before the request.
    let (before, after, hls, dash, mss) = delayed.pop().expect("delay checked during the push");
    let (listed, ended) = hls_starts(&hls);
    assert!(!ended);
    assert!(listed.len() >= 3, "{hls}");
    let position = seen.iter().position(|s| *s == listed[0]).unwrap();
    assert_eq!(
        listed,
        seen[position..position + listed.len()],
        "consecutive"
    );
    let last_end = truth[listed.last().unwrap()] as f64 / 90_000.0;
    assert!(last_end <= after - 10.0 + 0.05, "{last_end} vs {after}");
    assert!(
        last_end >= before - 10.0 - 2.0 * SEGMENT_SECS as f64 - 0.5,
        "{last_end} vs {before}"
    );
    assert_eq!(
        attribute(&dash, "MPD", "availabilityStartTime").as_deref(),
        Some("1970-01-01T00:00:10Z")
    );
    assert_eq!(attribute(&dash, "MPD", "type").as_deref(), Some("dynamic"));
    let dash_listed = dash_video_starts(&dash);
    assert_eq!(dash_listed.last(), listed.last(), "{dash}");
    assert!(mss.contains("IsLive=\"TRUE\""));
    let mss_listed = mss_video_starts(&mss);
    assert_eq!(mss_listed.last(), listed.last(), "{mss}");

    // Timeshift: a window ending 20 s ago lies before the live window; every segment it
    // lists is served from the store.
    let now = now_secs();
    let live_oldest = hls_starts(&body(http, HLS_MEDIA).await).0[0];
    for (path, query) in [
        (HLS_MEDIA, "back=20"),
        (FMP4_MEDIA, "back=20"),
        (DASH, "rewind=20000"),
        (MSS, "back=20"),
    ] {
        let text = body(http, &format!("{path}?{query}")).await;
        let listed = match path {
            DASH => dash_video_starts(&text),
            MSS => mss_video_starts(&text),
            _ => hls_starts(&text).0,
        };
        assert!(listed.len() >= 3, "{path}?{query}: {text}");
        let last_end = truth[listed.last().unwrap()] as f64 / 90_000.0;
        assert!(
            last_end <= now_secs() - 20.0 + 0.05,
            "{path}: {last_end} vs {now}"
        );
        assert!(
            last_end >= now - 20.0 - 2.0 * SEGMENT_SECS as f64 - 0.5,
            "{path}"
        );
        let position = seen.iter().position(|s| *s == listed[0]).unwrap();
        assert_eq!(listed, seen[position..position + listed.len()], "{path}");
        assert!(
            listed.iter().all(|s| *s < live_oldest),
            "{path}: {listed:?} should lie before the live window from {live_oldest}"
        );
        let urls: Vec<String> = match path {
            HLS_MEDIA => listed
                .iter()
                .map(|s| format!("/live/catchup/index/400000/{s}.ts"))
                .collect(),
            FMP4_MEDIA => listed
                .iter()
                .map(|s| format!("/live/catchup/cmaf/400000/{s}.m4s"))
                .collect(),
            DASH => {
                let video = &text[text.find("contentType=\"video\"").unwrap()..];
                let media = attribute(video, "SegmentTemplate", "media").unwrap();
                let timescale: i64 = attribute(video, "SegmentTemplate", "timescale")
                    .unwrap()
                    .parse()
                    .unwrap();
                listed
                    .iter()
                    .map(|s| {
                        let name = media
                            .replace("$RepresentationID$", &format!("video-{BITRATE}"))
                            .replace(
                                "$Time$",
                                &(i128::from(*s) * i128::from(timescale) / 90_000).to_string(),
                            );
                        format!("/live/catchup/{name}")
                    })
                    .collect()
            }
            _ => smooth_fragment_urls(&text, &listed),
        };
        for url in urls {
            let r = get(http, &url).await.unwrap();
            assert_eq!(r.status, 200, "{url} from {text}");
            assert!(r.body.len() > 1000, "{url}");
        }
    }
    let _ = now;

    // Catch-up: [first + 3 s, first + 25 s) lists every segment overlapping it, from the
    // store and the live window, as a finished presentation.
    let (from, to) = ((first + 3.0).floor() as i64, (first + 25.0).floor() as i64);
    let expected = overlapping(&truth, from as f64, to as f64);
    assert!(expected.len() >= 11, "{expected:?}");
    assert!(expected[0] < live_oldest && *expected.last().unwrap() >= live_oldest);
    let query = format!("start={from}&end={to}");
    let multivariant = body(http, &format!("{HLS}?{query}")).await;
    assert!(
        multivariant.contains(&format!("playlist.m3u8?{query}")),
        "{multivariant}"
    );
    for media in [HLS_MEDIA, FMP4_MEDIA] {
        let text = body(http, &format!("{media}?{query}")).await;
        let (listed, ended) = hls_starts(&text);
        assert!(ended, "{text}");
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD"));
        assert_eq!(listed, expected, "{media}");
    }
    let read = ffmpeg_reads(&server.url(&format!("{HLS}?{query}")), "60").await;
    let total = (truth[expected.last().unwrap()] - expected[0]) as f64 / 90_000.0;
    assert!((read - total).abs() < 1.0, "read {read} s of {total} s");
    let read = ffmpeg_reads(&server.url(&format!("{FMP4}?{query}")), "60").await;
    assert!(
        (read - total).abs() < 1.0,
        "fMP4: read {read} s of {total} s"
    );

    // The 4 s package groups stored segments by 4 s of channel time, as its live playlist
    // does; the recording is widened to whole groups.
    let mut groups: Vec<(i64, i64)> = Vec::new();
    for (&start, &end) in &truth {
        match groups.last_mut() {
            Some(g) if g.0.div_euclid(4 * 90_000) == start.div_euclid(4 * 90_000) => g.1 = end,
            _ => groups.push((start, end)),
        }
    }
    // Starting on a 4 s boundary: the group covering it began in the bucket before (a group
    // ends with the member that crosses its bucket's end).
    let from_long = ((first + 3.0) / 4.0).ceil() as i64 * 4;
    let expected_groups: Vec<i64> = groups
        .iter()
        .filter(|(s, e)| {
            (*e as f64) / 90_000.0 > from_long as f64 && (*s as f64) / 90_000.0 < to as f64
        })
        .map(|(s, _)| *s)
        .collect();
    let query_long = format!("start={from_long}&end={to}");
    let text = body(http, &format!("{LONG_MEDIA}?{query_long}")).await;
    let (listed, ended) = hls_starts(&text);
    assert!(ended, "{text}");
    assert_eq!(listed, expected_groups, "{text}");
    let read = ffmpeg_reads_all(&server.url(&format!("{LONG_MEDIA}?{query_long}"))).await;
    let group_total = (groups
        .iter()
        .find(|g| g.0 == *listed.last().unwrap())
        .unwrap()
        .1
        - listed[0]) as f64
        / 90_000.0;
    assert!(
        (read - group_total).abs() < 1.0,
        "4 s: read {read} s of {group_total} s"
    );

    let dash = body(
        http,
        &format!("{DASH}?begin={}&finish={}", date(from), date(to)),
    )
    .await;
    assert_eq!(
        attribute(&dash, "MPD", "type").as_deref(),
        Some("static"),
        "{dash}"
    );
    assert!(attribute(&dash, "MPD", "mediaPresentationDuration").is_some());
    assert_eq!(dash_video_starts(&dash), expected, "{dash}");
    let read =
        ffmpeg_reads_all(&server.url(&format!("{DASH}?begin={}&finish={}", date(from), date(to))))
            .await;
    assert!(
        (read - total).abs() < 1.0,
        "DASH: read {read} s of {total} s"
    );

    let mss = body(http, &format!("{MSS}?{query}")).await;
    assert!(mss.contains("IsLive=\"FALSE\""), "{mss}");
    let listed = mss_video_starts(&mss);
    assert_eq!(listed.len(), expected.len(), "{mss}");
    for (a, b) in listed.iter().zip(&expected) {
        assert!(a.abs_diff(*b) <= 1, "{listed:?} vs {expected:?}");
    }
    for url in smooth_fragment_urls(&mss, &expected) {
        let r = get(http, &url).await.unwrap();
        assert_eq!(r.status, 200, "{url}");
    }

    // Refusals: a clear 400 in every format.
    let first_s = first.floor() as i64;
    for (case, query) in [
        (
            "before the buffer",
            "start=1000000000&end=1000000010".to_string(),
        ),
        (
            "longer than 24 h",
            format!("start={first_s}&end={}", first_s + 86_401),
        ),
        ("not a time", "start=yesterday&end=now".to_string()),
        ("two kinds", format!("start={first_s}&end={to}&back=5")),
        ("beyond the buffer", "back=7200".to_string()),
    ] {
        for path in [HLS, HLS_MEDIA, FMP4_MEDIA, MSS] {
            let r = get(http, &format!("{path}?{query}")).await.unwrap();
            assert_eq!(r.status, 400, "{case}: {path}?{query}: {}", r.text());
            assert!(r.text().len() > 10, "{case}: {}", r.text());
        }
    }
    let r = get(
        http,
        &format!("{DASH}?begin=20251301000000&finish={}", date(to)),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    let r = get(http, &format!("{DASH}?rewind=99999999")).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    server.stop().await;
}
