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

pub mod buffers;
pub mod cache;
pub mod channel;
pub mod cli;
pub mod heap;
pub mod http;
pub mod manifest_cache;
pub mod playback;
pub mod publish;
pub mod registry;

use crate::buffers::BufferPool;
use crate::cache::SegmentCache;
use crate::playback::PlaybackState;
use crate::publish::RegistryAuthorizer;
use crate::registry::ChannelRegistry;

/// The demo channel set used when no channels file is given.
pub const DEMO_CHANNELS: &str = include_str!("../../../config/demo-channels.json");

/// Spare buffers kept for segment requests: payloads in and TS out for two requests at once
/// (one per core of a small machine); more concurrent requests allocate and free.
const SEGMENT_BUFFERS: usize = 4;
/// Larger buffers (a 10 s segment above ~6 Mbit/s) are not kept.
const SEGMENT_BUFFER_CAPACITY: usize = 8 * 1024 * 1024;

/// Bytes of muxed segments kept for the live edge, by default.
pub const DEFAULT_SEGMENT_CACHE_BYTES: usize = 0;

/// Everything `headwater serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub rtmp_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub data_dir: PathBuf,
    pub channels: Vec<ChannelConfig>,
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
    http: TcpListener,
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
        let registry = ChannelRegistry::build(options.channels, Some(&options.data_dir))
            .context("invalid channel configuration")?;
        let rtmp = TcpListener::bind(options.rtmp_listen)
            .await
            .with_context(|| format!("cannot listen for RTMP on {}", options.rtmp_listen))?;
        let http = TcpListener::bind(options.http_listen)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", options.http_listen))?;
        Ok(BoundServer {
            rtmp,
            http,
            registry: Arc::new(RwLock::new(Arc::new(registry))),
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

    pub fn http_addr(&self) -> std::io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting and closes sessions.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let rtmp_addr = self.rtmp.local_addr()?;
        let http_addr = self.http.local_addr()?;
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
        tracing::info!(%rtmp_addr, %http_addr, "headwater listening");

        let authorizer = Arc::new(RegistryAuthorizer::new(self.registry.clone()));
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
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let _ = rtmp_task.await;
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
