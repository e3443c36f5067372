//! Protocol adapters that turn what encoders send into frames on the input clock.
//!
//! Each adapter authorizes a publish through [`PublishAuthorizer`] and hands every track and
//! frame to the [`IngestSink`] it got back. Adapters know nothing of segments or playlists.

use std::net::{IpAddr, SocketAddr};

use media::{Frame, TrackInfo};

pub mod pull;
pub mod rtmp;
pub mod selector;
pub mod srt;

/// The protocol an encoder pushes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushProtocol {
    Rtmp,
    Srt,
}

impl PushProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            PushProtocol::Rtmp => "RTMP",
            PushProtocol::Srt => "SRT",
        }
    }
}

/// What an adapter knows about a publish attempt when it asks to accept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest {
    /// Application name from the connect command (the first path segment of the URL), without query.
    pub app: String,
    /// Stream name (RTMP stream key), without query.
    pub stream_name: String,
    /// `name=value` pairs from a query string after the app or stream name, in order.
    pub query: Vec<(String, String)>,
    pub peer: SocketAddr,
    pub protocol: PushProtocol,
}

/// What a push must satisfy before its handshake completes (SRT decides encryption then).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// The source's SRT passphrase: the caller must encrypt with it.
    pub passphrase: Option<String>,
}

/// Why a publish was refused; the adapter logs it and closes the session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown application {0:?}")]
    UnknownApp(String),
    #[error("unknown stream {0:?}")]
    UnknownStream(String),
    #[error("stream {0:?} already has a live publisher")]
    AlreadyPublishing(String),
    #[error("channel of stream {0:?} is not ON")]
    ChannelOff(String),
    #[error("stream {stream:?} takes {expected} pushes, not {got}")]
    WrongProtocol {
        stream: String,
        expected: String,
        got: &'static str,
    },
    #[error("address {0} is not in the channel's ip_whitelist")]
    AddressNotAllowed(IpAddr),
}

/// Everything a publish session delivers, in order.
#[derive(Clone, Debug)]
pub enum IngestEvent {
    /// A new or changed track configuration; frames of that kind that follow use it.
    Track(TrackInfo),
    Frame(Frame),
}

/// Receives one publish session's events. Dropping the sink ends the session.
pub trait IngestSink: Send {
    /// Takes one event. An `Err` closes the session with that message.
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String>;
}

/// Decides whether a publish may start and where its frames go.
pub trait PublishAuthorizer: Send + Sync + 'static {
    /// Checks a push before its handshake completes (without claiming the stream) and says
    /// what the handshake needs. RTMP does not ask; SRT does, for the passphrase.
    fn admit(&self, request: &PublishRequest) -> Result<Admission, Refusal> {
        let _ = request;
        Ok(Admission::default())
    }

    /// Claims the stream for this push and returns where its events go.
    fn authorize(&self, request: &PublishRequest) -> Result<Box<dyn IngestSink>, Refusal>;
}

/// Splits `name?a=1&b` into (`name`, [("a","1"), ("b","")]).
pub fn split_query(raw: &str) -> (String, Vec<(String, String)>) {
    match raw.split_once('?') {
        None => (raw.to_string(), Vec::new()),
        Some((name, query)) => {
            let pairs = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (p.to_string(), String::new()),
                })
                .collect();
            (name.to_string(), pairs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_query() {
        assert_eq!(split_query("demo_900000"), ("demo_900000".into(), vec![]));
        let (n, q) = split_query("demo_900000?request_source=ott&channel_id=demo&x");
        assert_eq!(n, "demo_900000");
        assert_eq!(
            q,
            vec![
                ("request_source".into(), "ott".into()),
                ("channel_id".into(), "demo".into()),
                ("x".into(), String::new())
            ]
        );
    }
}
