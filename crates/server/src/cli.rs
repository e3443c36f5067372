//! The command line: `headwater serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Headwater: a live origin server. Encoders push RTMP; players pull HLS.
#[derive(Debug, Parser)]
#[command(name = "headwater", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve channels: accept pushes and serve playback.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where encoders push RTMP.
    #[arg(long, default_value = "0.0.0.0:1935", env = "HEADWATER_RTMP_LISTEN")]
    pub rtmp_listen: SocketAddr,
    /// Where encoders push SRT (UDP); the stream id names the stream (see docs/configuration.md).
    #[arg(long, default_value = "0.0.0.0:9000", env = "HEADWATER_SRT_LISTEN")]
    pub srt_listen: SocketAddr,
    /// Where players fetch manifests and segments.
    #[arg(long, default_value = "0.0.0.0:8080", env = "HEADWATER_HTTP_LISTEN")]
    pub http_listen: SocketAddr,
    /// Where the control-plane REST API listens (keep it private: it changes channels).
    #[arg(long, default_value = "127.0.0.1:8081", env = "HEADWATER_API_LISTEN")]
    pub api_listen: SocketAddr,
    /// An API token, `project_id:token`; repeatable (the environment variable takes a comma
    /// separated list). Without any, the development token `headwater-dev-token` of project
    /// `default` is accepted while the API listens on loopback.
    #[arg(
        long = "api-token",
        env = "HEADWATER_API_TOKENS",
        value_delimiter = ','
    )]
    pub api_tokens: Vec<String>,
    /// A file of API tokens, one `project_id:token` per line (`#` starts a comment).
    #[arg(long, env = "HEADWATER_API_TOKENS_FILE")]
    pub api_tokens_file: Option<PathBuf>,
    /// Directory for stored media and state.
    #[arg(long, default_value = "data", env = "HEADWATER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// A JSON array of channels, each an OTT channel create-request body, imported into the
    /// channel database at start (project `default`; a stored channel with the same id is
    /// replaced). Without it, a database holding no channel gets the built-in demo channel.
    #[arg(long, env = "HEADWATER_CHANNELS")]
    pub channels: Option<PathBuf>,
    /// Memory for muxed segments at the live edge, so a burst of players asking for the newest
    /// segment costs one mux, in MiB (0 disables the cache).
    #[arg(long, default_value_t = 0, env = "HEADWATER_SEGMENT_CACHE_MIB")]
    pub segment_cache_mib: usize,
    /// Threads serving playback HTTP, each with its own connections (0: one per core).
    #[arg(long, default_value_t = 0, env = "HEADWATER_HTTP_WORKERS")]
    pub http_workers: usize,
}
