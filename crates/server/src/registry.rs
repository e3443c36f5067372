//! Where ingest and playback find channels: by RTMP app and stream name, and by URL path.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

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
    /// (app_name, `{id}_{bitrate}`) → (channel, rendition).
    ingest: HashMap<(String, String), (usize, usize)>,
    /// Channels known but not ON, by (app_name, stream name), to refuse them clearly.
    off: HashMap<(String, String), String>,
    /// Package directory → (channel, package).
    package_dirs: HashMap<String, Vec<(usize, usize)>>,
    apps: HashMap<String, ()>,
}

/// Why a channel set cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("channel {channel}: {problems}")]
    Invalid { channel: String, problems: String },
    #[error("channel {channel}: output url path {path} is already used by channel {other}")]
    PathInUse {
        channel: String,
        path: String,
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
    /// Validates every channel and indexes those in state ON.
    /// Builds the registry; channels in state ON get a runtime whose renditions store their
    /// media under `data_dir` (in memory when `None`).
    pub fn build(
        configs: Vec<ChannelConfig>,
        data_dir: Option<&Path>,
    ) -> Result<ChannelRegistry, RegistryError> {
        let mut reg = ChannelRegistry::default();
        let mut paths: HashMap<String, String> = HashMap::new();
        let mut streams: HashMap<(String, String), String> = HashMap::new();
        for config in configs {
            if let Err(problems) = config.validate() {
                let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(RegistryError::Invalid {
                    channel: config.id.clone(),
                    problems: text.join("; "),
                });
            }
            for path in config.all_output_paths() {
                if let Some(other) = paths.insert(path.clone(), config.id.clone()) {
                    return Err(RegistryError::PathInUse {
                        channel: config.id.clone(),
                        path,
                        other,
                    });
                }
            }
            for stream in config.ingest_stream_names() {
                let key = (config.app_name.clone(), stream.clone());
                if let Some(other) = streams.insert(key, config.id.clone()) {
                    return Err(RegistryError::StreamInUse {
                        channel: config.id.clone(),
                        app: config.app_name.clone(),
                        stream,
                        other,
                    });
                }
            }
            if !config.is_on() {
                for stream in config.ingest_stream_names() {
                    reg.off
                        .insert((config.app_name.clone(), stream), config.id.clone());
                }
                reg.apps.insert(config.app_name.clone(), ());
                continue;
            }
            reg.add(ChannelRuntime::new(config, data_dir));
        }
        Ok(reg)
    }

    fn add(&mut self, runtime: ChannelRuntime) {
        let c = self.channels.len();
        self.apps.insert(runtime.config.app_name.clone(), ());
        for (r, slot) in runtime.renditions.iter().enumerate() {
            let stream = format!("{}_{}", runtime.config.id, slot.name);
            self.ingest
                .insert((runtime.config.app_name.clone(), stream), (c, r));
        }
        for (p, pkg) in runtime.packages.iter().enumerate() {
            self.package_dirs
                .entry(pkg.dir.clone())
                .or_default()
                .push((c, p));
        }
        self.channels.push(Arc::new(runtime));
    }

    pub fn channels(&self) -> &[Arc<ChannelRuntime>] {
        &self.channels
    }

    /// Whether any channel (ON or not) uses this RTMP application name.
    pub fn knows_app(&self, app: &str) -> bool {
        self.apps.contains_key(app)
    }

    /// The channel and rendition a push to `app/stream` feeds.
    pub fn find_ingest(
        &self,
        app: &str,
        stream: &str,
    ) -> Option<(Arc<ChannelRuntime>, Arc<RenditionSlot>)> {
        let &(c, r) = self.ingest.get(&(app.to_string(), stream.to_string()))?;
        let channel = self.channels.get(c)?.clone();
        let slot = channel.renditions.get(r)?.clone();
        Some((channel, slot))
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
