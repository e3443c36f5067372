//! Channel `multi`: two renditions (320x240 and 160x120) fed by two real ffmpeg pushes, with one
//! package of each kind. Shared by the output and player tests.

use std::time::Duration;

use tokio::process::Child;

use super::http::get;
use super::{wait_for, TestServer, FIXTURE};

pub const HIGH: u64 = 400_000;
pub const LOW: u64 = 200_000;
/// Picture sizes of the two renditions: each is pushed from its own fixture, so a player that
/// switches shows another `videoWidth`.
pub const HIGH_SIZE: (u64, u64) = (320, 240);
pub const LOW_SIZE: (u64, u64) = (160, 120);
/// The fixture pushed to the low rendition: the same 10 s, GOP and audio as [`FIXTURE`] at
/// 160x120 and 200 kbit/s.
pub const LOW_FIXTURE: &str = "ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv";

/// Two sources and one package of each kind, 2 s segments, 30 s windows: HLS-TS at
/// `/live/multi/index.m3u8` (version 3), HLS-fMP4 at `/live/multi/cmaf.m3u8` (version 7), DASH
/// at `/live/multi/manifest.mpd` and Smooth at `/live/multi/Manifest`. Stream selection: HLS-TS
/// keeps only the low rendition for `?low`, DASH for `?bitrate=low`, Smooth only the high one for
/// `?bitrate=high`.
pub fn channel() -> String {
    format!(
        r#"{{
  "domain": "push.example.com", "app_name": "live", "id": "multi", "state": "ON",
  "input": {{ "input_protocol": "RTMP_PUSH", "sources": [
    {{"bitrate": {HIGH}, "width": 320, "height": 240}},
    {{"bitrate": {LOW}, "width": 160, "height": 120}} ] }},
  "record_settings": {{ "rollingbuffer_duration": 0 }},
  "endpoints": [{{
    "hls_package": [
      {{ "url": "pull.example.com/live/multi/index.m3u8", "hls_version": "3",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30,
         "stream_selection": [{{ "key": "low", "max_bandwidth": 300000 }}] }},
      {{ "url": "pull.example.com/live/multi/cmaf.m3u8", "hls_version": "7",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30 }} ],
    "dash_package": [
      {{ "url": "pull.example.com/live/multi/manifest.mpd",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30,
         "stream_selection": [{{ "key": "bitrate=low", "max_bandwidth": 300000 }}] }} ],
    "mss_package": [
      {{ "url": "pull.example.com/live/multi/Manifest",
         "segment_duration_seconds": 2, "playlist_window_seconds": 30,
         "stream_selection": [{{ "key": "bitrate=high", "min_bandwidth": 300000 }}] }} ]
  }}]
}}"#
    )
}

/// Pushes the fixture `loops` extra times (`-1`: until killed) in real time to both renditions
/// at once, and waits until four segments are listed. The pushes die with their handles.
pub async fn start_pushes(server: &TestServer, loops: i32) -> Vec<Child> {
    let mut pushes = Vec::new();
    for (bitrate, fixture) in [(HIGH, FIXTURE), (LOW, LOW_FIXTURE)] {
        let url = format!("rtmp://{}/live/multi_{bitrate}", server.rtmp);
        pushes.push(super::push_fixture(&url, fixture, loops));
    }
    let listed = wait_for(Duration::from_secs(30), || async {
        let r = get(server.http, "/live/multi/index/200000/playlist.m3u8")
            .await
            .ok()?;
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 4).then_some(())
    })
    .await;
    assert!(listed.is_some(), "four segments listed while pushing");
    pushes
}
