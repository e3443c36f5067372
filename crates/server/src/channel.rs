//! A running channel: its renditions (one per source) and its output packages.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::manifest_cache::ManifestCache;
use crate::switch::{self, InputClocks, InputSwitch};
use ingest::selector::InputId;
use model::{ChannelConfig, PackageRequestArgs, StreamSelectionItem};
use packager::dash::DashSettings;
use packager::mss::MssSettings;
use packager::HlsSettings;
use segmenter::{DiskStore, DiskStoreConfig, Rendition, SegmenterConfig, WindowLimits};

/// Extra media kept behind the longest playlist window, so a player that just read a
/// playlist can still fetch its oldest segment.
const WINDOW_SLACK_SEGMENTS: i64 = 3;

/// One source of a channel: one rendition, fed by the input its switch selects (the primary
/// or standby publisher, or a pulled URL).
#[derive(Debug)]
pub struct RenditionSlot {
    /// Name in URLs and RTMP stream names: the declared bitrate.
    pub name: String,
    /// Position of the source in `input.sources`.
    pub source: usize,
    pub declared_bitrate: Option<u64>,
    /// The channel stopped, was deleted or restarted with other inputs: the publisher of this
    /// slot is disconnected at its next frame and nothing more is stored.
    retired: AtomicBool,
    /// A task ticks the switch (loss deadlines) while inputs are connected.
    ticking: AtomicBool,
    /// Lock order: `input` before `state`.
    input: Mutex<InputSwitch>,
    state: Mutex<Rendition>,
}

impl RenditionSlot {
    /// Locks the rendition; a panic elsewhere never makes it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Rendition> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Locks the input switch (take it before [`lock`](Self::lock) when both are needed).
    pub fn lock_input(&self) -> MutexGuard<'_, InputSwitch> {
        self.input
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims `input` for a push publisher; false if one already holds it.
    pub fn try_claim(&self, input: InputId) -> bool {
        self.lock_input().claim(input)
    }

    pub fn is_claimed(&self, input: InputId) -> bool {
        self.lock_input().is_claimed(input)
    }

    /// Whether an input feeds the rendition now.
    pub fn is_publishing(&self) -> bool {
        self.lock().is_live()
    }

    /// Marks the slot as ticked; false if a ticker already runs.
    pub fn start_ticking(&self) -> bool {
        !self.ticking.swap(true, Ordering::AcqRel)
    }

    pub fn stop_ticking(&self) {
        self.ticking.store(false, Ordering::Release);
    }

    /// Ends the slot's life: its session is sealed now and its publisher refused from its next
    /// event on.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.lock().end_session();
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
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

    /// The package's playlist window in seconds.
    pub fn window_secs(&self) -> u32 {
        match self {
            PackageFormat::Hls(s) => s.playlist_window_secs,
            PackageFormat::Dash(s) => s.playlist_window_secs,
            PackageFormat::Mss(s) => s.playlist_window_secs,
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
    /// Manifests list no segment that starts before this channel time (90 kHz): set when a
    /// live change lengthens the window, so the manifest grows forward from what it listed
    /// instead of listing older segments again (HLS media sequence never goes back).
    pub list_from: i64,
    /// The query parameters of catch-up, timeshift and live delay (`None`: the defaults).
    pub request_args: Option<PackageRequestArgs>,
}

impl Package {
    /// A package served at `url`'s path; `None` if the url has no file name.
    fn new(
        url: &str,
        stream_selection: Option<&[StreamSelectionItem]>,
        request_args: Option<&PackageRequestArgs>,
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
            list_from: i64::MIN,
            request_args: request_args.cloned(),
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
    pub clock: Arc<InputClocks>,
    /// Manifests rendered for the current contents of the windows.
    pub manifests: ManifestCache,
}

impl ChannelRuntime {
    /// Builds the runtime of a validated channel. With a media directory (the channel's own,
    /// see [`channel_dir`]), each rendition keeps its media in `{dir}/{bitrate}/` and resumes
    /// from what is there.
    pub fn new(config: ChannelConfig, media_dir: Option<&Path>) -> ChannelRuntime {
        let packages = packages(&config);
        let pipeline = Pipeline::of(&config, &packages);
        let renditions = config
            .input
            .primary_sources()
            .iter()
            .enumerate()
            .map(|(source, s)| {
                let name = rendition_name(source, s.bitrate);
                let mut rendition = match media_dir {
                    Some(root) => open_stored(
                        &config.id,
                        &name,
                        root.join(&name),
                        pipeline.retention,
                        pipeline.segmenter,
                        pipeline.limits,
                    ),
                    None => Rendition::new(pipeline.segmenter, pipeline.limits),
                };
                rendition.window.set_group_durations(&pipeline.group_secs);
                let switch = InputSwitch::new(
                    switch::selector_config(&config.input, source),
                    &config.id,
                    &name,
                );
                Arc::new(RenditionSlot {
                    name,
                    source,
                    declared_bitrate: s.bitrate,
                    retired: AtomicBool::new(false),
                    ticking: AtomicBool::new(false),
                    input: Mutex::new(switch),
                    state: Mutex::new(rendition),
                })
            })
            .collect();
        ChannelRuntime {
            config,
            renditions,
            packages,
            clock: Arc::new(InputClocks::default()),
            manifests: ManifestCache::default(),
        }
    }

    /// The runtime of `config`, a new configuration of this channel that keeps its inputs (see
    /// [`needs_restart`]): the same renditions, publishers and stored media, with the new
    /// packages, windows and cut duration applied now.
    pub fn reconfigure(&self, config: ChannelConfig) -> ChannelRuntime {
        let mut packages = packages(&config);
        for package in &mut packages {
            if let Some(old) = self.packages.iter().find(|p| p.path == package.path) {
                package.list_from = self.first_listed(old);
            }
        }
        let pipeline = Pipeline::of(&config, &packages);
        for slot in &self.renditions {
            let mut r = slot.lock();
            r.segmenter.set_config(pipeline.segmenter);
            r.window.set_limits(pipeline.limits);
            r.window.set_group_durations(&pipeline.group_secs);
        }
        ChannelRuntime {
            config,
            renditions: self.renditions.clone(),
            packages,
            clock: self.clock.clone(),
            manifests: ManifestCache::default(),
        }
    }

    /// Start of the oldest segment `package` lists now (of the first rendition with media).
    fn first_listed(&self, package: &Package) -> i64 {
        let duration = package.format.segment_duration_secs();
        let window = package.format.window_secs();
        let first = self.renditions.iter().find_map(|slot| {
            let r = slot.lock();
            let segments: Vec<_> = r
                .window
                .package_segments(duration)
                .iter()
                .filter(|s| s.start >= package.list_from)
                .cloned()
                .collect();
            let count = packager::hls::listed_count(&segments, window);
            segments
                .len()
                .checked_sub(count)
                .and_then(|i| segments.get(i))
                .map(|s| s.start)
        });
        first.unwrap_or(package.list_from)
    }

    /// Stops the channel: every publisher is disconnected and open segments are sealed.
    pub fn retire(&self) {
        for slot in &self.renditions {
            slot.retire();
        }
    }

    pub fn rendition(&self, name: &str) -> Option<&Arc<RenditionSlot>> {
        self.renditions.iter().find(|r| r.name == name)
    }
}

/// The name of source `index` in URLs and ingest stream names: its bitrate, or `source{index}`
/// for a pulled source declared without one.
pub fn rendition_name(index: usize, bitrate: Option<u64>) -> String {
    match bitrate {
        Some(bitrate) => bitrate.to_string(),
        None => format!("source{index}"),
    }
}

/// Whether going from `old` to `new` needs a new pipeline (publishers are disconnected and
/// renditions reopened) rather than [`ChannelRuntime::reconfigure`]: a change of input (protocol,
/// sources, failover), of the RTMP application, or of the rolling buffer.
pub fn needs_restart(old: &ChannelConfig, new: &ChannelConfig) -> bool {
    old.id != new.id
        || old.app_name != new.app_name
        || old.input != new.input
        || old.record_settings != new.record_settings
}

/// The media directory of channel `id` of `project`: `{data_dir}/channels/{project}/{id}`.
pub fn channel_dir(data_dir: &Path, project: &str, id: &str) -> PathBuf {
    data_dir.join("channels").join(project).join(id)
}

/// How a channel's renditions cut and keep media, from its packages.
#[derive(Clone, Debug)]
struct Pipeline {
    segmenter: SegmenterConfig,
    limits: WindowLimits,
    /// 90 kHz ticks kept on disk.
    retention: i64,
    /// Package durations served as groups of stored segments.
    group_secs: Vec<u32>,
}

impl Pipeline {
    fn of(config: &ChannelConfig, packages: &[Package]) -> Pipeline {
        let segment_secs = cut_duration(packages);
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
        let retention = i64::try_from(config.record_settings.rollingbuffer_duration)
            .unwrap_or(i64::MAX / 90_000)
            .saturating_mul(90_000)
            .max(limits.keep);
        Pipeline {
            segmenter: SegmenterConfig {
                segment_duration_secs: segment_secs,
            },
            limits,
            retention,
            group_secs,
        }
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
            out.extend(Package::new(
                &p.url,
                p.stream_selection.as_deref(),
                p.request_args.as_ref(),
                format,
            ));
        }
        for p in endpoint.dash_package.iter().flatten() {
            let format = PackageFormat::Dash(DashSettings {
                segment_duration_secs: p.segment_duration_seconds,
                playlist_window_secs: p.playlist_window_seconds.unwrap_or(0),
                suggested_presentation_delay_secs: p.suggested_presentation_delay,
                minimum_update_period_secs: p.minimum_update_period,
                min_buffer_time_secs: p.min_buffer_time,
            });
            out.extend(Package::new(
                &p.url,
                p.stream_selection.as_deref(),
                p.request_args.as_ref(),
                format,
            ));
        }
        for p in endpoint.mss_package.iter().flatten() {
            let format = PackageFormat::Mss(MssSettings {
                segment_duration_secs: p.segment_duration_seconds,
                playlist_window_secs: p.playlist_window_seconds.unwrap_or(0),
                delay_secs: p.delay_segment.unwrap_or(0),
            });
            out.extend(Package::new(
                &p.url,
                p.stream_selection.as_deref(),
                p.request_args.as_ref(),
                format,
            ));
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
