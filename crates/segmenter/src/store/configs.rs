//! The configuration log of a rendition's store: `configs.log` in the rendition directory, one
//! configs record (see [`super::record`]) per change of the video or audio configuration,
//! oldest first.
//!
//! A catch-up of an interval recorded before the publisher reconnected with other settings
//! needs the init segment of then, not of now. The `.sum` files know each segment's
//! configuration, but finding the configuration in effect at a time (or all of them) from
//! them would read the whole buffer: the log answers from memory, for the whole buffer and
//! after a restart, at the cost of one small file.
//!
//! **What is a change.** As the live window counts them
//! ([`crate::LiveWindow::config_changes`]): configurations are compared by value, and a
//! segment lacking a kind keeps that kind's previous configuration. Unlike the window, a kind's
//! first configuration is logged too (the first segment ever recorded, and audio joining a
//! video-only rendition): the log must say what every recorded segment was made of.
//!
//! **Crash safety.** A change is logged before the segment's index record is written, with an
//! append of one whole record. At startup the log is read whole; reading stops at the first
//! record that is not whole (a torn append), and entries whose `since` does not grow are
//! dropped. The file is then rewritten (a temporary file, synced, renamed over the log) before
//! anything is appended after such a tail, as it is when retention or the bound drops entries.
//!
//! **Write errors** never stop the live output and never lose the change in memory: the
//! history the [`Archive`] answers from is updated first, the file is marked stale and
//! rewritten whole at the next sealed segment (so the retried record keeps its `since`). A
//! crash before the retry succeeds loses the change from the log; catch-up of its segments
//! then gets the configuration before it.
//!
//! **Retention.** When media files are removed, entries superseded before the oldest media
//! still held are dropped: entry `i` goes when entry `i + 1` began at or before the earliest
//! start a segment still held can have. The entry in effect then is kept.
//!
//! **Bound.** The history holds at most [`MAX_CONFIGS`] entries (a change every 5 minutes for
//! 14 days); beyond that the oldest are dropped (with a warning, once per store), and catch-up
//! of media older than the oldest entry falls back as for stores written before the log
//! existed: [`Archive::configs_at`] answers `None`, and the caller uses the live window's
//! configurations. So that a publisher changing settings at every segment does not rewrite the
//! whole log at each change, the file may hold up to twice the bound before it is rewritten
//! with the kept entries.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use media::TrackInfo;

use super::archive::Archive;
use super::record::{self, Record};
use super::{same_config, TrackConfigs};
use crate::segment::{Segment, TrackSamples};

/// Name of the configuration log in a rendition directory.
pub const CONFIGS_LOG: &str = "configs.log";
/// What a rewrite writes before renaming it over the log.
const CONFIGS_TMP: &str = "configs.log.tmp";
/// Most configuration changes remembered.
pub const MAX_CONFIGS: usize = 4096;
/// Most records the file holds before it is rewritten with the kept ones.
const MAX_LOGGED: usize = 2 * MAX_CONFIGS;
/// How many of the newest entries are searched for an equal configuration to share.
const SHARE_REACH: usize = 64;

/// Where the log of the rendition in `dir` is.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(CONFIGS_LOG)
}

/// What the log held at startup.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// The history, sorted by `since`, bounded and pruned.
    pub entries: Vec<TrackConfigs>,
    /// Records in the file.
    pub logged: usize,
    /// The file holds something else than `entries` (a torn tail, records out of order,
    /// entries dropped): it is rewritten before anything is appended.
    pub rewrite: bool,
}

/// Reads the log in `dir`. `held_from` is the earliest start (90 kHz) a segment still on disk
/// can have, if any media is; entries superseded before it are dropped. A missing log (a store
/// written before the log existed) is an empty history. Never fails: an unreadable log is
/// logged and replaced.
pub(super) fn load(dir: &Path, held_from: Option<i64>) -> Loaded {
    let path = log_path(dir);
    let buf = match fs::read(&path) {
        Ok(buf) => buf,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Loaded::default(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e,
                "cannot read the configuration log; catch-up of older media falls back to the live configurations");
            return Loaded {
                rewrite: true,
                ..Loaded::default()
            };
        }
    };
    let mut loaded = Loaded::default();
    let mut pool: Vec<Arc<TrackInfo>> = Vec::new();
    let mut records = record::Records::new(&buf);
    for record in records.by_ref() {
        loaded.logged += 1;
        let Record::Configs(mut entry) = record else {
            // Never written to the log.
            loaded.rewrite = true;
            continue;
        };
        if let Some(last) = loaded.entries.last() {
            if entry.since <= last.since || same_configs(last, &entry) {
                loaded.rewrite = true;
                continue;
            }
        }
        entry.video = entry.video.map(|v| share(&mut pool, v));
        entry.audio = entry.audio.map(|a| share(&mut pool, a));
        loaded.entries.push(entry);
    }
    if let Some(error) = records.error() {
        loaded.rewrite = true;
        tracing::warn!(
            path = %path.display(),
            valid_bytes = records.valid(),
            file_bytes = buf.len(),
            %error,
            "configuration log ends in a record that is not whole; it is dropped"
        );
    }
    if cap(&mut loaded.entries) > 0 {
        loaded.rewrite = true;
        tracing::warn!(path = %path.display(), kept = MAX_CONFIGS,
            "configuration log holds more changes than are kept; the oldest are dropped");
    }
    if let Some(held_from) = held_from {
        if drop_superseded(&mut loaded.entries, held_from) > 0 {
            loaded.rewrite = true;
        }
    }
    loaded
}

/// Drops the entries superseded at or before `held_from` (90 kHz) but the one in effect then;
/// returns how many went. The newest entry always stays.
pub(super) fn drop_superseded(entries: &mut Vec<TrackConfigs>, held_from: i64) -> usize {
    let begun = entries.partition_point(|e| e.since <= held_from);
    let gone = begun.saturating_sub(1);
    entries.drain(..gone);
    gone
}

/// Drops the oldest entries beyond [`MAX_CONFIGS`]; returns how many went.
fn cap(entries: &mut Vec<TrackConfigs>) -> usize {
    let gone = entries.len().saturating_sub(MAX_CONFIGS);
    entries.drain(..gone);
    gone
}

/// The writer's side of the log. See the module documentation.
#[derive(Debug)]
pub(super) struct ConfigLog {
    path: PathBuf,
    /// Opened for appending at the first append (and again after a rewrite).
    file: Option<File>,
    /// The newest configurations known: those of the history's newest entry.
    video: Option<Arc<TrackInfo>>,
    audio: Option<Arc<TrackInfo>>,
    /// Records in the file.
    logged: usize,
    /// The file is not the history (a failed append may have left a torn record, entries were
    /// dropped): it is rewritten whole before anything more is appended.
    stale: bool,
    /// The bound was reached and said so.
    warned_full: bool,
    scratch: Vec<u8>,
}

impl ConfigLog {
    /// The log in `dir`, as [`load`] found it.
    pub(super) fn new(dir: &Path, loaded: &Loaded) -> ConfigLog {
        let newest = loaded.entries.last();
        ConfigLog {
            path: log_path(dir),
            file: None,
            video: newest.and_then(|e| e.video.clone()),
            audio: newest.and_then(|e| e.audio.clone()),
            logged: loaded.logged,
            stale: loaded.rewrite,
            warned_full: false,
            scratch: Vec::new(),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file still has to be rewritten.
    pub(super) fn is_stale(&self) -> bool {
        self.stale
    }

    /// Notes the configurations of `segment`, about to be recorded: a change goes into
    /// `archive`'s history and is appended to the log, and a stale log is rewritten. `fail`
    /// makes every write fail (fault injection). An error leaves the file stale, to be
    /// rewritten at the next segment; the history is right either way.
    pub(super) fn observe(
        &mut self,
        segment: &Segment,
        archive: &Archive,
        fail: bool,
    ) -> io::Result<()> {
        let video = carried(&self.video, segment.video.as_ref());
        let audio = carried(&self.audio, segment.audio.as_ref());
        let changed = !same_config(video.as_ref(), self.video.as_ref())
            || !same_config(audio.as_ref(), self.audio.as_ref());
        if changed {
            let entry = archive.update_configs(|entries| {
                let entry = TrackConfigs {
                    since: segment.start,
                    video: video.map(|v| shared(entries, v)),
                    audio: audio.map(|a| shared(entries, a)),
                };
                // Segments never go back in time; should one, it replaces the entries from its
                // start on, so the history stays sorted (and the file is rewritten to match).
                let keep = entries.partition_point(|e| e.since < entry.since);
                if keep < entries.len() {
                    entries.truncate(keep);
                    self.stale = true;
                }
                entries.push(entry.clone());
                if cap(entries) > 0 && !self.warned_full {
                    self.warned_full = true;
                    tracing::warn!(path = %self.path.display(), kept = MAX_CONFIGS,
                        "configuration history is full; the oldest changes are dropped");
                }
                entry
            });
            self.video = entry.video.clone();
            self.audio = entry.audio.clone();
            if !self.stale {
                if let Err(e) = self.append(&entry, fail) {
                    // The file may now end in a torn record: later appends would be lost
                    // behind it.
                    self.stale = true;
                    self.file = None;
                    return Err(e);
                }
                if self.logged > MAX_LOGGED {
                    self.stale = true;
                }
            }
        }
        if self.stale {
            self.rewrite(archive, fail)?;
        }
        Ok(())
    }

    /// Applies retention: drops the entries superseded at or before `held_from` (90 kHz, the
    /// earliest start a segment still held can have) and rewrites the log if any went (if
    /// that fails, at the next segment).
    pub(super) fn prune(
        &mut self,
        archive: &Archive,
        held_from: i64,
        fail: bool,
    ) -> io::Result<()> {
        if archive.update_configs(|entries| drop_superseded(entries, held_from)) == 0 {
            return Ok(());
        }
        self.stale = true;
        self.rewrite(archive, fail)
    }

    fn append(&mut self, entry: &TrackConfigs, fail: bool) -> io::Result<()> {
        self.scratch.clear();
        if !record::encode_configs(entry, &mut self.scratch) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "configuration does not fit a record",
            ));
        }
        injected(fail)?;
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(&self.scratch)?;
        }
        self.logged += 1;
        Ok(())
    }

    /// Replaces the file with `archive`'s history: written beside it, synced (a power loss
    /// must not leave an empty log where the history was), and renamed over it.
    pub(super) fn rewrite(&mut self, archive: &Archive, fail: bool) -> io::Result<()> {
        let entries = archive.config_history();
        self.scratch.clear();
        for entry in &entries {
            // Every entry came from segments, whose configurations fit a record.
            record::encode_configs(entry, &mut self.scratch);
        }
        let tmp = self.path.with_file_name(CONFIGS_TMP);
        let written = injected(fail)
            .and_then(|()| {
                let mut file = File::create(&tmp)?;
                file.write_all(&self.scratch)?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            if !fail {
                let _ = fs::remove_file(&tmp);
            }
            return Err(e);
        }
        self.file = None;
        self.logged = entries.len();
        self.stale = false;
        Ok(())
    }
}

fn injected(fail: bool) -> io::Result<()> {
    if fail {
        Err(io::Error::new(
            io::ErrorKind::StorageFull,
            "no space left on device (injected)",
        ))
    } else {
        Ok(())
    }
}

/// The configuration of a kind after a segment whose track of that kind is `samples`: its
/// own, or the previous one if it has none.
fn carried(
    last: &Option<Arc<TrackInfo>>,
    samples: Option<&TrackSamples>,
) -> Option<Arc<TrackInfo>> {
    samples.map(|t| t.track.clone()).or_else(|| last.clone())
}

fn same_configs(a: &TrackConfigs, b: &TrackConfigs) -> bool {
    same_config(a.video.as_ref(), b.video.as_ref())
        && same_config(a.audio.as_ref(), b.audio.as_ref())
}

/// `info`, or an equal configuration of the newest entries of `entries` (a publisher switching
/// back and forth between two settings keeps two allocations, not one per change).
fn shared(entries: &[TrackConfigs], info: Arc<TrackInfo>) -> Arc<TrackInfo> {
    entries
        .iter()
        .rev()
        .take(SHARE_REACH)
        .flat_map(|e| [&e.video, &e.audio])
        .flatten()
        .find(|e| Arc::ptr_eq(e, &info) || ***e == *info)
        .cloned()
        .unwrap_or(info)
}

/// `info`, or an equal configuration among the newest of `pool` (which it joins otherwise).
fn share(pool: &mut Vec<Arc<TrackInfo>>, info: Arc<TrackInfo>) -> Arc<TrackInfo> {
    if let Some(same) = pool.iter().rev().take(SHARE_REACH).find(|p| ***p == *info) {
        return same.clone();
    }
    pool.push(info.clone());
    info
}
