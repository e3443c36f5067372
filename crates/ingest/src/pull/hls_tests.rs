//! HLS_PULL against a tiny HTTP server in the test, under paused (simulated) tokio time, and
//! its sans-IO parts ([`LiveWindow`], [`FramePacer`], [`choose_variant`]) on their own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use m3u8_rs::{MasterPlaylist, MediaPlaylist, MediaSegment, VariantStream};
use media::{Frame, MediaTime, Timescale, TrackKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/hls-two-variants"
);
/// Guard on every pull, in simulated time (a hang while idle makes the clock jump to it).
const GUARD: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// Test HTTP server

/// What the test server answers for a path: 200 with a body, or another status.
enum Reply {
    Body(Vec<u8>),
    Status(u16),
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A static HTTP/1.1 server on 127.0.0.1 (one request per connection, `Connection: close`)
/// that logs every request as (path, status).
struct TestServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<(String, u16)>>>,
}

impl TestServer {
    async fn start(handler: Handler) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let server_log = log.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = server_log.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, body) = match handler(&path) {
                        Reply::Body(body) => (200, body),
                        Reply::Status(status) => (status, Vec::new()),
                    };
                    log.lock().expect("log").push((path, status));
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&body).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        TestServer { addr, log }
    }

    /// Serves the files under `dir` (read once, now), 404 for anything else.
    async fn files(dir: &str) -> TestServer {
        let files = read_tree(Path::new(dir));
        TestServer::start(Arc::new(move |path: &str| {
            match files.get(path.trim_start_matches('/')) {
                Some(body) => Reply::Body(body.clone()),
                None => Reply::Status(404),
            }
        }))
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    fn requests(&self) -> Vec<(String, u16)> {
        self.log.lock().expect("log").clone()
    }
}

/// Every file under `dir`, by its path relative to `dir` with `/` separators.
fn read_tree(dir: &Path) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(relative, std::fs::read(&path).expect("read fixture"));
            }
        }
    }
    files
}

fn fixture_segment(variant: &str, index: u64) -> Vec<u8> {
    std::fs::read(format!("{FIXTURE}/{variant}/segment_{index}.ts")).expect("fixture segment")
}

/// What one [`TsDemuxer`] makes of `segments` pushed one after the other.
fn demux_directly(segments: &[Vec<u8>]) -> Vec<Frame> {
    let mut demuxer = TsDemuxer::new();
    let mut out = Vec::new();
    for segment in segments {
        demuxer.push(segment, &mut out);
    }
    demuxer.finish(&mut out);
    out.into_iter()
        .filter_map(|e| match e {
            TsEvent::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Sink and pull helpers

/// Records every event with the (simulated) time it arrived.
#[derive(Debug, Default)]
struct RecordingSink {
    events: Vec<(Instant, IngestEvent)>,
    /// Refuses the event after this many.
    refuse_after: Option<usize>,
}

impl IngestSink for RecordingSink {
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String> {
        if self.refuse_after.is_some_and(|n| self.events.len() >= n) {
            return Err("channel reconfigured".to_string());
        }
        self.events.push((Instant::now(), event));
        Ok(())
    }
}

impl RecordingSink {
    fn frames(&self) -> Vec<Frame> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                IngestEvent::Frame(f) => Some(f.clone()),
                IngestEvent::Track(_) => None,
            })
            .collect()
    }

    fn frame_times(&self) -> Vec<Instant> {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, IngestEvent::Frame(_)))
            .map(|(t, _)| *t)
            .collect()
    }

    fn video_widths(&self) -> Vec<u32> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                IngestEvent::Track(t) => t.codec.video_size().map(|(w, _)| w),
                IngestEvent::Frame(_) => None,
            })
            .collect()
    }

    /// Longest silence between two delivered frames.
    fn longest_frame_gap(&self) -> Duration {
        self.frame_times()
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

fn options(max_bandwidth: Option<u64>) -> PullOptions {
    PullOptions {
        max_bandwidth,
        ..PullOptions::default()
    }
}

async fn run_pull(
    url: &str,
    options: &PullOptions,
    sink: &mut RecordingSink,
) -> Result<(), PullError> {
    tokio::time::timeout(GUARD, pull(&client(), url, options, sink))
        .await
        .expect("the pull ends before the guard")
}

// ---------------------------------------------------------------------------------------------
// Variant choice and VOD

#[tokio::test(start_paused = true)]
async fn without_limit_the_high_variant_is_pulled_whole_and_paced() {
    let server = TestServer::files(FIXTURE).await;
    let mut sink = RecordingSink::default();
    let started = Instant::now();
    run_pull(&server.url("index.m3u8"), &options(None), &mut sink)
        .await
        .expect("VOD pull ends Ok after ENDLIST");

    assert_eq!(sink.video_widths(), vec![320]);
    let direct = demux_directly(&[0, 1, 2].map(|i| fixture_segment("320x240", i)));
    assert!(direct.len() > 200, "fixture has {} frames", direct.len());
    assert_eq!(
        sink.frames(),
        direct,
        "the pull delivers what TsDemuxer reads"
    );
    let paths: Vec<String> = server.requests().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/index.m3u8",
            "/320x240/index.m3u8",
            "/320x240/segment_0.ts",
            "/320x240/segment_1.ts",
            "/320x240/segment_2.ts"
        ]
    );

    // 6 s of media take about 6 s to deliver, not one burst.
    let times = sink.frame_times();
    let spread = *times.last().expect("frames") - times[0];
    assert!(
        spread >= Duration::from_millis(5500) && spread <= Duration::from_millis(6500),
        "frames delivered over {spread:?}"
    );
    assert!(times[0] - started < Duration::from_millis(100));
    assert!(sink.longest_frame_gap() < Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn a_limit_between_the_variants_picks_the_low_one() {
    let server = TestServer::files(FIXTURE).await;
    let mut sink = RecordingSink::default();
    run_pull(
        &server.url("index.m3u8"),
        &options(Some(200_000)),
        &mut sink,
    )
    .await
    .expect("pull ends Ok");
    assert_eq!(sink.video_widths(), vec![160]);
    let direct = demux_directly(&[0, 1, 2].map(|i| fixture_segment("160x120", i)));
    assert_eq!(sink.frames().len(), direct.len());
    assert!(server
        .requests()
        .iter()
        .all(|(path, _)| !path.starts_with("/320x240/")));
}

#[tokio::test(start_paused = true)]
async fn a_limit_below_every_variant_is_a_protocol_error() {
    let server = TestServer::files(FIXTURE).await;
    let mut sink = RecordingSink::default();
    let err = run_pull(
        &server.url("index.m3u8"),
        &options(Some(100_000)),
        &mut sink,
    )
    .await
    .expect_err("no variant fits");
    match err {
        PullError::Protocol { why, .. } => {
            assert!(why.contains("145200"), "{why}");
            assert!(why.contains("100000"), "{why}");
        }
        other => panic!("expected Protocol, got {other:?}"),
    }
    assert!(sink.events.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_media_playlist_url_is_followed_directly() {
    let server = TestServer::files(FIXTURE).await;
    let mut sink = RecordingSink::default();
    run_pull(&server.url("160x120/index.m3u8"), &options(None), &mut sink)
        .await
        .expect("pull ends Ok");
    assert_eq!(sink.video_widths(), vec![160]);
    assert_eq!(server.requests().len(), 4);
}

// ---------------------------------------------------------------------------------------------
// Refusals and failures

#[tokio::test(start_paused = true)]
async fn a_missing_playlist_is_a_status_error() {
    let server = TestServer::files(FIXTURE).await;
    let mut sink = RecordingSink::default();
    let err = run_pull(&server.url("nope.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("404");
    assert!(
        matches!(err, PullError::Status { status: 404, .. }),
        "{err:?}"
    );
}

/// Serves `body` at every path.
async fn serve_text(body: &'static str) -> TestServer {
    TestServer::start(Arc::new(move |_: &str| {
        Reply::Body(body.as_bytes().to_vec())
    }))
    .await
}

async fn protocol_error_for(body: &'static str) -> String {
    let server = serve_text(body).await;
    let mut sink = RecordingSink::default();
    match run_pull(&server.url("live.m3u8"), &options(None), &mut sink).await {
        Err(PullError::Protocol { why, .. }) => why,
        other => panic!("expected Protocol for {body:?}, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn garbage_playlists_are_protocol_errors() {
    let why = protocol_error_for("<html>not a playlist</html>").await;
    assert!(why.contains("#EXTM3U"), "{why}");
    let why = protocol_error_for("#EXTM3U\nsomething\nelse\n").await;
    assert!(why.contains("TARGETDURATION"), "{why}");
}

#[tokio::test(start_paused = true)]
async fn byte_range_maps_and_encrypted_playlists_are_refused() {
    let why = protocol_error_for(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"main.mp4\",BYTERANGE=\"720@0\"\n\
         #EXTINF:2,\na.m4s\n",
    )
    .await;
    assert_eq!(
        why,
        "byte-range fMP4 init segments (#EXT-X-MAP with BYTERANGE) are not supported"
    );
    let why = protocol_error_for(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\na.ts\n",
    )
    .await;
    assert!(why.contains("AES-128"), "{why}");
}

#[tokio::test(start_paused = true)]
async fn an_oversized_playlist_is_refused() {
    let mut big = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    while big.len() <= MAX_PLAYLIST_BYTES {
        big.push_str("#EXTINF:2,\nsegment.ts\n");
    }
    let server = TestServer::start(Arc::new(move |_: &str| {
        Reply::Body(big.clone().into_bytes())
    }))
    .await;
    let mut sink = RecordingSink::default();
    let err = run_pull(&server.url("big.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("too large");
    assert!(
        matches!(&err, PullError::Protocol { why, .. } if why.contains("larger than")),
        "{err:?}"
    );
}

#[tokio::test]
async fn only_http_urls_are_pulled() {
    let mut sink = RecordingSink::default();
    for url in [
        "rtmp://example.com/live/x",
        "not a url",
        "file:///etc/passwd",
    ] {
        let err = pull(&client(), url, &options(None), &mut sink)
            .await
            .expect_err("invalid");
        assert!(
            matches!(err, PullError::InvalidUrl { .. }),
            "{url}: {err:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_refusing_sink_stops_the_pull() {
    let server = TestServer::files(FIXTURE).await;
    let mut sink = RecordingSink {
        refuse_after: Some(10),
        ..RecordingSink::default()
    };
    let err = run_pull(&server.url("index.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("sink refused");
    assert!(matches!(err, PullError::Sink(ref why) if why == "channel reconfigured"));
    assert_eq!(sink.events.len(), 10);
}

#[test]
fn the_pull_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let client = client();
    let options = PullOptions::default();
    let mut sink = RecordingSink::default();
    let future = pull(&client, "http://127.0.0.1:1/x.m3u8", &options, &mut sink);
    assert_send(&future);
}

// ---------------------------------------------------------------------------------------------
// fMP4 (CMAF) segments

const FMP4_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/hls-fmp4");

fn fmp4_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FMP4_FIXTURE}/{name}")).expect("fMP4 fixture file")
}

/// What one [`FragmentDemuxer`] makes of `init` and `segments` pushed one after the other.
fn fmp4_direct(init: &[u8], segments: &[Vec<u8>]) -> Vec<Frame> {
    let mut demuxer = FragmentDemuxer::from_init(init).expect("init");
    let mut out = Vec::new();
    for segment in segments {
        demuxer.push_segment(segment, &mut out).expect("segment");
    }
    out
}

fn fixture_fmp4_segments(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| fmp4_fixture(&format!("seg{i}.m4s")))
        .collect()
}

impl RecordingSink {
    /// The tracks handed on, each run of consecutive Track events as one group, by kind.
    fn track_groups(&self) -> Vec<Vec<TrackKind>> {
        let mut groups: Vec<Vec<TrackKind>> = Vec::new();
        let mut in_group = false;
        for (_, event) in &self.events {
            match event {
                IngestEvent::Track(track) => {
                    if !in_group {
                        groups.push(Vec::new());
                        in_group = true;
                    }
                    if let Some(group) = groups.last_mut() {
                        group.push(track.kind());
                    }
                }
                IngestEvent::Frame(_) => in_group = false,
            }
        }
        groups
    }
}

/// Each track's decode times only go forward between discontinuities, given as the frame
/// indexes where a new timeline starts.
fn assert_monotonic(frames: &[Frame], timelines_start_at: &[usize]) {
    let mut last: HashMap<TrackKind, MediaTime> = HashMap::new();
    for (i, frame) in frames.iter().enumerate() {
        if timelines_start_at.contains(&i) {
            last.clear();
        }
        if let Some(previous) = last.get(&frame.kind) {
            assert!(
                frame.dts > *previous,
                "frame {i}: {} after {previous}",
                frame.dts
            );
        }
        last.insert(frame.kind, frame.dts);
    }
}

#[tokio::test(start_paused = true)]
async fn an_fmp4_vod_is_pulled_with_both_tracks() {
    let server = TestServer::files(FMP4_FIXTURE).await;
    let mut sink = RecordingSink::default();
    let started = Instant::now();
    run_pull(&server.url("index.m3u8"), &options(None), &mut sink)
        .await
        .expect("VOD pull ends Ok after ENDLIST");

    // Both tracks, once, before the first frame.
    assert_eq!(sink.track_groups(), [[TrackKind::Video, TrackKind::Audio]]);
    assert!(matches!(sink.events[0].1, IngestEvent::Track(_)));
    assert_eq!(sink.video_widths(), [320]);
    let frames = sink.frames();
    assert_eq!(
        frames,
        fmp4_direct(&fmp4_fixture("init.mp4"), &fixture_fmp4_segments(3)),
        "the pull delivers what FragmentDemuxer reads"
    );
    let video = frames.iter().filter(|f| f.kind == TrackKind::Video).count();
    let audio = frames.iter().filter(|f| f.kind == TrackKind::Audio).count();
    assert_eq!(video, 150);
    assert!(audio > 250, "{audio} audio frames");
    assert_monotonic(&frames, &[]);

    // The init segment is fetched once.
    let paths: Vec<String> = server.requests().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/index.m3u8",
            "/init.mp4",
            "/seg0.m4s",
            "/seg1.m4s",
            "/seg2.m4s"
        ]
    );
    // 6 s of media delivered over about 6 s.
    let times = sink.frame_times();
    let spread = *times.last().expect("frames") - times[0];
    assert!(
        spread >= Duration::from_millis(5500) && spread <= Duration::from_millis(6500),
        "frames delivered over {spread:?}"
    );
    assert!(times[0] - started < Duration::from_millis(100));
    assert!(sink.longest_frame_gap() < Duration::from_millis(500));
}

/// The fixture's video alone, rewritten by this crate's CMAF writer: an init segment with one
/// track and one fragment per fixture segment, on the 90 kHz clock.
fn video_only_rewrite(segments: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let init = fmp4_fixture("init.mp4");
    let track = FragmentDemuxer::from_init(&init).expect("init").tracks()[0].clone();
    assert_eq!(track.kind(), TrackKind::Video);
    let mut new_init = Vec::new();
    media::fmp4::write_init_segment(&track, 1, &mut new_init).expect("init");
    let mut demuxer = FragmentDemuxer::from_init(&init).expect("init");
    let fragments = fixture_fmp4_segments(segments)
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let mut frames = Vec::new();
            demuxer.push_segment(segment, &mut frames).expect("segment");
            frames.retain(|f| f.kind == TrackKind::Video);
            let samples: Vec<media::fmp4::FragmentSample> = frames
                .iter()
                .enumerate()
                .map(|(k, f)| media::fmp4::FragmentSample {
                    duration: frames.get(k + 1).map_or(3600, |next| {
                        u32::try_from(next.dts.ticks - f.dts.ticks).expect("duration")
                    }),
                    size: u32::try_from(f.data.len()).expect("size"),
                    keyframe: f.keyframe,
                    composition_offset: i32::try_from(f.composition_offset()).expect("cts"),
                })
                .collect();
            let mut out = Vec::new();
            media::fmp4::write_fragment(
                1,
                i as u32 + 1,
                u64::try_from(frames[0].dts.ticks).expect("dts"),
                &samples,
                &mut frames.iter().map(|f| f.data.as_ref()),
                true,
                &mut out,
            )
            .expect("fragment");
            out
        })
        .collect();
    (new_init, fragments)
}

#[tokio::test(start_paused = true)]
async fn a_new_init_segment_after_a_discontinuity_announces_its_tracks() {
    let (b_init, b_segments) = video_only_rewrite(2);
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    files.insert("/a/init.mp4".into(), fmp4_fixture("init.mp4"));
    for (i, segment) in fixture_fmp4_segments(2).into_iter().enumerate() {
        files.insert(format!("/a/seg{i}.m4s"), segment);
    }
    files.insert("/b/init.mp4".into(), b_init.clone());
    for (i, segment) in b_segments.iter().enumerate() {
        files.insert(format!("/b/seg{i}.m4s"), segment.clone());
    }
    let playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n\
                    #EXT-X-MAP:URI=\"a/init.mp4\"\n#EXTINF:2,\na/seg0.m4s\n#EXTINF:2,\na/seg1.m4s\n\
                    #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"b/init.mp4\"\n\
                    #EXTINF:2,\nb/seg0.m4s\n#EXTINF:2,\nb/seg1.m4s\n#EXT-X-ENDLIST\n";
    files.insert("/list.m3u8".into(), playlist.as_bytes().to_vec());
    let server = TestServer::start(Arc::new(move |path: &str| match files.get(path) {
        Some(body) => Reply::Body(body.clone()),
        None => Reply::Status(404),
    }))
    .await;
    let mut sink = RecordingSink::default();
    run_pull(&server.url("list.m3u8"), &options(None), &mut sink)
        .await
        .expect("pull ends Ok");

    // Video and audio from the first init, video alone from the second.
    assert_eq!(
        sink.track_groups(),
        [
            vec![TrackKind::Video, TrackKind::Audio],
            vec![TrackKind::Video]
        ]
    );
    let a = fmp4_direct(&fmp4_fixture("init.mp4"), &fixture_fmp4_segments(2));
    let b = fmp4_direct(&b_init, &b_segments);
    assert_eq!(b.len(), 100);
    assert!(b.iter().all(|f| f.kind == TrackKind::Video));
    let frames = sink.frames();
    assert_eq!(frames, [a.clone(), b].concat());
    // The second timeline starts over at 0.
    assert_eq!(frames[a.len()].dts.ticks, 0);
    assert_monotonic(&frames, &[a.len()]);
    for init in ["/a/init.mp4", "/b/init.mp4"] {
        let fetched = server.requests().iter().filter(|(p, _)| p == init).count();
        assert_eq!(fetched, 1, "{init}");
    }
}

#[tokio::test(start_paused = true)]
async fn mpeg_ts_then_fmp4_after_a_discontinuity() {
    let ts = fixture_segment("320x240", 0);
    let init = fmp4_fixture("init.mp4");
    let fmp4 = fmp4_fixture("seg0.m4s");
    let (ts_body, init_body, fmp4_body) = (ts.clone(), init.clone(), fmp4.clone());
    let server = TestServer::start(Arc::new(move |path: &str| match path {
        "/list.m3u8" => Reply::Body(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nts/0.ts\n#EXT-X-DISCONTINUITY\n\
             #EXT-X-MAP:URI=\"f/init.mp4\"\n#EXTINF:2,\nf/0.m4s\n#EXT-X-ENDLIST\n"
                .as_bytes()
                .to_vec(),
        ),
        "/ts/0.ts" => Reply::Body(ts_body.clone()),
        "/f/init.mp4" => Reply::Body(init_body.clone()),
        "/f/0.m4s" => Reply::Body(fmp4_body.clone()),
        _ => Reply::Status(404),
    }))
    .await;
    let mut sink = RecordingSink::default();
    run_pull(&server.url("list.m3u8"), &options(None), &mut sink)
        .await
        .expect("pull ends Ok");
    let from_ts = demux_directly(&[ts]);
    let from_fmp4 = fmp4_direct(&init, &[fmp4]);
    assert_eq!(sink.frames(), [from_ts.clone(), from_fmp4].concat());
    assert_eq!(
        sink.video_widths(),
        [320, 320],
        "each format announces its video"
    );
    // The fMP4 tracks come right before the first fMP4 frame.
    let first_fmp4 = sink
        .events
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| matches!(e, IngestEvent::Frame(_)))
        .nth(from_ts.len())
        .map(|(index, _)| index)
        .expect("fMP4 frames");
    let before: Vec<Option<TrackKind>> = sink.events[first_fmp4 - 2..first_fmp4]
        .iter()
        .map(|(_, e)| match e {
            IngestEvent::Track(t) => Some(t.kind()),
            IngestEvent::Frame(_) => None,
        })
        .collect();
    assert_eq!(before, [Some(TrackKind::Video), Some(TrackKind::Audio)]);
}

#[tokio::test(start_paused = true)]
async fn a_missing_or_broken_init_segment_fails_the_segments() {
    let playlist = |init: &str| {
        let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"{init}\"\n");
        for i in 0..3 {
            text.push_str(&format!("#EXTINF:2,\nseg{i}.m4s\n"));
        }
        text.push_str("#EXT-X-ENDLIST\n");
        text
    };
    let lists = [playlist("missing.mp4"), playlist("seg0.m4s")];
    let mut files = read_tree(Path::new(FMP4_FIXTURE));
    files.insert("missing.m3u8".into(), lists[0].clone().into_bytes());
    files.insert("broken.m3u8".into(), lists[1].clone().into_bytes());
    let server = TestServer::start(Arc::new(move |path: &str| {
        match files.get(path.trim_start_matches('/')) {
            Some(body) => Reply::Body(body.clone()),
            None => Reply::Status(404),
        }
    }))
    .await;

    let mut sink = RecordingSink::default();
    let err = run_pull(&server.url("missing.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("no init segment");
    assert!(
        matches!(err, PullError::Status { status: 404, .. }),
        "{err:?}"
    );
    let init_requests = server
        .requests()
        .iter()
        .filter(|(p, _)| p == "/missing.mp4")
        .count();
    assert_eq!(init_requests, MAX_SEGMENT_FAILURES as usize);
    assert!(sink.events.is_empty());

    // A media segment as the init segment: no moov.
    let err = run_pull(&server.url("broken.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("not an init segment");
    match err {
        PullError::Protocol { why, .. } => {
            assert!(
                why.contains("fMP4 init segment") && why.contains("no moov"),
                "{why}"
            )
        }
        other => panic!("expected Protocol, got {other:?}"),
    }
    assert!(sink.events.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Live simulation

/// A live media playlist over the 320x240 fixture segments, looped (segment `k` is fixture
/// segment `k % 3`, with a discontinuity where the loop starts again), a window of 3
/// segments, one new segment every 2 s of simulated time since `start`.
///
/// At 10 s the encoder "hiccups": the media sequence jumps 5 ahead, past what a client 2
/// segments behind the edge has fetched. Segment 5 is listed but answers 404. At 20 s the
/// stream ends (`#EXT-X-ENDLIST`).
struct LiveSim {
    start: Instant,
    segments: [Vec<u8>; 3],
}

impl LiveSim {
    const MISSING: u64 = 5;
    const JUMP_AT: Duration = Duration::from_secs(10);
    const JUMP: u64 = 5;
    const END_AT: Duration = Duration::from_secs(20);

    /// Media sequence numbers listed at `elapsed`, and whether the playlist has ended.
    fn listed(elapsed: Duration) -> (Range<u64>, bool) {
        let ended = elapsed >= Self::END_AT;
        let elapsed = elapsed.min(Self::END_AT);
        let mut end = 3 + elapsed.as_secs() / 2;
        if elapsed >= Self::JUMP_AT {
            end += Self::JUMP;
        }
        (end - 3..end, ended)
    }

    fn playlist(&self) -> String {
        let (listed, ended) = Self::listed(self.start.elapsed());
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            listed.start
        );
        for k in listed {
            if k > 0 && k % 3 == 0 {
                text.push_str("#EXT-X-DISCONTINUITY\n");
            }
            text.push_str(&format!("#EXTINF:2.000000,\nseg/{k}.ts\n"));
        }
        if ended {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        text
    }

    fn reply(&self, path: &str) -> Reply {
        if path == "/live.m3u8" {
            return Reply::Body(self.playlist().into_bytes());
        }
        let sequence = path
            .strip_prefix("/seg/")
            .and_then(|p| p.strip_suffix(".ts"))
            .and_then(|k| k.parse::<u64>().ok());
        let (listed, _) = Self::listed(self.start.elapsed());
        match sequence {
            Some(k) if k != Self::MISSING && k < listed.end => {
                Reply::Body(self.segments[(k % 3) as usize].clone())
            }
            _ => Reply::Status(404),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_live_stream_survives_a_sequence_jump_and_a_missing_segment() {
    let sim = Arc::new(LiveSim {
        start: Instant::now(),
        segments: [0, 1, 2].map(|i| fixture_segment("320x240", i)),
    });
    let handler = sim.clone();
    let server = TestServer::start(Arc::new(move |path: &str| handler.reply(path))).await;
    let mut sink = RecordingSink::default();
    run_pull(&server.url("live.m3u8"), &options(None), &mut sink)
        .await
        .expect("the live pull ends Ok at ENDLIST");

    let fetched: Vec<(u64, u16)> = server
        .requests()
        .into_iter()
        .filter_map(|(path, status)| {
            let k = path
                .strip_prefix("/seg/")?
                .strip_suffix(".ts")?
                .parse()
                .ok()?;
            Some((k, status))
        })
        .collect();
    let sequences: Vec<u64> = fetched.iter().map(|(k, _)| *k).collect();
    // Started 2 target durations behind the edge (segments 1 and 2 of 0..3).
    assert_eq!(sequences.first(), Some(&1), "{fetched:?}");
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "in order, once each: {fetched:?}"
    );
    assert!(fetched.contains(&(LiveSim::MISSING, 404)), "{fetched:?}");
    assert!(
        fetched
            .iter()
            .all(|(k, s)| *s == 200 || *k == LiveSim::MISSING),
        "{fetched:?}"
    );
    // Segments 7, 8 and 9 left the playlist in the jump; the pull went on after them.
    assert!(
        sequences.iter().all(|k| !(7..10).contains(k)),
        "{fetched:?}"
    );
    let (last_listed, _) = LiveSim::listed(LiveSim::END_AT);
    assert_eq!(
        sequences.last(),
        Some(&(last_listed.end - 1)),
        "{fetched:?}"
    );

    // Every segment fetched was delivered whole.
    let per_fixture: Vec<usize> = sim
        .segments
        .iter()
        .map(|s| demux_directly(std::slice::from_ref(s)).len())
        .collect();
    let expected: usize = fetched
        .iter()
        .filter(|(_, status)| *status == 200)
        .map(|(k, _)| per_fixture[(k % 3) as usize])
        .sum();
    assert_eq!(sink.frames().len(), expected);

    // Frames kept coming: never 2 s (the selector's loss threshold) without one.
    let gap = sink.longest_frame_gap();
    assert!(gap < Duration::from_millis(1000), "longest gap {gap:?}");
    let times = sink.frame_times();
    let first = times.first().expect("frames");
    let last = times.last().expect("frames");
    assert!(*first - sim.start < Duration::from_millis(100));
    // 12 segments of 2 s delivered at real time.
    let delivered = sequences.len() as u64 - 1;
    let spread = *last - *first;
    assert!(
        spread >= Duration::from_secs(2 * delivered - 1)
            && spread <= Duration::from_secs(2 * delivered + 1),
        "{delivered} segments delivered over {spread:?}"
    );
    // Each discontinuity (loop, loss, skip) starts a new timeline: the video track again.
    assert!(sink.video_widths().len() >= 3);
}

/// `/seg/{k}.ts` is fixture segment `k % 3` of the 320x240 variant.
fn looped_segment(path: &str) -> Reply {
    let k = path
        .strip_prefix("/seg/")
        .and_then(|p| p.strip_suffix(".ts"))
        .and_then(|k| k.parse::<u64>().ok());
    match k {
        Some(k) => Reply::Body(fixture_segment("320x240", k % 3)),
        None => Reply::Status(404),
    }
}

/// A live playlist that lists segments 0 to 2 forever and whose segments answer `segment`.
async fn frozen_live(segment: fn(u64) -> Reply) -> TestServer {
    TestServer::start(Arc::new(move |path: &str| {
        if path == "/live.m3u8" {
            let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
                        #EXTINF:2,\nseg/0.ts\n#EXTINF:2,\nseg/1.ts\n#EXTINF:2,\nseg/2.ts\n";
            return Reply::Body(text.as_bytes().to_vec());
        }
        let k = path
            .strip_prefix("/seg/")
            .and_then(|p| p.strip_suffix(".ts"))
            .and_then(|k| k.parse().ok());
        match k {
            Some(k) => segment(k),
            None => Reply::Status(404),
        }
    }))
    .await
}

#[tokio::test(start_paused = true)]
async fn a_playlist_that_stops_advancing_times_out() {
    let server = frozen_live(|k| Reply::Body(fixture_segment("320x240", k % 3))).await;
    let mut sink = RecordingSink::default();
    let started = Instant::now();
    let opts = PullOptions {
        read_timeout: Duration::from_secs(8),
        ..options(None)
    };
    let err = run_pull(&server.url("live.m3u8"), &opts, &mut sink)
        .await
        .expect_err("stalled");
    let elapsed = started.elapsed();
    assert!(matches!(err, PullError::Timeout { .. }), "{err:?}");
    // max(read_timeout 8 s, 3 × 2 s), checked on reloads every 1 s.
    assert!(
        elapsed >= Duration::from_secs(8) && elapsed <= Duration::from_secs(10),
        "{elapsed:?}"
    );
    assert!(!sink.frames().is_empty());
}

#[tokio::test(start_paused = true)]
async fn segments_failing_in_a_row_end_the_pull() {
    let server = frozen_live(|_| Reply::Status(503)).await;
    let mut sink = RecordingSink::default();
    // Live: the pull starts at segment 1; segments 1 and 2 fail (skipped, fewer than
    // MAX_SEGMENT_FAILURES), then the playlist never advances, which times out.
    let err = run_pull(&server.url("live.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("segments fail");
    assert!(matches!(err, PullError::Timeout { .. }), "{err:?}");

    let vod = TestServer::start(Arc::new(|path: &str| {
        if path == "/vod.m3u8" {
            let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
            for k in 0..5 {
                text.push_str(&format!("#EXTINF:2,\nseg/{k}.ts\n"));
            }
            text.push_str("#EXT-X-ENDLIST\n");
            return Reply::Body(text.into_bytes());
        }
        match path {
            "/seg/0.ts" => Reply::Body(fixture_segment("320x240", 0)),
            _ => Reply::Status(503),
        }
    }))
    .await;
    let mut sink = RecordingSink::default();
    let err = run_pull(&vod.url("vod.m3u8"), &options(None), &mut sink)
        .await
        .expect_err("segments fail");
    assert!(
        matches!(err, PullError::Status { status: 503, .. }),
        "{err:?}"
    );
    let segment_requests = vod
        .requests()
        .iter()
        .filter(|(p, _)| p.starts_with("/seg/"))
        .count();
    assert_eq!(segment_requests, 1 + MAX_SEGMENT_FAILURES as usize);
}

#[tokio::test(start_paused = true)]
async fn a_playlist_that_disappears_is_retried_then_fails() {
    let start = Instant::now();
    let server = TestServer::start(Arc::new(move |path: &str| {
        if path == "/live.m3u8" {
            if start.elapsed() >= Duration::from_secs(3) {
                return Reply::Status(404);
            }
            let (listed, _) = LiveSim::listed(start.elapsed());
            let mut text = format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n",
                listed.start
            );
            for k in listed {
                text.push_str(&format!("#EXTINF:2,\nseg/{k}.ts\n"));
            }
            return Reply::Body(text.into_bytes());
        }
        looped_segment(path)
    }))
    .await;
    let mut sink = RecordingSink::default();
    let opts = PullOptions {
        read_timeout: Duration::from_secs(5),
        ..options(None)
    };
    let err = run_pull(&server.url("live.m3u8"), &opts, &mut sink)
        .await
        .expect_err("playlist gone");
    assert!(
        matches!(err, PullError::Status { status: 404, .. }),
        "{err:?}"
    );
    let failed_reloads = server
        .requests()
        .iter()
        .filter(|(p, s)| p == "/live.m3u8" && *s == 404)
        .count();
    // First failure at 4 s, retries every 1 s until 5 s of failures.
    assert!((2..=8).contains(&failed_reloads), "{failed_reloads}");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(9) && elapsed <= Duration::from_secs(11),
        "{elapsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// LiveWindow

fn media_playlist(first: u64, durations: &[f32], end_list: bool) -> MediaPlaylist {
    MediaPlaylist {
        target_duration: 2,
        media_sequence: first,
        end_list,
        segments: durations
            .iter()
            .enumerate()
            .map(|(i, d)| MediaSegment {
                uri: format!("{}.ts", first + i as u64),
                duration: *d,
                ..MediaSegment::default()
            })
            .collect(),
        ..MediaPlaylist::default()
    }
}

fn sequences(update: &WindowUpdate) -> Vec<u64> {
    update.segments.iter().map(|s| s.sequence).collect()
}

#[test]
fn a_live_window_starts_two_target_durations_from_the_edge() {
    let mut window = LiveWindow::new();
    let update = window.update(&media_playlist(10, &[2.0; 5], false));
    assert_eq!(sequences(&update), [13, 14]);
    assert!(update.advanced);
    assert_eq!(window.next_sequence(), Some(15));

    // Segments a little shorter than the target: three are needed.
    let mut window = LiveWindow::new();
    let update = window.update(&media_playlist(0, &[1.9; 5], false));
    assert_eq!(sequences(&update), [2, 3, 4]);

    // Never before the first listed; broken durations count as the target duration.
    let mut window = LiveWindow::new();
    assert_eq!(
        sequences(&window.update(&media_playlist(7, &[1.0], false))),
        [7]
    );
    let mut window = LiveWindow::new();
    let update = window.update(&media_playlist(0, &[f32::NAN, -1.0, 0.0, 2.0], false));
    assert_eq!(sequences(&update), [2, 3]);
}

#[test]
fn an_ended_playlist_is_read_from_its_first_segment() {
    let mut window = LiveWindow::new();
    let update = window.update(&media_playlist(0, &[2.0; 3], true));
    assert_eq!(sequences(&update), [0, 1, 2]);
}

#[test]
fn reloads_fetch_only_new_segments() {
    let mut window = LiveWindow::new();
    window.update(&media_playlist(0, &[2.0; 3], false));
    let same = window.update(&media_playlist(0, &[2.0; 3], false));
    assert!(!same.advanced);
    assert!(same.segments.is_empty());
    let next = window.update(&media_playlist(1, &[2.0; 3], false));
    assert!(next.advanced);
    assert_eq!(sequences(&next), [3]);
    assert!(!next.segments[0].discontinuity);
    assert_eq!(next.lost, None);
    let two = window.update(&media_playlist(3, &[2.0; 3], false));
    assert_eq!(sequences(&two), [4, 5]);
}

#[test]
fn a_sequence_jump_reports_the_lost_segments() {
    let mut window = LiveWindow::new();
    window.update(&media_playlist(0, &[2.0; 3], false)); // next is 3
    let update = window.update(&media_playlist(6, &[2.0; 3], false));
    assert_eq!(update.lost, Some(3..6));
    assert_eq!(sequences(&update), [6, 7, 8]);
    assert!(update.segments[0].discontinuity);
    assert!(!update.segments[1].discontinuity);
}

#[test]
fn a_playlist_that_goes_back_is_a_restart() {
    let mut window = LiveWindow::new();
    window.update(&media_playlist(100, &[2.0; 3], false));
    let update = window.update(&media_playlist(0, &[2.0; 4], false));
    assert!(update.restarted);
    assert!(update.advanced);
    assert_eq!(sequences(&update), [2, 3]);
    assert!(update.segments[0].discontinuity);
    assert_eq!(window.next_sequence(), Some(4));
}

#[test]
fn discontinuity_tags_are_carried() {
    let mut window = LiveWindow::new();
    let mut playlist = media_playlist(0, &[2.0; 3], true);
    playlist.segments[2].discontinuity = true;
    let update = window.update(&playlist);
    let flags: Vec<bool> = update.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, false, true]);
}

#[test]
fn a_map_applies_to_every_segment_after_it() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n#EXTINF:2,\na.ts\n\
                #EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"i1.mp4\"\n#EXTINF:2,\nb.m4s\n#EXTINF:2,\n\
                c.m4s\n#EXT-X-MAP:URI=\"i2.mp4\"\n#EXTINF:2,\nd.m4s\n#EXTINF:2,\ne.m4s\n";
    let Ok(m3u8_rs::Playlist::MediaPlaylist(playlist)) =
        m3u8_rs::parse_playlist_res(text.as_bytes())
    else {
        panic!("parses");
    };
    let maps = |update: &WindowUpdate| -> Vec<Option<String>> {
        update.segments.iter().map(|s| s.map.clone()).collect()
    };
    let some = |uri: &str| Some(uri.to_string());
    // Live: the last two segments, whose map is listed before the window starts.
    let update = LiveWindow::new().update(&playlist);
    assert_eq!(sequences(&update), [13, 14]);
    assert_eq!(maps(&update), [some("i2.mp4"), some("i2.mp4")]);
    let mut playlist = playlist;
    playlist.end_list = true;
    let update = LiveWindow::new().update(&playlist);
    assert_eq!(
        maps(&update),
        [
            None,
            some("i1.mp4"),
            some("i1.mp4"),
            some("i2.mp4"),
            some("i2.mp4")
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// FramePacer

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// DTS `millis` on the 90 kHz clock.
fn dts(millis: i64) -> MediaTime {
    MediaTime::new(millis * 90, Timescale::MPEG)
}

fn pacer() -> FramePacer {
    FramePacer::new(ms(200), ms(3000), ms(10_000))
}

#[test]
fn the_first_frame_anchors_and_later_ones_follow_their_dts() {
    let t0 = Instant::now();
    let mut pacer = pacer();
    let first = pacer.schedule(dts(1_400), t0);
    assert_eq!(first.due, t0);
    assert_eq!(first.reanchored, Some(Reanchor::Start));
    // A frame 1 s later in DTS, scheduled at once (it was downloaded with the first).
    let later = pacer.schedule(dts(2_400), t0 + ms(5));
    assert_eq!(later.due, t0 + ms(1000));
    assert_eq!(later.release_at, t0 + ms(800));
    assert_eq!(later.reanchored, None);
    // Audio a little before the last video: due in the past, delivered at once.
    let audio = pacer.schedule(
        MediaTime::new(48_000, Timescale::new(48_000).expect("rate")),
        t0 + ms(900),
    );
    assert_eq!(audio.due, t0 - ms(400));
    assert_eq!(audio.reanchored, None);
}

#[test]
fn a_late_frame_reanchors_at_now() {
    let t0 = Instant::now();
    let mut pacer = pacer();
    pacer.schedule(dts(0), t0);
    // Slightly late: delivered at once, timeline kept.
    let slot = pacer.schedule(dts(1_000), t0 + ms(2_500));
    assert_eq!(slot.due, t0 + ms(1_000));
    assert_eq!(slot.reanchored, None);
    // More than 3 s late: the timeline restarts now.
    let slot = pacer.schedule(dts(2_000), t0 + ms(6_000));
    assert_eq!(slot.due, t0 + ms(6_000));
    assert_eq!(slot.reanchored, Some(Reanchor::Late(ms(4_000))));
    let next = pacer.schedule(dts(2_040), t0 + ms(6_000));
    assert_eq!(next.due, t0 + ms(6_040));
}

#[test]
fn a_jump_ahead_reanchors_after_the_latest_due_frame() {
    let t0 = Instant::now();
    let mut pacer = pacer();
    pacer.schedule(dts(0), t0);
    pacer.schedule(dts(2_000), t0);
    let slot = pacer.schedule(dts(3_600_000), t0 + ms(10));
    assert_eq!(slot.reanchored, Some(Reanchor::Early(ms(3_600_000 - 10))));
    assert_eq!(slot.due, t0 + ms(2_000));
}

#[test]
fn a_discontinuity_continues_the_timeline_where_it_stood() {
    let t0 = Instant::now();
    let mut pacer = pacer();
    pacer.schedule(dts(50_000), t0);
    pacer.schedule(dts(51_960), t0);
    pacer.discontinuity();
    // The new timeline starts at 0; its first frame is due when the old one ends, not now.
    let slot = pacer.schedule(dts(0), t0 + ms(100));
    assert_eq!(slot.reanchored, Some(Reanchor::Discontinuity));
    assert_eq!(slot.due, t0 + ms(1_960));
    let next = pacer.schedule(dts(40), t0 + ms(100));
    assert_eq!(next.due, t0 + ms(2_000));
    // After the old timeline is over, a discontinuity anchors at now.
    pacer.discontinuity();
    let slot = pacer.schedule(dts(0), t0 + ms(5_000));
    assert_eq!(slot.due, t0 + ms(5_000));
}

#[test]
fn extreme_timestamps_do_not_panic() {
    let t0 = Instant::now();
    let mut pacer = pacer();
    pacer.schedule(MediaTime::new(i64::MIN, Timescale::MPEG), t0);
    let slot = pacer.schedule(MediaTime::new(i64::MAX, Timescale::MPEG), t0);
    assert!(matches!(slot.reanchored, Some(Reanchor::Early(_))));
    let slot = pacer.schedule(MediaTime::new(i64::MIN, Timescale::MILLIS), t0);
    assert!(matches!(slot.reanchored, Some(Reanchor::Late(_))));
}

// ---------------------------------------------------------------------------------------------
// Variant choice

fn variant(bandwidth: u64, uri: &str) -> VariantStream {
    VariantStream {
        uri: uri.to_string(),
        bandwidth,
        ..VariantStream::default()
    }
}

#[test]
fn variants_are_chosen_by_bandwidth_whatever_their_order() {
    let master = MasterPlaylist {
        variants: vec![
            variant(500, "mid"),
            variant(900, "high"),
            VariantStream {
                is_i_frame: true,
                ..variant(5_000, "iframes")
            },
            variant(100, "low"),
            variant(900, "high-backup"),
        ],
        ..MasterPlaylist::default()
    };
    let chosen = |max| choose_variant(&master, max).map(|v| v.uri.as_str());
    assert_eq!(chosen(None), Ok("high"));
    assert_eq!(chosen(Some(900)), Ok("high"));
    assert_eq!(chosen(Some(899)), Ok("mid"));
    assert_eq!(chosen(Some(100)), Ok("low"));
    let err = chosen(Some(99)).expect_err("none fits");
    assert!(err.contains("the lowest BANDWIDTH is 100"), "{err}");
    assert!(choose_variant(&MasterPlaylist::default(), None).is_err());
}

#[test]
fn the_fixture_master_lists_two_bandwidths() {
    let text = std::fs::read(format!("{FIXTURE}/index.m3u8")).expect("fixture master");
    let Ok(m3u8_rs::Playlist::MasterPlaylist(master)) = m3u8_rs::parse_playlist_res(&text) else {
        panic!("the fixture master parses");
    };
    let bandwidths: Vec<(u64, String)> = master
        .variants
        .iter()
        .map(|v| (v.bandwidth, v.uri.clone()))
        .collect();
    assert_eq!(
        bandwidths,
        [
            (145_200, "160x120/index.m3u8".to_string()),
            (365_200, "320x240/index.m3u8".to_string())
        ]
    );
    // The fixture's frames are what the demuxer tests expect: video and audio both present.
    let frames = demux_directly(&[fixture_segment("320x240", 0)]);
    assert!(frames
        .iter()
        .any(|f| f.kind == TrackKind::Video && f.keyframe));
    assert!(frames.iter().any(|f| f.kind == TrackKind::Audio));
}
