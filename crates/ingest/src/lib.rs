//! Protocol adapters that turn what encoders send into frames on the input clock.
//!
//! Each adapter authorizes a publish through [`PublishAuthorizer`] and hands every track and
//! frame to the [`IngestSink`] it got back. Adapters know nothing of segments or playlists.

use std::net::SocketAddr;

use media::{Frame, TrackInfo};

pub mod rtmp;
pub mod selector;

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
