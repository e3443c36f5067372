//! Catch-up of media recorded in another track configuration than the live one: a publisher
//! pushes 320x240, reconnects at 160x120, and the server is killed and restarted, so neither
//! the live window nor the process remembers the first configuration. A catch-up of the
//! 320x240 interval must still name and serve 320x240 init segments in HLS-fMP4 and DASH,
//! describe 320x240 in the HLS multivariant playlist and the Smooth manifest, and read
//! through with ffmpeg; a catch-up across the change gives each DASH Period its own
//! configuration.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::http::get;
use common::mpd::periods;
use common::probe::{decodes, ffmpeg_reads_all, probe, probe_url_sizes};
use common::process::ServerProcess;
use common::{push_fixture, require_tool, wait_for};

const ID: &str = "configs";
const LARGE: &str = "ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv";
const SMALL: &str = "ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv";
const FMP4: &str = "/live/configs/cmaf.m3u8";
const FMP4_MEDIA: &str = "/live/configs/cmaf/400000/playlist.m3u8";
const DASH: &str = "/live/configs/manifest.mpd";
const DASH_DIR: &str = "/live/configs/manifest";
const MSS: &str = "/live/configs/mss/Manifest";

/// HLS-fMP4, DASH and Smooth with 2 s segments and 6 s windows over an hour of buffer.
fn channel() -> String {
    let package = |kind: &str, file: &str, extra: &str| {
        format!(
            r#""{kind}": [{{ "url": "pull.example.com/live/{ID}/{file}", {extra}
                "segment_duration_seconds": 2, "playlist_window_seconds": 6 }}]"#
        )
    };
    format!(
        r#"[{{
  "domain": "push.example.com", "app_name": "live", "id": "{ID}", "state": "ON",
  "input": {{ "input_protocol": "RTMP_PUSH", "sources": [{{"bitrate": 400000, "width": 320, "height": 240}}] }},
  "record_settings": {{ "rollingbuffer_duration": 3600 }},
  "endpoints": [{{ {}, {}, {} }}]
}}]"#,
        package("hls_package", "cmaf.m3u8", r#""hls_version": "7","#),
        package("dash_package", "manifest.mpd", ""),
        package("mss_package", "mss/Manifest", ""),
    )
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Pushes `fixture` in real time, `loops` more times after the first, and waits for the end.
async fn push(rtmp: SocketAddr, fixture: &str, loops: i32) {
    let url = format!("rtmp://{rtmp}/live/{ID}_400000");
    let mut child = push_fixture(&url, fixture, loops);
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the push ends")
        .unwrap();
    assert!(status.success(), "ffmpeg push of {fixture} failed");
}

/// GETs `path`, asserting a 200.
async fn fetch(http: SocketAddr, path: &str) -> Vec<u8> {
    let r = get(http, path).await.unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.body
}

/// Writes `init` followed by `fragment` to a file, and checks ffprobe reads a video track of
/// `size` whose first picture is a keyframe, and ffmpeg decodes it all.
fn check_video(
    dir: &std::path::Path,
    name: &str,
    init: Vec<u8>,
    fragment: Vec<u8>,
    size: (u64, u64),
) {
    let file = dir.join(name);
    std::fs::write(&file, [init, fragment].concat()).unwrap();
    let probed = probe(&file);
    assert_eq!(probed.codecs, ["h264"], "{name}");
    assert_eq!(
        (probed.width, probed.height),
        (Some(size.0), Some(size.1)),
        "{name}"
    );
    assert!(probed.video().next().is_some_and(|p| p.keyframe), "{name}");
    decodes(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_of_an_older_configuration_after_a_restart() {
    for tool in ["ffmpeg", "ffprobe"] {
        if !require_tool(tool) {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let channels = dir.path().join("channels.json");
    std::fs::write(&channels, channel()).unwrap();
    let data = dir.path().join("data");

    let server = ServerProcess::start(&channels, &data);
    let large_from = now_secs();
    push(server.rtmp, LARGE, 0).await;
    let large_to = now_secs();
    // 20 s of the new configuration: the live window (6 s packages) keeps none of the old.
    push(server.rtmp, SMALL, 1).await;
    server.kill9();
    let server = ServerProcess::start(&channels, &data);
    let http = server.http;

    // Whole seconds well inside the first session (its first frame may come a second or two
    // after ffmpeg starts on a loaded machine).
    let (from, to) = (large_from.ceil() as i64 + 3, large_to.floor() as i64 - 1);
    let query = format!("start={from}&end={to}");
    let work = tempfile::tempdir().unwrap();

    // The live presentation is the new configuration.
    let live = wait_for(Duration::from_secs(10), || async {
        let r = get(http, FMP4_MEDIA).await.ok()?;
        (r.status == 200).then(|| r.text())
    })
    .await
    .expect("a live playlist after the restart");
    assert!(live.contains("#EXT-X-MAP"), "{live}");

    // HLS-fMP4: the init named by the catch-up is served, and is the 320x240 one.
    let media = String::from_utf8(fetch(http, &format!("{FMP4_MEDIA}?{query}")).await).unwrap();
    assert!(media.contains("#EXT-X-ENDLIST"), "{media}");
    let map = media
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no EXT-X-MAP: {media}"));
    let live_map = live
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert_ne!(
        map, live_map,
        "another configuration, another init: {media}"
    );
    let base = FMP4_MEDIA.rsplit_once('/').unwrap().0;
    let first = media
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    let init = fetch(http, &format!("{base}/{map}")).await;
    let fragment = fetch(http, &format!("{base}/{first}")).await;
    check_video(work.path(), "hls.mp4", init, fragment, (320, 240));
    let multivariant = String::from_utf8(fetch(http, &format!("{FMP4}?{query}")).await).unwrap();
    assert!(
        multivariant.contains("RESOLUTION=320x240"),
        "{multivariant}"
    );
    let (_, sizes) = probe_url_sizes(&server.url_of(&format!("{FMP4_MEDIA}?{query}"))).await;
    assert_eq!(sizes, [(320, 240)]);
    let listed = media
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum::<f64>();
    let read = ffmpeg_reads_all(&server.url_of(&format!("{FMP4}?{query}"))).await;
    assert!((read - listed).abs() < 1.0, "read {read} s of {listed} s");

    // DASH: the static MPD's one Period names an init the store resolves to 320x240.
    let mpd = String::from_utf8(fetch(http, &format!("{DASH}?{query}")).await).unwrap();
    assert!(mpd.contains(r#"type="static""#), "{mpd}");
    let found = periods(&mpd);
    assert_eq!(found.len(), 1, "{mpd}");
    let (rep, template, _, t) = &found[0].sets[0];
    let init_file = template.rsplit('/').next().unwrap();
    assert!(
        init_file.starts_with("init-p"),
        "named by the Period's start: {mpd}"
    );
    let init_path = format!("{DASH_DIR}/{rep}/{init_file}");
    let cache = get(http, &init_path).await.unwrap();
    assert!(
        cache
            .header("cache-control")
            .is_some_and(|c| c.contains("immutable")),
        "{:?}",
        cache.header("cache-control")
    );
    let init = fetch(http, &init_path).await;
    let fragment = fetch(http, &format!("{DASH_DIR}/{rep}/{t}.m4s")).await;
    check_video(work.path(), "dash.mp4", init, fragment, (320, 240));
    let (_, sizes) = probe_url_sizes(&server.url_of(&format!("{DASH}?{query}"))).await;
    assert_eq!(sizes, [(320, 240)]);
    let read = ffmpeg_reads_all(&server.url_of(&format!("{DASH}?{query}"))).await;
    assert!(read > 4.0, "read {read} s of the DASH catch-up");

    // Smooth: the recorded configuration's size.
    let manifest = String::from_utf8(fetch(http, &format!("{MSS}?{query}")).await).unwrap();
    assert!(manifest.contains(r#"MaxWidth="320""#), "{manifest}");
    assert!(manifest.contains(r#"IsLive="FALSE""#), "{manifest}");

    // Across the change: one Period per configuration, each init its own size.
    let across = String::from_utf8(fetch(http, &format!("{DASH}?start={from}")).await).unwrap();
    let found = periods(&across);
    assert_eq!(found.len(), 2, "{across}");
    for (i, (period, size)) in found.iter().zip([(320, 240), (160, 120)]).enumerate() {
        let (rep, template, _, t) = &period.sets[0];
        let init_file = template.rsplit('/').next().unwrap();
        let init = fetch(http, &format!("{DASH_DIR}/{rep}/{init_file}")).await;
        let fragment = fetch(http, &format!("{DASH_DIR}/{rep}/{t}.m4s")).await;
        check_video(
            work.path(),
            &format!("period-{i}.mp4"),
            init,
            fragment,
            size,
        );
    }

    // The live presentation still names the new configuration.
    let live_init = fetch(http, &format!("{DASH_DIR}/video-400000/init.mp4")).await;
    let live_mpd = String::from_utf8(fetch(http, DASH).await).unwrap();
    let live_periods = periods(&live_mpd);
    let (rep, _, _, t) = &live_periods.last().unwrap().sets[0];
    let fragment = fetch(http, &format!("{DASH_DIR}/{rep}/{t}.m4s")).await;
    check_video(work.path(), "live.mp4", live_init, fragment, (160, 120));
    server.kill9();
}
