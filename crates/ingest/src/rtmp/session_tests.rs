//! The sans-IO session driven by rml_rtmp's own client, in memory.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType,
};
use rml_rtmp::time::RtmpTimestamp;

use super::*;
use crate::{IngestEvent, IngestSink, PublishRequest, Refusal};

const SPS: &[u8] = &[
    0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
    0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0xa4, 0x80,
];
const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

fn avc_sequence_header() -> Bytes {
    let mut b = vec![
        0x17, 0x00, 0, 0, 0, 0x01, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1,
    ];
    b.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    b.extend_from_slice(SPS);
    b.push(1);
    b.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    b.extend_from_slice(PPS);
    Bytes::from(b)
}

fn avc_idr() -> Bytes {
    Bytes::from_static(&[0x17, 0x01, 0, 0, 0, 0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00])
}

struct TestSink {
    events: Arc<Mutex<Vec<IngestEvent>>>,
    dropped: Arc<AtomicBool>,
    fail: bool,
}

impl IngestSink for TestSink {
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String> {
        if self.fail {
            return Err("store is full".into());
        }
        self.events.lock().expect("lock").push(event);
        Ok(())
    }
}

impl Drop for TestSink {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// A server session wired to an rml_rtmp client session through two byte queues.
struct Pair {
    server: RtmpPublishSession,
    client: ClientSession,
    to_server: VecDeque<Vec<u8>>,
    to_client: VecDeque<Vec<u8>>,
    client_events: Vec<ClientSessionEvent>,
    requests: Vec<PublishRequest>,
    closes: Vec<CloseReason>,
    ended: Vec<PublishSummary>,
    refuse: Option<Refusal>,
    sink_fails: bool,
    events: Arc<Mutex<Vec<IngestEvent>>>,
    dropped: Arc<AtomicBool>,
}

fn peer() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], 50123))
}

impl Pair {
    /// Handshake done, client and server sessions running.
    fn new() -> Pair {
        let mut server = RtmpPublishSession::new(peer());
        let mut client_hs = Handshake::new(PeerType::Client);
        let c0c1 = client_hs.generate_outbound_p0_and_p1().expect("c0c1");
        let mut s_out = Vec::new();
        for a in server.handle_bytes(&c0c1).expect("c0c1 accepted") {
            match a {
                Action::Send(b) => s_out.extend(b),
                other => panic!("unexpected {other:?}"),
            }
        }
        let (c2, rest) = match client_hs.process_bytes(&s_out).expect("s0s1s2") {
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => (response_bytes, remaining_bytes),
            other => panic!("handshake not complete: {other:?}"),
        };
        assert!(rest.is_empty());
        assert_eq!(server.stage(), Stage::Handshake);
        let (client, results) = ClientSession::new(ClientSessionConfig::new()).expect("client");
        assert!(results.is_empty());
        let mut pair = Pair {
            server,
            client,
            to_server: VecDeque::from([c2]),
            to_client: VecDeque::new(),
            client_events: Vec::new(),
            requests: Vec::new(),
            closes: Vec::new(),
            ended: Vec::new(),
            refuse: None,
            sink_fails: false,
            events: Arc::default(),
            dropped: Arc::default(),
        };
        pair.pump().expect("handshake completes");
        assert_eq!(pair.server.stage(), Stage::Connected);
        pair
    }

    fn client_sends(&mut self, r: ClientSessionResult) {
        match r {
            ClientSessionResult::OutboundResponse(p) => self.to_server.push_back(p.bytes),
            ClientSessionResult::RaisedEvent(e) => self.client_events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }

    /// Moves bytes both ways until both queues are empty.
    fn pump(&mut self) -> Result<(), RtmpError> {
        for _ in 0..1000 {
            if let Some(bytes) = self.to_server.pop_front() {
                let actions = self.server.handle_bytes(&bytes)?;
                self.perform(actions)?;
            } else if let Some(bytes) = self.to_client.pop_front() {
                for r in self
                    .client
                    .handle_input(&bytes)
                    .expect("client accepts server bytes")
                {
                    self.client_sends(r);
                }
            } else {
                return Ok(());
            }
        }
        panic!("pump did not settle");
    }

    fn perform(&mut self, actions: Vec<Action>) -> Result<(), RtmpError> {
        let mut queue = VecDeque::from(actions);
        while let Some(a) = queue.pop_front() {
            match a {
                Action::Send(b) => self.to_client.push_back(b),
                Action::Authorize(req) => {
                    assert!(queue.is_empty(), "Authorize must come last");
                    self.requests.push(req);
                    let more = match self.refuse.clone() {
                        Some(r) => self.server.refuse_publish(&r)?,
                        None => self.server.accept_publish(Box::new(TestSink {
                            events: Arc::clone(&self.events),
                            dropped: Arc::clone(&self.dropped),
                            fail: self.sink_fails,
                        }))?,
                    };
                    queue.extend(more);
                }
                Action::PublishEnded(s) => self.ended.push(s),
                Action::Close(r) => self.closes.push(r),
            }
        }
        Ok(())
    }

    fn connect_and_publish(&mut self, app: &str, key: &str) -> Result<(), RtmpError> {
        let r = self.client.request_connection(app.into()).expect("connect");
        self.client_sends(r);
        self.pump()?;
        assert!(self
            .client_events
            .contains(&ClientSessionEvent::ConnectionRequestAccepted));
        let r = self
            .client
            .request_publishing(key.into(), PublishRequestType::Live)
            .expect("publish");
        self.client_sends(r);
        self.pump()
    }

    fn video(&mut self, ts: u32, body: Bytes) -> Result<(), RtmpError> {
        let r = self
            .client
            .publish_video_data(body, RtmpTimestamp::new(ts), false)
            .expect("video");
        self.client_sends(r);
        self.pump()
    }

    fn events(&self) -> Vec<IngestEvent> {
        self.events.lock().expect("lock").clone()
    }
}

/// One RTMP message as a chunk stream of `chunk_size` chunks on `csid`, with a type 0 header.
fn raw_message(
    csid: u8,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
    chunk_size: usize,
) -> Vec<u8> {
    assert!((2..64).contains(&csid));
    let len = payload.len() as u32;
    let mut out = vec![csid, 0, 0, 0];
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    for (i, chunk) in payload.chunks(chunk_size).enumerate() {
        if i > 0 {
            out.push(0xC0 | csid);
        }
        out.extend_from_slice(chunk);
    }
    out
}

fn amf0_string(s: &str) -> Vec<u8> {
    let mut v = vec![0x02];
    v.extend_from_slice(&(s.len() as u16).to_be_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

#[test]
fn publish_merges_queries_demuxes_and_ends_on_delete_stream() {
    let mut pair = Pair::new();
    pair.connect_and_publish("live?a=1", "demo_900000?b=2&c")
        .expect("publish");
    assert_eq!(
        pair.requests,
        vec![PublishRequest {
            app: "live".into(),
            stream_name: "demo_900000".into(),
            query: vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), String::new())
            ],
            peer: peer(),
            protocol: crate::PushProtocol::Rtmp,
        }]
    );
    assert_eq!(pair.server.stage(), Stage::Publishing);
    assert!(pair
        .client_events
        .contains(&ClientSessionEvent::PublishRequestAccepted));

    pair.video(0, avc_sequence_header())
        .expect("sequence header");
    pair.video(40, avc_idr()).expect("frame");
    let events = pair.events();
    assert!(
        matches!(events.as_slice(), [IngestEvent::Track(_), IngestEvent::Frame(f)] if f.keyframe)
    );

    let rs = pair.client.stop_publishing().expect("deleteStream");
    for r in rs {
        pair.client_sends(r);
    }
    pair.pump().expect("deleteStream handled");
    assert!(
        pair.dropped.load(Ordering::SeqCst),
        "sink dropped on deleteStream"
    );
    assert_eq!(pair.ended.len(), 1);
    let s = &pair.ended[0];
    assert_eq!(s.reason, EndReason::PublisherFinished);
    assert_eq!((s.tracks, s.video_frames, s.audio_frames), (1, 1, 0));
    assert_eq!(pair.server.stage(), Stage::Connected);
    assert_eq!(pair.server.finish(EndReason::ConnectionClosed), None);
}

#[test]
fn set_data_frame_alone_is_contained_and_fails_the_session() {
    let mut pair = Pair::new();
    pair.connect_and_publish("live", "k").expect("publish");
    // The stream id the server gave the client is 1 (rml_rtmp counts from 1).
    let msg = raw_message(20, 18, 1, &amf0_string("@setDataFrame"), 4096);
    pair.to_server.push_back(msg);
    let err = pair.pump().expect_err("rml_rtmp panics on this");
    match &err {
        RtmpError::PeerCrashedParser {
            peer: p,
            stage,
            panic,
            ..
        } => {
            assert_eq!(*p, peer());
            assert_eq!(*stage, Stage::Publishing);
            assert!(panic.contains("index out of bounds"), "{panic}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("closing this connection only"));
    // The failed session ignores further input and still reports the publish it ends.
    assert!(pair
        .server
        .handle_bytes(&[1, 2, 3])
        .expect("ignored")
        .is_empty());
    let summary = pair
        .server
        .finish(EndReason::Failed(err.to_string()))
        .expect("publish was running");
    assert_eq!(summary.request.stream_name, "k");
    assert!(pair.dropped.load(Ordering::SeqCst));
}

#[test]
fn command_with_too_few_values_is_contained() {
    let mut pair = Pair::new();
    let msg = raw_message(3, 20, 0, &amf0_string("connect"), 128);
    pair.to_server.push_back(msg);
    let err = pair.pump().expect_err("rml_rtmp panics on drain(..3)");
    assert!(
        matches!(
            err,
            RtmpError::PeerCrashedParser {
                stage: Stage::Connected,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn deeply_nested_amf0_is_refused_before_rml_rtmp_recurses() {
    let mut pair = Pair::new();
    let mut payload = Vec::new();
    for _ in 0..200_000 {
        payload.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
    }
    let msg = raw_message(3, 18, 0, &payload, 128);
    // Fed in pieces, as a socket would deliver it.
    let mut result = Ok(Vec::new());
    for piece in msg.chunks(64 * 1024) {
        result = pair.server.handle_bytes(piece);
        if result.is_err() {
            break;
        }
    }
    match result {
        Err(RtmpError::Amf0TooDeep {
            message_type: 18,
            message_len: 1_000_000,
            limit,
            ..
        }) => assert_eq!(limit, 32),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn garbage_instead_of_handshake_is_an_error() {
    let mut s = RtmpPublishSession::new(peer());
    let err = s
        .handle_bytes(&[0x16, 0x03, 0x01, 0x02])
        .expect_err("not RTMP");
    assert!(matches!(err, RtmpError::Handshake { .. }), "{err}");
    assert_eq!(s.finish(EndReason::ConnectionClosed), None);
}

#[test]
fn play_is_refused_and_closes() {
    let mut pair = Pair::new();
    let r = pair
        .client
        .request_connection("live".into())
        .expect("connect");
    pair.client_sends(r);
    pair.pump().expect("connect");
    let r = pair.client.request_playback("demo".into()).expect("play");
    pair.client_sends(r);
    pair.pump().expect("play refused without error");
    assert_eq!(
        pair.closes,
        vec![CloseReason::PlaybackRefused {
            stream: "demo".into()
        }]
    );
    assert!(pair.requests.is_empty());
}

#[test]
fn refused_publish_answers_and_closes_without_sink() {
    let mut pair = Pair::new();
    pair.refuse = Some(Refusal::UnknownStream("nope".into()));
    pair.connect_and_publish("live", "nope")
        .expect("refusal is not an error");
    assert_eq!(pair.requests.len(), 1);
    assert_eq!(
        pair.closes,
        vec![CloseReason::PublishRefused(Refusal::UnknownStream(
            "nope".into()
        ))]
    );
    assert!(!pair
        .client_events
        .contains(&ClientSessionEvent::PublishRequestAccepted));
    assert!(pair.events().is_empty());
    assert_eq!(pair.server.stage(), Stage::Connected);
    assert!(pair.server.finish(EndReason::ConnectionClosed).is_none());
}

#[test]
fn sink_error_fails_the_session() {
    let mut pair = Pair::new();
    pair.sink_fails = true;
    pair.connect_and_publish("live", "k").expect("publish");
    let err = pair
        .video(0, avc_sequence_header())
        .expect_err("sink refuses");
    match &err {
        RtmpError::SinkRejected {
            app,
            stream,
            message,
            ..
        } => {
            assert_eq!((app.as_str(), stream.as_str()), ("live", "k"));
            assert_eq!(message, "store is full");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn answers_without_a_pending_publish_are_errors() {
    let mut pair = Pair::new();
    let err = pair
        .server
        .refuse_publish(&Refusal::ChannelOff("x".into()))
        .expect_err("nothing pending");
    assert!(matches!(err, RtmpError::NoPendingPublish { .. }));
}
