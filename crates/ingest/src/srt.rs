//! SRT: encoders push MPEG-TS to a listener (SRT_PUSH), or Headwater calls an upstream
//! listener and reads its MPEG-TS (SRT_PULL).
//!
//! Push callers name their stream in the SRT stream id, in either form:
//!
//! - the access-control form `#!::r={app_name}/{id}_{bitrate},m=publish` (keys in any order;
//!   `m` may be left out; `m=request` is refused, since Headwater does not play SRT out);
//! - a plain `{app_name}/{id}_{bitrate}`.
//!
//! A stream name may carry a query (`…/{id}_{bitrate}?k=v`) as RTMP stream names do. A listener
//! of its own (`ip_port_mode`) serves one stream and ignores the stream id.
//!
//! Before the handshake completes the authorizer [admits](crate::PublishAuthorizer::admit) the
//! push: unknown stream, a channel that is not ON, an address outside `ip_whitelist` and a
//! stream that already has a publisher are refused in the handshake with an SRT reject code, so
//! the encoder reports why. Encryption must match: a source with a `passphrase` accepts only
//! callers that encrypt with it (a wrong one is refused with `BadSecret` by the handshake), and
//! a source without one refuses callers that encrypt.
//!
//! Each SRT message carries whole TS packets (1316 bytes, seven packets, from ffmpeg and
//! libsrt); the [`TsDemuxer`] reassembles PES packets across messages and turns them into
//! tracks and frames. Damage in the TS is logged and counted; the session goes on.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use media::ts::{TsDemuxer, TsEvent};
use srt_protocol::options::{KeySize, Passphrase};
use srt_protocol::packet::{CoreRejectReason, RejectReason, ServerRejectReason};
use srt_protocol::settings::KeySettings;
use srt_tokio::{ConnectionRequest, SrtListener, SrtSocket};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::pull::{PullError, PullOptions};
use crate::{split_query, IngestEvent, IngestSink, PublishAuthorizer, PublishRequest, Refusal};

/// How an SRT listener behaves.
#[derive(Clone, Debug)]
pub struct SrtOptions {
    /// Receiver latency offered in the handshake (SRTO_LATENCY); the larger of both sides wins.
    pub latency: Duration,
    /// A connection that delivers nothing for this long is closed (SRT's own peer idle timeout
    /// is 5 s; this also catches a peer that keeps the connection alive but sends no media).
    pub idle_timeout: Duration,
    /// Time allowed from the connection request to the finished handshake.
    pub handshake_timeout: Duration,
}

impl Default for SrtOptions {
    fn default() -> Self {
        SrtOptions {
            latency: Duration::from_millis(120),
            idle_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(5),
        }
    }
}

/// Which stream the callers of a listener feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamChoice {
    /// The caller's stream id names it (the shared listener).
    FromStreamId,
    /// A listener of its own for one stream (`ip_port_mode`): the stream id is ignored.
    Fixed { app: String, stream: String },
}

/// What a push stream id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTarget {
    pub app: String,
    pub stream: String,
    pub query: Vec<(String, String)>,
}

/// Why a stream id names no stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamIdError {
    #[error("the caller sent no stream id; push with streamid=#!::r={{app_name}}/{{id}}_{{bitrate}},m=publish")]
    Missing,
    #[error("stream id {0:?} has no resource: use #!::r={{app_name}}/{{id}}_{{bitrate}},m=publish or {{app_name}}/{{id}}_{{bitrate}}")]
    NoResource(String),
    #[error("stream id {0:?} must name {{app_name}}/{{id}}_{{bitrate}}")]
    NotAppAndStream(String),
    #[error("stream id asks for mode {0:?}; this listener only takes m=publish")]
    NotPublish(String),
}

/// Reads a push stream id in either accepted form (see the module documentation). Some
/// encoders send the stream id percent-encoded as it appears in their URL; `%XX` escapes are
/// decoded first (stream names never contain `%`).
pub fn parse_stream_id(stream_id: &str) -> Result<StreamTarget, StreamIdError> {
    let decoded = percent_decode(stream_id);
    let stream_id = decoded.as_str();
    let resource = match stream_id.strip_prefix("#!::") {
        Some(pairs) => {
            let mut resource = None;
            for pair in pairs.split(',') {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                match key.trim() {
                    "r" => resource = Some(value.trim()),
                    "m" if value.trim() != "publish" => {
                        return Err(StreamIdError::NotPublish(value.trim().to_string()))
                    }
                    _ => {}
                }
            }
            resource.ok_or_else(|| StreamIdError::NoResource(stream_id.to_string()))?
        }
        None => stream_id.trim(),
    };
    let (app, rest) = resource
        .split_once('/')
        .ok_or_else(|| StreamIdError::NotAppAndStream(stream_id.to_string()))?;
    let (stream, query) = split_query(rest);
    let (app, stream) = (app.trim(), stream.trim().to_string());
    if app.is_empty() || stream.is_empty() || stream.contains('/') {
        return Err(StreamIdError::NotAppAndStream(stream_id.to_string()));
    }
    Ok(StreamTarget {
        app: app.to_string(),
        stream,
        query,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Binds an SRT listener on `addr` (UDP). Port 0 picks one; read it from the socket's
/// `local_addr` before handing it to [`serve`].
pub async fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
}

/// Accepts SRT pushes on `socket` until `shutdown` completes; then closes every session (their
/// sinks are dropped, so open segments are sealed).
///
/// If the SRT listener itself fails (its task ends without a shutdown), the address is bound
/// again after a second, so one bad handshake cannot take SRT ingest down for good.
pub async fn serve(
    socket: UdpSocket,
    authorizer: Arc<dyn PublishAuthorizer>,
    choice: StreamChoice,
    options: SrtOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    let mut socket = Some(socket);
    let addr = match socket.as_ref().map(UdpSocket::local_addr) {
        Some(Ok(addr)) => addr,
        _ => {
            warn!("SRT listener socket has no local address; not serving");
            return;
        }
    };
    'rebind: loop {
        let udp = match socket.take() {
            Some(s) => s,
            None => match UdpSocket::bind(addr).await {
                Ok(s) => s,
                Err(e) => {
                    warn!(%addr, error = %e, "cannot bind the SRT listener again; retrying in 1 s");
                    tokio::select! {
                        _ = &mut shutdown => break 'rebind,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue 'rebind,
                    }
                }
            },
        };
        let bound = SrtListener::builder()
            .latency(options.latency)
            .socket(udp)
            .bind(addr)
            .await;
        let (_listener, mut incoming) = match bound {
            Ok(pair) => pair,
            Err(e) => {
                warn!(%addr, error = %e, "cannot start the SRT listener; retrying in 1 s");
                tokio::select! {
                    _ = &mut shutdown => break 'rebind,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue 'rebind,
                }
            }
        };
        loop {
            tokio::select! {
                _ = &mut shutdown => break 'rebind,
                request = incoming.incoming().next() => match request {
                    Some(request) => {
                        let authorizer = authorizer.clone();
                        let choice = choice.clone();
                        let options = options.clone();
                        sessions.spawn(async move {
                            handle_request(request, authorizer, &choice, &options).await;
                        });
                    }
                    None => {
                        warn!(%addr, "SRT listener stopped unexpectedly; binding again in 1 s");
                        tokio::select! {
                            _ = &mut shutdown => break 'rebind,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue 'rebind,
                        }
                    }
                },
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            }
        }
    }
    sessions.shutdown().await;
}

/// SRT's answer to a refused push.
fn reject_reason(refusal: &Refusal) -> RejectReason {
    let server = match refusal {
        Refusal::UnknownApp(_) | Refusal::UnknownStream(_) => ServerRejectReason::Notfound,
        Refusal::AlreadyPublishing(_) => ServerRejectReason::Conflict,
        Refusal::ChannelOff(_) => ServerRejectReason::Unacceptable,
        Refusal::WrongProtocol { .. } => ServerRejectReason::BadMode,
        Refusal::AddressNotAllowed(_) => ServerRejectReason::Forbidden,
    };
    RejectReason::Server(server)
}

async fn handle_request(
    request: ConnectionRequest,
    authorizer: Arc<dyn PublishAuthorizer>,
    choice: &StreamChoice,
    options: &SrtOptions,
) {
    let peer = request.remote();
    let stream_id = request.stream_id().map(|s| s.to_string());
    let target = match choice {
        StreamChoice::Fixed { app, stream } => Ok(StreamTarget {
            app: app.clone(),
            stream: stream.clone(),
            query: Vec::new(),
        }),
        StreamChoice::FromStreamId => match &stream_id {
            Some(id) => parse_stream_id(id),
            None => Err(StreamIdError::Missing),
        },
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => {
            warn!(%peer, error = %e, "SRT push refused");
            let _ = request
                .reject(RejectReason::Server(ServerRejectReason::BadRequest))
                .await;
            return;
        }
    };
    let publish = PublishRequest {
        app: target.app,
        stream_name: target.stream,
        query: target.query,
        peer,
        protocol: crate::PushProtocol::Srt,
    };
    let admission = match authorizer.admit(&publish) {
        Ok(a) => a,
        Err(refusal) => {
            warn!(%peer, app = %publish.app, stream = %publish.stream_name, reason = %refusal, "SRT push refused");
            let _ = request.reject(reject_reason(&refusal)).await;
            return;
        }
    };
    let caller_key = request.key_size();
    let key = match (admission.passphrase, caller_key) {
        (None, KeySize::Unspecified) => None,
        (Some(passphrase), size) if size != KeySize::Unspecified => {
            match Passphrase::try_from(passphrase) {
                Ok(passphrase) => Some(KeySettings {
                    key_size: size,
                    passphrase,
                }),
                Err(e) => {
                    warn!(%peer, stream = %publish.stream_name, error = %e, "the source's passphrase cannot be used; SRT push refused");
                    let _ = request
                        .reject(RejectReason::Server(
                            ServerRejectReason::InternalServerError,
                        ))
                        .await;
                    return;
                }
            }
        }
        (Some(_), _) => {
            warn!(%peer, stream = %publish.stream_name, "SRT push refused: the source requires encryption and the caller sent no passphrase");
            let _ = request
                .reject(RejectReason::Core(CoreRejectReason::Unsecure))
                .await;
            return;
        }
        (None, _) => {
            warn!(%peer, stream = %publish.stream_name, "SRT push refused: the caller encrypts but the source has no passphrase");
            let _ = request
                .reject(RejectReason::Core(CoreRejectReason::BadSecret))
                .await;
            return;
        }
    };
    let encrypted = key.is_some();
    let socket = match tokio::time::timeout(options.handshake_timeout, request.accept(key)).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            warn!(%peer, stream = %publish.stream_name, error = %e, "SRT handshake failed (a wrong passphrase ends here)");
            return;
        }
        Err(_) => {
            warn!(%peer, stream = %publish.stream_name, "SRT handshake did not finish in time");
            return;
        }
    };
    let mut sink = match authorizer.authorize(&publish) {
        Ok(sink) => sink,
        Err(refusal) => {
            warn!(%peer, stream = %publish.stream_name, reason = %refusal, "SRT push refused after the handshake");
            return;
        }
    };
    info!(%peer, app = %publish.app, stream = %publish.stream_name, encrypted, "SRT push connected");
    let label = format!("{}/{}", publish.app, publish.stream_name);
    match receive_ts(socket, sink.as_mut(), options.idle_timeout, &label).await {
        Ok(stats) => {
            info!(%peer, stream = %label, messages = stats.messages, bytes = stats.bytes, ts_errors = stats.ts_errors, "SRT push ended")
        }
        Err(e) => warn!(%peer, stream = %label, error = %e, "SRT push closed"),
    }
}

/// What one SRT connection delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    pub messages: u64,
    pub bytes: u64,
    pub ts_errors: u64,
}

/// Why an SRT connection's media stopped.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("nothing received for {0:?}")]
    Idle(Duration),
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("input closed: {0}")]
    Sink(String),
}

/// Reads TS from `socket` into `sink` until the peer closes (`Ok`), goes silent for
/// `idle_timeout`, or the sink refuses an event.
async fn receive_ts(
    mut socket: SrtSocket,
    sink: &mut dyn IngestSink,
    idle_timeout: Duration,
    label: &str,
) -> Result<SessionStats, SessionError> {
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    let mut stats = SessionStats::default();
    let result = loop {
        let message = match tokio::time::timeout(idle_timeout, socket.next()).await {
            Err(_) => break Err(SessionError::Idle(idle_timeout)),
            Ok(None) => {
                demuxer.finish(&mut events);
                break deliver(&mut events, sink, &mut stats, label).map(|()| stats);
            }
            Ok(Some(Err(e))) => break Err(SessionError::Io(e)),
            Ok(Some(Ok((_, message)))) => message,
        };
        stats.messages += 1;
        stats.bytes += message.len() as u64;
        demuxer.push(&message, &mut events);
        if let Err(e) = deliver(&mut events, sink, &mut stats, label) {
            break Err(e);
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), socket.close_and_finish()).await;
    result
}

fn deliver(
    events: &mut Vec<TsEvent>,
    sink: &mut dyn IngestSink,
    stats: &mut SessionStats,
    label: &str,
) -> Result<(), SessionError> {
    for event in events.drain(..) {
        let event = match event {
            TsEvent::Track(track) => IngestEvent::Track(track),
            TsEvent::Frame(frame) => IngestEvent::Frame(frame),
            TsEvent::Error(e) => {
                stats.ts_errors += 1;
                // The first errors tell what is wrong; after that, one line per hundred.
                if stats.ts_errors <= 5 || stats.ts_errors.is_multiple_of(100) {
                    warn!(stream = %label, error = %e, count = stats.ts_errors, "MPEG-TS damage skipped");
                }
                continue;
            }
        };
        sink.on_event(event).map_err(SessionError::Sink)?;
    }
    Ok(())
}

/// Where an SRT_PULL connects and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SrtPullTarget {
    /// `srt://host:port[?streamid=…&passphrase=…&latency=…&pbkeylen=…]`; query values are
    /// used when the source's own fields are not set.
    pub url: String,
    pub stream_id: Option<String>,
    /// Latency in milliseconds.
    pub latency_ms: Option<u64>,
    pub passphrase: Option<String>,
}

/// SRT_PULL: calls the upstream listener at `target` and reads its TS into `sink` until the
/// upstream closes (`Ok`) or fails. Never retries; see [`crate::pull`].
pub async fn pull(
    target: &SrtPullTarget,
    options: &PullOptions,
    sink: &mut dyn IngestSink,
) -> Result<(), PullError> {
    let url = target.url.as_str();
    let invalid = |why: &str| PullError::InvalidUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let rest = url
        .strip_prefix("srt://")
        .ok_or_else(|| invalid("the scheme must be srt"))?;
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    let params: Vec<(String, String)> = split_query(&format!("?{query}")).1;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let addr = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| PullError::Transport {
            url: url.to_string(),
            why: format!("cannot resolve {authority:?}: {e}"),
        })?
        .next()
        .ok_or_else(|| invalid("the host resolves to no address"))?;
    let stream_id = target.stream_id.clone().or_else(|| param("streamid"));
    let latency = target
        .latency_ms
        .or_else(|| param("latency").and_then(|v| v.parse().ok()))
        .map_or(Duration::from_millis(120), Duration::from_millis);
    let passphrase = target.passphrase.clone().or_else(|| param("passphrase"));
    let mut builder = SrtSocket::builder().latency(latency);
    if let Some(passphrase) = passphrase {
        if !(10..=79).contains(&passphrase.chars().count()) {
            return Err(invalid("the passphrase must be 10 to 79 characters"));
        }
        let key_size = match param("pbkeylen").as_deref() {
            None | Some("16") | Some("0") => 16,
            Some("24") => 24,
            Some("32") => 32,
            Some(_) => return Err(invalid("pbkeylen must be 16, 24 or 32")),
        };
        builder = builder.encryption(key_size, passphrase);
    }
    let builder = builder.set(|o| o.connect.timeout = options.connect_timeout);
    let socket = tokio::time::timeout(
        options.connect_timeout + Duration::from_millis(500),
        builder.call(addr, stream_id.as_deref()),
    )
    .await
    .map_err(|_| PullError::Timeout {
        url: url.to_string(),
        after: options.connect_timeout,
    })?
    .map_err(|e| PullError::Transport {
        url: url.to_string(),
        why: format!("SRT connection failed: {e}"),
    })?;
    info!(%url, "SRT pull connected");
    match receive_ts(socket, sink, options.read_timeout, url).await {
        Ok(_) => Ok(()),
        Err(SessionError::Idle(after)) => Err(PullError::Timeout {
            url: url.to_string(),
            after,
        }),
        Err(SessionError::Io(e)) => Err(PullError::Transport {
            url: url.to_string(),
            why: e.to_string(),
        }),
        Err(SessionError::Sink(why)) => Err(PullError::Sink(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_id_forms() {
        let t = parse_stream_id("#!::r=live/demo_900000,m=publish").expect("valid");
        assert_eq!((t.app.as_str(), t.stream.as_str()), ("live", "demo_900000"));
        let t = parse_stream_id("#!::m=publish,u=enc1,r=live/demo_900000").expect("valid");
        assert_eq!(t.stream, "demo_900000");
        let t =
            parse_stream_id("%23%21%3A%3Ar%3Dlive%2Fdemo_900000%2Cm%3Dpublish").expect("encoded");
        assert_eq!((t.app.as_str(), t.stream.as_str()), ("live", "demo_900000"));
        let t = parse_stream_id("#!::r=live/demo_900000").expect("m may be left out");
        assert_eq!(t.app, "live");
        let t = parse_stream_id("live/demo_900000_standby?k=v").expect("plain");
        assert_eq!(t.stream, "demo_900000_standby");
        assert_eq!(t.query, vec![("k".to_string(), "v".to_string())]);
        assert_eq!(
            parse_stream_id("#!::r=live/demo_1,m=request"),
            Err(StreamIdError::NotPublish("request".into()))
        );
        assert!(matches!(
            parse_stream_id("#!::m=publish"),
            Err(StreamIdError::NoResource(_))
        ));
        for bad in [
            "demo_900000",
            "/demo_1",
            "live/",
            "live/a/b",
            "",
            "#!::r=",
            "] / ?  ",
        ] {
            assert!(parse_stream_id(bad).is_err(), "{bad:?}");
        }
    }
}
