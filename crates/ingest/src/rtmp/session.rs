//! One RTMP publish connection as a state machine: bytes in, [`Action`]s out.
//!
//! It contains no networking code and never reads the clock (rml_rtmp's `ServerSession` reads
//! `SystemTime` for the timestamps of its own control messages; nothing here depends on it).

use std::fmt;
use std::mem;
use std::net::SocketAddr;

use bytes::Bytes;
use media::flv::{DemuxEvent, FlvDemuxer};
use media::TrackKind;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionError, ServerSessionEvent, ServerSessionResult,
};
use tracing::{debug, trace};

use super::amf0_screen::{Amf0DepthScreen, MAX_AMF0_DEPTH};
use super::contain::contain;
use super::error::{RtmpError, Stage};
use crate::{split_query, IngestEvent, IngestSink, PublishRequest, Refusal};

/// What the I/O shell must do next, in order.
#[derive(Debug)]
pub enum Action {
    /// Write these bytes to the peer. Order matters (RTMP chunk headers are delta-compressed).
    Send(Vec<u8>),
    /// The peer asks to publish. Answer with [`RtmpPublishSession::accept_publish`] or
    /// [`RtmpPublishSession::refuse_publish`] before feeding more bytes. Always the last action
    /// of a batch, so every `Send` before it is already queued when the answer is serialized.
    Authorize(PublishRequest),
    /// The publisher ended its publish (deleteStream or closeStream); the sink has been dropped.
    /// The connection stays open: the peer may publish again or close it.
    PublishEnded(PublishSummary),
    /// Send everything queued before this action, then close the connection.
    Close(CloseReason),
}

/// Why the session asks to close an otherwise healthy connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The authorizer refused the publish; the peer got an `_error` status.
    PublishRefused(Refusal),
    /// The peer asked to play a stream; Headwater does not serve RTMP playback.
    PlaybackRefused { stream: String },
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PublishRefused(r) => write!(f, "publish refused: {r}"),
            CloseReason::PlaybackRefused { stream } => {
                write!(
                    f,
                    "play of {stream:?} refused: Headwater does not serve RTMP playback"
                )
            }
        }
    }
}

/// Why a publish ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The publisher sent deleteStream or closeStream.
    PublisherFinished,
    /// The publisher closed the TCP connection without deleteStream.
    ConnectionClosed,
    /// The server is shutting down.
    Shutdown,
    /// The connection failed; the text is the error.
    Failed(String),
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndReason::PublisherFinished => f.write_str("publisher finished (deleteStream)"),
            EndReason::ConnectionClosed => f.write_str("publisher closed the connection"),
            EndReason::Shutdown => f.write_str("server shutdown"),
            EndReason::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

/// What one publish delivered, reported when it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishSummary {
    pub request: PublishRequest,
    pub reason: EndReason,
    /// Track events delivered to the sink.
    pub tracks: u32,
    pub video_frames: u64,
    pub audio_frames: u64,
}

/// The server side of one RTMP connection that may publish one stream at a time.
///
/// Feed it every byte the peer sends with [`handle_bytes`](Self::handle_bytes) and carry out the
/// returned actions in order. It answers the handshake and `connect`, asks for authorization on
/// `publish`, demuxes audio and video tags with [`FlvDemuxer`] into the sink it was given, and
/// refuses playback. Every call into rml_rtmp is guarded: a panic in it becomes
/// [`RtmpError::PeerCrashedParser`] and AMF0 nested deep enough to overflow its recursive
/// decoder is refused up front. After any `Err` the session is failed and must be dropped (or
/// [`finish`](Self::finish)ed) by closing the connection.
pub struct RtmpPublishSession {
    peer: SocketAddr,
    phase: Phase,
    handshake_done: bool,
    closed: bool,
    bytes_received: u64,
    /// App name and query from `connect`.
    app: Option<(String, Vec<(String, String)>)>,
    pending: Option<PendingPublish>,
    publish: Option<ActivePublish>,
}

enum Phase {
    Handshake(Box<Handshake>),
    Session {
        session: Box<ServerSession>,
        screen: Box<Amf0DepthScreen>,
    },
    /// After an error or `finish`: rml_rtmp state is never touched again.
    Failed,
}

struct PendingPublish {
    request_id: u32,
    request: PublishRequest,
    /// The stream key as rml_rtmp knows it (with query), to match `PublishStreamFinished`.
    rml_stream_key: String,
}

struct ActivePublish {
    request: PublishRequest,
    rml_stream_key: String,
    sink: Box<dyn IngestSink>,
    demuxer: FlvDemuxer,
    tracks: u32,
    video_frames: u64,
    audio_frames: u64,
}

impl fmt::Debug for RtmpPublishSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtmpPublishSession")
            .field("peer", &self.peer)
            .field("stage", &self.stage())
            .field("bytes_received", &self.bytes_received)
            .field("app", &self.app.as_ref().map(|(a, _)| a))
            .field("publish", &self.publish_request().map(|r| &r.stream_name))
            .finish()
    }
}

impl RtmpPublishSession {
    /// A session for a connection from `peer`, waiting for the handshake.
    pub fn new(peer: SocketAddr) -> Self {
        RtmpPublishSession {
            peer,
            phase: Phase::Handshake(Box::new(Handshake::new(PeerType::Server))),
            handshake_done: false,
            closed: false,
            bytes_received: 0,
            app: None,
            pending: None,
            publish: None,
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn stage(&self) -> Stage {
        if self.closed {
            Stage::Closed
        } else if !self.handshake_done {
            Stage::Handshake
        } else if self.publish.is_some() {
            Stage::Publishing
        } else if self.pending.is_some() {
            Stage::Authorizing
        } else {
            Stage::Connected
        }
    }

    /// Bytes fed so far.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The publish being authorized or running, if any.
    pub fn publish_request(&self) -> Option<&PublishRequest> {
        match (&self.publish, &self.pending) {
            (Some(p), _) => Some(&p.request),
            (None, Some(p)) => Some(&p.request),
            (None, None) => None,
        }
    }

    /// Takes bytes received from the peer, in order, and returns what to do.
    pub fn handle_bytes(&mut self, bytes: &[u8]) -> Result<Vec<Action>, RtmpError> {
        self.bytes_received += bytes.len() as u64;
        let mut out = Batch::default();
        // Any early return below leaves the phase `Failed`.
        match mem::replace(&mut self.phase, Phase::Failed) {
            Phase::Handshake(mut handshake) => {
                let result = contain(|| handshake.process_bytes(bytes))
                    .map_err(|panic| self.crashed(panic, bytes.len()))?
                    .map_err(|source| RtmpError::Handshake {
                        peer: self.peer,
                        bytes_received: self.bytes_received,
                        source,
                    })?;
                match result {
                    HandshakeProcessResult::InProgress { response_bytes } => {
                        out.send(response_bytes);
                        self.phase = Phase::Handshake(handshake);
                    }
                    HandshakeProcessResult::Completed {
                        response_bytes,
                        remaining_bytes,
                    } => {
                        out.send(response_bytes);
                        self.handshake_done = true;
                        let (mut session, results) = self.rml(bytes.len(), || {
                            ServerSession::new(ServerSessionConfig::new())
                        })?;
                        let mut screen = Box::new(Amf0DepthScreen::new());
                        self.absorb(&mut session, results, &mut out)?;
                        if !remaining_bytes.is_empty() {
                            self.feed(&mut session, &mut screen, &remaining_bytes, &mut out)?;
                        }
                        self.phase = Phase::Session {
                            session: Box::new(session),
                            screen,
                        };
                    }
                }
            }
            Phase::Session {
                mut session,
                mut screen,
            } => {
                self.feed(&mut session, &mut screen, bytes, &mut out)?;
                self.phase = Phase::Session { session, screen };
            }
            Phase::Failed => {}
        }
        Ok(out.into_actions())
    }

    /// Accepts the publish announced by [`Action::Authorize`]; media now flows into `sink`.
    pub fn accept_publish(&mut self, sink: Box<dyn IngestSink>) -> Result<Vec<Action>, RtmpError> {
        let Some(pending) = self.pending.take() else {
            return Err(self.no_pending());
        };
        let mut phase = mem::replace(&mut self.phase, Phase::Failed);
        let Phase::Session { session, .. } = &mut phase else {
            self.phase = phase;
            return Err(self.no_pending());
        };
        let results = self.rml(0, || session.accept_request(pending.request_id))?;
        self.publish = Some(ActivePublish {
            request: pending.request,
            rml_stream_key: pending.rml_stream_key,
            sink,
            demuxer: FlvDemuxer::new(),
            tracks: 0,
            video_frames: 0,
            audio_frames: 0,
        });
        let mut out = Batch::default();
        self.absorb(session, results, &mut out)?;
        self.phase = phase;
        Ok(out.into_actions())
    }

    /// Refuses the publish announced by [`Action::Authorize`]: the peer gets an `_error` status
    /// and the connection is closed.
    pub fn refuse_publish(&mut self, refusal: &Refusal) -> Result<Vec<Action>, RtmpError> {
        let Some(pending) = self.pending.take() else {
            return Err(self.no_pending());
        };
        let mut phase = mem::replace(&mut self.phase, Phase::Failed);
        let Phase::Session { session, .. } = &mut phase else {
            self.phase = phase;
            return Err(self.no_pending());
        };
        let code = match refusal {
            Refusal::AlreadyPublishing(_) | Refusal::UnknownStream(_) => {
                "NetStream.Publish.BadName"
            }
            Refusal::UnknownApp(_)
            | Refusal::ChannelOff(_)
            | Refusal::WrongProtocol { .. }
            | Refusal::AddressNotAllowed(_) => "NetStream.Publish.Denied",
        };
        let description = refusal.to_string();
        let results = self.rml(0, || {
            session.reject_request(pending.request_id, code, &description)
        })?;
        let mut out = Batch::default();
        self.absorb(session, results, &mut out)?;
        out.actions
            .push(Action::Close(CloseReason::PublishRefused(refusal.clone())));
        self.phase = phase;
        Ok(out.into_actions())
    }

    /// Ends the session: drops the sink (ending the publish, if one runs) and all rml_rtmp
    /// state. Returns what the publish delivered. Later calls return `None`.
    pub fn finish(&mut self, reason: EndReason) -> Option<PublishSummary> {
        self.closed = true;
        self.pending = None;
        self.phase = Phase::Failed;
        self.end_publish(reason)
    }

    fn end_publish(&mut self, reason: EndReason) -> Option<PublishSummary> {
        let publish = self.publish.take()?;
        let summary = PublishSummary {
            request: publish.request,
            reason,
            tracks: publish.tracks,
            video_frames: publish.video_frames,
            audio_frames: publish.audio_frames,
        };
        drop(publish.sink);
        Some(summary)
    }

    /// Screens `bytes`, then hands them to rml_rtmp and handles what it raises.
    fn feed(
        &mut self,
        session: &mut ServerSession,
        screen: &mut Amf0DepthScreen,
        bytes: &[u8],
        out: &mut Batch,
    ) -> Result<(), RtmpError> {
        let screened = contain(|| screen.check(bytes))
            .map_err(|panic| self.crashed(panic, bytes.len()))?
            .map_err(|e| self.session_error(e.into()))?;
        if let Err(too_deep) = screened {
            return Err(RtmpError::Amf0TooDeep {
                peer: self.peer,
                stage: self.stage(),
                bytes_received: self.bytes_received,
                message_type: too_deep.message_type,
                message_len: too_deep.message_len,
                limit: MAX_AMF0_DEPTH,
            });
        }
        let results = self.rml(bytes.len(), || session.handle_input(bytes))?;
        self.absorb(session, results, out)
    }

    fn absorb(
        &mut self,
        session: &mut ServerSession,
        results: Vec<ServerSessionResult>,
        out: &mut Batch,
    ) -> Result<(), RtmpError> {
        for result in results {
            match result {
                ServerSessionResult::OutboundResponse(packet) => out.send(packet.bytes),
                ServerSessionResult::RaisedEvent(event) => self.on_event(session, event, out)?,
                ServerSessionResult::UnhandleableMessageReceived(payload) => debug!(
                    type_id = payload.type_id,
                    stream_id = payload.message_stream_id,
                    len = payload.data.len(),
                    "ignoring RTMP message rml_rtmp does not handle"
                ),
            }
        }
        Ok(())
    }

    fn on_event(
        &mut self,
        session: &mut ServerSession,
        event: ServerSessionEvent,
        out: &mut Batch,
    ) -> Result<(), RtmpError> {
        match event {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                let (app, query) = split_query(&app_name);
                debug!(app = %app, "RTMP connect");
                self.app = Some((app, query));
                let results = self.rml(0, || session.accept_request(request_id))?;
                self.absorb(session, results, out)?;
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                app_name,
                stream_key,
                mode,
            } => {
                if self.pending.is_some() || self.publish.is_some() {
                    debug!(stream_key = %stream_key, "refusing a second publish on one connection");
                    let results = self.rml(0, || {
                        session.reject_request(
                            request_id,
                            "NetStream.Publish.BadName",
                            "this connection is already publishing",
                        )
                    })?;
                    return self.absorb(session, results, out);
                }
                let (app, mut query) = self.app.clone().unwrap_or_else(|| split_query(&app_name));
                let (stream_name, stream_query) = split_query(&stream_key);
                query.extend(stream_query);
                debug!(app = %app, stream = %stream_name, ?mode, "RTMP publish requested");
                let request = PublishRequest {
                    app,
                    stream_name,
                    query,
                    peer: self.peer,
                    protocol: crate::PushProtocol::Rtmp,
                };
                self.pending = Some(PendingPublish {
                    request_id,
                    request: request.clone(),
                    rml_stream_key: stream_key,
                });
                out.authorize = Some(request);
            }
            ServerSessionEvent::PublishStreamFinished { stream_key, .. } => {
                let ours = self
                    .publish
                    .as_ref()
                    .is_some_and(|p| p.rml_stream_key == stream_key);
                if ours {
                    if let Some(summary) = self.end_publish(EndReason::PublisherFinished) {
                        out.actions.push(Action::PublishEnded(summary));
                    }
                }
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                debug!(?metadata, "RTMP stream metadata");
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => self.on_media(TrackKind::Video, timestamp.value, data)?,
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => self.on_media(TrackKind::Audio, timestamp.value, data)?,
            ServerSessionEvent::PlayStreamRequested {
                request_id,
                stream_key,
                ..
            } => {
                debug!(stream_key = %stream_key, "refusing RTMP play");
                let results = self.rml(0, || {
                    session.reject_request(
                        request_id,
                        "NetStream.Play.Failed",
                        "Headwater does not serve RTMP playback",
                    )
                })?;
                self.absorb(session, results, out)?;
                out.actions
                    .push(Action::Close(CloseReason::PlaybackRefused {
                        stream: stream_key,
                    }));
            }
            ServerSessionEvent::UnhandleableAmf0Command { command_name, .. } => {
                debug!(command = %command_name, "ignoring RTMP command");
            }
            ServerSessionEvent::ReleaseStreamRequested { stream_key, .. } => {
                debug!(stream_key = %stream_key, "ignoring releaseStream");
            }
            ServerSessionEvent::PlayStreamFinished { .. }
            | ServerSessionEvent::ClientChunkSizeChanged { .. }
            | ServerSessionEvent::AcknowledgementReceived { .. }
            | ServerSessionEvent::PingResponseReceived { .. } => {
                trace!(?event, "RTMP control event");
            }
        }
        Ok(())
    }

    /// Demuxes one audio or video tag body and hands the result to the sink.
    fn on_media(
        &mut self,
        kind: TrackKind,
        timestamp_ms: u32,
        data: Bytes,
    ) -> Result<(), RtmpError> {
        let peer = self.peer;
        let Some(publish) = self.publish.as_mut() else {
            trace!(?kind, "ignoring media outside a publish");
            return Ok(());
        };
        let demuxed = match kind {
            TrackKind::Video => publish.demuxer.push_video(timestamp_ms, &data),
            TrackKind::Audio => publish.demuxer.push_audio(timestamp_ms, &data),
        };
        let event = match demuxed {
            Ok(None) => return Ok(()),
            Ok(Some(DemuxEvent::Track(track))) => {
                debug!(kind = ?track.kind(), codec = %track.codec.codec_string(), "RTMP publish track");
                IngestEvent::Track(track)
            }
            Ok(Some(DemuxEvent::Frame(frame))) => IngestEvent::Frame(frame),
            Err(source) => {
                return Err(RtmpError::Demux {
                    peer,
                    app: publish.request.app.clone(),
                    stream: publish.request.stream_name.clone(),
                    kind,
                    timestamp_ms,
                    tag_len: data.len(),
                    source: Box::new(source),
                })
            }
        };
        let counter = match &event {
            IngestEvent::Track(_) => None,
            IngestEvent::Frame(f) => Some(f.kind),
        };
        publish
            .sink
            .on_event(event)
            .map_err(|message| RtmpError::SinkRejected {
                peer,
                app: publish.request.app.clone(),
                stream: publish.request.stream_name.clone(),
                message,
            })?;
        match counter {
            None => publish.tracks += 1,
            Some(TrackKind::Video) => publish.video_frames += 1,
            Some(TrackKind::Audio) => publish.audio_frames += 1,
        }
        Ok(())
    }

    /// Calls rml_rtmp, turning both its errors and its panics into [`RtmpError`].
    fn rml<T>(
        &self,
        input_len: usize,
        f: impl FnOnce() -> Result<T, ServerSessionError>,
    ) -> Result<T, RtmpError> {
        contain(f)
            .map_err(|panic| self.crashed(panic, input_len))?
            .map_err(|source| self.session_error(source))
    }

    fn crashed(&self, panic: String, input_len: usize) -> RtmpError {
        RtmpError::PeerCrashedParser {
            peer: self.peer,
            stage: self.stage(),
            bytes_received: self.bytes_received,
            input_len,
            panic,
        }
    }

    fn session_error(&self, source: ServerSessionError) -> RtmpError {
        RtmpError::Session {
            peer: self.peer,
            stage: self.stage(),
            bytes_received: self.bytes_received,
            source,
        }
    }

    fn no_pending(&self) -> RtmpError {
        RtmpError::NoPendingPublish {
            peer: self.peer,
            stage: self.stage(),
        }
    }
}

/// Actions gathered while handling one input, with the authorization request held back so it
/// comes last.
#[derive(Default)]
struct Batch {
    actions: Vec<Action>,
    authorize: Option<PublishRequest>,
}

impl Batch {
    fn send(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.actions.push(Action::Send(bytes));
        }
    }

    fn into_actions(mut self) -> Vec<Action> {
        if let Some(request) = self.authorize {
            self.actions.push(Action::Authorize(request));
        }
        self.actions
    }
}
