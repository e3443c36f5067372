//! A running channel: its renditions (one per source) and its output packages.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use model::ChannelConfig;
use packager::HlsSettings;
use segmenter::{DiskStore, DiskStoreConfig, Rendition, SegmenterConfig, WindowLimits};

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

/// An HLS package of a channel, as routed.
#[derive(Clone, Debug)]
pub struct HlsPackage {
    /// Request path of the package's multivariant playlist, e.g. `/live/demo/index.m3u8`.
    pub path: String,
    /// Directory part, ending in `/`.
    pub dir: String,
    /// File stem of the multivariant playlist (`index`).
    pub stem: String,
    pub settings: HlsSettings,
}

/// A channel in state ON: what ingest and playback need.
#[derive(Debug)]
pub struct ChannelRuntime {
    pub config: ChannelConfig,
    pub renditions: Vec<Arc<RenditionSlot>>,
    pub hls: Vec<HlsPackage>,
}

impl ChannelRuntime {
    /// Builds the runtime of a validated channel. With a data directory, each rendition keeps
    /// its media in `{data_dir}/channels/{id}/{bitrate}/` and resumes from what is there.
    pub fn new(config: ChannelConfig, data_dir: Option<&Path>) -> ChannelRuntime {
        let hls: Vec<HlsPackage> = config
            .endpoints
            .iter()
            .flat_map(|e| e.hls_package.iter().flatten())
            .filter_map(|p| {
                let path = model::url_path(&p.url)?;
                let (dir, file) = path.rsplit_once('/')?;
                let stem = file.strip_suffix(".m3u8").unwrap_or(file);
                Some(HlsPackage {
                    dir: format!("{dir}/"),
                    stem: stem.to_string(),
                    settings: HlsSettings {
                        segment_duration_secs: p.segment_duration_seconds,
                        playlist_window_secs: p.playlist_window_seconds.unwrap_or(0),
                        version: p.hls_version_number(),
                    },
                    path,
                })
            })
            .collect();
        let segment_secs = cut_duration(&hls);
        if hls
            .iter()
            .any(|p| p.settings.segment_duration_secs != segment_secs)
        {
            tracing::warn!(
                channel = %config.id,
                cut = segment_secs,
                "packages have different segment durations; all are served with {segment_secs} s segments until packages group stored segments"
            );
        }
        let longest_window = hls
            .iter()
            .map(|p| {
                i64::from(p.settings.playlist_window_secs)
                    .max(3 * i64::from(p.settings.segment_duration_secs))
            })
            .max()
            .unwrap_or(30);
        let limits = WindowLimits {
            keep: (longest_window + WINDOW_SLACK_SEGMENTS * i64::from(segment_secs)) * 90_000,
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
                let rendition = match data_dir {
                    Some(root) => {
                        let dir = root.join("channels").join(&config.id).join(&name);
                        open_stored(&config.id, &name, dir, retention, segmenter, limits)
                    }
                    None => Rendition::new(segmenter, limits),
                };
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
            hls,
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

/// The stored cut duration: the greatest common divisor of the packages' segment durations,
/// so every package's segments are whole runs of stored segments.
fn cut_duration(hls: &[HlsPackage]) -> u32 {
    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    hls.iter()
        .map(|p| p.settings.segment_duration_secs.max(1))
        .reduce(gcd)
        .unwrap_or(2)
}
