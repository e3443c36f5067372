//! The catch-up index of a rendition's store: every recorded segment of the rolling buffer,
//! answered from disk with nothing per segment held in memory.
//!
//! Next to each `{id}.idx` the [`DiskStore`](super::DiskStore) writes `{id}.sum`: a log of
//! track and summary records (see [`super::record`]). A summary is what a manifest
//! needs of one segment (sequence, times, discontinuity, and per track the
//! [`TrackSummary`](crate::TrackSummary)) plus where the segment's full record lies in the index
//! file of the same id. The [`Archive`] keeps only the sorted list of file ids; a query finds the
//! files its interval can touch by binary search on the ids and reads their summary files whole.
//!
//! **Where a segment's summary is.** A file's id is the Unix second of its first payload, and a
//! segment is summarized in the file that is current when it is sealed, so the summaries of
//! file `F` are of segments that start at most one segment before `F`'s id and end at most a
//! little after the next file's id ([`FILE_MARGIN`] covers both). A query for `[from, to)`
//! reads the files from two before the first one whose successor can hold something ending
//! after `from`, up to the last one whose id is not past `to` plus the margin, and filters by
//! time.
//!
//! **Cost.** A summary record is 46 bytes of body plus 40 per track, and 9 of framing: 135
//! bytes for a segment with video and audio, so a file of 30 min of 4 s segments (a buffer
//! longer than a day) is ~60 KB. A 2 h interval reads ~6 such files (one `open` and `read`
//! each into one buffer per query; the length of the index file beside a file no longer
//! written is remembered) and checks and decodes only the ~1,800 summaries inside the interval:
//! the others are passed over by their times. Over a synthetic 14-day buffer (672 files,
//! 302,400 segments), median 0.28 ms, p99 0.36 ms in a release build on a 2-core VM with the
//! files in the page cache (the ignored test `store_tests::catch_up_query_cost_over_14_days`).
//! [`Archive::oldest_start`] is remembered; [`Archive::bounds`] also reads the newest file.
//! Loading segments in full adds one positioned read of the index file per file they were
//! recorded in. Nothing read stays in memory after the query.
//!
//! **Crash safety.** A summary is appended only after the segment record it points at, both
//! from one buffer each. A reader skips a torn or corrupt tail (the newest file's tail may be
//! a write in progress: that one is not counted), summaries whose record lies past the end of
//! the index file, and summaries naming tracks the file does not define. Skipped records are
//! counted ([`Archive::skipped`]) and logged at the first occurrence and at powers of two.
//!
//! **Retention.** When the writer removes a file it first takes it off the list and raises the
//! archive's floor to the end of the newest media the file held; nothing ending at or before
//! the floor is returned afterwards, so a segment whose payloads began in a removed file is
//! never served from another file's summary. After a restart the floor is unknown: in the
//! oldest file, the segments starting within a few seconds of its id are checked against
//! their full records (one read) and left out when their payloads are gone.
//!
//! **Configurations.** The archive also holds the rendition's history of track configurations,
//! read from the store's configuration log at startup and extended by the writer at each change
//! (see [`super::configs`]): [`Archive::configs_at`] gives those a segment recorded at a time was
//! made with (a binary search in memory), so a catch-up of an interval recorded before the
//! publisher reconnected with other settings gets the init segment of then. A store written
//! before the log existed has no history for its older media: `configs_at` answers `None` there
//! and the caller falls back to the live window's configurations.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use media::{TrackInfo, TrackKind};

use super::disk::{file_path, lock, DATA_EXT, INDEX_EXT, SUMMARY_EXT};
use super::record::{self, Record, RecordError};
use super::TrackConfigs;
use crate::segment::{Segment, TrackSamples};

/// How far (90 kHz) a summary file's segments may start before its id or end after the next
/// file's id: one long segment and the audio that closes it.
pub const FILE_MARGIN: i64 = 60 * 90_000;

/// The first segments of the oldest file that may have payloads in a removed file: those
/// starting within this much (90 kHz) after the file's id. A payload is never placed before
/// its segment's start, and a file's id is the second of its first payload (or later).
const ORPHAN_REACH: i64 = 5 * 90_000;

/// The read side of a rendition store's catch-up index. Cheap to share (`Arc`); every query
/// reads files and may block.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    files: RwLock<Files>,
    skipped: AtomicU64,
    bounds: Mutex<BoundsCache>,
    /// Lengths of the index files of files no longer written (every file but the newest), so
    /// a query does not stat each file it reads; at most one entry per file present.
    sealed_index_len: Mutex<BTreeMap<u32, u64>>,
    /// The configuration history, sorted by `since` (strictly increasing); the writer keeps it
    /// and its log in step.
    configs: RwLock<Vec<TrackConfigs>>,
}

#[derive(Debug, Default)]
struct Files {
    /// Ids of the files present, sorted.
    ids: Vec<u32>,
    /// Media ending at or before this (90 kHz) may have been removed.
    floor: i64,
}

/// What [`Archive::bounds`] learnt of files that no longer change.
#[derive(Debug, Default)]
struct BoundsCache {
    /// Every file with a smaller id (other than the newest at the time) held no summary.
    empty_below: u32,
    /// The oldest file with summaries, the start of its oldest segment, and the floor then.
    oldest: Option<(u32, i64, i64)>,
    /// The oldest file present when `oldest` was found (its first segments were checked for
    /// payloads in removed files only if it was that file).
    oldest_checked: Option<u32>,
}

impl BoundsCache {
    /// The remembered oldest file and start, if `files` still make it the oldest: same floor,
    /// the file still present, and (when it is the oldest file present) its first segments
    /// checked for payloads in removed files.
    fn still_valid(&self, files: &Files) -> Option<(u32, i64, i64)> {
        // Appends to a file only add newer segments: its oldest start stays.
        self.oldest.filter(|&(id, _, floor)| {
            floor == files.floor
                && files.ids.binary_search(&id).is_ok()
                && (Some(id) != files.ids.first().copied() || self.oldest_checked == Some(id))
        })
    }
}

/// The files a query reads, and what it needs to know of the whole list.
struct Candidates {
    ids: Vec<u32>,
    floor: i64,
    oldest: Option<u32>,
    newest: Option<u32>,
}

/// What one query shares across the files it reads.
#[derive(Default)]
struct Query {
    /// Track configurations read, so equal ones are one allocation.
    pool: Vec<Arc<TrackInfo>>,
    /// Lengths of data files (`None`: missing).
    data_len: BTreeMap<u32, Option<u64>>,
    /// The summary file being read (one allocation for the whole query).
    buf: Vec<u8>,
}

/// One summary file as read: its usable summaries with their segments (tracks summarized).
struct SumFile {
    id: u32,
    /// Track records of the file: id and configuration.
    tracks: Vec<(u32, Arc<TrackInfo>)>,
    entries: Vec<Entry>,
}

/// One usable summary: the segment it describes (tracks summarized) and where the segment's
/// full record lies in the index file (`offset..end`).
struct Entry {
    idx: (u64, u64),
    segment: Arc<Segment>,
}

/// Why a segment is not served when its payloads are not (all) in their data files.
const PAYLOADS_GONE: &str = "segment's payloads lie past the end of their data file";

impl Archive {
    pub(crate) fn new(dir: PathBuf, ids: Vec<u32>) -> Archive {
        Archive {
            dir,
            files: RwLock::new(Files {
                ids,
                floor: i64::MIN,
            }),
            skipped: AtomicU64::new(0),
            bounds: Mutex::new(BoundsCache::default()),
            sealed_index_len: Mutex::new(BTreeMap::new()),
            configs: RwLock::new(Vec::new()),
        }
    }

    /// The track configurations in effect at channel time `t` (90 kHz): the newest change at or
    /// before `t`, or `None` before the first one known. Reads nothing from disk.
    pub fn configs_at(&self, t: i64) -> Option<TrackConfigs> {
        let configs = self.configs.read().unwrap_or_else(|p| p.into_inner());
        let after = configs.partition_point(|c| c.since <= t);
        after.checked_sub(1).and_then(|i| configs.get(i)).cloned()
    }

    /// Every configuration change still known, oldest first (the configurations are shared,
    /// not copied).
    pub fn config_history(&self) -> Vec<TrackConfigs> {
        self.configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` on the configuration history (the writer's, which keeps it sorted by `since`).
    pub(super) fn update_configs<R>(&self, f: impl FnOnce(&mut Vec<TrackConfigs>) -> R) -> R {
        f(&mut self.configs.write().unwrap_or_else(|p| p.into_inner()))
    }

    /// The writer created file `id` (larger than every id before).
    pub(super) fn add_file(&self, id: u32) {
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        if let Err(at) = files.ids.binary_search(&id) {
            files.ids.insert(at, id);
        }
    }

    /// The writer is about to remove file `id`, whose media ends at `last_end` (90 kHz).
    pub(super) fn remove_file(&self, id: u32, last_end: i64) {
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        if let Ok(at) = files.ids.binary_search(&id) {
            files.ids.remove(at);
        }
        files.floor = files.floor.max(last_end);
        drop(files);
        lock(&self.sealed_index_len).remove(&id);
    }

    /// Summary or index records skipped so far (torn tails, records past the end of the index,
    /// unknown tracks); a record is counted each time a query meets it.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// The recorded segments overlapping `[from, to)` (90 kHz channel time:
    /// `end > from && start < to`), oldest first by sequence, each with its tracks summarized
    /// ([`TrackSamples::summarized`], no sample table). Blocks.
    pub fn summaries(&self, from: i64, to: i64) -> io::Result<Vec<Arc<Segment>>> {
        let mut out = Vec::new();
        self.scan(
            from,
            to,
            |start, end| end > from && start < to,
            |file, _| {
                if let (true, Some(first)) = (out.is_empty(), file.entries.first()) {
                    // Room for the interval's segments if they are as long as the first.
                    let count = to.saturating_sub(from) / first.segment.duration.max(1);
                    out.reserve(usize::try_from(count.clamp(0, 1 << 20)).unwrap_or(0) + 2);
                }
                out.extend(file.entries.into_iter().map(|e| e.segment));
                Ok(())
            },
        )?;
        Ok(by_sequence(out))
    }

    /// The recorded segments starting in `[from, to)` (90 kHz), oldest first by sequence, in
    /// full: sample tables whose payloads are extents of the data files, for the store's
    /// [`DiskReader`](super::disk::DiskReader) to load. Blocks.
    pub fn load(&self, from: i64, to: i64) -> io::Result<Vec<Segment>> {
        let mut out = Vec::new();
        self.scan(
            from,
            to,
            |start, _| start >= from && start < to,
            |file, query| {
                let all: Vec<usize> = (0..file.entries.len()).collect();
                let path = file_path(&self.dir, file.id, INDEX_EXT);
                for loaded in self.read_full(&file, &all, query)? {
                    match loaded {
                        Ok(segment) => out.push(segment),
                        Err(why) => self.skip(&path, why),
                    }
                }
                Ok(())
            },
        )?;
        Ok(by_sequence(out))
    }

    /// Reads the files that can hold segments overlapping `[from, to)`, oldest first, and
    /// hands `each` every one with summaries that `keep` wants (and that retention has not
    /// removed).
    fn scan(
        &self,
        from: i64,
        to: i64,
        keep: impl Fn(i64, i64) -> bool,
        mut each: impl FnMut(SumFile, &mut Query) -> io::Result<()>,
    ) -> io::Result<()> {
        if from >= to {
            return Ok(());
        }
        let files = self.candidates(from, to);
        let mut query = Query::default();
        for &id in &files.ids {
            let file = self.read_sum(id, &files, &mut query, |start, end| {
                end > files.floor && keep(start, end)
            })?;
            if !file.entries.is_empty() {
                each(file, &mut query)?;
            }
        }
        Ok(())
    }

    /// The start of the oldest recorded segment and the end of the newest (90 kHz). Reads the
    /// first and the last summary files that have records (and remembers which files, now
    /// unchanging, had none, and the oldest start: see [`Archive::oldest_start`]). Blocks; an
    /// unreadable file counts as having none.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        let files = self.all_files();
        let (oldest_id, oldest_start) = self.oldest(&files)?;
        let mut query = Query::default();
        let end = files
            .ids
            .iter()
            .rev()
            .take_while(|&&id| id >= oldest_id)
            .find_map(|&id| {
                let segments = self.readable(id, &files, &mut query)?;
                segments.iter().map(|s| s.end()).max()
            })?;
        Some((oldest_start, end))
    }

    /// The start of the oldest recorded segment (90 kHz). Once found it is remembered until
    /// retention removes its file, so this usually reads nothing. Blocks otherwise.
    pub fn oldest_start(&self) -> Option<i64> {
        {
            let files = self.files.read().unwrap_or_else(|p| p.into_inner());
            let cache = lock(&self.bounds);
            if let Some((_, start, _)) = cache.still_valid(&files) {
                return Some(start);
            }
        }
        self.oldest(&self.all_files()).map(|(_, start)| start)
    }

    /// The oldest file with summaries and the start of its oldest segment, from the cache when
    /// it still holds.
    fn oldest(&self, files: &Candidates) -> Option<(u32, i64)> {
        let (cached, empty_below) = {
            let list = self.files.read().unwrap_or_else(|p| p.into_inner());
            let cache = lock(&self.bounds);
            (cache.still_valid(&list), cache.empty_below)
        };
        if let Some((id, start, _)) = cached {
            return Some((id, start));
        }
        let mut query = Query::default();
        let mut found = None;
        let mut empty = Some(empty_below);
        for &id in files.ids.iter().filter(|&&id| id >= empty_below) {
            let Some(segments) = self.readable(id, files, &mut query) else {
                empty = None;
                continue;
            };
            if let Some(start) = segments.iter().map(|s| s.start).min() {
                found = Some((id, start));
                break;
            }
            if Some(id) != files.newest {
                empty = empty.map(|_| id.saturating_add(1));
            }
        }
        let mut cache = lock(&self.bounds);
        cache.empty_below = cache.empty_below.max(empty.unwrap_or(0));
        let (id, start) = found?;
        cache.oldest = Some((id, start, files.floor));
        cache.oldest_checked = files.oldest;
        Some((id, start))
    }

    /// Every file present, for the queries that may look at any.
    fn all_files(&self) -> Candidates {
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        Candidates {
            ids: files.ids.clone(),
            floor: files.floor,
            oldest: files.ids.first().copied(),
            newest: files.ids.last().copied(),
        }
    }

    /// The segments of file `id` that retention has not removed, or `None` if it cannot be
    /// read (logged; the caller passes over it without remembering it as empty).
    fn readable(
        &self,
        id: u32,
        files: &Candidates,
        query: &mut Query,
    ) -> Option<Vec<Arc<Segment>>> {
        match self.read_sum(id, files, query, |_, end| end > files.floor) {
            Ok(file) => Some(file.entries.into_iter().map(|e| e.segment).collect()),
            Err(e) => {
                let path = file_path(&self.dir, id, SUMMARY_EXT);
                tracing::warn!(path = %path.display(), error = %e, "cannot read summaries");
                None
            }
        }
    }

    /// The files that can hold segments overlapping `[from, to)`.
    fn candidates(&self, from: i64, to: i64) -> Candidates {
        let files = self.files.read().unwrap_or_else(|p| p.into_inner());
        let ids = &files.ids;
        // Files before `first` end before `from` (their successors begin early enough).
        let first = ids
            .partition_point(|&id| at(id).saturating_add(FILE_MARGIN) <= from)
            .saturating_sub(2);
        // Files from `last` on begin after `to`.
        let last = ids.partition_point(|&id| at(id) <= to.saturating_add(FILE_MARGIN));
        Candidates {
            ids: ids.get(first..last.max(first)).unwrap_or_default().to_vec(),
            floor: files.floor,
            oldest: ids.first().copied(),
            newest: ids.last().copied(),
        }
    }

    /// Reads summary file `id` whole: its usable summaries that `keep` wants (others are not
    /// turned into segments). In the newest file an incomplete last record is a write in
    /// progress, not damage. In the oldest, the first segments may have payloads in a file
    /// retention removed (possibly before a restart): those whose records say so are left out.
    fn read_sum(
        &self,
        id: u32,
        files: &Candidates,
        query: &mut Query,
        keep: impl Fn(i64, i64) -> bool,
    ) -> io::Result<SumFile> {
        let mut file = SumFile {
            id,
            tracks: Vec::new(),
            entries: Vec::new(),
        };
        let path = file_path(&self.dir, id, SUMMARY_EXT);
        match File::open(&path).and_then(|f| read_whole(&f, &mut query.buf)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(file),
            Err(e) => return Err(e),
        }
        let buf = std::mem::take(&mut query.buf);
        // Read after the summaries: a summary is written after its record, so every summary
        // read above lies within this length unless the index lost data.
        let idx_len = self.index_len(id, files)?;
        let mut records = record::Records::new(&buf);
        while let Some(record) = records.next_wanted(&keep) {
            match record {
                Record::Track(t) => {
                    let info = share(&mut query.pool, t.info);
                    if !file.tracks.iter().any(|(id, _)| *id == t.id) {
                        file.tracks.push((t.id, info));
                    }
                }
                Record::Summary(s) => {
                    if s.idx_range().1 > idx_len {
                        self.skip(&path, "summary points past the end of its index file");
                        continue;
                    }
                    let mut segment = s.segment_without_tracks();
                    let placed = s.tracks.iter().all(|t| {
                        file.track(t.track_id).is_some_and(|info| {
                            place(
                                &mut segment,
                                TrackSamples::summarized(info.clone(), t.summary),
                            )
                        })
                    });
                    if !placed {
                        self.skip(&path, "summary names an unknown track");
                        continue;
                    }
                    file.entries.push(Entry {
                        idx: s.idx_range(),
                        segment: Arc::new(segment),
                    });
                }
                Record::Segment(_) => self.skip(&path, "segment record in a summary file"),
                Record::Configs(_) => self.skip(&path, "configs record in a summary file"),
            }
        }
        if let Some(error) = records.error() {
            if !(Some(id) == files.newest && error == RecordError::Incomplete) {
                let what = format!(
                    "summary file ends in a record that is not whole \
                     ({error}; {} of {} bytes valid)",
                    records.valid(),
                    buf.len()
                );
                self.skip(&path, &what);
            }
        }
        query.buf = buf;
        if Some(id) == files.oldest {
            // A segment with a payload written before this file began starts before then.
            let early: Vec<usize> = (0..file.entries.len())
                .filter(|&i| file.entries[i].segment.start < at(id).saturating_add(ORPHAN_REACH))
                .collect();
            if !early.is_empty() {
                let full = self.read_full(&file, &early, query)?;
                let mut keep = vec![true; file.entries.len()];
                for (&i, loaded) in early.iter().zip(full) {
                    if let Err(why) = loaded {
                        keep[i] = false;
                        if why != PAYLOADS_GONE {
                            self.skip(&file_path(&self.dir, id, INDEX_EXT), why);
                        }
                    }
                }
                let mut keep = keep.into_iter();
                file.entries.retain(|_| keep.next().unwrap_or(true));
            }
        }
        Ok(file)
    }

    /// The length of the index file of `id` (0 when it is missing). Files before the newest
    /// are no longer written (the writer moves to a new file for good), so their length is
    /// remembered.
    fn index_len(&self, id: u32, files: &Candidates) -> io::Result<u64> {
        let sealed = files.newest.is_some_and(|newest| id < newest);
        if sealed {
            if let Some(&len) = lock(&self.sealed_index_len).get(&id) {
                return Ok(len);
            }
        }
        let len = match fs::metadata(file_path(&self.dir, id, INDEX_EXT)) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if sealed {
            // Under the list's lock, so a removal cannot come between the check and the insert.
            let files = self.files.read().unwrap_or_else(|p| p.into_inner());
            if files.ids.binary_search(&id).is_ok() {
                lock(&self.sealed_index_len).insert(id, len);
            }
        }
        Ok(len)
    }

    /// The full segments of `file`'s entries at `which` (ascending), read from the index file
    /// beside it with one read over their span, in the same order; or why each is not served.
    fn read_full(
        &self,
        file: &SumFile,
        which: &[usize],
        query: &mut Query,
    ) -> io::Result<Vec<Result<Segment, &'static str>>> {
        let summaries: Vec<&Entry> = which.iter().filter_map(|&i| file.entries.get(i)).collect();
        let path = file_path(&self.dir, file.id, INDEX_EXT);
        let idx = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(vec![Err("index file is missing"); summaries.len()]);
            }
            Err(e) => return Err(e),
        };
        let start = summaries.iter().map(|e| e.idx.0).min().unwrap_or(0);
        let end = summaries.iter().map(|e| e.idx.1).max().unwrap_or(0);
        let len = usize::try_from(end.saturating_sub(start))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "index span too large"))?;
        let mut buf = vec![0; len];
        let got = read_at_most(&idx, &mut buf, start)?;
        buf.truncate(got);
        Ok(summaries
            .into_iter()
            .map(|entry| self.full_segment(file, entry, &buf, start, query))
            .collect())
    }

    /// The segment `summary` points at, from `buf` (the index file's bytes from `base`).
    fn full_segment(
        &self,
        file: &SumFile,
        entry: &Entry,
        buf: &[u8],
        base: u64,
        query: &mut Query,
    ) -> Result<Segment, &'static str> {
        let (offset, end) = entry.idx;
        let summary = &entry.segment;
        let bytes = usize::try_from(offset.saturating_sub(base))
            .ok()
            .zip(usize::try_from(end.saturating_sub(base)).ok())
            .and_then(|(a, b)| buf.get(a..b))
            .ok_or("summary points past the end of its index file")?;
        let record = match record::decode(bytes) {
            Ok((Record::Segment(r), n)) if n == bytes.len() => r,
            _ => return Err("summary does not point at a whole segment record"),
        };
        if (record.sequence, record.start, record.duration)
            != (summary.sequence, summary.start, summary.duration)
        {
            return Err("summary points at another segment's record");
        }
        let mut segment = record.segment_without_tracks();
        let placed = record.tracks.into_iter().all(|t| {
            file.track(t.track_id)
                .is_some_and(|info| place(&mut segment, TrackSamples::new(info.clone(), t.samples)))
        });
        if !placed {
            return Err("segment record names an unknown track");
        }
        let within = segment.samples().filter_map(|s| s.data.extent()).all(|e| {
            let len = *query.data_len.entry(e.file).or_insert_with(|| {
                fs::metadata(file_path(&self.dir, e.file, DATA_EXT))
                    .ok()
                    .map(|m| m.len())
            });
            len.is_some_and(|len| e.end() <= len)
        });
        if !within {
            return Err(PAYLOADS_GONE);
        }
        Ok(segment)
    }

    fn skip(&self, path: &Path, what: &str) {
        let n = self.skipped.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n.is_power_of_two() {
            tracing::warn!(path = %path.display(), skipped = n, "catch-up index: {what}; skipped");
        }
    }
}

impl SumFile {
    fn track(&self, id: u32) -> Option<&Arc<TrackInfo>> {
        self.tracks
            .iter()
            .find(|(t, _)| *t == id)
            .map(|(_, info)| info)
    }
}

/// `segments` ordered by sequence, each once (neighbouring files may summarize the same one).
fn by_sequence<S: std::borrow::Borrow<Segment>>(mut segments: Vec<S>) -> Vec<S> {
    if !segments.is_sorted_by_key(|s| s.borrow().sequence) {
        segments.sort_by_key(|s| s.borrow().sequence);
    }
    segments.dedup_by_key(|s| s.borrow().sequence);
    segments
}

/// Channel time (90 kHz) of the second a file id names.
fn at(id: u32) -> i64 {
    i64::from(id) * 90_000
}

/// Puts `track` into its kind's slot of `segment`; false if the slot is taken.
fn place(segment: &mut Segment, track: TrackSamples) -> bool {
    let slot = match track.track.kind() {
        TrackKind::Video => &mut segment.video,
        TrackKind::Audio => &mut segment.audio,
    };
    if slot.is_some() {
        return false;
    }
    *slot = Some(track);
    true
}

/// `info`, or an equal configuration already in `pool` (so segments of a query share it).
fn share(pool: &mut Vec<Arc<TrackInfo>>, info: Arc<TrackInfo>) -> Arc<TrackInfo> {
    if let Some(same) = pool.iter().find(|p| ***p == *info) {
        return same.clone();
    }
    pool.push(info.clone());
    info
}

/// Replaces `buf` with the whole of `file`, reading into the capacity it has (a summary file
/// is ~10 KB) until the file ends: no `stat` or `seek` as `read_to_end` makes.
fn read_whole(mut file: &File, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(SUMMARY_READ.max(buf.capacity()));
        }
        // Reading into initialized memory keeps this safe; zeroing ~16 KB costs less than a
        // system call.
        let start = buf.len();
        buf.resize(buf.capacity(), 0);
        let read = file.read(&mut buf[start..]);
        match read {
            Ok(0) => {
                buf.truncate(start);
                return Ok(());
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
}

/// What a summary file read starts with room for.
const SUMMARY_READ: usize = 16 * 1024;

/// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
