//! Pull inputs: Headwater connects to an upstream and turns what it reads into ingest events.
//!
//! Each adapter is one `async fn` that reads one upstream URL until it ends or fails and
//! hands every track and frame to an [`IngestSink`](crate::IngestSink). Reconnecting, trying
//! `backup_urls` and failing over to the standby are the caller's business (the input
//! selector's [`Decision::Connect`](crate::selector::Decision::Connect)): an adapter never
//! reconnects. Within one connection the HLS adapter retries playlist reloads and skips a
//! failed segment, as a player would. Cancelling is dropping the future.
//!
//! SRT_PULL lives in [`crate::srt::pull`] beside the SRT listener.

use std::time::Duration;

pub mod flv;
pub mod hls;

/// Timeouts and choices shared by the pull adapters.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Time allowed to connect and receive response headers (HTTP) or to finish the handshake
    /// (SRT).
    pub connect_timeout: Duration,
    /// Longest silence of an open upstream before the pull counts as failed.
    pub read_timeout: Duration,
    /// HLS_PULL: pull the variant with the highest `BANDWIDTH` not above this (bit/s); the
    /// highest when `None` (`max_bandwidth_limit`).
    pub max_bandwidth: Option<u64>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            max_bandwidth: None,
        }
    }
}

/// Why a pull ended. Every variant names what went wrong in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The URL cannot be used (bad scheme, no host, …).
    #[error("invalid upstream url {url:?}: {why}")]
    InvalidUrl { url: String, why: String },
    /// Connecting or reading failed at the transport level.
    #[error("upstream {url}: {why}")]
    Transport { url: String, why: String },
    /// The upstream answered with an HTTP status other than 2xx.
    #[error("upstream {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// Nothing arrived for the read timeout (or the connect timeout while connecting).
    #[error("upstream {url} sent nothing for {after:?}")]
    Timeout { url: String, after: Duration },
    /// The upstream sent something that is not what the protocol says (not FLV, a playlist
    /// that does not parse, no variant under `max_bandwidth_limit`, …).
    #[error("upstream {url}: {why}")]
    Protocol { url: String, why: String },
    /// The sink refused an event (the channel was stopped or reconfigured).
    #[error("input closed: {0}")]
    Sink(String),
}

/// `error` with its whole cause chain ("error sending request: … tcp connect error:
/// Connection refused"), without the URL reqwest repeats, as a transport failure of `url`.
pub(crate) fn transport(url: &str, error: reqwest::Error) -> PullError {
    let error = error.without_url();
    let mut why = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !why.contains(&text) {
            why.push_str(": ");
            why.push_str(&text);
        }
        source = cause.source();
    }
    PullError::Transport {
        url: url.to_string(),
        why,
    }
}

/// GETs `url`, allowing `options.connect_timeout` for connecting and the response headers;
/// anything but a 2xx answer is an error.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: reqwest::Url,
    options: &PullOptions,
) -> Result<reqwest::Response, PullError> {
    let text = url.to_string();
    let response = match tokio::time::timeout(options.connect_timeout, client.get(url).send()).await
    {
        Err(_elapsed) => {
            return Err(PullError::Timeout {
                url: text,
                after: options.connect_timeout,
            })
        }
        Ok(Err(e)) => return Err(transport(&text, e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        return Err(PullError::Status {
            url: text,
            status: status.as_u16(),
        });
    }
    Ok(response)
}

/// Why `url` cannot be pulled over HTTP: not http or https, or no host.
pub(crate) fn check_http(url: &reqwest::Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "scheme {:?} is not supported (http or https)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".to_string());
    }
    Ok(())
}

/// `url` parsed as an upstream of an HTTP pull (FLV_PULL, HLS_PULL).
pub(crate) fn parse_http_url(url: &str) -> Result<reqwest::Url, PullError> {
    let invalid = |why: String| PullError::InvalidUrl {
        url: url.to_string(),
        why,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    check_http(&parsed).map_err(invalid)?;
    Ok(parsed)
}
