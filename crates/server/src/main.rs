//! `headwater`: the live origin server binary.

use anyhow::Context;
use clap::Parser;
use server::api::ApiTokens;
use server::cli::{Cli, Command};
use server::{BoundServer, ServeOptions, DEMO_CHANNELS};
use tracing_subscriber::EnvFilter;

/// Blocking threads of the ingest runtime (file I/O of tokio's own; segment loading and muxing
/// runs on the HTTP workers' pools, `http.rs`). Few: each thread's allocator arena keeps its
/// freed buffers.
const BLOCKING_THREADS: usize = 2;

fn main() -> anyhow::Result<()> {
    let heap_tuned = server::heap::fix_mmap_threshold();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(heap_tuned))
}

async fn serve(heap_tuned: bool) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tracing::debug!(
        heap_tuned,
        threshold = server::heap::MMAP_THRESHOLD,
        "glibc mmap threshold"
    );
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let channels = match &args.channels {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read channels file {}", path.display()))?;
                    let channels = model::parse_channels(&text)
                        .with_context(|| format!("in {}", path.display()))?;
                    tracing::info!(channels = channels.len(), file = %path.display(), "importing channels");
                    channels
                }
                None => Vec::new(),
            };
            let seed_channels =
                model::parse_channels(DEMO_CHANNELS).context("in the built-in demo channels")?;
            let mut token_lines: Vec<String> = args.api_tokens.clone();
            if let Some(path) = &args.api_tokens_file {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read API tokens file {}", path.display()))?;
                token_lines.extend(text.lines().map(str::to_string));
            }
            let api_tokens = ApiTokens::parse(token_lines.iter().map(String::as_str))
                .map_err(|e| anyhow::anyhow!("API tokens: {e}"))?;
            // Signal handlers first: a signal during start-up then stops the server cleanly.
            let shutdown = server::shutdown_signal();
            let server = BoundServer::bind(ServeOptions {
                rtmp_listen: args.rtmp_listen,
                srt_listen: args.srt_listen,
                http_listen: args.http_listen,
                api_listen: args.api_listen,
                api_tokens,
                data_dir: args.data_dir,
                channels,
                seed_channels,
                rtmp_limits: Default::default(),
                segment_cache_bytes: args.segment_cache_mib.saturating_mul(1024 * 1024),
                http_workers: args.http_workers,
            })
            .await?;
            server.run(shutdown).await
        }
    }
}
