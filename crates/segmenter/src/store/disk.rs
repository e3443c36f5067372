//! A rendition's store on local disk: append-only data files of payloads and, next to each, an
//! index file of checksummed segment records.
//!
//! Layout of a rendition directory:
//!
//! ```text
//! 1763700000.dat   payloads in arrival order (video and audio interleaved)
//! 1763700000.idx   track and segment records (see `record`), whose extents point into .dat files
//! 1763700000.sum   track and summary records: the catch-up index (see `archive`), pointing
//!                  into the .idx of the same id
//! 1763700060.dat   the next file, started after `file_span` of media (1, 5 or 30 min)
//! ...
//! configs.log      configs records: the track configurations from each change on (see
//!                  `configs`); appended before the index record of the segment that changed
//! ```
//!
//! A file's id is the Unix second of the first frame written to it (raised above the previous id
//! when needed), so names sort by time and retention can drop whole files.
//!
//! **Ordering and crash safety.** A payload is written (from a small buffer) before the segment
//! that holds it is recorded, and a segment record is written only when every payload of the
//! segment reached its data file. After a crash, the index holds only complete segments; a torn
//! record at the end of an index file fails its checksum and is skipped. A segment's summary
//! is appended to the `.sum` file only after its record reached the `.idx` file. A new process
//! never appends to an old file. Writes are not `fsync`ed: a killed process loses nothing the
//! kernel has accepted, a power loss may lose the last seconds.
//!
//! **Write errors** (a full disk, an I/O error) never stop the live output: the bytes that failed
//! stay in memory (the overlay) where readers find them, payloads stay in memory until the next
//! segment starts, and the disk is tried again then. Segments that did not reach the disk are not
//! recorded, so they are served live but not after a restart. A failed summary write leaves
//! the segment recorded (it is resumed after a restart) but out of the catch-up index; the
//! store then moves to a new set of files, as after a failed index write. A failed write of
//! the configuration log leaves the change in the archive's memory and the log is rewritten at
//! the next segment. Every error is counted.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use media::TrackInfo;

use super::archive::{Archive, FILE_MARGIN};
use super::configs::{self, ConfigLog};
use super::record::{self, Record, SummaryRecord};
use super::{Extent, Payload, PayloadReader, PayloadSink, SegmentBytes};
use crate::segment::{Segment, TrackSamples};

pub(super) const DATA_EXT: &str = "dat";
pub(super) const INDEX_EXT: &str = "idx";
pub(super) const SUMMARY_EXT: &str = "sum";
/// Files not read at startup are assumed to end this long after the next file begins (90 kHz):
/// the closing segment's audio and one more segment at most.
const RECOVERED_END_MARGIN: i64 = 60 * 90_000;

/// Where and how long a rendition's store keeps media.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskStoreConfig {
    pub dir: PathBuf,
    /// Keep at least this much media behind the newest segment's end (90 kHz): the rolling
    /// buffer. Files are removed whole once everything in them is older.
    pub retention: i64,
    /// Start a new data file once the current one spans this much media (90 kHz).
    pub file_span: i64,
    /// Payload bytes buffered before a write.
    pub write_buffer: usize,
}

impl DiskStoreConfig {
    /// A store in `dir` keeping `retention` (90 kHz), with files sized for it.
    pub fn new(dir: PathBuf, retention: i64) -> DiskStoreConfig {
        // Short buffers roll often so little lingers past the window; long ones keep the
        // number of files down: a catch-up manifest reads the summary files its interval spans
        // (a 2 h view: ~6 files of 30 min, not ~28 of 5), and retention overshoots by at most
        // one file (30 min of a 14-day buffer: 0.15 %).
        let file_span = if retention <= 10 * 60 * 90_000 {
            60 * 90_000
        } else if retention <= 86_400 * 90_000 {
            5 * 60 * 90_000
        } else {
            30 * 60 * 90_000
        };
        DiskStoreConfig {
            dir,
            retention,
            file_span,
            write_buffer: 64 * 1024,
        }
    }
}

/// Counters of a store, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub write_errors: u64,
    pub bytes_written: u64,
    pub segments_recorded: u64,
    /// Sealed segments that could not be recorded (served live from memory only).
    pub segments_unrecorded: u64,
    pub files_removed: u64,
}

/// What a store found on disk at startup.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The newest recorded segments, oldest first, covering at least the requested span.
    pub segments: Vec<Segment>,
    /// Records that were skipped: torn tails, checksum failures, extents past their data file.
    pub skipped: u64,
}

#[derive(Debug)]
struct DataFile {
    id: u32,
    file: File,
    /// Logical length: bytes written plus bytes pending.
    len: u64,
    /// Channel time of the first frame (90 kHz).
    first: i64,
}

#[derive(Debug)]
struct IndexFile {
    file: File,
    /// Bytes written: where the next record goes.
    len: u64,
    /// Tracks already recorded in this file, with their ids.
    tracks: Vec<(Arc<TrackInfo>, u32)>,
    /// The summary file of the same id, once opened.
    summary: Option<SummaryFile>,
}

#[derive(Debug)]
struct SummaryFile {
    file: File,
    /// Ids of the index file's tracks already recorded in this file.
    tracks: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileSpan {
    id: u32,
    /// End of the newest segment with payloads in the file (90 kHz).
    last_end: i64,
}

type Overlay = BTreeMap<(u32, u64), Bytes>;

/// One rendition's store on disk; the writer half. See the module documentation.
#[derive(Debug)]
pub struct DiskStore {
    config: DiskStoreConfig,
    current: Option<DataFile>,
    index: Option<IndexFile>,
    pending: Vec<u8>,
    /// After a write error, payloads stay in memory until the next commit.
    suspended: bool,
    last_id: u32,
    files: VecDeque<FileSpan>,
    overlay: Arc<Mutex<Overlay>>,
    reader: Arc<DiskReader>,
    archive: Arc<Archive>,
    stats: StoreStats,
    scratch: Vec<u8>,
    summary_scratch: Vec<u8>,
    /// The configuration log (the history itself is the archive's).
    configs: ConfigLog,
    /// Fault injection for tests: every write fails as on a full disk.
    fail_writes: bool,
    /// Fault injection for tests: summary writes fail.
    fail_summaries: bool,
}

impl DiskStore {
    /// Opens the store in `config.dir` (created if missing) and reads back the newest segments
    /// covering at least `keep` (90 kHz) of media. The directory's old files are never
    /// written again; new payloads go to new files.
    pub fn open(config: DiskStoreConfig, keep: i64) -> io::Result<(DiskStore, Recovered)> {
        fs::create_dir_all(&config.dir)?;
        let ids = list_ids(&config.dir)?;
        let mut files: VecDeque<FileSpan> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| FileSpan {
                id,
                last_end: ids.get(i + 1).map_or(i64::MAX, |next| {
                    i64::from(*next) * 90_000 + RECOVERED_END_MARGIN
                }),
            })
            .collect();
        let mut recovered = Recovered::default();
        let mut batches: Vec<Vec<Segment>> = Vec::new();
        let mut newest_end: Option<i64> = None;
        for &id in ids.iter().rev() {
            let (segments, skipped) = read_index(&config.dir, id, keep)?;
            recovered.skipped += skipped;
            if let Some(last) = segments.last() {
                newest_end = Some(newest_end.map_or(last.end(), |e: i64| e.max(last.end())));
                update_spans(&mut files, last);
            }
            let oldest = segments.first().map(|s| s.start);
            batches.push(segments);
            if let (Some(newest), Some(oldest)) = (newest_end, oldest) {
                if newest - oldest >= keep {
                    break;
                }
            }
        }
        // A file that was never read and had no successor keeps its fallback end; a file
        // whose index had nothing ends where it began.
        for span in files.iter_mut() {
            if span.last_end == i64::MAX {
                span.last_end = i64::from(span.id) * 90_000;
            }
        }
        let mut segments: Vec<Segment> = batches.into_iter().rev().flatten().collect();
        segments.sort_by_key(|s| s.sequence);
        segments.dedup_by_key(|s| s.sequence);
        if let Some(newest) = segments.last().map(Segment::end) {
            let first_kept = segments.partition_point(|s| newest - s.start > keep);
            segments.drain(..first_kept.min(segments.len().saturating_sub(1)));
        }
        recovered.segments = segments;
        let loaded = configs::load(&config.dir, ids.first().map(|&id| held_from(id)));
        let archive = Archive::new(config.dir.clone(), ids.clone());
        let config_log = ConfigLog::new(&config.dir, &loaded);
        archive.update_configs(|entries| *entries = loaded.entries);
        let overlay = Arc::new(Mutex::new(Overlay::new()));
        let mut store = DiskStore {
            reader: Arc::new(DiskReader {
                dir: config.dir.clone(),
                overlay: overlay.clone(),
            }),
            last_id: ids.last().copied().unwrap_or(0),
            archive: Arc::new(archive),
            config,
            current: None,
            index: None,
            pending: Vec::new(),
            suspended: false,
            files,
            overlay,
            stats: StoreStats::default(),
            scratch: Vec::new(),
            summary_scratch: Vec::new(),
            configs: config_log,
            fail_writes: false,
            fail_summaries: false,
        };
        // A torn tail or dropped entries: the log is rewritten before anything is appended to
        // it (here, or at the next segment if this fails).
        if store.configs.is_stale() {
            let rewritten = store.configs.rewrite(&store.archive, false);
            store.config_log_error(rewritten);
        }
        Ok((store, recovered))
    }

    pub fn stats(&self) -> StoreStats {
        self.stats
    }

    /// Makes every following write fail (`true`) as on a full disk, or work again; for tests of
    /// the error path.
    pub fn inject_write_failures(&mut self, fail: bool) {
        self.fail_writes = fail;
    }

    /// Makes every following summary write fail (`true`), or work again.
    #[cfg(test)]
    pub(crate) fn inject_summary_failures(&mut self, fail: bool) {
        self.fail_summaries = fail;
    }

    fn full(&self) -> io::Result<()> {
        if self.fail_writes {
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ))
        } else {
            Ok(())
        }
    }

    /// The reader for segments of this store; shareable across threads.
    pub fn reader(&self) -> Arc<DiskReader> {
        self.reader.clone()
    }

    /// The catch-up index of this store: every recorded segment still on disk, read from disk
    /// on demand; shareable across threads.
    pub fn archive(&self) -> Arc<Archive> {
        self.archive.clone()
    }

    /// Records a sealed segment and applies retention. `oldest` is the oldest segment a reader
    /// may still ask for (the live window's first); nothing it or a newer segment needs is
    /// removed. Returns whether the segment is on disk for good.
    pub fn commit(&mut self, segment: &Segment, oldest: Option<&Segment>) -> bool {
        self.flush();
        // Before the segment's index record: a recorded segment's configuration is logged.
        let logged = self
            .configs
            .observe(segment, &self.archive, self.fail_writes);
        self.config_log_error(logged);
        let recorded = self.record(segment);
        if recorded {
            self.stats.segments_recorded += 1;
        } else {
            self.stats.segments_unrecorded += 1;
        }
        update_spans(&mut self.files, segment);
        let end = segment.end();
        if self.suspended {
            self.suspended = false;
            tracing::info!(dir = %self.config.dir.display(), "trying the disk again");
        }
        if let Some(current) = &self.current {
            if end - current.first >= self.config.file_span {
                self.current = None;
                self.index = None;
            }
        }
        let oldest = oldest.unwrap_or(segment);
        self.prune(end, oldest.start);
        self.drop_unneeded_overlay(oldest);
        recorded
    }

    fn record(&mut self, segment: &Segment) -> bool {
        let Some(current_id) = self.current.as_ref().map(|c| c.id) else {
            return false;
        };
        let in_overlay = {
            let overlay = lock(&self.overlay);
            !overlay.is_empty() && extents(segment).any(|e| overlay_holds(&overlay, &e))
        };
        if in_overlay {
            return false;
        }
        if self.index.is_none() {
            let path = file_path(&self.config.dir, current_id, INDEX_EXT);
            let opened = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|file| Ok((file.metadata()?.len(), file)));
            match opened {
                Ok((len, file)) => {
                    self.index = Some(IndexFile {
                        file,
                        len,
                        tracks: Vec::new(),
                        summary: None,
                    })
                }
                Err(e) => {
                    self.write_error("cannot create index file", &path, &e);
                    return false;
                }
            }
        }
        let Some(index) = self.index.as_mut() else {
            return false;
        };
        self.scratch.clear();
        let mut ids = [0u32; 2];
        for (slot, track) in [&segment.video, &segment.audio].into_iter().enumerate() {
            let Some(track) = track.as_ref().map(|t: &TrackSamples| &t.track) else {
                continue;
            };
            ids[slot] = match index
                .tracks
                .iter()
                .find(|(t, _)| Arc::ptr_eq(t, track) || **t == **track)
            {
                Some((_, id)) => *id,
                None => {
                    let id = index.tracks.len() as u32 + 1;
                    record::encode_track(id, track, &mut self.scratch);
                    index.tracks.push((track.clone(), id));
                    id
                }
            };
        }
        let record_at = self.scratch.len();
        if !record::encode_segment(segment, ids[0], ids[1], &mut self.scratch) {
            return false;
        }
        let written = if self.fail_writes {
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ))
        } else {
            index.file.write_all(&self.scratch)
        };
        if let Err(e) = written {
            // The file may now end in a torn record: start a fresh index with the next file.
            self.index = None;
            self.current = None;
            let path = file_path(&self.config.dir, current_id, INDEX_EXT);
            self.write_error("cannot write index record", &path, &e);
            return false;
        }
        let idx_offset = index.len + record_at as u64;
        index.len += self.scratch.len() as u64;
        let idx_len = u32::try_from(self.scratch.len() - record_at).unwrap_or(u32::MAX);
        let summary = SummaryRecord::of(segment, ids[0], ids[1], idx_offset, idx_len);
        self.record_summary(current_id, &summary);
        true
    }

    /// Appends `summary` (with the track records it needs first) to the summary file of
    /// `id`. On failure the store moves to new files: the summary file may end in a torn
    /// record, after which nothing would be read.
    fn record_summary(&mut self, id: u32, summary: &SummaryRecord) {
        let Some(index) = self.index.as_mut() else {
            return;
        };
        let path = file_path(&self.config.dir, id, SUMMARY_EXT);
        if index.summary.is_none() {
            let opened = if self.fail_summaries {
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device (injected)",
                ))
            } else {
                OpenOptions::new().create(true).append(true).open(&path)
            };
            match opened {
                Ok(file) => {
                    index.summary = Some(SummaryFile {
                        file,
                        tracks: Vec::new(),
                    })
                }
                Err(e) => {
                    self.index = None;
                    self.current = None;
                    self.write_error("cannot create summary file", &path, &e);
                    return;
                }
            }
        }
        let Some(sum) = index.summary.as_mut() else {
            return;
        };
        self.summary_scratch.clear();
        let mut new_tracks = Vec::new();
        for t in &summary.tracks {
            if sum.tracks.contains(&t.track_id) || new_tracks.contains(&t.track_id) {
                continue;
            }
            if let Some((info, _)) = index.tracks.iter().find(|(_, i)| *i == t.track_id) {
                record::encode_track(t.track_id, info, &mut self.summary_scratch);
                new_tracks.push(t.track_id);
            }
        }
        if !record::encode_summary(summary, &mut self.summary_scratch) {
            return;
        }
        let written = if self.fail_writes || self.fail_summaries {
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ))
        } else {
            sum.file.write_all(&self.summary_scratch)
        };
        match written {
            Ok(()) => sum.tracks.extend(new_tracks),
            Err(e) => {
                self.index = None;
                self.current = None;
                self.write_error("cannot write summary record", &path, &e);
            }
        }
    }

    fn prune(&mut self, newest_end: i64, keep_from: i64) {
        let cutoff = (newest_end - self.config.retention).min(keep_from);
        let current = self.current.as_ref().map(|c| c.id);
        let mut removed = false;
        while let Some(oldest) = self.files.front().copied() {
            if oldest.last_end >= cutoff || Some(oldest.id) == current {
                break;
            }
            self.files.pop_front();
            self.archive.remove_file(oldest.id, oldest.last_end);
            for ext in [DATA_EXT, INDEX_EXT, SUMMARY_EXT] {
                let path = file_path(&self.config.dir, oldest.id, ext);
                if let Err(e) = fs::remove_file(&path) {
                    if e.kind() != io::ErrorKind::NotFound {
                        tracing::warn!(path = %path.display(), error = %e, "cannot remove old media file");
                    }
                }
            }
            self.stats.files_removed += 1;
            lock(&self.overlay).retain(|(file, _), _| *file != oldest.id);
            removed = true;
        }
        if let (true, Some(first)) = (removed, self.files.front()) {
            // What the live window's oldest segment was made with stays too, whatever file
            // it began in.
            let held_from = held_from(first.id).min(keep_from);
            let pruned = self
                .configs
                .prune(&self.archive, held_from, self.fail_writes);
            self.config_log_error(pruned);
        }
    }

    /// Counts and logs a failed write of the configuration log (retried at the next segment).
    fn config_log_error(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            let path = self.configs.path().to_path_buf();
            self.write_error("cannot write the configuration log", &path, &e);
        }
    }

    /// Drops bytes held for failed writes that lie wholly before the first payload of `oldest`:
    /// payloads are appended in arrival order, so no segment a reader may ask for needs them.
    fn drop_unneeded_overlay(&mut self, oldest: &Segment) {
        let mut overlay = lock(&self.overlay);
        if overlay.is_empty() {
            return;
        }
        let Some(floor) = extents(oldest).map(|e| (e.file, e.offset)).min() else {
            return;
        };
        overlay.retain(|&(file, base), bytes| (file, base + bytes.len() as u64) > floor);
    }

    fn open_data(&mut self, t90: i64) -> Option<&mut DataFile> {
        if self.current.is_none() {
            let second = t90.div_euclid(90_000).clamp(0, i64::from(u32::MAX)) as u32;
            let id = second.max(self.last_id.saturating_add(1));
            let path = file_path(&self.config.dir, id, DATA_EXT);
            let opened = fs::create_dir_all(&self.config.dir).and_then(|()| {
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&path)
            });
            match opened {
                Ok(file) => {
                    self.last_id = id;
                    self.files.push_back(FileSpan { id, last_end: t90 });
                    self.archive.add_file(id);
                    self.current = Some(DataFile {
                        id,
                        file,
                        len: 0,
                        first: t90,
                    });
                }
                Err(e) => {
                    // Never reuse the id: a half-created file may exist.
                    self.last_id = id;
                    self.write_error("cannot create data file", &path, &e);
                    self.suspended = true;
                    return None;
                }
            }
        }
        self.current.as_mut()
    }

    /// Writes buffered payloads; on failure they stay readable from memory.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let Some(current) = self.current.as_ref() else {
            self.pending.clear();
            return;
        };
        let base = current.len - self.pending.len() as u64;
        match self
            .full()
            .and_then(|()| current.file.write_all_at(&self.pending, base))
        {
            Ok(()) => {
                self.stats.bytes_written += self.pending.len() as u64;
                self.pending.clear();
            }
            Err(e) => {
                let id = current.id;
                let bytes = Bytes::from(std::mem::take(&mut self.pending));
                lock(&self.overlay).insert((id, base), bytes);
                self.suspended = true;
                let path = file_path(&self.config.dir, id, DATA_EXT);
                self.write_error("cannot write media data; serving it from memory", &path, &e);
            }
        }
    }

    fn write_error(&mut self, what: &str, path: &Path, error: &io::Error) {
        self.stats.write_errors += 1;
        if self.stats.write_errors == 1 || self.stats.write_errors.is_power_of_two() {
            tracing::warn!(
                path = %path.display(),
                error = %error,
                errors = self.stats.write_errors,
                "{what}"
            );
        }
    }
}

impl PayloadSink for DiskStore {
    fn put(&mut self, data: Bytes, t90: i64) -> Payload {
        if self.suspended {
            return Payload::Memory(Bytes::copy_from_slice(&data));
        }
        let Ok(len) = u32::try_from(data.len()) else {
            return Payload::Memory(Bytes::copy_from_slice(&data));
        };
        // The buffer never grows past its size: what does not fit goes out first.
        if !self.pending.is_empty() && self.pending.len() + data.len() > self.config.write_buffer {
            self.flush();
            if self.suspended {
                return Payload::Memory(Bytes::copy_from_slice(&data));
            }
        }
        let Some(current) = self.open_data(t90) else {
            return Payload::Memory(Bytes::copy_from_slice(&data));
        };
        let extent = Extent {
            file: current.id,
            offset: current.len,
            len,
        };
        current.len += u64::from(len);
        if data.len() < self.config.write_buffer {
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(self.config.write_buffer);
            }
            self.pending.extend_from_slice(&data);
        } else {
            // A frame as large as the buffer is written on its own (the buffer is empty).
            let written = self.full().and_then(|()| match self.current.as_ref() {
                Some(current) => current.file.write_all_at(&data, extent.offset),
                None => Err(io::Error::other("no data file")),
            });
            match written {
                Ok(()) => self.stats.bytes_written += data.len() as u64,
                Err(e) => {
                    lock(&self.overlay).insert((extent.file, extent.offset), data);
                    self.suspended = true;
                    let path = file_path(&self.config.dir, extent.file, DATA_EXT);
                    self.write_error("cannot write media data; serving it from memory", &path, &e);
                }
            }
        }
        Payload::Stored(extent)
    }
}

impl Drop for DiskStore {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Reads segment payloads from a rendition's directory (and from the overlay of bytes that
/// failed to reach it).
#[derive(Debug)]
pub struct DiskReader {
    dir: PathBuf,
    overlay: Arc<Mutex<Overlay>>,
}

impl PayloadReader for DiskReader {
    fn load_with(
        &self,
        segment: &Segment,
        buffer: &mut dyn FnMut() -> Vec<u8>,
    ) -> io::Result<SegmentBytes> {
        let mut out = SegmentBytes::default();
        // Per data file: the byte range covering the segment's payloads on disk.
        let mut ranges: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        {
            let overlay = lock(&self.overlay);
            for e in extents(segment) {
                if !overlay.is_empty() {
                    if let Some(((file, base), bytes)) = overlay_entry(&overlay, &e) {
                        if out.get(&Payload::Stored(e)).is_none() {
                            out.add_shared(file, base, bytes.clone());
                        }
                        continue;
                    }
                }
                let r = ranges.entry(e.file).or_insert((e.offset, e.end()));
                r.0 = r.0.min(e.offset);
                r.1 = r.1.max(e.end());
            }
        }
        for (file, (start, end)) in ranges {
            let path = file_path(&self.dir, file, DATA_EXT);
            let f = File::open(&path)?;
            let len = usize::try_from(end - start)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "segment too large"))?;
            let mut buf = buffer();
            buf.clear();
            buf.resize(len, 0);
            f.read_exact_at(&mut buf, start)?;
            out.add_read(file, start, buf);
        }
        Ok(out)
    }
}

/// Locks `m`, taking the value over from a thread that panicked holding it (every critical
/// section leaves it consistent).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn overlay_entry(overlay: &Overlay, e: &Extent) -> Option<((u32, u64), Bytes)> {
    let (&(file, base), bytes) = overlay.range(..=(e.file, e.offset)).next_back()?;
    (file == e.file && e.end() <= base + bytes.len() as u64).then(|| ((file, base), bytes.clone()))
}

fn overlay_holds(overlay: &Overlay, e: &Extent) -> bool {
    overlay_entry(overlay, e).is_some()
}

fn extents(segment: &Segment) -> impl Iterator<Item = Extent> + '_ {
    segment.samples().filter_map(|s| s.data.extent())
}

/// Raises the end of every file holding payloads of `segment` to the segment's end.
fn update_spans(files: &mut VecDeque<FileSpan>, segment: &Segment) {
    let end = segment.end();
    let mut ids: Vec<u32> = extents(segment).map(|e| e.file).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if let Some(span) = files.iter_mut().rev().find(|f| f.id == id) {
            span.last_end = if span.last_end == i64::MAX {
                end
            } else {
                span.last_end.max(end)
            };
        }
    }
}

/// The earliest start (90 kHz) a segment summarized in file `id` or a later one can have (see
/// [`FILE_MARGIN`]): configurations in effect before it are no longer needed once `id` is the
/// oldest file.
fn held_from(id: u32) -> i64 {
    (i64::from(id) * 90_000).saturating_sub(FILE_MARGIN)
}

pub(super) fn file_path(dir: &Path, id: u32, ext: &str) -> PathBuf {
    dir.join(format!("{id:010}.{ext}"))
}

/// Ids of the data, index and summary files in `dir`, sorted. Other files (the configuration
/// log, its temporary copy) have no such extension or a stem that is not a number.
fn list_ids(dir: &Path) -> io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if ext != DATA_EXT && ext != INDEX_EXT && ext != SUMMARY_EXT {
            continue;
        }
        if let Ok(id) = stem.parse::<u32>() {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Reads one index file: its whole segments whose payloads are within their data files, from
/// the newest back to the first that starts at least `keep` (90 kHz) before the newest's end
/// (the older ones are decoded one at a time and dropped: a file of a long buffer holds 30 min
/// of sample tables, of which a start needs the live window's).
fn read_index(dir: &Path, id: u32, keep: i64) -> io::Result<(Vec<Segment>, u64)> {
    let path = file_path(dir, id, INDEX_EXT);
    let buf = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut records = record::Records::new(&buf);
    let mut skipped = 0;
    let mut tracks: Vec<(u32, Arc<TrackInfo>)> = Vec::new();
    let mut data_len: BTreeMap<u32, Option<u64>> = BTreeMap::new();
    let mut segments: VecDeque<Segment> = VecDeque::new();
    for record in records.by_ref() {
        match record {
            Record::Track(t) => tracks.push((t.id, t.info)),
            Record::Segment(s) => {
                let mut segment = s.segment_without_tracks();
                let mut ok = true;
                for t in s.tracks {
                    let Some((_, info)) = tracks.iter().find(|(id, _)| *id == t.track_id) else {
                        ok = false;
                        break;
                    };
                    let samples = TrackSamples {
                        stored_summary: None,
                        track: info.clone(),
                        samples: t.samples,
                    };
                    match info.kind() {
                        media::TrackKind::Video => segment.video = Some(samples),
                        media::TrackKind::Audio => segment.audio = Some(samples),
                    }
                }
                ok = ok
                    && extents(&segment).all(|e| {
                        let len = *data_len.entry(e.file).or_insert_with(|| {
                            fs::metadata(file_path(dir, e.file, DATA_EXT))
                                .ok()
                                .map(|m| m.len())
                        });
                        len.is_some_and(|len| e.end() <= len)
                    });
                if ok {
                    let end = segment.end();
                    segments.push_back(segment);
                    // Records are in time order: drop what the next oldest still covers.
                    while segments
                        .get(1)
                        .is_some_and(|second| end - second.start >= keep)
                    {
                        segments.pop_front();
                    }
                } else {
                    skipped += 1;
                }
            }
            // Never written to an index file.
            Record::Summary(_) | Record::Configs(_) => skipped += 1,
        }
    }
    if let Some(error) = records.error() {
        skipped += 1;
        tracing::warn!(
            path = %path.display(),
            valid_bytes = records.valid(),
            file_bytes = buf.len(),
            %error,
            "index file ends in a record that is not whole; it is ignored"
        );
    }
    Ok((segments.into(), skipped))
}
