//! Pull inputs: one supervisor task per rendition of an FLV_PULL, HLS_PULL or SRT_PULL
//! channel connects the URLs its input switch asks for and ticks the switch.
//!
//! The switch ([`crate::switch`]) decides which candidate of each role (the source's `url`,
//! then its `backup_urls`) is connected, when to give one up and try the next, and which
//! connected input feeds the output. This shell only runs the connections: each is a task
//! reading one URL into a [`RenditionSink`], whose drop reports the end to the switch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ingest::pull::PullOptions;
use ingest::selector::{Decision, InputId, Role};
use ingest::srt::SrtPullTarget;
use model::InputProtocol;
use tokio::task::JoinHandle;

use crate::channel::{ChannelRuntime, RenditionSlot};
use crate::publish::RenditionSink;

/// The longest the supervisor sleeps between two checks.
const IDLE_TICK: Duration = Duration::from_millis(100);

/// Starts the pull supervisors of `runtime`, if its input is pulled and a runtime is at hand.
pub fn start(runtime: &Arc<ChannelRuntime>) {
    if runtime.config.input.input_protocol.is_push() {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(channel = %runtime.config.id, "no async runtime; pull inputs not started");
        return;
    };
    let client = match ingest::pull::flv::client() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(channel = %runtime.config.id, error = %e, "cannot build the HTTP client; pull inputs not started");
            return;
        }
    };
    for slot in &runtime.renditions {
        handle.spawn(supervise(runtime.clone(), slot.clone(), client.clone()));
    }
}

/// Where candidate `input` of `slot` pulls from.
fn target(runtime: &ChannelRuntime, slot: &RenditionSlot, input: InputId) -> Option<SrtPullTarget> {
    let cfg = &runtime.config.input;
    let (url, backups, stream_id, latency, passphrase) = match input.role {
        Role::Primary => {
            let s = cfg.primary_sources().get(slot.source)?;
            (
                s.url.clone(),
                s.backup_urls.clone(),
                s.stream_id.clone(),
                s.latency,
                s.passphrase.clone(),
            )
        }
        Role::Secondary => {
            let s = cfg.standby_sources().get(slot.source)?;
            (
                s.url.clone(),
                s.backup_urls.clone(),
                s.stream_id.clone(),
                s.latency,
                s.passphrase.clone(),
            )
        }
    };
    let mut candidates = url.into_iter().chain(backups.unwrap_or_default());
    let url = candidates.nth(input.candidate)?;
    Some(SrtPullTarget {
        url,
        stream_id,
        latency_ms: latency,
        passphrase,
    })
}

async fn supervise(
    runtime: Arc<ChannelRuntime>,
    slot: Arc<RenditionSlot>,
    client: reqwest::Client,
) {
    let mut connections: HashMap<InputId, JoinHandle<()>> = HashMap::new();
    let protocol = runtime.config.input.input_protocol;
    let options = PullOptions {
        max_bandwidth: runtime.config.input.max_bandwidth_limit,
        ..PullOptions::default()
    };
    loop {
        if slot.is_retired() {
            break;
        }
        let (requests, wait) = {
            let mut switch = slot.lock_input();
            {
                let mut rendition = slot.lock();
                switch.tick(&mut rendition, &runtime.clock);
            }
            let mut requests = Vec::new();
            while let Some(r) = switch.next_request() {
                requests.push(r);
            }
            let wait = switch
                .next_deadline()
                .map_or(IDLE_TICK, |d| d.min(IDLE_TICK));
            (requests, wait)
        };
        for request in requests {
            match request {
                Decision::Connect(input) => {
                    if let Some(old) = connections.remove(&input) {
                        old.abort();
                    }
                    let Some(target) = target(&runtime, &slot, input) else {
                        tracing::warn!(channel = %runtime.config.id, rendition = %slot.name, %input, "no URL for this input");
                        continue;
                    };
                    slot.lock_input().connected(input);
                    let sink = RenditionSink::new(runtime.clone(), slot.clone(), input);
                    let task = tokio::spawn(run_connection(
                        protocol,
                        target,
                        options.clone(),
                        client.clone(),
                        sink,
                        runtime.config.id.clone(),
                        slot.name.clone(),
                        input,
                    ));
                    connections.insert(input, task);
                }
                Decision::Disconnect(input) => {
                    if let Some(task) = connections.remove(&input) {
                        task.abort();
                    }
                }
                _ => {}
            }
        }
        connections.retain(|_, task| !task.is_finished());
        tokio::time::sleep(wait + Duration::from_millis(1)).await;
    }
    for (_, task) in connections {
        task.abort();
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_connection(
    protocol: InputProtocol,
    target: SrtPullTarget,
    options: PullOptions,
    client: reqwest::Client,
    mut sink: RenditionSink,
    channel: String,
    rendition: String,
    input: InputId,
) {
    tracing::info!(%channel, %rendition, %input, url = %target.url, protocol = protocol.as_str(), "pull connecting");
    let result = match protocol {
        InputProtocol::FlvPull => {
            ingest::pull::flv::pull(&client, &target.url, &options, &mut sink).await
        }
        InputProtocol::HlsPull => {
            ingest::pull::hls::pull(&client, &target.url, &options, &mut sink).await
        }
        InputProtocol::SrtPull => ingest::srt::pull(&target, &options, &mut sink).await,
        InputProtocol::RtmpPush | InputProtocol::SrtPush => return,
    };
    match result {
        Ok(()) => tracing::info!(%channel, %rendition, %input, url = %target.url, "upstream ended"),
        Err(e) => tracing::warn!(%channel, %rendition, %input, error = %e, "pull failed"),
    }
    // Dropping the sink tells the switch this input is gone.
    drop(sink);
}

/// One SRT listener of its own per source of every running SRT_PUSH channel in
/// `ip_port_mode`, on `ip` and the port the channel's `domain` names (plus the source's index):
/// callers there need no stream id. Listeners follow the registry (checked every 500 ms) and
/// close when their rendition is retired; a port that cannot be bound is retried every second
/// (a restarted channel's old listener may still hold it). Runs until `stop` completes.
pub async fn watch_port_mode(
    registry: Arc<std::sync::RwLock<Arc<crate::registry::ChannelRegistry>>>,
    authorizer: Arc<dyn ingest::PublishAuthorizer>,
    ip: std::net::IpAddr,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut listeners: Vec<(Arc<RenditionSlot>, JoinHandle<()>)> = Vec::new();
    tokio::pin!(stop);
    loop {
        let current = registry.read().unwrap_or_else(|p| p.into_inner()).clone();
        for channel in current.channels() {
            let config = &channel.config;
            if config.input.input_protocol != InputProtocol::SrtPush {
                continue;
            }
            for (index, slot) in channel.renditions.iter().enumerate() {
                let (Some(port), Some(bitrate)) = (
                    model::ip_port_mode_port(config, index),
                    slot.declared_bitrate,
                ) else {
                    continue;
                };
                if listeners.iter().any(|(s, _)| Arc::ptr_eq(s, slot)) || slot.is_retired() {
                    continue;
                }
                let choice = ingest::srt::StreamChoice::Fixed {
                    app: config.app_name.clone(),
                    stream: model::ingest_stream_name(&config.id, bitrate),
                };
                let task = tokio::spawn(port_listener(
                    std::net::SocketAddr::new(ip, port),
                    slot.clone(),
                    authorizer.clone(),
                    choice,
                ));
                listeners.push((slot.clone(), task));
            }
        }
        listeners.retain(|(slot, task)| {
            let keep = !slot.is_retired() && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    for (_, task) in listeners {
        task.abort();
    }
}

async fn port_listener(
    addr: std::net::SocketAddr,
    slot: Arc<RenditionSlot>,
    authorizer: Arc<dyn ingest::PublishAuthorizer>,
    choice: ingest::srt::StreamChoice,
) {
    let mut warned = false;
    let socket = loop {
        if slot.is_retired() {
            return;
        }
        match ingest::srt::bind(addr).await {
            Ok(socket) => break socket,
            Err(e) => {
                if !warned {
                    tracing::warn!(%addr, rendition = %slot.name, error = %e, "cannot bind the ip_port_mode SRT port; retrying every second");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    tracing::info!(%addr, rendition = %slot.name, "SRT ip_port_mode listener ready");
    let retired = {
        let slot = slot.clone();
        async move {
            while !slot.is_retired() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    ingest::srt::serve(
        socket,
        authorizer,
        choice,
        ingest::srt::SrtOptions::default(),
        retired,
    )
    .await;
}
