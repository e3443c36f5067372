//! What can end an RTMP connection, with enough context to find the offending peer and bytes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use media::{MediaError, TrackKind};
use rml_rtmp::handshake::HandshakeError;
use rml_rtmp::sessions::ServerSessionError;

/// Where in its life an RTMP connection was when something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Exchanging the C0/C1/C2 and S0/S1/S2 handshake packets.
    Handshake,
    /// Handshake done; connect, createStream and friends, no publish yet.
    Connected,
    /// A publish request waits for the [`PublishAuthorizer`](crate::PublishAuthorizer).
    Authorizing,
    /// Media flows into the sink.
    Publishing,
    /// The session ended; nothing more is accepted.
    Closed,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Handshake => "handshake",
            Stage::Connected => "connected",
            Stage::Authorizing => "authorizing",
            Stage::Publishing => "publishing",
            Stage::Closed => "closed",
        })
    }
}

/// Why an RTMP connection was closed by the server. Each variant names the peer, the stage and
/// how many bytes the peer had sent, so a log line is enough to find the connection.
#[derive(Debug, thiserror::Error)]
pub enum RtmpError {
    #[error("RTMP handshake with {peer} failed after {bytes_received} bytes: {source}")]
    Handshake {
        peer: SocketAddr,
        bytes_received: u64,
        #[source]
        source: HandshakeError,
    },

    #[error("RTMP session with {peer} failed ({stage}, after {bytes_received} bytes): {source}")]
    Session {
        peer: SocketAddr,
        stage: Stage,
        bytes_received: u64,
        #[source]
        source: ServerSessionError,
    },

    /// rml_rtmp panicked on what the peer sent (it indexes and subtracts on peer-controlled
    /// values). The panic was caught; only this connection is closed.
    #[error(
        "rml_rtmp panicked on input from {peer} ({stage}, after {bytes_received} bytes, \
         in a read of {input_len} bytes): {panic}; closing this connection only"
    )]
    PeerCrashedParser {
        peer: SocketAddr,
        stage: Stage,
        bytes_received: u64,
        input_len: usize,
        panic: String,
    },

    /// An AMF0 message nests deeper than rml_rtmp's recursive decoder can take without
    /// overflowing the stack (which would abort the whole process, past `catch_unwind`).
    #[error(
        "{peer} sent an AMF0 message (type {message_type}, {message_len} bytes) nested deeper \
         than {limit} levels ({stage}, after {bytes_received} bytes)"
    )]
    Amf0TooDeep {
        peer: SocketAddr,
        stage: Stage,
        bytes_received: u64,
        message_type: u8,
        message_len: usize,
        limit: usize,
    },

    #[error(
        "cannot demux {kind:?} tag from {peer} on {app}/{stream} at {timestamp_ms} ms \
         ({tag_len} bytes): {source}"
    )]
    Demux {
        peer: SocketAddr,
        app: String,
        stream: String,
        kind: TrackKind,
        timestamp_ms: u32,
        tag_len: usize,
        #[source]
        source: Box<MediaError>,
    },

    #[error("sink of {app}/{stream} (publisher {peer}) refused an event: {message}")]
    SinkRejected {
        peer: SocketAddr,
        app: String,
        stream: String,
        message: String,
    },

    #[error("{peer} did not complete the RTMP handshake within {timeout:?} ({bytes_received} bytes received)")]
    HandshakeTimeout {
        peer: SocketAddr,
        timeout: Duration,
        bytes_received: u64,
    },

    #[error("{peer} sent nothing for {timeout:?} ({stage}, {bytes_received} bytes received)")]
    IdleTimeout {
        peer: SocketAddr,
        stage: Stage,
        timeout: Duration,
        bytes_received: u64,
    },

    #[error("writing to {peer} did not finish within {timeout:?} ({stage})")]
    WriteTimeout {
        peer: SocketAddr,
        stage: Stage,
        timeout: Duration,
    },

    #[error("socket {op} with {peer} failed ({stage}, after {bytes_received} bytes): {source}")]
    Io {
        peer: SocketAddr,
        stage: Stage,
        op: &'static str,
        bytes_received: u64,
        #[source]
        source: io::Error,
    },

    /// `accept_publish` or `refuse_publish` was called while no publish awaited an answer.
    #[error("no publish from {peer} is awaiting authorization ({stage})")]
    NoPendingPublish { peer: SocketAddr, stage: Stage },
}

impl RtmpError {
    /// The stage the connection was in, where the error records one.
    pub fn stage(&self) -> Stage {
        match self {
            RtmpError::Handshake { .. } | RtmpError::HandshakeTimeout { .. } => Stage::Handshake,
            RtmpError::Session { stage, .. }
            | RtmpError::PeerCrashedParser { stage, .. }
            | RtmpError::Amf0TooDeep { stage, .. }
            | RtmpError::IdleTimeout { stage, .. }
            | RtmpError::WriteTimeout { stage, .. }
            | RtmpError::Io { stage, .. }
            | RtmpError::NoPendingPublish { stage, .. } => *stage,
            RtmpError::Demux { .. } | RtmpError::SinkRejected { .. } => Stage::Publishing,
        }
    }
}
