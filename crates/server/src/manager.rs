//! The channel set: stored in the repository, applied to the running pipelines.
//!
//! Every change goes through one lock: validate, check against the other channels, store
//! (write-through; nothing changes if the store fails), then apply: a channel turned ON gets a
//! pipeline, one turned OFF or deleted loses it (its publishers are disconnected), and a changed
//! channel keeps its pipeline, publishers and media when only its outputs changed
//! ([`ChannelRuntime::reconfigure`]) or gets a new one when its inputs changed
//! ([`channel::needs_restart`]). Ingest and playback see the change when the new registry
//! replaces the old one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use model::{ChannelConfig, ChannelState, ValidationProblem};
use tokio::sync::Mutex;

use crate::channel::{self, ChannelRuntime};
use crate::registry::{check_conflicts, ChannelRegistry, RegistryError};
use crate::repo::{ChannelRepository, RepoError, StoredChannel};

/// The project that channels from a channels file (and the demo channel) belong to.
pub const DEFAULT_PROJECT: &str = "default";

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{}", join(.0))]
    Invalid(Vec<ValidationProblem>),
    #[error("id {id:?} in the path does not match the document's id {document:?}")]
    IdMismatch { id: String, document: String },
    #[error("{0}")]
    Conflict(RegistryError),
    #[error("channel {0} already exists")]
    Exists(String),
    #[error("channel {0} does not exist")]
    NotFound(String),
    #[error("cannot store the channel: {0}")]
    Storage(String),
}

fn join(problems: &[ValidationProblem]) -> String {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    text.join("; ")
}

impl From<RepoError> for ManageError {
    fn from(e: RepoError) -> Self {
        ManageError::Storage(e.to_string())
    }
}

/// Which channels a list returns.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub domain: Option<String>,
    pub app_name: Option<String>,
    pub id: Option<String>,
}

impl ListFilter {
    fn keeps(&self, c: &ChannelConfig) -> bool {
        self.domain.as_ref().is_none_or(|d| *d == c.domain)
            && self.app_name.as_ref().is_none_or(|a| *a == c.app_name)
            && self.id.as_ref().is_none_or(|i| *i == c.id)
    }
}

type Key = (String, String);

fn key(project: &str, id: &str) -> Key {
    (project.to_string(), id.to_string())
}

#[derive(Debug, Default)]
struct Inner {
    /// Every channel, in creation order.
    channels: Vec<StoredChannel>,
    /// Pipelines of the channels in state ON.
    runtimes: HashMap<Key, Arc<ChannelRuntime>>,
}

/// Owns the channel set and keeps the registry in step with it.
#[derive(Debug)]
pub struct ChannelManager {
    repo: Arc<dyn ChannelRepository>,
    registry: Arc<RwLock<Arc<ChannelRegistry>>>,
    data_dir: Option<PathBuf>,
    inner: Mutex<Inner>,
}

impl ChannelManager {
    /// Loads the stored channels, imports `imports` into [`DEFAULT_PROJECT`] (replacing stored
    /// channels of the same id), seeds `seed` when nothing is stored at all, and starts every
    /// channel in state ON. Stored channels that no longer validate, or that conflict with
    /// another, are kept but not run (logged). An import that is invalid or conflicts is an
    /// error.
    pub fn open(
        repo: Arc<dyn ChannelRepository>,
        data_dir: Option<&Path>,
        imports: Vec<ChannelConfig>,
        seed: Vec<ChannelConfig>,
    ) -> anyhow::Result<ChannelManager> {
        let loaded = repo.load_all()?;
        for (project, id, why) in &loaded.skipped {
            tracing::error!(%project, %id, %why, "stored channel cannot be read; skipped");
        }
        let mut channels = loaded.channels;
        let imports = if channels.is_empty() && imports.is_empty() {
            seed
        } else {
            imports
        };
        let now = now_ms();
        for config in imports {
            if let Err(problems) = config.validate() {
                anyhow::bail!("channel {}: {}", config.id, join(&problems));
            }
            let at = channels
                .iter()
                .position(|c| c.project_id == DEFAULT_PROJECT && c.config.id == config.id);
            let others = channels
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != at)
                .map(|(_, c)| &c.config);
            check_conflicts(&config, others)?;
            let stored = StoredChannel {
                project_id: DEFAULT_PROJECT.to_string(),
                created_ms: at
                    .and_then(|i| channels.get(i))
                    .map_or(now, |c| c.created_ms),
                updated_ms: now,
                config,
            };
            repo.upsert(&stored)?;
            match at.and_then(|i| channels.get_mut(i)) {
                Some(slot) => *slot = stored,
                None => channels.push(stored),
            }
        }
        // Start what is ON, skipping channels that cannot run next to those started before.
        let mut runtimes = HashMap::new();
        let mut running: Vec<&ChannelConfig> = Vec::new();
        for c in &channels {
            if !c.config.is_on() {
                continue;
            }
            if let Err(problems) = c.config.validate() {
                tracing::error!(project = %c.project_id, id = %c.config.id, problems = %join(&problems), "stored channel is invalid; not started");
                continue;
            }
            if let Err(e) = check_conflicts(&c.config, running.iter().copied()) {
                tracing::error!(project = %c.project_id, id = %c.config.id, error = %e, "stored channel conflicts; not started");
                continue;
            }
            running.push(&c.config);
            runtimes.insert(key(&c.project_id, &c.config.id), new_runtime(data_dir, c));
        }
        let inner = Inner { channels, runtimes };
        let manager = ChannelManager {
            repo,
            registry: Arc::new(RwLock::new(Arc::new(ChannelRegistry::default()))),
            data_dir: data_dir.map(Path::to_path_buf),
            inner: Mutex::new(Inner::default()),
        };
        manager.publish(&inner);
        Ok(ChannelManager {
            inner: Mutex::new(inner),
            ..manager
        })
    }

    /// The registry ingest and playback read; replaced on every change.
    pub fn registry(&self) -> Arc<RwLock<Arc<ChannelRegistry>>> {
        self.registry.clone()
    }

    /// A new channel of `project`.
    pub async fn create(
        &self,
        project: &str,
        config: ChannelConfig,
    ) -> Result<StoredChannel, ManageError> {
        let mut inner = self.inner.lock().await;
        config.validate().map_err(ManageError::Invalid)?;
        let others = inner.channels.iter().map(|c| &c.config);
        check_conflicts(&config, others).map_err(ManageError::Conflict)?;
        if find(&inner, project, &config.id).is_some() {
            return Err(ManageError::Exists(config.id));
        }
        let now = now_ms();
        let stored = StoredChannel {
            project_id: project.to_string(),
            config,
            created_ms: now,
            updated_ms: now,
        };
        self.store(stored.clone()).await?;
        inner.channels.push(stored.clone());
        self.apply(&mut inner, project, &stored.config.id);
        Ok(stored)
    }

    /// Replaces channel `id` of `project` with `config` (same id).
    pub async fn update(
        &self,
        project: &str,
        id: &str,
        config: ChannelConfig,
    ) -> Result<StoredChannel, ManageError> {
        if config.id != id {
            return Err(ManageError::IdMismatch {
                id: id.to_string(),
                document: config.id,
            });
        }
        let mut inner = self.inner.lock().await;
        let at = find(&inner, project, id).ok_or_else(|| ManageError::NotFound(id.to_string()))?;
        config.validate().map_err(ManageError::Invalid)?;
        let others = inner
            .channels
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, c)| &c.config);
        check_conflicts(&config, others).map_err(ManageError::Conflict)?;
        let stored = StoredChannel {
            config,
            updated_ms: now_ms(),
            ..inner.channels[at].clone()
        };
        self.store(stored.clone()).await?;
        inner.channels[at] = stored.clone();
        self.apply(&mut inner, project, id);
        Ok(stored)
    }

    /// Turns channel `id` of `project` ON or OFF.
    pub async fn set_state(
        &self,
        project: &str,
        id: &str,
        state: ChannelState,
    ) -> Result<StoredChannel, ManageError> {
        let mut inner = self.inner.lock().await;
        let at = find(&inner, project, id).ok_or_else(|| ManageError::NotFound(id.to_string()))?;
        let mut stored = inner.channels[at].clone();
        stored.config.state = state;
        stored.updated_ms = now_ms();
        self.store(stored.clone()).await?;
        inner.channels[at] = stored.clone();
        self.apply(&mut inner, project, id);
        Ok(stored)
    }

    /// Deletes channel `id` of `project`: its pipeline stops and its stored media is removed.
    pub async fn delete(&self, project: &str, id: &str) -> Result<StoredChannel, ManageError> {
        let mut inner = self.inner.lock().await;
        let at = find(&inner, project, id).ok_or_else(|| ManageError::NotFound(id.to_string()))?;
        let repo = self.repo.clone();
        let (p, i) = (project.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || repo.delete(&p, &i))
            .await
            .map_err(|e| ManageError::Storage(e.to_string()))??;
        let removed = inner.channels.remove(at);
        self.apply(&mut inner, project, id);
        if let Some(root) = &self.data_dir {
            let dir = channel::channel_dir(root, project, id);
            tokio::task::spawn_blocking(move || {
                if let Err(e) = std::fs::remove_dir_all(&dir) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the media of a deleted channel");
                    }
                }
            });
        }
        Ok(removed)
    }

    /// Channel `id` of `project`.
    pub async fn get(&self, project: &str, id: &str) -> Option<StoredChannel> {
        let inner = self.inner.lock().await;
        find(&inner, project, id).map(|i| inner.channels[i].clone())
    }

    /// The channels of `project` that `filter` keeps, in creation order: how many, and those
    /// from `offset`, at most `limit`.
    pub async fn list(
        &self,
        project: &str,
        filter: &ListFilter,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<StoredChannel>) {
        let inner = self.inner.lock().await;
        let matching: Vec<&StoredChannel> = inner
            .channels
            .iter()
            .filter(|c| c.project_id == project && filter.keeps(&c.config))
            .collect();
        let page = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|c| (*c).clone())
            .collect();
        (matching.len(), page)
    }

    async fn store(&self, stored: StoredChannel) -> Result<(), ManageError> {
        let repo = self.repo.clone();
        tokio::task::spawn_blocking(move || repo.upsert(&stored))
            .await
            .map_err(|e| ManageError::Storage(e.to_string()))??;
        Ok(())
    }

    /// Brings the pipeline of channel `id` of `project` in line with its stored configuration
    /// (or its absence) and publishes the new registry.
    fn apply(&self, inner: &mut Inner, project: &str, id: &str) {
        let k = key(project, id);
        let wanted = find(inner, project, id)
            .map(|i| &inner.channels[i])
            .filter(|c| c.config.is_on());
        let current = inner.runtimes.get(&k).cloned();
        let next = match (wanted, current) {
            (None, None) => None,
            (None, Some(old)) => {
                old.retire();
                tracing::info!(%project, %id, "channel stopped");
                None
            }
            (Some(stored), None) => {
                tracing::info!(%project, %id, "channel started");
                Some(new_runtime(self.data_dir.as_deref(), stored))
            }
            (Some(stored), Some(old)) if old.config == stored.config => Some(old),
            (Some(stored), Some(old)) if channel::needs_restart(&old.config, &stored.config) => {
                old.retire();
                tracing::info!(%project, %id, "inputs changed; channel restarted");
                Some(new_runtime(self.data_dir.as_deref(), stored))
            }
            (Some(stored), Some(old)) => {
                tracing::info!(%project, %id, "outputs changed; applied live");
                Some(Arc::new(old.reconfigure(stored.config.clone())))
            }
        };
        match next {
            Some(runtime) => inner.runtimes.insert(k, runtime),
            None => inner.runtimes.remove(&k),
        };
        self.publish(inner);
    }

    /// Replaces the registry with one built from `inner`.
    fn publish(&self, inner: &Inner) {
        let mut on = Vec::new();
        let mut off = Vec::new();
        for c in &inner.channels {
            match inner.runtimes.get(&key(&c.project_id, &c.config.id)) {
                Some(runtime) => on.push(runtime.clone()),
                None => off.push(&c.config),
            }
        }
        let registry = Arc::new(ChannelRegistry::index(on, &off));
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = registry;
    }
}

fn find(inner: &Inner, project: &str, id: &str) -> Option<usize> {
    inner
        .channels
        .iter()
        .position(|c| c.project_id == project && c.config.id == id)
}

/// The pipeline of a stored channel, its media under the data directory.
/// Its pull inputs (if any) are started.
fn new_runtime(data_dir: Option<&Path>, stored: &StoredChannel) -> Arc<ChannelRuntime> {
    let dir =
        data_dir.map(|root| channel::channel_dir(root, &stored.project_id, &stored.config.id));
    let runtime = Arc::new(ChannelRuntime::new(stored.config.clone(), dir.as_deref()));
    crate::inputs::start(&runtime);
    runtime
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::repo::{LoadReport, MemoryRepository};

    fn channel(id: &str, bitrate: u64, window: u32) -> ChannelConfig {
        let json = format!(
            r#"{{"domain": "example.com", "app_name": "live", "id": "{id}", "state": "ON",
              "input": {{"input_protocol": "RTMP_PUSH", "sources": [{{"bitrate": {bitrate}}}]}},
              "record_settings": {{"rollingbuffer_duration": 0}},
              "endpoints": [{{"hls_package": [{{"url": "example.com/live/{id}/index.m3u8",
                "segment_duration_seconds": 2, "playlist_window_seconds": {window}}}]}}]}}"#
        );
        model::parse_and_validate_channel(&json).expect("test channel is valid")
    }

    /// A repository whose writes fail while `failing` is set.
    #[derive(Debug, Default)]
    struct Flaky {
        inner: MemoryRepository,
        failing: AtomicBool,
    }

    impl ChannelRepository for Flaky {
        fn load_all(&self) -> Result<LoadReport, RepoError> {
            self.inner.load_all()
        }
        fn upsert(&self, channel: &StoredChannel) -> Result<(), RepoError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(RepoError::Storage("disk on fire".into()));
            }
            self.inner.upsert(channel)
        }
        fn delete(&self, project: &str, id: &str) -> Result<bool, RepoError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(RepoError::Storage("disk on fire".into()));
            }
            self.inner.delete(project, id)
        }
    }

    fn registry(m: &ChannelManager) -> Arc<ChannelRegistry> {
        m.registry().read().expect("lock").clone()
    }

    #[tokio::test]
    async fn changes_reach_the_registry_live_or_by_restart() {
        let repo = Arc::new(Flaky::default());
        let m = ChannelManager::open(repo.clone(), None, Vec::new(), Vec::new()).expect("open");
        m.create("p", channel("a", 1000, 30)).await.expect("create");
        let (_, slot, _) = registry(&m).find_ingest("live", "a_1000").expect("live");

        // Outputs only: the same rendition (publisher and media kept), new packages.
        m.update("p", "a", channel("a", 1000, 60))
            .await
            .expect("update");
        let (runtime, same, _) = registry(&m).find_ingest("live", "a_1000").expect("live");
        assert!(Arc::ptr_eq(&slot, &same));
        assert!(!slot.is_retired());
        assert!(matches!(
            &runtime.packages[0].format,
            crate::channel::PackageFormat::Hls(h) if h.playlist_window_secs == 60
        ));

        // Inputs: a new pipeline; the old rendition is retired (its publisher goes).
        m.update("p", "a", channel("a", 2000, 60))
            .await
            .expect("update");
        assert!(slot.is_retired());
        assert!(registry(&m).find_ingest("live", "a_1000").is_none());
        let (_, new_slot, _) = registry(&m).find_ingest("live", "a_2000").expect("live");

        // OFF: refused as off, retired; ON: a fresh pipeline.
        m.set_state("p", "a", ChannelState::Off).await.expect("off");
        assert!(new_slot.is_retired());
        assert!(registry(&m).is_off("live", "a_2000"));
        m.set_state("p", "a", ChannelState::On).await.expect("on");
        let (_, on_slot, _) = registry(&m).find_ingest("live", "a_2000").expect("live");
        assert!(!on_slot.is_retired());

        // A failed write changes nothing.
        repo.failing.store(true, Ordering::SeqCst);
        assert!(matches!(
            m.update("p", "a", channel("a", 2000, 90)).await,
            Err(ManageError::Storage(_))
        ));
        assert!(matches!(
            m.delete("p", "a").await,
            Err(ManageError::Storage(_))
        ));
        let stored = m.get("p", "a").await.expect("still there");
        assert_eq!(stored.config, channel("a", 2000, 60));
        assert!(!on_slot.is_retired());
        repo.failing.store(false, Ordering::SeqCst);

        m.delete("p", "a").await.expect("delete");
        assert!(on_slot.is_retired());
        assert!(registry(&m).find_ingest("live", "a_2000").is_none());
        assert!(!registry(&m).is_off("live", "a_2000"));
        assert!(m.get("p", "a").await.is_none());
    }

    #[tokio::test]
    async fn conflicts_and_projects() {
        let m = ChannelManager::open(
            Arc::new(MemoryRepository::default()),
            None,
            vec![channel("imported", 1000, 30)],
            vec![channel("seed", 1000, 30)],
        )
        .expect("open");
        // Imports go to the default project; the seed only fills an empty database.
        assert!(m.get(DEFAULT_PROJECT, "imported").await.is_some());
        assert!(m.get(DEFAULT_PROJECT, "seed").await.is_none());
        // Another project may not reuse an ingest stream or output URL.
        let mut same_stream = channel("imported", 1000, 30);
        same_stream.endpoints = channel("elsewhere", 1000, 30).endpoints;
        assert!(matches!(
            m.create("p2", same_stream).await,
            Err(ManageError::Conflict(RegistryError::StreamInUse { .. }))
        ));
        let mut same_url = channel("other", 1000, 30);
        same_url.endpoints = channel("imported", 1000, 30).endpoints;
        assert!(matches!(
            m.create("p2", same_url).await,
            Err(ManageError::Conflict(RegistryError::PathInUse { .. }))
        ));
        assert!(matches!(
            m.create(DEFAULT_PROJECT, channel("imported", 3000, 30))
                .await,
            Err(ManageError::Conflict(_) | ManageError::Exists(_))
        ));
        // Listing is per project, filtered and paged.
        m.create("p2", channel("b", 1000, 30))
            .await
            .expect("create");
        m.create("p2", channel("c", 1000, 30))
            .await
            .expect("create");
        let (total, page) = m.list("p2", &ListFilter::default(), 1, 10).await;
        assert_eq!(total, 2);
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].config.id, "c");
        let filter = ListFilter {
            id: Some("b".into()),
            ..ListFilter::default()
        };
        assert_eq!(m.list("p2", &filter, 0, 10).await.0, 1);
        assert_eq!(m.list("p3", &ListFilter::default(), 0, 10).await.0, 0);
    }
}
