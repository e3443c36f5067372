//! The tokio shell around [`RtmpPublishSession`]: the only place with sockets and timers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};
use tracing::field::display;
use tracing::{debug, info, info_span, warn, Instrument, Span};

use super::error::{RtmpError, Stage};
use super::session::{Action, CloseReason, EndReason, PublishSummary, RtmpPublishSession};
use crate::PublishAuthorizer;

/// How long connections get to finish on their own after shutdown before they are aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// After a refusal, how long to keep reading (and discarding) so the peer sees our answer
/// before the close instead of a reset.
const CLOSE_LINGER: Duration = Duration::from_millis(500);
/// Pause after a failed `accept` (for example, out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Bounds on what RTMP peers may hold on to.
///
/// Memory per connection is `read_buffer` plus what rml_rtmp buffers: it reserves room for a
/// whole RTMP message as soon as a chunk header announces its length (up to 16 MiB), and the
/// AMF0 screen keeps a second copy of the chunk state. Pages are only touched as the peer
/// actually sends bytes, and `max_connections` bounds the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtmpLimits {
    /// Connections served at once; sockets beyond it are closed at once (with a warning).
    pub max_connections: usize,
    /// Time from accept to a completed handshake.
    pub handshake_timeout: Duration,
    /// Time without any byte from the peer after the handshake; also bounds each write.
    pub idle_timeout: Duration,
    /// Bytes read from the socket at a time (the per-connection read buffer).
    pub read_buffer: usize,
}

impl Default for RtmpLimits {
    fn default() -> Self {
        RtmpLimits {
            max_connections: 1000,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            read_buffer: 16 * 1024,
        }
    }
}

/// Accepts RTMP publishers on `listener` until `shutdown` completes, then closes every
/// connection (ending its publish) and returns.
///
/// Each connection runs in its own task: a failing, stalling or malicious peer only ever closes
/// its own connection.
pub async fn serve(
    listener: TcpListener,
    authorizer: Arc<dyn PublishAuthorizer>,
    limits: RtmpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let local = listener.local_addr().ok();
    info!(addr = ?local, max_connections = limits.max_connections, "RTMP ingest listening");
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    warn!(error = %e, "RTMP connection task failed");
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(error = %e, "RTMP accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    warn!(%peer, max_connections = limits.max_connections,
                        "RTMP connection limit reached, closing new connection");
                    drop(stream);
                    continue;
                };
                let span = info_span!("rtmp", %peer, app = tracing::field::Empty,
                    stream = tracing::field::Empty);
                let connection = Connection {
                    stream,
                    session: RtmpPublishSession::new(peer),
                    authorizer: Arc::clone(&authorizer),
                    limits: limits.clone(),
                    span: span.clone(),
                    started: Instant::now(),
                };
                let stop = stop_rx.clone();
                connections.spawn(
                    async move {
                        connection.run(stop).await;
                        drop(slot);
                    }
                    .instrument(span),
                );
            }
        }
    }
    drop(listener);
    info!(addr = ?local, connections = connections.len(), "RTMP ingest shutting down");
    let _ = stop_tx.send(true);
    let drained = timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        warn!(
            connections = connections.len(),
            "RTMP connections did not close in time, aborting them"
        );
        connections.shutdown().await;
    }
}

struct Connection {
    stream: TcpStream,
    session: RtmpPublishSession,
    authorizer: Arc<dyn PublishAuthorizer>,
    limits: RtmpLimits,
    span: Span,
    started: Instant,
}

/// How the read loop ended.
enum Ending {
    /// The peer closed its side.
    PeerClosed,
    Shutdown,
    /// The session asked to close (a refusal).
    Requested(CloseReason),
    Failed(RtmpError),
}

impl Connection {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        if let Err(e) = self.stream.set_nodelay(true) {
            debug!(error = %e, "cannot set TCP_NODELAY");
        }
        debug!("RTMP connection accepted");
        let ending = self.read_loop(&mut stop).await;
        let reason = match &ending {
            Ending::PeerClosed => EndReason::ConnectionClosed,
            Ending::Shutdown => EndReason::Shutdown,
            Ending::Requested(r) => EndReason::Failed(r.to_string()),
            Ending::Failed(e) => EndReason::Failed(e.to_string()),
        };
        match &ending {
            Ending::Failed(e @ RtmpError::PeerCrashedParser { .. }) => {
                warn!(error = %e, "closing RTMP connection: rml_rtmp crashed on peer input")
            }
            Ending::Failed(e) if e.stage() == Stage::Handshake => {
                info!(error = %e, "closing RTMP connection")
            }
            Ending::Failed(e) => warn!(error = %e, "closing RTMP connection"),
            Ending::Requested(_) => self.linger().await,
            Ending::PeerClosed | Ending::Shutdown => {}
        }
        if let Some(summary) = self.session.finish(reason.clone()) {
            self.log_publish_end(&summary);
        }
        debug!(
            %reason,
            bytes_received = self.session.bytes_received(),
            "RTMP connection closed"
        );
    }

    async fn read_loop(&mut self, stop: &mut watch::Receiver<bool>) -> Ending {
        let mut buf = vec![0u8; self.limits.read_buffer.max(1)];
        let handshake_deadline = self.started + self.limits.handshake_timeout;
        loop {
            let in_handshake = self.session.stage() == Stage::Handshake;
            let deadline = if in_handshake {
                handshake_deadline
            } else {
                Instant::now() + self.limits.idle_timeout
            };
            let read = tokio::select! {
                _ = stop.wait_for(|stopping| *stopping) => return Ending::Shutdown,
                read = timeout_at(deadline, self.stream.read(&mut buf)) => read,
            };
            let n = match read {
                Err(_elapsed) if in_handshake => {
                    return Ending::Failed(RtmpError::HandshakeTimeout {
                        peer: self.session.peer(),
                        timeout: self.limits.handshake_timeout,
                        bytes_received: self.session.bytes_received(),
                    })
                }
                Err(_elapsed) => {
                    return Ending::Failed(RtmpError::IdleTimeout {
                        peer: self.session.peer(),
                        stage: self.session.stage(),
                        timeout: self.limits.idle_timeout,
                        bytes_received: self.session.bytes_received(),
                    })
                }
                Ok(Ok(0)) => return Ending::PeerClosed,
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Ending::Failed(self.io_error("read", e)),
            };
            let actions = match self.session.handle_bytes(&buf[..n]) {
                Ok(actions) => actions,
                Err(e) => return Ending::Failed(e),
            };
            match self.perform(actions).await {
                Ok(None) => {}
                Ok(Some(close)) => return Ending::Requested(close),
                Err(e) => return Ending::Failed(e),
            }
        }
    }

    /// Carries out actions in order; `Some` when the session asked to close.
    async fn perform(&mut self, actions: Vec<Action>) -> Result<Option<CloseReason>, RtmpError> {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(bytes) => self.write(&bytes).await?,
                Action::Authorize(request) => {
                    self.span.record("app", display(&request.app));
                    self.span.record("stream", display(&request.stream_name));
                    // The authorizer is synchronous by contract; it runs on this task.
                    let more = match self.authorizer.authorize(&request) {
                        Ok(sink) => {
                            info!(query = ?request.query, "accepted RTMP publish");
                            self.session.accept_publish(sink)?
                        }
                        Err(refusal) => {
                            warn!(%refusal, query = ?request.query, "refused RTMP publish");
                            self.session.refuse_publish(&refusal)?
                        }
                    };
                    // `Authorize` is the last action of its batch, so order is kept.
                    queue.extend(more);
                }
                Action::PublishEnded(summary) => self.log_publish_end(&summary),
                Action::Close(reason) => {
                    debug!(%reason, "closing RTMP connection on request");
                    return Ok(Some(reason));
                }
            }
        }
        Ok(None)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        match timeout(self.limits.idle_timeout, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.io_error("write", e)),
            Err(_elapsed) => Err(RtmpError::WriteTimeout {
                peer: self.session.peer(),
                stage: self.session.stage(),
                timeout: self.limits.idle_timeout,
            }),
        }
    }

    /// Half-closes, then reads and discards for a moment so the peer reads our last answer
    /// instead of getting a reset for data it sent meanwhile.
    async fn linger(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let mut scratch = [0u8; 4096];
        let _ = timeout(CLOSE_LINGER, async {
            while let Ok(n) = self.stream.read(&mut scratch).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }

    fn log_publish_end(&self, summary: &PublishSummary) {
        info!(
            app = %summary.request.app,
            stream = %summary.request.stream_name,
            reason = %summary.reason,
            tracks = summary.tracks,
            video_frames = summary.video_frames,
            audio_frames = summary.audio_frames,
            connected_for_ms = self.started.elapsed().as_millis() as u64,
            "RTMP publish ended"
        );
    }

    fn io_error(&self, op: &'static str, source: std::io::Error) -> RtmpError {
        RtmpError::Io {
            peer: self.session.peer(),
            stage: self.session.stage(),
            op,
            bytes_received: self.session.bytes_received(),
            source,
        }
    }
}
