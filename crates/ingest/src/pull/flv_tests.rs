//! FLV_PULL against a real TCP upstream on 127.0.0.1 that speaks just enough HTTP/1.1, and
//! [`FlvStreamIngest`] fed directly for the tag-level policy.

use std::future::Future;
use std::time::{Duration, Instant};

use media::flv::{DemuxEvent, FlvDemuxer, FlvReader, FlvTagType};
use media::{CodecConfig, Frame, TrackInfo, TrackKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// 10 s of H.264 320x240 25 fps (2 s GOP, B-frames) and AAC-LC 48 kHz stereo, with an
/// `onMetaData` script tag first (see `fixtures/README.md`).
const FIXTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv"
));

/// Upper bound of every test, reached only when something hangs.
const TEST_LIMIT: Duration = Duration::from_secs(5);

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test did not finish within its limit")
}

fn options() -> PullOptions {
    PullOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        max_bandwidth: None,
    }
}

fn short_timeouts() -> PullOptions {
    PullOptions {
        connect_timeout: Duration::from_millis(300),
        read_timeout: Duration::from_millis(300),
        max_bandwidth: None,
    }
}

/// The fixture cut after each tag: (timestamp of the tag, bytes up to its end). The first
/// piece carries the file header and the first tag.
fn pieces(flv: &[u8]) -> Vec<(u32, &[u8])> {
    let mut reader = FlvReader::new();
    reader.push(flv);
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(tag) = reader.next_tag().expect("fixture tag") {
        let end = flv.len() - reader.buffered();
        out.push((tag.timestamp_ms, &flv[start..end]));
        start = end;
    }
    assert_eq!(start, flv.len(), "fixture ends at a tag boundary");
    out
}

/// The fixture's bytes up to the end of the last tag stamped before `ms`.
fn prefix_before(ms: u32) -> &'static [u8] {
    let len: usize = pieces(FIXTURE)
        .iter()
        .take_while(|(ts, _)| *ts < ms)
        .map(|(_, bytes)| bytes.len())
        .sum();
    &FIXTURE[..len]
}

/// What FlvReader and FlvDemuxer make of `flv` without any HTTP in between.
fn direct(flv: &[u8]) -> (Vec<TrackInfo>, Vec<Frame>) {
    let mut reader = FlvReader::new();
    let mut demuxer = FlvDemuxer::new();
    reader.push(flv);
    let (mut tracks, mut frames) = (Vec::new(), Vec::new());
    while let Some(tag) = reader.next_tag().expect("fixture tag") {
        let event = match tag.tag_type {
            FlvTagType::Video => demuxer.push_video(tag.timestamp_ms, &tag.body),
            FlvTagType::Audio => demuxer.push_audio(tag.timestamp_ms, &tag.body),
            FlvTagType::Script => continue,
        };
        match event.expect("fixture tag demuxes") {
            Some(DemuxEvent::Track(t)) => tracks.push(t),
            Some(DemuxEvent::Frame(f)) => frames.push(f),
            None => {}
        }
    }
    (tracks, frames)
}

/// Calls `f` with the kind byte and the body of every tag of an FLV stream, to damage it.
fn edit_tags(flv: &mut [u8], mut f: impl FnMut(FlvTagType, &mut [u8])) {
    let mut offset = 9 + 4;
    while offset + 11 <= flv.len() {
        let size = usize::from(flv[offset + 1]) << 16
            | usize::from(flv[offset + 2]) << 8
            | usize::from(flv[offset + 3]);
        let tag_type = match flv[offset] & 0x1F {
            8 => FlvTagType::Audio,
            9 => FlvTagType::Video,
            _ => FlvTagType::Script,
        };
        f(tag_type, &mut flv[offset + 11..offset + 11 + size]);
        offset += 11 + size + 4;
    }
}

/// A sink that keeps everything, with the time each frame arrived, and refuses frames after
/// `refuse_after` of them when set.
#[derive(Debug, Default)]
struct Recorder {
    /// Every event in order: `None` for a track, the frame's kind otherwise.
    order: Vec<Option<TrackKind>>,
    tracks: Vec<TrackInfo>,
    frames: Vec<Frame>,
    arrivals: Vec<Instant>,
    refuse_after: Option<usize>,
}

impl IngestSink for Recorder {
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String> {
        match event {
            IngestEvent::Track(track) => {
                self.order.push(None);
                self.tracks.push(track);
            }
            IngestEvent::Frame(frame) => {
                if self.refuse_after == Some(self.frames.len()) {
                    return Err("channel reconfigured".to_string());
                }
                self.order.push(Some(frame.kind));
                self.frames.push(frame);
                self.arrivals.push(Instant::now());
            }
        }
        Ok(())
    }
}

impl Recorder {
    /// The fixture's tracks, a keyframe first, each track announced before its frames, and
    /// decode times that never go back.
    fn check_fixture_shape(&self) {
        assert_eq!(self.tracks.len(), 2, "tracks: {:?}", self.tracks);
        let CodecConfig::Avc(avc) = &self.tracks[0].codec else {
            panic!("first track is not H.264: {:?}", self.tracks[0]);
        };
        assert_eq!((avc.info.width, avc.info.height), (320, 240));
        let CodecConfig::Aac(aac) = &self.tracks[1].codec else {
            panic!("second track is not AAC: {:?}", self.tracks[1]);
        };
        assert_eq!((aac.sample_rate, aac.channel_config), (48_000, 2));

        let mut tracks = self.tracks.iter();
        let mut announced = Vec::new();
        for event in &self.order {
            match event {
                None => announced.push(tracks.next().expect("recorded track").kind()),
                Some(kind) => assert!(announced.contains(kind), "{kind:?} frame before its track"),
            }
        }
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let dts: Vec<i64> = self
                .frames
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| f.dts.ticks)
                .collect();
            assert!(dts.len() > 10, "{kind:?}: {} frames", dts.len());
            assert!(
                dts.windows(2).all(|w| w[0] < w[1]),
                "{kind:?} DTS strictly increasing: {dts:?}"
            );
        }
        let first_video = self
            .frames
            .iter()
            .find(|f| f.kind == TrackKind::Video)
            .expect("video frame");
        assert!(first_video.keyframe, "first video frame is a keyframe");
    }
}

/// An upstream that accepts one connection, reads one request and hands the socket and the
/// request head to `serve`. Returns the URL to pull.
async fn upstream<F, Fut>(serve: F) -> String
where
    F: FnOnce(TcpStream, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        serve(socket, String::from_utf8_lossy(&head).into_owned()).await;
    });
    format!("http://{addr}/live/demo.flv")
}

const FLV_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n";
const FLV_CHUNKED_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Writes `data` in `size`-byte writes; false once the client has gone.
async fn write_in_chunks(socket: &mut TcpStream, data: &[u8], size: usize) -> bool {
    for chunk in data.chunks(size) {
        if socket.write_all(chunk).await.is_err() {
            return false;
        }
    }
    true
}

/// Writes one HTTP/1.1 chunk of a chunked body.
async fn write_http_chunk(socket: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    socket
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    socket.write_all(data).await?;
    socket.write_all(b"\r\n").await
}

async fn pull_into(url: &str, options: &PullOptions, sink: &mut Recorder) -> Result<(), PullError> {
    let client = client().expect("client");
    pull(&client, url, options, sink).await
}

#[tokio::test]
async fn pulls_the_whole_fixture_in_small_chunks() {
    bounded(async {
        let (request_tx, request_rx) = tokio::sync::oneshot::channel();
        let url = upstream(|mut socket, request| async move {
            let _ = request_tx.send(request);
            if socket.write_all(FLV_HEAD).await.is_ok()
                && write_in_chunks(&mut socket, FIXTURE, 1000).await
            {
                let _ = socket.shutdown().await;
            }
        })
        .await;
        let mut sink = Recorder::default();
        pull_into(&url, &options(), &mut sink)
            .await
            .expect("clean end is Ok");

        let (tracks, frames) = direct(FIXTURE);
        assert_eq!(sink.tracks, tracks);
        assert_eq!(sink.frames.len(), frames.len());
        assert_eq!(sink.frames, frames);
        sink.check_fixture_shape();

        let request = request_rx.await.expect("request").to_ascii_lowercase();
        assert!(
            request.starts_with("get /live/demo.flv http/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!(
                "user-agent: headwater/{}\r\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{request}"
        );
    })
    .await;
}

#[tokio::test]
async fn pulls_at_the_pace_of_a_live_upstream() {
    const SLICE_MS: u32 = 2000;
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            if socket.write_all(FLV_CHUNKED_HEAD).await.is_err() {
                return;
            }
            let start = tokio::time::Instant::now();
            for (ts, bytes) in pieces(prefix_before(SLICE_MS)) {
                tokio::time::sleep_until(start + Duration::from_millis(u64::from(ts))).await;
                if write_http_chunk(&mut socket, bytes).await.is_err() {
                    return;
                }
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
        })
        .await;
        let started = Instant::now();
        let mut sink = Recorder::default();
        pull_into(&url, &options(), &mut sink)
            .await
            .expect("clean end of a chunked body is Ok");

        let (tracks, frames) = direct(prefix_before(SLICE_MS));
        assert_eq!(sink.tracks, tracks);
        assert_eq!(sink.frames, frames);
        sink.check_fixture_shape();

        // Frames reach the sink as the upstream sends them, not when the body ends.
        let first = sink.arrivals[0].duration_since(started);
        let last = sink.arrivals[sink.arrivals.len() - 1].duration_since(started);
        assert!(
            first < Duration::from_millis(1000),
            "first frame after {first:?}"
        );
        assert!(
            last >= first + Duration::from_millis(1500),
            "first frame after {first:?}, last after {last:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn not_found_is_a_status_error() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            let _ = socket
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")
                .await;
        })
        .await;
        let mut sink = Recorder::default();
        let error = pull_into(&url, &options(), &mut sink).await.expect_err("404");
        assert!(
            matches!(&error, PullError::Status { url: u, status: 404 } if *u == url),
            "{error:?}"
        );
        assert!(sink.order.is_empty());
    })
    .await;
}

#[tokio::test]
async fn upstream_silent_after_headers_times_out() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            let _ = socket.write_all(FLV_HEAD).await;
            tokio::time::sleep(TEST_LIMIT).await;
        })
        .await;
        let started = Instant::now();
        let error = pull_into(&url, &short_timeouts(), &mut Recorder::default())
            .await
            .expect_err("stalled upstream");
        let took = started.elapsed();
        assert!(
            matches!(error, PullError::Timeout { after, .. } if after == Duration::from_millis(300)),
            "{error:?}"
        );
        assert!(took >= Duration::from_millis(300), "gave up after {took:?}");
        assert!(took < Duration::from_millis(1500), "gave up after {took:?}");
    })
    .await;
}

#[tokio::test]
async fn upstream_stalling_mid_stream_times_out_after_delivering() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            let _ = socket.write_all(FLV_HEAD).await;
            let _ = socket.write_all(prefix_before(500)).await;
            tokio::time::sleep(TEST_LIMIT).await;
        })
        .await;
        let mut sink = Recorder::default();
        let error = pull_into(&url, &short_timeouts(), &mut sink)
            .await
            .expect_err("stalled upstream");
        assert!(matches!(error, PullError::Timeout { .. }), "{error:?}");
        assert_eq!(sink.frames, direct(prefix_before(500)).1);
        assert!(!sink.frames.is_empty());
    })
    .await;
}

#[tokio::test]
async fn upstream_slow_to_answer_times_out_at_connect_timeout() {
    bounded(async {
        let url = upstream(|socket, _| async move {
            tokio::time::sleep(TEST_LIMIT).await;
            drop(socket);
        })
        .await;
        let started = Instant::now();
        let error = pull_into(&url, &short_timeouts(), &mut Recorder::default())
            .await
            .expect_err("no response headers");
        assert!(matches!(error, PullError::Timeout { .. }), "{error:?}");
        assert!(started.elapsed() < Duration::from_millis(1500));
    })
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_flv_is_a_protocol_error() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n\
                      <html><body>Stream offline</body></html>",
                )
                .await;
        })
        .await;
        let error = pull_into(&url, &options(), &mut Recorder::default())
            .await
            .expect_err("html is not FLV");
        let PullError::Protocol { why, .. } = &error else {
            panic!("not a protocol error: {error:?}");
        };
        assert!(
            why.contains("not FLV") && why.contains("text/html"),
            "{why}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_body_cut_inside_a_tag_is_a_protocol_error() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            let _ = socket.write_all(FLV_HEAD).await;
            let prefix = prefix_before(500);
            let _ = socket.write_all(&prefix[..prefix.len() - 100]).await;
        })
        .await;
        let mut sink = Recorder::default();
        let error = pull_into(&url, &options(), &mut sink)
            .await
            .expect_err("cut body");
        let PullError::Protocol { why, .. } = &error else {
            panic!("not a protocol error: {error:?}");
        };
        assert!(why.contains("inside an FLV tag"), "{why}");
        assert!(!sink.frames.is_empty(), "the complete tags were delivered");
    })
    .await;
}

#[tokio::test]
async fn a_chunked_body_cut_short_is_a_transport_error() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            let _ = socket.write_all(FLV_CHUNKED_HEAD).await;
            // Whole tags, but the connection closes without the last chunk.
            let _ = write_http_chunk(&mut socket, prefix_before(500)).await;
        })
        .await;
        let error = pull_into(&url, &options(), &mut Recorder::default())
            .await
            .expect_err("no last chunk");
        assert!(matches!(error, PullError::Transport { .. }), "{error:?}");
    })
    .await;
}

#[tokio::test]
async fn refused_connection_is_a_transport_error() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        drop(listener);
        let error = pull_into(
            &format!("http://{addr}/live.flv"),
            &options(),
            &mut Recorder::default(),
        )
        .await
        .expect_err("nobody listens");
        let PullError::Transport { why, .. } = &error else {
            panic!("not a transport error: {error:?}");
        };
        assert!(why.to_lowercase().contains("refused"), "{why}");
    })
    .await;
}

#[tokio::test]
async fn urls_other_than_http_are_invalid() {
    bounded(async {
        for url in [
            "rtmp://127.0.0.1/live/demo",
            "srt://127.0.0.1:9000",
            "file:///tmp/demo.flv",
            "not a url",
            "http://",
        ] {
            let error = pull_into(url, &options(), &mut Recorder::default())
                .await
                .expect_err(url);
            assert!(
                matches!(&error, PullError::InvalidUrl { url: u, .. } if u == url),
                "{url}: {error:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_refusing_sink_stops_the_pull() {
    bounded(async {
        let url = upstream(|mut socket, _| async move {
            if socket.write_all(FLV_HEAD).await.is_ok() {
                write_in_chunks(&mut socket, FIXTURE, 4096).await;
            }
        })
        .await;
        let mut sink = Recorder {
            refuse_after: Some(10),
            ..Recorder::default()
        };
        let error = pull_into(&url, &options(), &mut sink)
            .await
            .expect_err("sink refused");
        assert!(
            matches!(&error, PullError::Sink(m) if m == "channel reconfigured"),
            "{error:?}"
        );
        assert_eq!(sink.frames.len(), 10);
    })
    .await;
}

/// Feeds `flv` to a fresh [`FlvStreamIngest`] in `size`-byte pushes, then ends it.
fn ingest_directly(
    flv: &[u8],
    size: usize,
    sink: &mut Recorder,
) -> Result<FlvStreamIngest, StreamError> {
    let mut stream = FlvStreamIngest::new();
    for chunk in flv.chunks(size) {
        stream.push(chunk, sink)?;
    }
    stream.finish()?;
    Ok(stream)
}

#[test]
fn any_chunking_gives_the_same_events() {
    let two_seconds = prefix_before(2000);
    let (tracks, frames) = direct(two_seconds);
    for size in [1, 2, 7, 11, 15, 188, 1000, 65536] {
        let mut sink = Recorder::default();
        ingest_directly(two_seconds, size, &mut sink).expect("fixture");
        assert_eq!(sink.tracks, tracks, "chunks of {size}");
        assert_eq!(sink.frames, frames, "chunks of {size}");
    }
}

#[test]
fn unsupported_video_still_delivers_audio() {
    let mut flv = prefix_before(2000).to_vec();
    let mut video_tags = 0;
    edit_tags(&mut flv, |kind, body| {
        if kind == FlvTagType::Video {
            body[0] = (body[0] & 0xF0) | 2; // Sorenson H.263
            video_tags += 1;
        }
    });
    let mut sink = Recorder::default();
    let stream = ingest_directly(&flv, 4096, &mut sink).expect("audio still plays");
    let audio: Vec<Frame> = direct(prefix_before(2000))
        .1
        .into_iter()
        .filter(|f| f.kind == TrackKind::Audio)
        .collect();
    assert_eq!(sink.frames, audio);
    assert_eq!(sink.tracks.len(), 1);
    assert_eq!(sink.tracks[0].kind(), TrackKind::Audio);
    assert_eq!(stream.video.dropped, video_tags);
    assert!(stream.video.warned_unsupported);
    assert!(stream
        .video
        .unsupported
        .as_deref()
        .is_some_and(|w| w.contains("H.263")));
}

#[test]
fn no_playable_track_is_a_protocol_error() {
    let mut flv = prefix_before(2000).to_vec();
    edit_tags(&mut flv, |kind, body| match kind {
        FlvTagType::Video => body[0] = (body[0] & 0xF0) | 13, // AV1 without Enhanced RTMP
        FlvTagType::Audio => body[0] = (2 << 4) | (body[0] & 0x0F), // MP3
        FlvTagType::Script => {}
    });
    let mut sink = Recorder::default();
    let error = ingest_directly(&flv, 4096, &mut sink).expect_err("nothing playable");
    let why = error.describe(Some("video/x-flv"));
    assert!(
        matches!(error, StreamError::NothingPlayable { .. })
            && why.contains("AV1")
            && why.contains("MP3"),
        "{why}"
    );
    assert!(sink.order.is_empty());
}

#[test]
fn a_damaged_tag_is_dropped_and_the_stream_goes_on() {
    let mut flv = prefix_before(2000).to_vec();
    let mut video_tag = 0;
    edit_tags(&mut flv, |kind, body| {
        if kind == FlvTagType::Video {
            video_tag += 1;
            if video_tag == 5 || video_tag == 9 {
                body[1] = 7; // AVCPacketType 7 does not exist
            }
        }
    });
    let mut sink = Recorder::default();
    let stream = ingest_directly(&flv, 4096, &mut sink).expect("damage is local");
    let (tracks, frames) = direct(prefix_before(2000));
    // Video tag 1 is the sequence header, so tags 5 and 9 are video frames 4 and 8.
    let mut video_frame = 0;
    let expected: Vec<Frame> = frames
        .into_iter()
        .filter(|f| {
            if f.kind != TrackKind::Video {
                return true;
            }
            video_frame += 1;
            video_frame != 4 && video_frame != 8
        })
        .collect();
    assert_eq!(sink.tracks, tracks);
    assert_eq!(sink.frames, expected);
    assert_eq!(stream.video.dropped, 2);
    assert!(stream.video.warned_damaged && stream.video.unsupported.is_none());
}

#[test]
fn broken_tag_structure_is_fatal() {
    let mut flv = prefix_before(500).to_vec();
    let (_, first) = pieces(&flv)[0];
    let second_tag = first.len();
    flv[second_tag] = 0x0F; // tag type 15
    let mut sink = Recorder::default();
    let error = ingest_directly(&flv, 4096, &mut sink).expect_err("broken framing");
    let why = error.describe(None);
    assert!(
        matches!(error, StreamError::Corrupt(_)) && why.contains("tag type 15"),
        "{why}"
    );
}

#[test]
fn short_bodies_are_not_clean_ends() {
    for body in [&b""[..], &b"FLV\x01"[..], &FIXTURE[..13 + 20]] {
        let error = ingest_directly(body, 4096, &mut Recorder::default()).expect_err("short");
        assert!(matches!(error, StreamError::EndedEarly { .. }), "{error:?}");
    }
    // A header and nothing else ended at a tag boundary.
    ingest_directly(&FIXTURE[..13], 4096, &mut Recorder::default()).expect("no tags yet");
}
