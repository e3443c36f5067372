//! RTMP ingest end to end: a real TCP server on 127.0.0.1 and publishers built from rml_rtmp's
//! client handshake and `ClientSession`.
//!
//! Media is synthetic but valid: the SPS/PPS come from
//! `ffmpeg -f lavfi -i testsrc=size=320x240:rate=25 -frames:v 1 -pix_fmt yuv420p -c:v libx264
//! -profile:v baseline -f h264 out.h264` (ffmpeg 5.1, Debian 12 libx264), the AAC config is
//! AAC-LC 44.1 kHz stereo (`12 10`). Every wait is bounded.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ingest::rtmp::{serve, RtmpLimits};
use ingest::{IngestEvent, IngestSink, PublishAuthorizer, PublishRequest, Refusal};
use media::{CodecConfig, Frame, MediaTime, Timescale, TrackKind};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::rml_amf0::Amf0Value;
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
    PublishRequestType, StreamMetadata,
};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, timeout_at, Instant};

const STEP: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Media: FLV tag bodies as an encoder sends them over RTMP.

const SPS: &[u8] = &[
    0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
    0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0xa4, 0x80,
];
const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

fn avc_sequence_header() -> Bytes {
    let mut b = vec![0x17, 0x00, 0, 0, 0];
    b.extend_from_slice(&[0x01, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1]);
    b.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    b.extend_from_slice(SPS);
    b.push(0x01);
    b.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    b.extend_from_slice(PPS);
    Bytes::from(b)
}

/// One access unit of one NAL unit: IDR (type 5) for keyframes, non-IDR (type 1) otherwise.
fn avc_nalu_payload(keyframe: bool, seq: u8) -> Vec<u8> {
    let nal = if keyframe {
        vec![0x65, 0x88, 0x84, 0x00, seq]
    } else {
        vec![0x41, 0x9a, 0x02, seq]
    };
    let mut out = (nal.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&nal);
    out
}

fn avc_frame(keyframe: bool, composition_ms: u32, payload: &[u8]) -> Bytes {
    let first = if keyframe { 0x17 } else { 0x27 };
    let cts = composition_ms.to_be_bytes();
    let mut b = vec![first, 0x01, cts[1], cts[2], cts[3]];
    b.extend_from_slice(payload);
    Bytes::from(b)
}

fn aac_sequence_header() -> Bytes {
    Bytes::from_static(&[0xAF, 0x00, 0x12, 0x10])
}

fn aac_payload(seq: u8) -> Vec<u8> {
    vec![0x21, 0x00, 0x49, 0x90, 0x02, 0x19, 0x00, seq]
}

fn aac_frame(payload: &[u8]) -> Bytes {
    let mut b = vec![0xAF, 0x01];
    b.extend_from_slice(payload);
    Bytes::from(b)
}

// ---------------------------------------------------------------------------------------------
// A recording authorizer: streams named `refused*` are refused.

#[derive(Clone, Debug)]
enum Record {
    Authorize(PublishRequest),
    Event(String, IngestEvent),
    SinkDropped(String),
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Record>>>);

impl Log {
    fn push(&self, r: Record) {
        self.0.lock().expect("log lock").push(r);
    }

    fn snapshot(&self) -> Vec<Record> {
        self.0.lock().expect("log lock").clone()
    }

    fn events(&self, stream: &str) -> Vec<IngestEvent> {
        self.snapshot()
            .into_iter()
            .filter_map(|r| match r {
                Record::Event(s, e) if s == stream => Some(e),
                _ => None,
            })
            .collect()
    }

    fn frames(&self, stream: &str) -> Vec<Frame> {
        self.events(stream)
            .into_iter()
            .filter_map(|e| match e {
                IngestEvent::Frame(f) => Some(f),
                IngestEvent::Track(_) => None,
            })
            .collect()
    }

    fn sink_dropped(&self, stream: &str) -> bool {
        self.snapshot()
            .iter()
            .any(|r| matches!(r, Record::SinkDropped(s) if s == stream))
    }

    fn authorized(&self) -> Vec<PublishRequest> {
        self.snapshot()
            .into_iter()
            .filter_map(|r| match r {
                Record::Authorize(q) => Some(q),
                _ => None,
            })
            .collect()
    }

    /// Polls `pred` until it holds or `within` passes.
    async fn wait(&self, within: Duration, pred: impl Fn(&Log) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(Duration::from_millis(10)).await;
        }
    }
}

struct Recorder {
    log: Log,
}

impl PublishAuthorizer for Recorder {
    fn authorize(&self, request: &PublishRequest) -> Result<Box<dyn IngestSink>, Refusal> {
        self.log.push(Record::Authorize(request.clone()));
        if request.stream_name.starts_with("refused") {
            return Err(Refusal::UnknownStream(request.stream_name.clone()));
        }
        Ok(Box::new(RecordingSink {
            stream: request.stream_name.clone(),
            log: self.log.clone(),
        }))
    }
}

struct RecordingSink {
    stream: String,
    log: Log,
}

impl IngestSink for RecordingSink {
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String> {
        self.log.push(Record::Event(self.stream.clone(), event));
        Ok(())
    }
}

impl Drop for RecordingSink {
    fn drop(&mut self) {
        self.log.push(Record::SinkDropped(self.stream.clone()));
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test.

struct TestServer {
    addr: SocketAddr,
    log: Log,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

fn test_limits() -> RtmpLimits {
    RtmpLimits {
        handshake_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(1),
        ..RtmpLimits::default()
    }
}

async fn start_server(limits: RtmpLimits) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let log = Log::default();
    let authorizer = Arc::new(Recorder { log: log.clone() });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, authorizer, limits, async move {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        log,
        stop: Some(stop),
        task,
    }
}

impl TestServer {
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(STEP, &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve did not panic");
    }
}

// ---------------------------------------------------------------------------------------------
// A publisher: rml_rtmp's client handshake and ClientSession over a TcpStream.

struct Publisher {
    tcp: TcpStream,
    session: ClientSession,
    events: Vec<ClientSessionEvent>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

async fn read_some(tcp: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    match timeout(STEP, tcp.read(buf)).await {
        Ok(Ok(0)) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(r) => r,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

impl Publisher {
    /// TCP connect and RTMP handshake.
    async fn handshake(addr: SocketAddr) -> io::Result<Publisher> {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let mut handshake = Handshake::new(PeerType::Client);
        tcp.write_all(&handshake.generate_outbound_p0_and_p1().map_err(other)?)
            .await?;
        let mut buf = vec![0u8; 16 * 1024];
        let leftover = loop {
            let n = read_some(&mut tcp, &mut buf).await?;
            match handshake.process_bytes(&buf[..n]).map_err(other)? {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    tcp.write_all(&response_bytes).await?;
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    tcp.write_all(&response_bytes).await?;
                    break remaining_bytes;
                }
            }
        };
        let (session, results) = ClientSession::new(ClientSessionConfig::new()).map_err(other)?;
        let mut publisher = Publisher {
            tcp,
            session,
            events: Vec::new(),
        };
        publisher.handle(results).await?;
        if !leftover.is_empty() {
            let results = publisher.session.handle_input(&leftover).map_err(other)?;
            publisher.handle(results).await?;
        }
        Ok(publisher)
    }

    /// Handshake, connect to `app`, publish `stream_key` live.
    async fn start(addr: SocketAddr, app: &str, stream_key: &str) -> io::Result<Publisher> {
        let mut p = Publisher::handshake(addr).await?;
        p.connect(app).await?;
        p.publish(stream_key).await?;
        Ok(p)
    }

    async fn handle(&mut self, results: Vec<ClientSessionResult>) -> io::Result<()> {
        for r in results {
            match r {
                ClientSessionResult::OutboundResponse(p) => self.tcp.write_all(&p.bytes).await?,
                ClientSessionResult::RaisedEvent(e) => self.events.push(e),
                ClientSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        Ok(())
    }

    async fn send(
        &mut self,
        r: Result<ClientSessionResult, impl std::fmt::Display>,
    ) -> io::Result<()> {
        let r = r.map_err(other)?;
        self.handle(vec![r]).await
    }

    /// Reads and handles server bytes until an event matches.
    async fn wait_for(&mut self, pred: impl Fn(&ClientSessionEvent) -> bool) -> io::Result<()> {
        let mut buf = vec![0u8; 16 * 1024];
        for _ in 0..1000 {
            if self.events.iter().any(&pred) {
                return Ok(());
            }
            let n = read_some(&mut self.tcp, &mut buf).await?;
            let results = self.session.handle_input(&buf[..n]).map_err(other)?;
            self.handle(results).await?;
        }
        Err(other("no matching event after 1000 reads"))
    }

    async fn connect(&mut self, app: &str) -> io::Result<()> {
        let r = self.session.request_connection(app.to_string());
        self.send(r).await?;
        self.wait_for(|e| *e == ClientSessionEvent::ConnectionRequestAccepted)
            .await
    }

    async fn publish(&mut self, stream_key: &str) -> io::Result<()> {
        let r = self
            .session
            .request_publishing(stream_key.to_string(), PublishRequestType::Live);
        self.send(r).await?;
        self.wait_for(|e| *e == ClientSessionEvent::PublishRequestAccepted)
            .await
    }

    async fn metadata(&mut self) -> io::Result<()> {
        let mut m = StreamMetadata::new();
        m.video_width = Some(320);
        m.video_height = Some(240);
        m.video_codec_id = Some(7);
        m.audio_codec_id = Some(10);
        m.encoder = Some("headwater-test".into());
        let r = self.session.publish_metadata(&m);
        self.send(r).await
    }

    async fn video(&mut self, timestamp_ms: u32, body: Bytes) -> io::Result<()> {
        let r = self
            .session
            .publish_video_data(body, RtmpTimestamp::new(timestamp_ms), false);
        self.send(r).await
    }

    async fn audio(&mut self, timestamp_ms: u32, body: Bytes) -> io::Result<()> {
        let r = self
            .session
            .publish_audio_data(body, RtmpTimestamp::new(timestamp_ms), false);
        self.send(r).await
    }

    async fn delete_stream(&mut self) -> io::Result<()> {
        let results = self.session.stop_publishing().map_err(other)?;
        self.handle(results).await
    }

    async fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tcp.write_all(bytes).await
    }

    /// Both sequence headers, then `frames` video frames (a keyframe every 4) 40 ms apart, each
    /// followed by an audio frame.
    async fn send_av(&mut self, frames: u32) -> io::Result<()> {
        self.video(0, avc_sequence_header()).await?;
        self.audio(0, aac_sequence_header()).await?;
        for i in 0..frames {
            let key = i % 4 == 0;
            self.video(i * 40, avc_frame(key, 0, &avc_nalu_payload(key, i as u8)))
                .await?;
            self.audio(i * 40, aac_frame(&aac_payload(i as u8))).await?;
        }
        Ok(())
    }
}

/// Whether the server closes `tcp` (EOF or reset) before `deadline`. Discards what it reads.
async fn closed_by_server(tcp: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// One AMF0 data message (type 18) holding only the string `@setDataFrame`, as a single chunk
/// with a full (type 0) header on chunk stream 20, for message stream `stream_id`.
fn set_data_frame_only(stream_id: u32) -> Vec<u8> {
    let name = b"@setDataFrame";
    let mut payload = vec![0x02];
    payload.extend_from_slice(&(name.len() as u16).to_be_bytes());
    payload.extend_from_slice(name);
    let mut chunk = vec![20, 0, 0, 0];
    chunk.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    chunk.push(18);
    chunk.extend_from_slice(&stream_id.to_le_bytes());
    chunk.extend_from_slice(&payload);
    chunk
}

fn millis(t: MediaTime) -> i64 {
    t.rescale(Timescale::MILLIS).ticks
}

/// Captures INFO-and-up log lines of the current thread (tests run on a current-thread runtime,
/// so the server's tasks log on this thread too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn publish_delivers_tracks_and_frames_and_tcp_close_drops_the_sink() {
    let logs = Captured::default();
    let _guard = logs.install();
    let server = start_server(test_limits()).await;
    let mut p = Publisher::start(
        server.addr,
        "live",
        "demo_900000?request_source=ott&channel_id=demo",
    )
    .await
    .expect("publish accepted");

    assert_eq!(
        server.log.authorized(),
        vec![PublishRequest {
            app: "live".into(),
            stream_name: "demo_900000".into(),
            query: vec![
                ("request_source".into(), "ott".into()),
                ("channel_id".into(), "demo".into()),
            ],
            peer: p.tcp.local_addr().expect("client addr"),
            protocol: ingest::PushProtocol::Rtmp,
        }]
    );

    p.metadata().await.expect("metadata");
    p.video(0, avc_sequence_header()).await.expect("avc header");
    p.audio(0, aac_sequence_header()).await.expect("aac header");
    // dts 0 IDR, dts 40 P shown at 80 (cts 40), dts 80 P, dts 120 IDR.
    let video = [
        (0, true, 0),
        (40, false, 40),
        (80, false, 0),
        (120, true, 0),
    ];
    for (i, (ts, key, cts)) in video.into_iter().enumerate() {
        p.video(ts, avc_frame(key, cts, &avc_nalu_payload(key, i as u8)))
            .await
            .expect("video");
        p.audio(ts + 3, aac_frame(&aac_payload(i as u8)))
            .await
            .expect("audio");
    }

    assert!(
        server
            .log
            .wait(STEP, |l| l.events("demo_900000").len() == 2 + 8)
            .await,
        "events: {:?}",
        server.log.events("demo_900000")
    );
    let events = server.log.events("demo_900000");
    match &events[..2] {
        [IngestEvent::Track(v), IngestEvent::Track(a)] => {
            let CodecConfig::Avc(avc) = &v.codec else {
                panic!("first track is not AVC: {v:?}")
            };
            assert_eq!((avc.info.width, avc.info.height), (320, 240));
            assert_eq!(avc.sps, vec![Bytes::from_static(SPS)]);
            assert_eq!(avc.pps, vec![Bytes::from_static(PPS)]);
            let CodecConfig::Aac(aac) = &a.codec else {
                panic!("second track is not AAC: {a:?}")
            };
            assert_eq!((aac.sample_rate, aac.channel_config), (44_100, 2));
        }
        other => panic!("tracks must come first: {other:?}"),
    }
    let frames = server.log.frames("demo_900000");
    let got_video: Vec<_> = frames
        .iter()
        .filter(|f| f.kind == TrackKind::Video)
        .map(|f| (millis(f.dts), millis(f.pts), f.keyframe, f.data.to_vec()))
        .collect();
    let want_video: Vec<_> = video
        .iter()
        .enumerate()
        .map(|(i, &(ts, key, cts))| {
            (
                i64::from(ts),
                i64::from(ts + cts),
                key,
                avc_nalu_payload(key, i as u8),
            )
        })
        .collect();
    assert_eq!(got_video, want_video);
    let got_audio: Vec<_> = frames
        .iter()
        .filter(|f| f.kind == TrackKind::Audio)
        .map(|f| (millis(f.dts), f.keyframe, f.data.to_vec()))
        .collect();
    let want_audio: Vec<_> = video
        .iter()
        .enumerate()
        .map(|(i, &(ts, _, _))| (i64::from(ts + 3), true, aac_payload(i as u8)))
        .collect();
    assert_eq!(got_audio, want_audio);
    assert!(!server.log.sink_dropped("demo_900000"));

    // The publisher vanishes without deleteStream.
    drop(p);
    assert!(
        server
            .log
            .wait(STEP, |l| l.sink_dropped("demo_900000"))
            .await,
        "sink dropped when the TCP connection closes"
    );
    server.shutdown().await;

    let text = logs.text();
    assert!(text.contains("accepted RTMP publish"), "{text}");
    assert!(text.contains("app=live"), "{text}");
    assert!(text.contains("stream=demo_900000"), "{text}");
    let ended = text
        .lines()
        .find(|l| l.contains("RTMP publish ended"))
        .unwrap_or_else(|| panic!("no end line in {text}"));
    assert!(
        ended.contains("publisher closed the connection")
            && ended.contains("video_frames=4")
            && ended.contains("audio_frames=4"),
        "{ended}"
    );
}

#[tokio::test]
async fn delete_stream_ends_the_publish() {
    let server = start_server(test_limits()).await;
    let mut p = Publisher::start(server.addr, "live", "ds")
        .await
        .expect("publish");
    p.send_av(3).await.expect("media");
    assert!(server.log.wait(STEP, |l| l.frames("ds").len() == 6).await);
    p.delete_stream().await.expect("deleteStream");
    assert!(server.log.wait(STEP, |l| l.sink_dropped("ds")).await);
    server.shutdown().await;
}

#[tokio::test]
async fn refused_publish_gets_an_error_and_no_sink() {
    let logs = Captured::default();
    let _guard = logs.install();
    let server = start_server(test_limits()).await;
    let mut p = Publisher::handshake(server.addr).await.expect("handshake");
    p.connect("live").await.expect("connect");
    let err = p
        .publish("refused_1?token=x")
        .await
        .expect_err("publish must not be accepted");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    let status = p.events.iter().find_map(|e| match e {
        ClientSessionEvent::UnknownTransactionResultReceived {
            additional_values, ..
        } => additional_values.first().cloned(),
        _ => None,
    });
    let Some(Amf0Value::Object(status)) = status else {
        panic!("no _error status among {:?}", p.events)
    };
    assert_eq!(
        status.get("code"),
        Some(&Amf0Value::Utf8String("NetStream.Publish.BadName".into()))
    );
    assert!(!p
        .events
        .contains(&ClientSessionEvent::PublishRequestAccepted));

    let requests = server.log.authorized();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].stream_name, "refused_1");
    assert_eq!(requests[0].query, vec![("token".into(), "x".into())]);
    assert!(server.log.events("refused_1").is_empty());
    assert!(
        !server.log.sink_dropped("refused_1"),
        "no sink was ever made"
    );
    server.shutdown().await;
    let text = logs.text();
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("refused RTMP publish")
            && l.contains("unknown stream \"refused_1\"")),
        "{text}"
    );
}

#[tokio::test]
async fn set_data_frame_crash_closes_only_that_connection() {
    let logs = Captured::default();
    let _guard = logs.install();
    let server = start_server(test_limits()).await;
    let mut victim = Publisher::start(server.addr, "live", "victim")
        .await
        .expect("victim");
    let mut bystander = Publisher::start(server.addr, "live", "bystander")
        .await
        .expect("bystander");
    victim.send_av(2).await.expect("victim media");
    bystander.send_av(2).await.expect("bystander media");
    assert!(
        server
            .log
            .wait(STEP, |l| l.frames("victim").len() == 4
                && l.frames("bystander").len() == 4)
            .await
    );

    // rml_rtmp assigns stream id 1 to the first createStream of a connection.
    victim.raw(&set_data_frame_only(1)).await.expect("send");
    assert!(
        closed_by_server(&mut victim.tcp, Instant::now() + STEP).await,
        "the crashing connection is closed"
    );
    assert!(server.log.wait(STEP, |l| l.sink_dropped("victim")).await);

    // The other publisher keeps delivering, and new publishers are served.
    let before = server.log.frames("bystander").len();
    for i in 10..14u32 {
        let key = i == 12;
        bystander
            .video(i * 40, avc_frame(key, 0, &avc_nalu_payload(key, i as u8)))
            .await
            .expect("bystander keeps publishing");
    }
    assert!(
        server
            .log
            .wait(STEP, |l| l.frames("bystander").len() == before + 4)
            .await
    );
    let mut late = Publisher::start(server.addr, "live", "late")
        .await
        .expect("late");
    late.send_av(1).await.expect("late media");
    assert!(server.log.wait(STEP, |l| l.frames("late").len() == 2).await);
    assert!(!server.log.sink_dropped("bystander"));
    server.shutdown().await;

    let text = logs.text();
    assert!(
        text.lines().any(|l| l.contains("rml_rtmp panicked")
            && l.contains("closing this connection only")
            && l.contains("stream=victim")),
        "{text}"
    );
}

#[tokio::test]
async fn garbage_and_idle_connections_are_closed_and_good_publishers_still_work() {
    let server = start_server(test_limits()).await;

    // Not RTMP at all: refused at the first byte.
    let mut state = 0x2545_F491_u32;
    let mut random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    random[0] = 0x17;
    let mut garbage = TcpStream::connect(server.addr).await.expect("connect");
    garbage.write_all(&random).await.expect("write");
    assert!(closed_by_server(&mut garbage, Instant::now() + Duration::from_secs(2)).await);

    // Random bytes behind a plausible version byte: the handshake "completes" (rml_rtmp does
    // not verify C2), then the chunk stream is nonsense or stalls; either way it is closed.
    random[0] = 0x03;
    let mut plausible = TcpStream::connect(server.addr).await.expect("connect");
    plausible.write_all(&random).await.expect("write");
    assert!(closed_by_server(&mut plausible, Instant::now() + STEP).await);

    // A truncated handshake: C0 and half of C1.
    let mut truncated = TcpStream::connect(server.addr).await.expect("connect");
    let c0c1 = Handshake::new(PeerType::Client)
        .generate_outbound_p0_and_p1()
        .expect("c0c1");
    truncated.write_all(&c0c1[..700]).await.expect("write");

    // 200 connections that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }

    // While they are open, a real publisher works.
    let mut good = Publisher::start(server.addr, "live", "good")
        .await
        .expect("good publisher");
    good.send_av(4).await.expect("media");
    assert!(server.log.wait(STEP, |l| l.frames("good").len() == 8).await);

    let deadline = Instant::now() + STEP;
    assert!(
        closed_by_server(&mut truncated, deadline).await,
        "truncated handshake closed"
    );
    for (i, tcp) in idle.iter_mut().enumerate() {
        assert!(
            closed_by_server(tcp, deadline).await,
            "idle connection {i} closed"
        );
    }

    // The publisher kept sending within the idle timeout, so it is still up.
    good.video(400, avc_frame(true, 0, &avc_nalu_payload(true, 99)))
        .await
        .expect("still publishing");
    assert!(server.log.wait(STEP, |l| l.frames("good").len() == 9).await);
    assert!(!server.log.sink_dropped("good"));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed_at_once() {
    let server = start_server(RtmpLimits {
        max_connections: 2,
        handshake_timeout: Duration::from_secs(10),
        ..RtmpLimits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Let the server accept both before the third arrives.
    sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(server.addr).await.expect("connect");
    assert!(closed_by_server(&mut third, Instant::now() + Duration::from_secs(2)).await);
    for tcp in &mut held {
        assert!(!closed_by_server(tcp, Instant::now() + Duration::from_millis(50)).await);
    }
    drop(held);
    // Slots come back once the held connections are gone.
    let mut publisher = None;
    for _ in 0..50 {
        if let Ok(p) = Publisher::start(server.addr, "live", "after_limit").await {
            publisher = Some(p);
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    assert!(publisher.is_some(), "a slot is free again");
    server.shutdown().await;
}

#[tokio::test]
async fn play_is_refused() {
    let server = start_server(test_limits()).await;
    let mut p = Publisher::handshake(server.addr).await.expect("handshake");
    p.connect("live").await.expect("connect");
    let r = p.session.request_playback("demo".into());
    p.send(r).await.expect("play request");
    let err = p
        .wait_for(|e| *e == ClientSessionEvent::PlaybackRequestAccepted)
        .await
        .expect_err("play must not be accepted");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    assert!(server.log.authorized().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_publishers_and_drops_sinks() {
    let server = start_server(test_limits()).await;
    let mut p = Publisher::start(server.addr, "live", "until_shutdown")
        .await
        .expect("publish");
    p.send_av(2).await.expect("media");
    assert!(
        server
            .log
            .wait(STEP, |l| l.frames("until_shutdown").len() == 4)
            .await
    );
    let log = server.log.clone();
    let addr = server.addr;
    server.shutdown().await;
    assert!(log.sink_dropped("until_shutdown"));
    assert!(closed_by_server(&mut p.tcp, Instant::now() + STEP).await);
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

/// Interop with a real encoder: ffmpeg's RTMP client (releaseStream, FCPublish, createStream,
/// publish, `@setDataFrame` metadata, deleteStream) pushing 2 s of H.264 + AAC.
#[tokio::test]
async fn ffmpeg_publishes_h264_and_aac() {
    const FFMPEG: &str = "/usr/bin/ffmpeg";
    if !std::path::Path::new(FFMPEG).exists() {
        eprintln!("SKIPPED ffmpeg_publishes_h264_and_aac: {FFMPEG} not installed (apt-get install ffmpeg)");
        return;
    }
    let server = start_server(RtmpLimits {
        handshake_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        ..RtmpLimits::default()
    })
    .await;
    let url = format!("rtmp://{}/live/ffmpeg_1?via=ffmpeg", server.addr);
    let mut child = tokio::process::Command::new(FFMPEG)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t",
            "2",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ])
        .args([
            "-g", "25", "-bf", "0", "-c:a", "aac", "-ac", "2", "-f", "flv", &url,
        ])
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ffmpeg");
    let status = timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("ffmpeg finishes within 30 s")
        .expect("ffmpeg ran");
    assert!(status.success(), "ffmpeg failed: {status}");
    assert!(
        server.log.wait(STEP, |l| l.sink_dropped("ffmpeg_1")).await,
        "publish ends when ffmpeg is done"
    );

    let requests = server.log.authorized();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].app, "live");
    assert_eq!(requests[0].query, vec![("via".into(), "ffmpeg".into())]);
    let events = server.log.events("ffmpeg_1");
    let tracks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            IngestEvent::Track(t) => Some(t.codec.codec_string()),
            IngestEvent::Frame(_) => None,
        })
        .collect();
    assert_eq!(tracks.len(), 2, "{tracks:?}");
    assert!(tracks.iter().any(|c| c.starts_with("avc1.")), "{tracks:?}");
    assert!(tracks.contains(&"mp4a.40.2".to_string()), "{tracks:?}");
    let frames = server.log.frames("ffmpeg_1");
    let video: Vec<_> = frames
        .iter()
        .filter(|f| f.kind == TrackKind::Video)
        .collect();
    let audio = frames.len() - video.len();
    assert_eq!(video.len(), 50, "2 s at 25 fps");
    let keyframes: Vec<_> = video
        .iter()
        .filter(|f| f.keyframe)
        .map(|f| millis(f.dts))
        .collect();
    // ffmpeg starts video a few ms after 0 (AAC priming); a GOP of 25 frames is 1 s.
    assert!(
        keyframes.len() == 2 && keyframes[0] < 100 && keyframes[1] - keyframes[0] == 1000,
        "{keyframes:?}"
    );
    assert!(video
        .windows(2)
        .all(|w| w[1].dts.ticks - w[0].dts.ticks == 40));
    assert!(
        (80..=90).contains(&audio),
        "about 2 s of 1024-sample frames: {audio}"
    );
    server.shutdown().await;
}
