//! A running channel: its renditions (one per source) and its output packages.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::manifest_cache::ManifestCache;
use model::{ChannelConfig, StreamSelectionItem};
use packager::dash::DashSettings;
use packager::mss::MssSettings;
use packager::HlsSettings;
use segmenter::{ClockShare, DiskStore, DiskStoreConfig, Rendition, SegmenterConfig, WindowLimits};

/// Extra media kept behind the longest playlist window, so a player that just read a
/// playlist can still fetch its oldest segment.
const WINDOW_SLACK_SEGMENTS: i64 = 3;

/// One source of a channel: one rendition, fed by one publisher at a time.
#[derive(Debug)]
pub struct RenditionSlot {
    /// Name in URLs and RTMP stream names: the declared bitrate.
    pub name: String,
    pub declared_bitrate: Option<u64>,
    publishing: AtomicBool,
    state: Mutex<Rendition>,
}

impl RenditionSlot {
    /// Locks the rendition; a panic elsewhere never makes it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Rendition> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims the slot for a publisher; false if one is already live.
    pub fn try_claim(&self) -> bool {
        self.publishing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn release(&self) {
        self.publishing.store(false, Ordering::Release);
    }

    pub fn is_publishing(&self) -> bool {
        self.publishing.load(Ordering::Acquire)
    }
}

/// How a package's output is shaped.
#[derive(Clone, Debug)]
pub enum PackageFormat {
    Hls(HlsSettings),
    Dash(DashSettings),
    Mss(MssSettings),
}

impl PackageFormat {
    /// The package's segment duration in seconds.
    pub fn segment_duration_secs(&self) -> u32 {
        match self {
            PackageFormat::Hls(s) => s.segment_duration_secs,
            PackageFormat::Dash(s) => s.segment_duration_secs,
            PackageFormat::Mss(s) => s.segment_duration_secs,
        }
    }

    /// Media the package needs behind the live edge, in seconds: its window (at least three
    /// segments) plus any delay.
    fn reach_secs(&self) -> i64 {
        let (window, delay) = match self {
            PackageFormat::Hls(s) => (s.playlist_window_secs, 0),
            PackageFormat::Dash(s) => (s.playlist_window_secs, 0),
            PackageFormat::Mss(s) => (
                s.playlist_window_secs,
                i64::try_from(s.delay_secs).unwrap_or(i64::MAX / 2),
            ),
        };
        i64::from(window)
            .max(3 * i64::from(self.segment_duration_secs()))
            .saturating_add(delay)
    }
}

/// An output package of a channel, as routed.
#[derive(Clone, Debug)]
pub struct Package {
    /// Request path of the package's manifest, e.g. `/live/demo/index.m3u8`.
    pub path: String,
    /// Directory part, ending in `/`.
    pub dir: String,
    /// File name of the manifest (`index.m3u8`, `manifest.mpd`, `Manifest`).
    pub file: String,
    /// The file name without its extension (`index`, `manifest`): HLS and DASH resources live
    /// below `{dir}{stem}/`.
    pub stem: String,
    pub stream_selection: Vec<StreamSelectionItem>,
    pub format: PackageFormat,
}

impl Package {
    /// A package served at `url`'s path; `None` if the url has no file name.
    fn new(
        url: &str,
        stream_selection: Option<&[StreamSelectionItem]>,
        format: PackageFormat,
    ) -> Option<Package> {
        let path = model::url_path(url)?;
        let (dir, file) = path.rsplit_once('/')?;
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        Some(Package {
            dir: format!("{dir}/"),
            file: file.to_string(),
            stem: stem.to_string(),
            stream_selection: stream_selection.unwrap_or_default().to_vec(),
            format,
            path,
        })
    }
}

/// A channel in state ON: what ingest and playback need.
#[derive(Debug)]
pub struct ChannelRuntime {
    pub config: ChannelConfig,
    pub renditions: Vec<Arc<RenditionSlot>>,
    pub packages: Vec<Package>,
    /// The input clock mapping its renditions share, so renditions pushed by one encoder
    /// cut at the same points.
    pub clock: Arc<ClockShare>,
    /// Manifests rendered for the current contents of the windows.
    pub manifests: ManifestCache,
}

impl ChannelRuntime {
    /// Builds the runtime of a validated channel. With a data directory, each rendition keeps
    /// its media in `{data_dir}/channels/{id}/{bitrate}/` and resumes from what is there.
    pub fn new(config: ChannelConfig, data_dir: Option<&Path>) -> ChannelRuntime {
        let packages = packages(&config);
        let segment_secs = cut_duration(&packages);
        // Packages with longer segments serve groups of stored segments.
        let group_secs: Vec<u32> = packages
            .iter()
            .map(|p| p.format.segment_duration_secs())
            .filter(|d| *d != segment_secs)
            .collect();
        if !group_secs.is_empty() {
            tracing::info!(
                channel = %config.id,
                cut = segment_secs,
                grouped = ?group_secs,
                "segments are stored at the common divisor of the packages' durations and grouped for longer ones"
            );
        }
        let reach = packages
            .iter()
            .map(|p| p.format.reach_secs())
            .max()
            .unwrap_or(30);
        let limits = WindowLimits {
            keep: (reach + WINDOW_SLACK_SEGMENTS * i64::from(segment_secs)) * 90_000,
            min_segments: 3 + WINDOW_SLACK_SEGMENTS as usize,
            ..WindowLimits::default()
        };
        let segmenter = SegmenterConfig {
            segment_duration_secs: segment_secs,
        };
        let retention = i64::try_from(config.record_settings.rollingbuffer_duration)
            .unwrap_or(i64::MAX / 90_000)
            .saturating_mul(90_000)
            .max(limits.keep);
        let renditions = config
            .input
            .primary_sources()
            .iter()
            .filter_map(|s| s.bitrate)
            .map(|bitrate| {
                let name = bitrate.to_string();
                let mut rendition = match data_dir {
                    Some(root) => {
                        let dir = root.join("channels").join(&config.id).join(&name);
                        open_stored(&config.id, &name, dir, retention, segmenter, limits)
                    }
                    None => Rendition::new(segmenter, limits),
                };
                rendition.window.set_group_durations(&group_secs);
                Arc::new(RenditionSlot {
                    name,
                    declared_bitrate: Some(bitrate),
                    publishing: AtomicBool::new(false),
                    state: Mutex::new(rendition),
                })
            })
            .collect();
        ChannelRuntime {
            config,
            renditions,
            packages,
            clock: Arc::new(ClockShare::default()),
            manifests: ManifestCache::default(),
        }
    }

    pub fn rendition(&self, name: &str) -> Option<&Arc<RenditionSlot>> {
        self.renditions.iter().find(|r| r.name == name)
    }
}

/// A rendition stored in `dir`, resumed from what the directory holds; in memory if the
/// directory cannot be used.
fn open_stored(
    channel: &str,
    rendition: &str,
    dir: PathBuf,
    retention: i64,
    segmenter: SegmenterConfig,
    limits: WindowLimits,
) -> Rendition {
    match DiskStore::open(DiskStoreConfig::new(dir.clone(), retention), limits.keep) {
        Ok((store, recovered)) => {
            if !recovered.segments.is_empty() || recovered.skipped > 0 {
                tracing::info!(
                    channel,
                    rendition,
                    segments = recovered.segments.len(),
                    skipped = recovered.skipped,
                    "resumed from stored media"
                );
            }
            Rendition::with_store(segmenter, limits, store, recovered)
        }
        Err(e) => {
            tracing::error!(
                channel,
                rendition,
                dir = %dir.display(),
                error = %e,
                "cannot open the media store; keeping this rendition in memory"
            );
            Rendition::new(segmenter, limits)
        }
    }
}

/// The channel's packages, in configuration order (HLS, DASH, then MSS of each endpoint).
fn packages(config: &ChannelConfig) -> Vec<Package> {
    let mut out = Vec::new();
    for endpoint in &config.endpoints {
        for p in endpoint.hls_package.iter().flatten() {
            let format = PackageFormat::Hls(HlsSettings {
                segment_duration_secs: p.segment_duration_seconds,
                playlist_window_secs: p.playlist_window_seconds.unwrap_or(0),
                version: p.hls_version_number(),
            });
            out.extend(Package::new(&p.url, p.stream_selection.as_deref(), format));
        }
        for p in endpoint.dash_package.iter().flatten() {
            let format = PackageFormat::Dash(DashSettings {
                segment_duration_secs: p.segment_duration_seconds,
                playlist_window_secs: p.playlist_window_seconds.unwrap_or(0),
                suggested_presentation_delay_secs: p.suggested_presentation_delay,
                minimum_update_period_secs: p.minimum_update_period,
                min_buffer_time_secs: p.min_buffer_time,
            });
            out.extend(Package::new(&p.url, p.stream_selection.as_deref(), format));
        }
        for p in endpoint.mss_package.iter().flatten() {
            let format = PackageFormat::Mss(MssSettings {
                segment_duration_secs: p.segment_duration_seconds,
                playlist_window_secs: p.playlist_window_seconds.unwrap_or(0),
                delay_secs: p.delay_segment.unwrap_or(0),
            });
            out.extend(Package::new(&p.url, p.stream_selection.as_deref(), format));
        }
    }
    out
}

/// The stored cut duration: the greatest common divisor of the packages' segment durations,
/// so every package's segments are whole runs of stored segments.
fn cut_duration(packages: &[Package]) -> u32 {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    packages
        .iter()
        .map(|p| p.format.segment_duration_secs().max(1))
        .reduce(gcd)
        .unwrap_or(2)
}
