//! Where ingest and playback find channels: by RTMP app and stream name, and by URL path.

use std::collections::HashMap;
use std::sync::Arc;

use ingest::selector::Role;
use model::ChannelConfig;
use packager::dash::DashResource;
use packager::mss::MssResource;
use packager::HlsResource;

use crate::channel::{ChannelRuntime, Package, PackageFormat, RenditionSlot};

/// What a playback request names within a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Hls(HlsResource),
    Dash(DashResource),
    Mss(MssResource),
}

/// The live channels, indexed for ingest and playback lookups. Immutable once built; a
/// configuration change builds a new registry.
#[derive(Debug, Default)]
pub struct ChannelRegistry {
    channels: Vec<Arc<ChannelRuntime>>,
    /// (app_name, `{id}_{bitrate}` or `{id}_{bitrate}_standby`) → (channel, rendition, role).
    ingest: HashMap<(String, String), (usize, usize, Role)>,
    /// Channels known but not ON, by (app_name, stream name), to refuse them clearly.
    off: HashMap<(String, String), String>,
    /// Package directory → (channel, package).
    package_dirs: HashMap<String, Vec<(usize, usize)>>,
    apps: HashMap<String, ()>,
}

/// Why a channel cannot be served next to the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("channel {channel}: output url {url} is already used by channel {other}")]
    PathInUse {
        channel: String,
        /// The package URL as the channel's document writes it.
        url: String,
        other: String,
    },
    #[error(
        "channel {channel}: SRT port {port} (ip_port_mode) is already used by channel {other}"
    )]
    PortInUse {
        channel: String,
        port: u16,
        other: String,
    },
    #[error("channel {channel}: ingest stream {app}/{stream} is already used by channel {other}")]
    StreamInUse {
        channel: String,
        app: String,
        stream: String,
        other: String,
    },
}

impl ChannelRegistry {
    /// Indexes the running channels `on` and the stopped channels `off` (whose pushes are
    /// refused as such). The caller has checked that no two channels share an output path or
    /// an ingest stream ([`check_conflicts`]).
    pub fn index(on: Vec<Arc<ChannelRuntime>>, off: &[&ChannelConfig]) -> ChannelRegistry {
        let mut reg = ChannelRegistry::default();
        for config in off {
            for stream in config
                .ingest_stream_names()
                .into_iter()
                .chain(config.standby_stream_names())
            {
                reg.off
                    .insert((config.app_name.clone(), stream), config.id.clone());
            }
            reg.apps.insert(config.app_name.clone(), ());
        }
        for runtime in on {
            reg.add(runtime);
        }
        reg
    }

    fn add(&mut self, runtime: Arc<ChannelRuntime>) {
        let c = self.channels.len();
        self.apps.insert(runtime.config.app_name.clone(), ());
        for (r, slot) in runtime.renditions.iter().enumerate() {
            let Some(bitrate) = slot.declared_bitrate else {
                continue;
            };
            let app = &runtime.config.app_name;
            let primary = model::ingest_stream_name(&runtime.config.id, bitrate);
            let standby = model::standby_stream_name(&runtime.config.id, bitrate);
            self.ingest
                .insert((app.clone(), primary), (c, r, Role::Primary));
            self.ingest
                .insert((app.clone(), standby), (c, r, Role::Secondary));
        }
        for (p, pkg) in runtime.packages.iter().enumerate() {
            self.package_dirs
                .entry(pkg.dir.clone())
                .or_default()
                .push((c, p));
        }
        self.channels.push(runtime);
    }

    pub fn channels(&self) -> &[Arc<ChannelRuntime>] {
        &self.channels
    }

    /// Whether any channel (ON or not) uses this RTMP application name.
    pub fn knows_app(&self, app: &str) -> bool {
        self.apps.contains_key(app)
    }

    /// The channel and rendition a push to `app/stream` feeds, and whether as the primary or
    /// the standby input.
    pub fn find_ingest(
        &self,
        app: &str,
        stream: &str,
    ) -> Option<(Arc<ChannelRuntime>, Arc<RenditionSlot>, Role)> {
        let &(c, r, role) = self.ingest.get(&(app.to_string(), stream.to_string()))?;
        let channel = self.channels.get(c)?.clone();
        let slot = channel.renditions.get(r)?.clone();
        Some((channel, slot, role))
    }

    /// Whether `app/stream` names a source of a channel that is not ON.
    pub fn is_off(&self, app: &str, stream: &str) -> bool {
        self.off
            .contains_key(&(app.to_string(), stream.to_string()))
    }

    /// The package that serves `path`, and which of its resources `path` names.
    pub fn find_package(&self, path: &str) -> Option<(Arc<ChannelRuntime>, Package, Resource)> {
        // A package resource sits at most three levels below the package directory.
        let mut end = path.len();
        for _ in 0..3 {
            end = path[..end].rfind('/')?;
            if let Some(candidates) = self.package_dirs.get(&path[..=end]) {
                let rest = &path[end + 1..];
                for &(c, p) in candidates {
                    let channel = &self.channels[c];
                    let pkg = &channel.packages[p];
                    let resource = match &pkg.format {
                        PackageFormat::Hls(_) => {
                            HlsResource::parse(&pkg.stem, rest).map(Resource::Hls)
                        }
                        PackageFormat::Dash(_) => {
                            DashResource::parse(&pkg.stem, rest).map(Resource::Dash)
                        }
                        PackageFormat::Mss(_) => {
                            MssResource::parse(&pkg.file, rest).map(Resource::Mss)
                        }
                    };
                    if let Some(resource) = resource {
                        return Some((channel.clone(), pkg.clone(), resource));
                    }
                }
            }
            if end == 0 {
                return None;
            }
        }
        None
    }
}

/// Checks that `channel` shares no output path and no ingest stream with any of `others`
/// (channels that are the same one, by `same`, are skipped).
pub fn check_conflicts<'a>(
    channel: &ChannelConfig,
    others: impl Iterator<Item = &'a ChannelConfig> + Clone,
) -> Result<(), RegistryError> {
    for package in channel.packages() {
        let Some(path) = package.url_path() else {
            continue;
        };
        if let Some(other) = others
            .clone()
            .find(|o| o.all_output_paths().contains(&path))
        {
            return Err(RegistryError::PathInUse {
                channel: channel.id.clone(),
                url: package.url.to_string(),
                other: other.id.clone(),
            });
        }
    }
    let ports = |c: &ChannelConfig| -> Vec<u16> {
        (0..c.input.primary_sources().len())
            .filter_map(|i| model::ip_port_mode_port(c, i))
            .collect()
    };
    for port in ports(channel) {
        if let Some(other) = others.clone().find(|o| ports(o).contains(&port)) {
            return Err(RegistryError::PortInUse {
                channel: channel.id.clone(),
                port,
                other: other.id.clone(),
            });
        }
    }
    for stream in channel.ingest_stream_names() {
        if let Some(other) = others
            .clone()
            .find(|o| o.app_name == channel.app_name && o.ingest_stream_names().contains(&stream))
        {
            return Err(RegistryError::StreamInUse {
                channel: channel.id.clone(),
                app: channel.app_name.clone(),
                stream,
                other: other.id.clone(),
            });
        }
    }
    Ok(())
}
