//! The Headwater server: binds the ingest and playback listeners for a set of channels and
//! runs them until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use ingest::rtmp::RtmpLimits;
use model::ChannelConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod api;
pub mod buffers;
pub mod cache;
pub mod catchup;
pub mod channel;
pub mod cli;
pub mod heap;
pub mod http;
pub mod inputs;
pub mod manager;
pub mod manifest_cache;
pub mod openapi;
pub mod playback;
pub mod publish;
pub mod registry;
pub mod repo;
pub mod switch;

use crate::api::{ApiState, ApiTokens};
use crate::buffers::BufferPool;
use crate::cache::SegmentCache;
use crate::manager::{ChannelManager, DEFAULT_PROJECT};
use crate::playback::PlaybackState;
use crate::publish::RegistryAuthorizer;
use crate::registry::ChannelRegistry;
use crate::repo::SqliteRepository;

/// The demo channel set used when no channels file is given.
pub const DEMO_CHANNELS: &str = include_str!("../../../config/demo-channels.json");

/// Spare buffers kept for segment requests: payloads in and TS out for two requests at once
/// (one per core of a small machine); more concurrent requests allocate and free.
const SEGMENT_BUFFERS: usize = 4;
/// Larger buffers (a 10 s segment above ~6 Mbit/s) are not kept.
const SEGMENT_BUFFER_CAPACITY: usize = 8 * 1024 * 1024;

/// Bytes of muxed segments kept for the live edge, by default.
pub const DEFAULT_SEGMENT_CACHE_BYTES: usize = 0;

/// The API token of project [`DEFAULT_PROJECT`] when none is configured and the API listens
/// on loopback only: for trying Headwater on one machine.
pub const DEV_API_TOKEN: &str = "headwater-dev-token";

/// The channel database inside the data directory.
pub const DATABASE_FILE: &str = "headwater.db";

/// Everything `headwater serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub rtmp_listen: SocketAddr,
    /// Where encoders push SRT (UDP).
    pub srt_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// Where the control-plane API listens.
    pub api_listen: SocketAddr,
    /// Tokens per project; empty: [`DEV_API_TOKEN`] for [`DEFAULT_PROJECT`], loopback only.
    pub api_tokens: ApiTokens,
    pub data_dir: PathBuf,
    /// Channels imported into the database at start (project [`DEFAULT_PROJECT`]), replacing
    /// stored channels of the same id.
    pub channels: Vec<ChannelConfig>,
    /// Channels imported when the database holds none and `channels` is empty (the demo).
    pub seed_channels: Vec<ChannelConfig>,
    pub rtmp_limits: RtmpLimits,
    /// Memory for muxed segments at the live edge.
    pub segment_cache_bytes: usize,
    /// Threads serving playback HTTP (0: one per core).
    pub http_workers: usize,
}

/// A server whose sockets are bound; [`BoundServer::run`] serves until shutdown.
#[derive(Debug)]
pub struct BoundServer {
    rtmp: TcpListener,
    srt: tokio::net::UdpSocket,
    http: TcpListener,
    api: TcpListener,
    api_state: ApiState,
    registry: Arc<RwLock<Arc<ChannelRegistry>>>,
    rtmp_limits: RtmpLimits,
    segment_cache_bytes: usize,
    http_workers: usize,
}

impl BoundServer {
    /// Validates the channels, prepares the data directory and binds both listeners.
    pub async fn bind(options: ServeOptions) -> anyhow::Result<BoundServer> {
        std::fs::create_dir_all(&options.data_dir).with_context(|| {
            format!(
                "cannot create data directory {}",
                options.data_dir.display()
            )
        })?;
        let mut tokens = options.api_tokens;
        if tokens.is_empty() {
            if !options.api_listen.ip().is_loopback() {
                anyhow::bail!(
                    "the API listens on {} beyond loopback: configure --api-token project_id:token",
                    options.api_listen
                );
            }
            tracing::warn!(
                project = DEFAULT_PROJECT,
                token = DEV_API_TOKEN,
                "no API token configured; the development token is accepted on loopback"
            );
            tokens.add(DEFAULT_PROJECT, DEV_API_TOKEN);
        }
        let db = options.data_dir.join(DATABASE_FILE);
        let repo = SqliteRepository::open(&db)
            .with_context(|| format!("cannot open the channel database {}", db.display()))?;
        let data_dir = options.data_dir.clone();
        let (channels, seed) = (options.channels, options.seed_channels);
        let manager = tokio::task::spawn_blocking(move || {
            ChannelManager::open(Arc::new(repo), Some(&data_dir), channels, seed)
        })
        .await
        .context("channel start-up failed")?
        .context("invalid channel configuration")?;
        let registry = manager.registry();
        let rtmp = TcpListener::bind(options.rtmp_listen)
            .await
            .with_context(|| format!("cannot listen for RTMP on {}", options.rtmp_listen))?;
        let srt = ingest::srt::bind(options.srt_listen)
            .await
            .with_context(|| format!("cannot listen for SRT on {} (UDP)", options.srt_listen))?;
        let srt_port = srt.local_addr()?.port();
        let http = TcpListener::bind(options.http_listen)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", options.http_listen))?;
        let api = TcpListener::bind(options.api_listen)
            .await
            .with_context(|| format!("cannot listen for the API on {}", options.api_listen))?;
        Ok(BoundServer {
            rtmp,
            srt,
            http,
            api,
            api_state: ApiState {
                manager: Arc::new(manager),
                tokens: Arc::new(tokens),
                srt_port,
            },
            registry,
            rtmp_limits: options.rtmp_limits,
            segment_cache_bytes: options.segment_cache_bytes,
            http_workers: match options.http_workers {
                0 => http::default_workers(),
                n => n,
            },
        })
    }

    pub fn rtmp_addr(&self) -> std::io::Result<SocketAddr> {
        self.rtmp.local_addr()
    }

    pub fn srt_addr(&self) -> std::io::Result<SocketAddr> {
        self.srt.local_addr()
    }

    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    pub fn api_addr(&self) -> std::io::Result<SocketAddr> {
        self.api.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting and closes sessions.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let rtmp_addr = self.rtmp.local_addr()?;
        let srt_addr = self.srt.local_addr()?;
        let http_addr = self.http.local_addr()?;
        let api_addr = self.api.local_addr()?;
        {
            let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
            for channel in registry.channels() {
                for pkg in &channel.packages {
                    tracing::info!(
                        channel = %channel.config.id,
                        ingest = %format!("rtmp://{rtmp_addr}/{}/{}_{{bitrate}}", channel.config.app_name, channel.config.id),
                        playback = %format!("http://{http_addr}{}", pkg.path),
                        "channel ready"
                    );
                }
            }
        }
        tracing::info!(%rtmp_addr, %srt_addr, %http_addr, %api_addr, "headwater listening");

        let authorizer = Arc::new(RegistryAuthorizer::new(self.registry.clone()));
        let srt_task = tokio::spawn(ingest::srt::serve(
            self.srt,
            authorizer.clone(),
            ingest::srt::StreamChoice::FromStreamId,
            ingest::srt::SrtOptions::default(),
            wait_stop(stop_rx.clone()),
        ));
        let port_mode_task = tokio::spawn(inputs::watch_port_mode(
            self.registry.clone(),
            authorizer.clone(),
            srt_addr.ip(),
            wait_stop(stop_rx.clone()),
        ));
        let rtmp_task = tokio::spawn(ingest::rtmp::serve(
            self.rtmp,
            authorizer,
            self.rtmp_limits,
            wait_stop(stop_rx.clone()),
        ));
        let app = playback::router(PlaybackState {
            registry: self.registry.clone(),
            cache: Arc::new(SegmentCache::new(self.segment_cache_bytes)),
            buffers: Arc::new(BufferPool::new(SEGMENT_BUFFERS, SEGMENT_BUFFER_CAPACITY)),
        });
        let http_stop = wait_stop(stop_rx.clone());
        let http_workers = self.http_workers;
        let http_task = tokio::spawn(http::serve(self.http, app, http_workers, http_stop));
        let api_app = api::router(self.api_state);
        let api_stop = wait_stop(stop_rx.clone());
        let api_task = tokio::spawn(async move {
            axum::serve(self.api, api_app)
                .with_graceful_shutdown(api_stop)
                .await
        });
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let _ = rtmp_task.await;
        let _ = srt_task.await;
        let _ = port_mode_task.await;
        if tokio::time::timeout(std::time::Duration::from_secs(5), api_task)
            .await
            .is_err()
        {
            tracing::warn!("API connections still open after 5 s; closing");
        }
        match tokio::time::timeout(std::time::Duration::from_secs(5), http_task).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server ended with an error"),
            Err(_) => tracing::warn!("HTTP connections still open after 5 s; closing"),
            _ => {}
        }
        Ok(())
    }
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (not when the
/// future is first polled), so call it before announcing that the server listens: a signal
/// that arrives in between then shuts down cleanly instead of killing the process.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
