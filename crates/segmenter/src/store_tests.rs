//! The disk store under a rendition: payloads round-trip, restarts resume, torn index tails are
//! skipped, retention holds, and write errors keep media served from memory; the catch-up
//! index answers for everything recorded and still on disk, and knows the track configurations
//! each recorded segment was made with.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use media::{AacConfig, Frame, TrackInfo, TrackKind, WallClock};

use crate::store::archive::FILE_MARGIN;
use crate::store::record::{self, Record};
use crate::store::{Archive, DiskStore, DiskStoreConfig, Recovered, TrackConfigs};
use crate::tests::{aac, avc, avc_160x120, stream};
use crate::{Rendition, Segment, SegmenterConfig, TrackSummary, WindowLimits};

const START_MS: i64 = 1_700_000_000_000;
const S: i64 = 90_000;

fn limits(keep_secs: i64) -> WindowLimits {
    WindowLimits {
        keep: keep_secs * S,
        min_segments: 3,
        max_bytes: usize::MAX,
    }
}

/// Frames of `stream` whose payloads differ from each other: 4-byte big-endian index, then its
/// low byte repeated.
fn distinct(frames: Vec<Frame>, first: u32) -> Vec<Frame> {
    frames
        .into_iter()
        .enumerate()
        .map(|(i, mut f)| {
            let n = first + i as u32;
            let mut data = n.to_be_bytes().to_vec();
            data.resize(f.data.len().max(8), n as u8);
            f.data = Bytes::from(data);
            f
        })
        .collect()
}

/// A rendition of 2 s segments and a 60 s window, in memory.
fn in_memory() -> Rendition {
    Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        limits(60),
    )
}

/// The same rendition over a fresh `store`.
fn stored(store: DiskStore) -> Rendition {
    Rendition::with_store(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        limits(60),
        store,
        Recovered::default(),
    )
}

fn open(dir: &Path, retention_secs: i64, keep_secs: i64) -> (Rendition, usize) {
    let (store, recovered) = DiskStore::open(
        DiskStoreConfig::new(dir.to_path_buf(), retention_secs * S),
        keep_secs * S,
    )
    .expect("open store");
    let n = recovered.segments.len();
    let rendition = Rendition::with_store(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        limits(keep_secs),
        store,
        recovered,
    );
    (rendition, n)
}

fn publish(r: &mut Rendition, at_ms: i64, frames: Vec<Frame>) {
    r.begin_session(WallClock::from_unix_ms(at_ms));
    r.set_track(avc());
    r.set_track(aac());
    for f in frames {
        r.push(f);
    }
    r.end_session();
}

/// Every payload of `segment` as loaded, in sample order.
fn payloads(r: &Rendition, segment: &Segment) -> Vec<Vec<u8>> {
    let bytes = r.reader().load(segment).expect("load");
    segment
        .samples()
        .map(|s| bytes.get(&s.data).expect("payload loaded").to_vec())
        .collect()
}

fn all_payloads(r: &Rendition) -> Vec<Vec<u8>> {
    r.window
        .segments()
        .iter()
        .flat_map(|s| payloads(r, s))
        .collect()
}

#[test]
fn payloads_round_trip_through_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mem = in_memory();
    let (mut disk, _) = open(dir.path(), 60, 60);
    let frames = distinct(stream(0, 10_000, 1_000), 0);
    publish(&mut mem, START_MS, frames.clone());
    publish(&mut disk, START_MS, frames);
    assert_eq!(disk.window.segments().len(), 5);
    // Same cuts, same sample tables, same bytes; nothing held in memory but bookkeeping.
    for (m, d) in mem.window.segments().iter().zip(disk.window.segments()) {
        assert_eq!(
            (m.sequence, m.start, m.duration),
            (d.sequence, d.start, d.duration)
        );
        assert_eq!(payloads(&mem, m), payloads(&disk, d));
        assert!(d.samples().all(|s| s.data.extent().is_some()));
        assert_eq!(d.video.as_ref().map(|t| t.memory_bytes()), Some(0));
    }
    let stats = disk.store_stats().expect("stored");
    assert_eq!(stats.segments_recorded, 5);
    assert_eq!(stats.write_errors, 0);
}

#[test]
fn restart_resumes_window_numbering_and_discontinuities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (before, before_payloads, last_seq, disc_seq) = {
        let (mut r, n) = open(dir.path(), 60, 20);
        assert_eq!(n, 0);
        publish(&mut r, START_MS, distinct(stream(0, 10_000, 1_000), 0));
        publish(
            &mut r,
            START_MS + 10_000,
            distinct(stream(0, 6_000, 1_000), 10_000),
        );
        let segs: Vec<Segment> = r.window.segments().iter().map(|s| (**s).clone()).collect();
        let last = segs.last().expect("segments").sequence;
        (
            segs,
            all_payloads(&r),
            last,
            r.window.removed_discontinuities(),
        )
    };
    let (mut r, n) = open(dir.path(), 60, 20);
    assert_eq!(n, before.len(), "the whole window comes back");
    let after: Vec<&Segment> = r.window.segments().iter().map(|s| &**s).collect();
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a.sequence, b.sequence);
        assert_eq!(
            (a.start, a.duration, a.discontinuity),
            (b.start, b.duration, b.discontinuity)
        );
        assert_eq!(a.discontinuity_sequence, b.discontinuity_sequence);
        assert_eq!(
            a.video.as_ref().map(|t| &t.samples),
            b.video.as_ref().map(|t| &t.samples)
        );
        assert_eq!(
            a.audio.as_ref().map(|t| &t.samples),
            b.audio.as_ref().map(|t| &t.samples)
        );
        assert_eq!(
            a.video.as_ref().map(|t| &t.track),
            b.video.as_ref().map(|t| &t.track)
        );
    }
    assert_eq!(all_payloads(&r), before_payloads);
    assert_eq!(r.window.removed_discontinuities(), disc_seq);
    // A new publish continues the numbering with one discontinuity and never goes back in time.
    let end = before.last().map(Segment::end).unwrap_or_default();
    publish(
        &mut r,
        START_MS + 1_000,
        distinct(stream(0, 4_000, 1_000), 50_000),
    );
    let newest: Vec<&Segment> = r
        .window
        .segments()
        .iter()
        .map(|s| &**s)
        .filter(|s| s.sequence > last_seq)
        .collect();
    assert_eq!(newest.first().map(|s| s.sequence), Some(last_seq + 1));
    assert!(newest
        .first()
        .is_some_and(|s| s.discontinuity && s.start >= end));
    assert_eq!(newest.iter().filter(|s| s.discontinuity).count(), 1);
}

#[test]
fn torn_index_tail_loses_only_the_torn_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let count = {
        let (mut r, _) = open(dir.path(), 60, 60);
        publish(&mut r, START_MS, distinct(stream(0, 10_000, 1_000), 0));
        r.window.segments().len()
    };
    let idx = fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .expect("index file");
    let len = fs::metadata(&idx).expect("meta").len();
    // Cut the last record in half, as a crash in the middle of its write would.
    let f = fs::OpenOptions::new().write(true).open(&idx).expect("open");
    f.set_len(len - 100).expect("truncate");
    drop(f);
    let (r, n) = open(dir.path(), 60, 60);
    assert_eq!(n, count - 1);
    assert_eq!(
        all_payloads(&r).len(),
        r.window
            .segments()
            .iter()
            .map(|s| s.samples().count())
            .sum::<usize>()
    );
    // Garbage after a whole record is skipped the same way.
    fs::write(&idx, b"\x02\xff\xff\x00\x00garbage").expect("overwrite");
    let (_, n) = open(dir.path(), 60, 60);
    assert_eq!(n, 0, "nothing readable in a garbage index");
}

#[test]
fn retention_keeps_the_buffer_and_no_more() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, _) = open(dir.path(), 120, 20);
    // 10 minutes of media; files roll every 60 s; 120 s of retention.
    publish(&mut r, START_MS, distinct(stream(0, 600_000, 2_000), 0));
    let newest_end = r.window.newest().map(|s| s.end()).expect("segments");
    let mut ids: Vec<i64> = fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".dat")?.parse().ok())
        .collect();
    ids.sort_unstable();
    let oldest = *ids.first().expect("files") * S;
    let held = newest_end - oldest;
    assert!(held >= 120 * S, "holds {held} ticks, less than the buffer");
    assert!(
        held <= (120 + 60 + 4) * S,
        "holds {held} ticks, more than the buffer plus one file"
    );
    assert!(r.store_stats().is_some_and(|s| s.files_removed >= 6));
    // Recovery of a long store reads only what the window needs.
    drop(r);
    let (r, n) = open(dir.path(), 120, 20);
    assert!(
        (10..=16).contains(&n),
        "recovered {n} segments for a 20 s window"
    );
    assert_eq!(
        all_payloads(&r).len(),
        r.window
            .segments()
            .iter()
            .map(|s| s.samples().count())
            .sum::<usize>()
    );
}

#[test]
fn write_errors_keep_serving_from_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, recovered) = DiskStore::open(
        DiskStoreConfig::new(dir.path().to_path_buf(), 60 * S),
        60 * S,
    )
    .expect("open");
    assert!(recovered.segments.is_empty());
    let mut failing = store;
    failing.inject_write_failures(true);
    let mut r = stored(failing);
    let mut mem = in_memory();
    let frames = distinct(stream(0, 10_000, 1_000), 0);
    publish(&mut r, START_MS, frames.clone());
    publish(&mut mem, START_MS, frames);
    assert_eq!(
        all_payloads(&r),
        all_payloads(&mem),
        "every payload still served"
    );
    let stats = r.store_stats().expect("stored");
    assert!(stats.write_errors > 0);
    assert_eq!(stats.segments_recorded, 0);
    assert_eq!(stats.segments_unrecorded, 5);
    drop(r);
    let (_, n) = open(dir.path(), 60, 60);
    assert_eq!(n, 0, "unrecorded segments are not resumed");
}

#[test]
fn disk_recovers_after_errors_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = DiskStore::open(
        DiskStoreConfig::new(dir.path().to_path_buf(), 60 * S),
        60 * S,
    )
    .expect("open");
    let mut r = stored(store);
    let frames = distinct(stream(0, 20_000, 1_000), 0);
    let (first, second) = frames.split_at(frames.len() / 2);
    r.begin_session(WallClock::from_unix_ms(START_MS));
    r.set_track(avc());
    r.set_track(aac());
    set_failing(&mut r, true);
    for f in first.iter().cloned() {
        r.push(f);
    }
    set_failing(&mut r, false);
    for f in second.iter().cloned() {
        r.push(f);
    }
    r.end_session();
    let stats = r.store_stats().expect("stats");
    assert!(
        stats.segments_unrecorded >= 4 && stats.segments_recorded >= 4,
        "{stats:?}"
    );
    let mut mem = in_memory();
    publish(&mut mem, START_MS, distinct(stream(0, 20_000, 1_000), 0));
    assert_eq!(all_payloads(&r), all_payloads(&mem));
}

fn set_failing(r: &mut Rendition, fail: bool) {
    r.with_store_mut(|s| s.inject_write_failures(fail));
}

#[test]
fn frames_larger_than_the_write_buffer_round_trip() {
    for fail in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = DiskStoreConfig::new(dir.path().to_path_buf(), 60 * S);
        // Video frames (100 bytes) bypass the buffer; audio frames (10 bytes) go through it.
        config.write_buffer = 64;
        let (mut store, _) = DiskStore::open(config, 60 * S).expect("open");
        store.inject_write_failures(fail);
        let mut r = stored(store);
        let mut mem = in_memory();
        let frames = distinct(stream(0, 6_000, 1_000), 0);
        publish(&mut r, START_MS, frames.clone());
        publish(&mut mem, START_MS, frames);
        assert_eq!(
            all_payloads(&r),
            all_payloads(&mem),
            "write failures: {fail}"
        );
        let stats = r.store_stats().expect("stats");
        assert_eq!(stats.write_errors > 0, fail);
        assert_eq!(stats.segments_recorded > 0, !fail);
    }
}

// The catch-up index (`.sum` files read through the store's `Archive`).

/// A rendition of 2 s segments over a store in `dir` whose files roll every `file_span_secs`,
/// keeping `keep_secs` in the window.
fn open_spanned(
    dir: &Path,
    retention_secs: i64,
    file_span_secs: i64,
    keep_secs: i64,
) -> (Rendition, Arc<Archive>) {
    let mut config = DiskStoreConfig::new(dir.to_path_buf(), retention_secs * S);
    config.file_span = file_span_secs * S;
    let (store, recovered) = DiskStore::open(config, keep_secs * S).expect("open store");
    let archive = store.archive();
    let rendition = Rendition::with_store(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        limits(keep_secs),
        store,
        recovered,
    );
    (rendition, archive)
}

fn window(r: &Rendition) -> Vec<Segment> {
    r.window.segments().iter().map(|s| (**s).clone()).collect()
}

fn files_with(dir: &Path, ext: &str) -> Vec<u32> {
    let suffix = format!(".{ext}");
    let mut ids: Vec<u32> = fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(&suffix)?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids
}

fn file(dir: &Path, id: u32, ext: &str) -> PathBuf {
    dir.join(format!("{id:010}.{ext}"))
}

/// `summary` is `full` known by its aggregates only.
fn assert_summarizes(summary: &Segment, full: &Segment) {
    assert_eq!(
        (
            summary.sequence,
            summary.start,
            summary.duration,
            summary.discontinuity,
            summary.discontinuity_sequence
        ),
        (
            full.sequence,
            full.start,
            full.duration,
            full.discontinuity,
            full.discontinuity_sequence
        )
    );
    assert!(summary.is_summary_only(), "{}", summary.sequence);
    for (s, f) in [(&summary.video, &full.video), (&summary.audio, &full.audio)] {
        match (s, f) {
            (Some(s), Some(f)) => {
                assert!(s.samples.is_empty());
                assert_eq!(s.stored_summary, Some(TrackSummary::of(&f.samples)));
                assert_eq!(s.summary(), f.summary());
                assert_eq!(s.payload_bytes(), f.payload_bytes());
                assert_eq!(s.sample_count(), f.sample_count());
                assert_eq!(*s.track, *f.track);
            }
            (None, None) => {}
            _ => panic!("tracks differ in segment {}", full.sequence),
        }
    }
}

/// `loaded` is `full`, sample for sample.
fn assert_same(loaded: &Segment, full: &Segment) {
    assert_eq!(
        (
            loaded.sequence,
            loaded.start,
            loaded.duration,
            loaded.discontinuity,
            loaded.discontinuity_sequence
        ),
        (
            full.sequence,
            full.start,
            full.duration,
            full.discontinuity,
            full.discontinuity_sequence
        )
    );
    assert!(!loaded.is_summary_only());
    for (l, f) in [(&loaded.video, &full.video), (&loaded.audio, &full.audio)] {
        match (l, f) {
            (Some(l), Some(f)) => {
                assert_eq!(l.samples, f.samples);
                assert_eq!(*l.track, *f.track);
                assert_eq!(l.stored_summary, None);
            }
            (None, None) => {}
            _ => panic!("tracks differ in segment {}", full.sequence),
        }
    }
}

fn sequences<S: std::borrow::Borrow<Segment>>(segments: &[S]) -> Vec<u64> {
    segments.iter().map(|s| s.borrow().sequence).collect()
}

/// The segments of `all` overlapping `[from, to)`.
fn overlapping(all: &[Segment], from: i64, to: i64) -> Vec<u64> {
    all.iter()
        .filter(|s| s.end() > from && s.start < to)
        .map(|s| s.sequence)
        .collect()
}

#[test]
fn catch_up_summaries_match_the_recorded_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 600, 60, 600);
    publish(&mut r, START_MS, distinct(stream(0, 20_000, 1_000), 0));
    publish(
        &mut r,
        START_MS + 30_000,
        distinct(stream(0, 10_000, 1_000), 20_000),
    );
    let live = window(&r);
    assert_eq!(live.len(), 15);
    assert!(live.iter().any(|s| s.discontinuity));
    let all = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert_eq!(sequences(&all), sequences(&live));
    for (s, f) in all.iter().zip(&live) {
        assert_summarizes(s, f);
    }
    // One configuration per file and kind, shared by its segments.
    assert!(all.windows(2).all(|w| match (&w[0].video, &w[1].video) {
        (Some(a), Some(b)) => Arc::ptr_eq(&a.track, &b.track),
        _ => false,
    }));
    // Overlap is `end > from && start < to`: edges select exactly.
    let k = &live[5];
    let one = archive.summaries(k.start, k.end()).expect("summaries");
    assert_eq!(sequences(&one), vec![k.sequence]);
    let before = archive.summaries(k.start - 1, k.start).expect("summaries");
    assert_eq!(sequences(&before), vec![k.sequence - 1]);
    let after = archive.summaries(k.end(), k.end() + 1).expect("summaries");
    assert_eq!(sequences(&after), vec![k.sequence + 1]);
    assert!(archive
        .summaries(k.end(), k.start)
        .expect("empty")
        .is_empty());
    let span = archive
        .summaries(k.start + 1, live[9].start + 1)
        .expect("summaries");
    assert_eq!(
        sequences(&span),
        overlapping(&live, k.start + 1, live[9].start + 1)
    );
    assert_eq!(archive.skipped(), 0);
}

#[test]
fn catch_up_load_returns_segments_in_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 600, 60, 600);
    publish(&mut r, START_MS, distinct(stream(0, 20_000, 1_000), 0));
    let live = window(&r);
    let loaded = archive.load(i64::MIN, i64::MAX).expect("load");
    assert_eq!(sequences(&loaded), sequences(&live));
    for (l, f) in loaded.iter().zip(&live) {
        assert_same(l, f);
        assert_eq!(payloads(&r, l), payloads(&r, f));
    }
    // `load` selects by start: a range inside a segment gives nothing, one covering its start
    // gives it alone.
    let k = &live[3];
    assert!(archive.load(k.start + 1, k.end()).expect("load").is_empty());
    let one = archive.load(k.start, k.start + 1).expect("load");
    assert_eq!(sequences(&one), vec![k.sequence]);
    let two = archive.load(k.start - 1, live[4].start + 1).expect("load");
    assert_eq!(sequences(&two), vec![k.sequence, k.sequence + 1]);
}

#[test]
fn catch_up_spans_many_files_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Files roll every 10 s: some 18 files for 3 minutes of media in three sessions.
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 10, 3_600);
    publish(&mut r, START_MS, distinct(stream(0, 80_000, 2_000), 0));
    publish(
        &mut r,
        START_MS + 100_000,
        distinct(stream(0, 60_000, 2_000), 100_000),
    );
    publish(
        &mut r,
        START_MS + 300_000,
        distinct(stream(0, 40_000, 2_000), 200_000),
    );
    let live = window(&r);
    assert!(files_with(dir.path(), "sum").len() >= 15);
    assert_eq!(files_with(dir.path(), "sum"), files_with(dir.path(), "dat"));
    let first = live.first().map_or(0, |s| s.start);
    let last = live.last().map_or(0, Segment::end);
    let mut ranges = vec![(i64::MIN, i64::MAX), (first, last), (first - S, first)];
    // Every window of 1 s to 2 min, stepping by 7 s, and the gaps between sessions.
    for len in [S, 13 * S, 60 * S, 120 * S] {
        let mut from = first - 30 * S;
        while from < last + 30 * S {
            ranges.push((from, from + len));
            from += 7 * S;
        }
    }
    for (from, to) in ranges {
        let got = archive.summaries(from, to).expect("summaries");
        assert_eq!(
            sequences(&got),
            overlapping(&live, from, to),
            "[{from}, {to})"
        );
        for s in &got {
            let f = live
                .iter()
                .find(|f| f.sequence == s.sequence)
                .expect("live");
            assert_summarizes(s, f);
        }
        let loaded = archive.load(from, to).expect("load");
        let starting: Vec<u64> = live
            .iter()
            .filter(|s| s.start >= from && s.start < to)
            .map(|s| s.sequence)
            .collect();
        assert_eq!(sequences(&loaded), starting, "load [{from}, {to})");
    }
    for l in archive.load(i64::MIN, i64::MAX).expect("load") {
        let f = live
            .iter()
            .find(|f| f.sequence == l.sequence)
            .expect("live");
        assert_same(&l, f);
        assert_eq!(payloads(&r, &l), payloads(&r, f));
    }
    assert_eq!(archive.skipped(), 0);
}

#[test]
fn catch_up_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 10, 3_600);
    assert_eq!(archive.bounds(), None);
    publish(&mut r, START_MS, distinct(stream(0, 30_000, 2_000), 0));
    let live = window(&r);
    let expected = live
        .first()
        .map(|s| s.start)
        .zip(live.last().map(Segment::end));
    assert_eq!(archive.bounds(), expected);
    // Again from what it remembers, and after more media.
    assert_eq!(archive.bounds(), expected);
    publish(
        &mut r,
        START_MS + 60_000,
        distinct(stream(0, 30_000, 2_000), 100_000),
    );
    let live = window(&r);
    let expected = live
        .first()
        .map(|s| s.start)
        .zip(live.last().map(Segment::end));
    assert_eq!(archive.bounds(), expected);
    // Files without summaries (older versions) are passed over.
    drop(r);
    let ids = files_with(dir.path(), "sum");
    fs::remove_file(file(dir.path(), ids[0], "sum")).expect("remove");
    let (_, archive) = open_spanned(dir.path(), 3_600, 10, 60);
    let rest = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert!(rest.len() < live.len());
    assert_eq!(
        archive.bounds(),
        rest.first().map(|s| s.start).zip(expected.map(|e| e.1))
    );
}

#[test]
fn catch_up_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let (mut r, _) = open_spanned(dir.path(), 3_600, 10, 3_600);
        publish(&mut r, START_MS, distinct(stream(0, 40_000, 2_000), 0));
        window(&r)
    };
    // The new process keeps 6 s in its window; the archive still has everything.
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 10, 6);
    assert!(r.window.segments().len() < before.len());
    let all = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert_eq!(sequences(&all), sequences(&before));
    for (s, f) in all.iter().zip(&before) {
        assert_summarizes(s, f);
    }
    let loaded = archive.load(i64::MIN, i64::MAX).expect("load");
    for (l, f) in loaded.iter().zip(&before) {
        assert_same(l, f);
    }
    let old_payloads: Vec<Vec<Vec<u8>>> = loaded.iter().map(|l| payloads(&r, l)).collect();
    assert_eq!(old_payloads.len(), before.len());
    assert!(old_payloads.iter().all(|p| !p.is_empty()));
    // New media goes to new files; old and new answer together.
    publish(
        &mut r,
        START_MS + 60_000,
        distinct(stream(0, 20_000, 2_000), 100_000),
    );
    let newest = r.window.newest().map(|s| s.sequence).expect("segments");
    let all = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    let expected: Vec<u64> = (before[0].sequence..=newest).collect();
    assert_eq!(sequences(&all), expected);
    assert_eq!(
        archive.bounds(),
        Some((
            before[0].start,
            r.window.newest().map(|s| s.end()).unwrap_or(0)
        ))
    );
}

#[test]
fn catch_up_skips_torn_summaries_and_records_past_the_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = {
        let (mut r, _) = open_spanned(dir.path(), 3_600, 3_600, 3_600);
        publish(&mut r, START_MS, distinct(stream(0, 20_000, 1_000), 0));
        window(&r)
    };
    let ids = files_with(dir.path(), "sum");
    assert_eq!(ids.len(), 1);
    let sum = file(dir.path(), ids[0], "sum");
    let idx = file(dir.path(), ids[0], "idx");
    let (_, archive) = open_spanned(dir.path(), 3_600, 3_600, 3_600);
    assert_eq!(
        archive.summaries(i64::MIN, i64::MAX).expect("all").len(),
        10
    );
    // A crash in the middle of the last summary's write.
    let sum_len = fs::metadata(&sum).expect("meta").len();
    let f = fs::OpenOptions::new().write(true).open(&sum).expect("open");
    f.set_len(sum_len - 30).expect("truncate");
    drop(f);
    let got = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert_eq!(sequences(&got), sequences(&live[..9]));
    assert_eq!(
        sequences(&archive.load(i64::MIN, i64::MAX).expect("load")),
        sequences(&live[..9])
    );
    // The index lost its last two records (a power loss took what the summaries point at).
    let idx_len = fs::metadata(&idx).expect("meta").len();
    let loaded = archive.load(live[7].start, live[8].start).expect("load");
    assert_eq!(loaded.len(), 1);
    let cut = idx_len - (idx_len - 1) / 10 - 1;
    let f = fs::OpenOptions::new().write(true).open(&idx).expect("open");
    f.set_len(cut).expect("truncate");
    drop(f);
    let skipped = archive.skipped();
    let got = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert!(got.len() < 9 && got.len() >= 7, "{}", got.len());
    assert_eq!(sequences(&got), sequences(&live[..got.len()]));
    assert!(archive.skipped() > skipped);
    let loaded = archive.load(i64::MIN, i64::MAX).expect("load");
    assert_eq!(sequences(&loaded), sequences(&got));
    for (l, f) in loaded.iter().zip(&live) {
        assert_same(l, f);
    }
    // A summary pointing at bytes that are not its record is not loaded.
    let mut bytes = fs::read(&idx).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    fs::write(&idx, &bytes).expect("write");
    let loaded = archive.load(i64::MIN, i64::MAX).expect("load");
    assert_eq!(loaded.len(), got.len() - 1);
    // Garbage summaries: nothing, and no panic.
    fs::write(&sum, b"\x03\x10\x00\x00\x00garbage").expect("overwrite");
    assert!(archive
        .summaries(i64::MIN, i64::MAX)
        .expect("ok")
        .is_empty());
    assert_eq!(archive.bounds(), None);
}

#[test]
fn retention_removes_summaries_and_never_serves_pruned_media() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 120, 60, 20);
    publish(&mut r, START_MS, distinct(stream(0, 600_000, 2_000), 0));
    assert!(r.store_stats().is_some_and(|s| s.files_removed >= 6));
    assert_eq!(files_with(dir.path(), "sum"), files_with(dir.path(), "dat"));
    assert_eq!(files_with(dir.path(), "idx"), files_with(dir.path(), "dat"));
    let check = |archive: &Archive, r: &Rendition| {
        let all = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
        let newest = r.window.newest().expect("segments");
        assert_eq!(all.last().map(|s| s.sequence), Some(newest.sequence));
        assert!(all.windows(2).all(|w| w[1].sequence == w[0].sequence + 1));
        // Everything listed can be loaded and served.
        let loaded = archive.load(i64::MIN, i64::MAX).expect("load");
        assert_eq!(sequences(&loaded), sequences(&all));
        for l in &loaded {
            assert_eq!(payloads(r, l).len(), l.samples().count());
        }
        let oldest = all.first().expect("some").start;
        assert!(newest.end() - oldest >= 120 * S);
        assert!(newest.end() - oldest <= (120 + 60 + 4) * S);
        assert_eq!(archive.bounds(), Some((oldest, newest.end())));
        oldest
    };
    let oldest = check(&archive, &r);
    // After a restart, without the floor the writer kept.
    drop(r);
    let (r, archive) = open_spanned(dir.path(), 120, 60, 20);
    assert_eq!(check(&archive, &r), oldest);
    assert_eq!(archive.skipped(), 0);
}

#[test]
fn summary_write_errors_leave_segments_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 3_600, 3_600);
    let frames = distinct(stream(0, 30_000, 1_000), 0);
    let (first, second) = frames.split_at(frames.len() / 3);
    let (second, third) = second.split_at(second.len() / 2);
    r.begin_session(WallClock::from_unix_ms(START_MS));
    r.set_track(avc());
    r.set_track(aac());
    for f in first.iter().cloned() {
        r.push(f);
    }
    r.with_store_mut(|s| s.inject_summary_failures(true));
    for f in second.iter().cloned() {
        r.push(f);
    }
    r.with_store_mut(|s| s.inject_summary_failures(false));
    for f in third.iter().cloned() {
        r.push(f);
    }
    r.end_session();
    let live = window(&r);
    let stats = r.store_stats().expect("stats");
    assert_eq!(stats.segments_recorded, live.len() as u64);
    assert!(stats.write_errors >= 4, "{stats:?}");
    // New files after each failure; the summaries before and after are there.
    let all = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert!(all.len() < live.len() - 3 && all.len() > live.len() / 2);
    assert_eq!(all.first().map(|s| s.sequence), Some(live[0].sequence));
    assert_eq!(
        all.last().map(|s| s.sequence),
        live.last().map(|s| s.sequence)
    );
    for s in &all {
        let f = live
            .iter()
            .find(|f| f.sequence == s.sequence)
            .expect("live");
        assert_summarizes(s, f);
    }
    assert!(files_with(dir.path(), "dat").len() >= 4);
    // Every segment is in an index: a restart resumes them all.
    drop(r);
    let (r, _) = open_spanned(dir.path(), 3_600, 3_600, 3_600);
    assert_eq!(sequences(&window(&r)), sequences(&live));
}

/// The cost of a 2 h catch-up query over a full 14-day buffer of 4 s segments (302,400
/// summaries in 672 files of 30 min). Timing only: run with
/// `cargo test -p segmenter --release -- --ignored --nocapture catch_up_query_cost`.
#[test]
#[ignore]
fn catch_up_query_cost_over_14_days() {
    use crate::store::record::{self, SummaryRecord};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().expect("tempdir");
    let seg = 4 * S;
    // Files of 30 min, as `DiskStoreConfig::new` makes them for a buffer of 14 days.
    let per_file: u32 = 450;
    let files = 14 * 24 * 2;
    let first_id: u32 = 1_700_000_000;
    let template = {
        let (mut r, _) = open_spanned(&dir.path().join("template"), 60, 60, 60);
        publish(&mut r, START_MS, distinct(stream(0, 10_000, 2_000), 0));
        window(&r)[0].clone()
    };
    let mut ids = Vec::new();
    let mut sequence = 0u64;
    let mut buf = Vec::new();
    for f in 0..files {
        let id = first_id + f * 1_800;
        buf.clear();
        record::encode_track(
            1,
            template.video.as_ref().map(|t| &*t.track).expect("v"),
            &mut buf,
        );
        record::encode_track(
            2,
            template.audio.as_ref().map(|t| &*t.track).expect("a"),
            &mut buf,
        );
        for i in 0..per_file {
            let mut s = template.clone();
            s.sequence = sequence;
            s.start = i64::from(id) * S + i64::from(i) * seg;
            s.duration = seg;
            sequence += 1;
            let summary = SummaryRecord::of(&s, 1, 2, u64::from(i) * 8_000, 8_000);
            assert!(record::encode_summary(&summary, &mut buf));
        }
        fs::write(file(dir.path(), id, "sum"), &buf).expect("write sum");
        let idx = fs::File::create(file(dir.path(), id, "idx")).expect("idx");
        idx.set_len(u64::from(per_file) * 8_000)
            .expect("sparse idx");
        ids.push(id);
    }
    let sum_bytes = buf.len();
    let archive = Archive::new(dir.path().to_path_buf(), ids);
    let mut times = Vec::new();
    for q in 0..200u32 {
        let from = i64::from(first_id + 600 + (q * 6_007) % (14 * 86_400 - 3 * 3_600)) * S;
        let t = Instant::now();
        let got = archive
            .summaries(from, from + 7_200 * S)
            .expect("summaries");
        times.push(t.elapsed());
        assert_eq!(got.len(), 1_800 + usize::from(from % seg != 0));
    }
    times.sort_unstable();
    let t = Instant::now();
    let bounds = archive.bounds();
    let bounds_time = t.elapsed();
    assert!(bounds.is_some());
    println!(
        "2 h summaries over 14 days ({files} files of {sum_bytes} bytes): \
         median {:?}, p99 {:?}, max {:?}; bounds {:?}",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1],
        bounds_time
    );
    assert!(times[times.len() / 2] < Duration::from_millis(50));
}

/// Retention under simulated time: 30 minutes of media pushed frame by frame (the clock is the
/// media's), with a 5-minute buffer. After every sealed segment, the catch-up index holds at
/// least the buffer (or everything since the start, before 5 minutes have passed) and at most
/// the buffer plus one file span (files go whole) and a segment; every segment it lists loads.
#[test]
fn retention_holds_the_buffer_at_every_moment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let retention_secs = 300;
    let (mut r, _) = open(dir.path(), retention_secs, 20);
    let file_span = DiskStoreConfig::new(dir.path().to_path_buf(), retention_secs * S).file_span;
    let archive = r.archive().expect("stored rendition");
    r.begin_session(WallClock::from_unix_ms(START_MS));
    r.set_track(avc());
    r.set_track(aac());
    let mut sealed = 0;
    let mut checked = 0;
    let mut first_start = None;
    for f in distinct(stream(0, 30 * 60_000, 2_000), 0) {
        r.push(f);
        if r.sealed_segments() == sealed {
            continue;
        }
        sealed = r.sealed_segments();
        let newest_end = r.window.newest().map(|s| s.end()).expect("segments");
        let first = *first_start
            .get_or_insert_with(|| r.window.segments().front().map(|s| s.start).expect("first"));
        let (oldest, end) = archive.bounds().expect("recorded");
        assert_eq!(end, newest_end, "the index ends with the newest segment");
        let held = newest_end - oldest;
        let want = (retention_secs * S).min(newest_end - first);
        assert!(held >= want, "after {sealed} segments: {held} < {want}");
        assert!(
            held <= retention_secs * S + file_span + 2 * S,
            "after {sealed} segments: holds {} s",
            held / S
        );
        checked += 1;
    }
    assert!(checked > 800, "{checked} segments checked");
    // Whatever the index lists is there to serve.
    let (oldest, end) = archive.bounds().expect("recorded");
    let listed = archive.summaries(oldest, end).expect("summaries");
    assert!(listed.len() >= 150, "{} segments listed", listed.len());
    for s in archive.load(oldest, end).expect("load") {
        assert_eq!(payloads(&r, &s).len(), s.samples().count());
    }
}

// The configuration log (`configs.log`, answered from the store's `Archive`).

/// Mono AAC-LC at 48 kHz (a real AudioSpecificConfig, so it reads back from the log as itself).
fn aac_mono() -> TrackInfo {
    match AacConfig::parse(Bytes::from_static(&[0x11, 0x88])) {
        Ok(config) => TrackInfo::audio(config),
        Err(e) => panic!("test ASC does not parse: {e}"),
    }
}

/// Pushes a session of `seconds` into `r`, at `at_ms` wall clock with frames from `from_ms` on
/// the publisher's clock, with `video` and (if given) `audio`: without it no audio frame is
/// pushed. Returns the start of the session's first segment.
fn session_with(
    r: &mut Rendition,
    at_ms: i64,
    from_ms: i64,
    seconds: i64,
    video: TrackInfo,
    audio: Option<TrackInfo>,
) -> i64 {
    let before = r.window.newest().map(|s| s.sequence);
    r.begin_session(WallClock::from_unix_ms(at_ms));
    r.set_track(video);
    let with_audio = audio.is_some();
    if let Some(audio) = audio {
        r.set_track(audio);
    }
    let frames = distinct(
        stream(from_ms, from_ms + seconds * 1_000, 1_000),
        from_ms as u32,
    );
    for f in frames {
        if with_audio || f.kind == TrackKind::Video {
            r.push(f);
        }
    }
    r.end_session();
    r.window
        .segments()
        .iter()
        .find(|s| before.is_none_or(|b| s.sequence > b))
        .map(|s| s.start)
        .expect("the session sealed segments")
}

/// The video and audio configurations of `c`, by value.
fn values(c: &TrackConfigs) -> (Option<TrackInfo>, Option<TrackInfo>) {
    (c.video.as_deref().cloned(), c.audio.as_deref().cloned())
}

/// The records of the configuration log in `dir`, which must all be whole.
fn logged(dir: &Path) -> Vec<TrackConfigs> {
    let bytes = fs::read(dir.join("configs.log")).expect("configuration log");
    let (records, valid, error) = record::decode_all(&bytes);
    assert_eq!((valid, error), (bytes.len(), None));
    records
        .into_iter()
        .map(|r| match r {
            Record::Configs(c) => c,
            other => panic!("not a configs record: {other:?}"),
        })
        .collect()
}

/// Every segment `archive` lists was made with the configurations `configs_at` gives for its
/// start.
fn assert_configs_known(archive: &Archive) {
    let all = archive.summaries(i64::MIN, i64::MAX).expect("summaries");
    assert!(!all.is_empty());
    for s in all {
        let c = archive.configs_at(s.start).expect("configurations known");
        for (track, kind) in [(&s.video, TrackKind::Video), (&s.audio, TrackKind::Audio)] {
            if let Some(t) = track {
                assert_eq!(
                    c.track(kind).map(|c| &**c),
                    Some(&*t.track),
                    "segment {}",
                    s.sequence
                );
            }
        }
    }
}

#[test]
fn config_log_holds_the_first_configuration_and_each_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
    assert!(archive.config_history().is_empty());
    assert_eq!(archive.configs_at(i64::MAX), None);
    let first = session_with(&mut r, START_MS, 0, 6, avc(), Some(aac()));
    assert_eq!(archive.config_history().len(), 1, "the first is logged");
    // A reconnect with the same settings (in other allocations) is no change.
    session_with(&mut r, START_MS + 10_000, 100_000, 6, avc(), Some(aac()));
    // 160x120 without audio: the video changed, the audio keeps its configuration ...
    let small = session_with(&mut r, START_MS + 20_000, 200_000, 6, avc_160x120(), None);
    // ... so the same audio coming back is no change; mono audio is.
    session_with(
        &mut r,
        START_MS + 30_000,
        300_000,
        6,
        avc_160x120(),
        Some(aac()),
    );
    let mono = session_with(
        &mut r,
        START_MS + 40_000,
        400_000,
        6,
        avc_160x120(),
        Some(aac_mono()),
    );
    assert!(window(&r).iter().any(|s| s.audio.is_none()));
    let history = archive.config_history();
    assert_eq!(
        history.iter().map(|c| c.since).collect::<Vec<_>>(),
        vec![first, small, mono]
    );
    assert_eq!(
        history.iter().map(values).collect::<Vec<_>>(),
        vec![
            (Some(avc()), Some(aac())),
            (Some(avc_160x120()), Some(aac())),
            (Some(avc_160x120()), Some(aac_mono())),
        ]
    );
    // The live window counts the same changes (but not the first configuration).
    assert_eq!(
        r.window.config_changes().collect::<Vec<_>>(),
        vec![small, mono]
    );
    // A configuration kept across a change is one allocation.
    let same = |a: &Option<Arc<TrackInfo>>, b: &Option<Arc<TrackInfo>>| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    assert!(same(&history[0].audio, &history[1].audio));
    assert!(same(&history[1].video, &history[2].video));
    // Before, at, between and after the changes.
    for (t, expected) in [
        (i64::MIN, None),
        (first - 1, None),
        (first, Some(0)),
        (first + 1, Some(0)),
        (small - 1, Some(0)),
        (small, Some(1)),
        (mono - 1, Some(1)),
        (mono, Some(2)),
        (i64::MAX, Some(2)),
    ] {
        assert_eq!(
            archive.configs_at(t),
            expected.map(|i: usize| history[i].clone()),
            "at {t}"
        );
    }
    assert_configs_known(&archive);
    // Through the catch-up index trait as the server sees it.
    let index = r.archive().expect("stored rendition");
    assert_eq!(index.configs_at(small), Some(history[1].clone()));
    assert_eq!(index.config_history(), history);
    // One record per change in the log; no media file is made of it.
    assert_eq!(logged(dir.path()), history);
    assert_eq!(files_with(dir.path(), "dat"), files_with(dir.path(), "sum"));
    assert_eq!(r.store_stats().map(|s| s.write_errors), Some(0));
}

#[test]
fn config_history_survives_restarts_and_torn_log_tails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (history, first, small) = {
        let (mut r, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
        let first = session_with(&mut r, START_MS, 0, 6, avc(), Some(aac()));
        let small = session_with(
            &mut r,
            START_MS + 10_000,
            100_000,
            6,
            avc_160x120(),
            Some(aac()),
        );
        (archive.config_history(), first, small)
    };
    assert_eq!(history.len(), 2);
    let log = dir.path().join("configs.log");
    let whole = fs::read(&log).expect("log");
    {
        let (_, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
        assert_eq!(archive.config_history(), history);
        assert_configs_known(&archive);
    }
    // A record whose `since` goes backwards, then half a record (a crash in an append).
    let mut tail = Vec::new();
    let backwards = TrackConfigs {
        since: small - 1,
        ..history[0].clone()
    };
    assert!(record::encode_configs(&backwards, &mut tail));
    let mut torn = Vec::new();
    let later = TrackConfigs {
        since: small + 3_600 * S,
        video: Some(Arc::new(avc())),
        audio: None,
    };
    assert!(record::encode_configs(&later, &mut torn));
    tail.extend_from_slice(&torn[..torn.len() / 2]);
    let mut bytes = whole.clone();
    bytes.extend_from_slice(&tail);
    fs::write(&log, &bytes).expect("write log");
    // What an interrupted rewrite leaves is no media file.
    fs::write(dir.path().join("configs.log.tmp"), b"junk").expect("write tmp");
    let back = {
        let (mut r, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
        assert_eq!(archive.config_history(), history);
        assert_eq!(
            fs::read(&log).expect("log"),
            whole,
            "rewritten without the tail"
        );
        // Appended after the rewrite, so readable after another restart.
        let back = session_with(&mut r, START_MS + 20_000, 200_000, 6, avc(), Some(aac()));
        assert_eq!(archive.config_history().len(), 3);
        assert_eq!(r.store_stats().map(|s| s.write_errors), Some(0));
        back
    };
    let (_, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
    let again = archive.config_history();
    assert_eq!(
        again.iter().map(|c| c.since).collect::<Vec<_>>(),
        vec![first, small, back]
    );
    assert_eq!(values(&again[2]), (Some(avc()), Some(aac())));
    assert_eq!(again[..2], history[..]);
    assert_configs_known(&archive);
    // Equal configurations read back are one allocation.
    assert!(again[0]
        .video
        .as_ref()
        .zip(again[2].video.as_ref())
        .is_some_and(|(a, b)| Arc::ptr_eq(a, b)));
    drop(archive);

    // A store written before the log existed: no history for its media (catch-up falls back
    // to the live window's configurations), then the first segment recorded starts one.
    fs::remove_file(&log).expect("remove log");
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
    assert!(archive.config_history().is_empty());
    assert_eq!(archive.configs_at(back), None);
    let now = session_with(
        &mut r,
        START_MS + 30_000,
        300_000,
        6,
        avc_160x120(),
        Some(aac()),
    );
    assert_eq!(archive.configs_at(back), None);
    assert_eq!(
        archive.configs_at(now).as_ref().map(values),
        Some((Some(avc_160x120()), Some(aac())))
    );
    assert_eq!(logged(dir.path()), archive.config_history());
}

/// Retention under simulated time: eight sessions of a minute, each with other settings than
/// the one before, over a 2-minute buffer in files of a minute. After every sealed segment the
/// configuration of the oldest segment still held is known, and every change superseded before
/// the oldest file (less the margin a segment may start before its file) is gone.
#[test]
fn config_history_retention_keeps_the_configuration_of_the_oldest_held_media() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 120, 60, 20);
    let settings = [
        (avc(), aac()),
        (avc_160x120(), aac()),
        (avc_160x120(), aac_mono()),
        (avc(), aac_mono()),
    ];
    let mut sealed = 0;
    let mut checked = 0;
    for k in 0..8i64 {
        let (video, audio) = settings[k as usize % settings.len()].clone();
        r.begin_session(WallClock::from_unix_ms(START_MS + k * 70_000));
        r.set_track(video);
        r.set_track(audio);
        let from = k * 100_000;
        for f in distinct(stream(from, from + 60_000, 2_000), from as u32) {
            r.push(f);
            if r.sealed_segments() == sealed {
                continue;
            }
            sealed = r.sealed_segments();
            let (oldest, _) = archive.bounds().expect("recorded");
            let first = archive
                .summaries(oldest, oldest + 1)
                .expect("summaries")
                .into_iter()
                .next()
                .expect("the oldest segment");
            let c = archive.configs_at(oldest).expect("oldest configuration");
            assert_eq!(
                c.video.as_deref(),
                first.video.as_ref().map(|t| &*t.track),
                "after {sealed} segments"
            );
            assert_eq!(c.audio.as_deref(), first.audio.as_ref().map(|t| &*t.track));
            let first_file = files_with(dir.path(), "dat")[0];
            let held_from = i64::from(first_file) * S - FILE_MARGIN;
            let history = archive.config_history();
            assert!(
                history.get(1).is_none_or(|c| c.since > held_from),
                "after {sealed} segments: {} changes kept",
                history.len()
            );
            checked += 1;
        }
        r.end_session();
    }
    assert!(checked > 200, "{checked} segments checked");
    assert!(r.store_stats().is_some_and(|s| s.files_removed >= 6));
    let history = archive.config_history();
    assert!(history.len() < 8, "{} changes kept", history.len());
    assert_eq!(logged(dir.path()), history, "the log was rewritten");
    assert_configs_known(&archive);
    assert_eq!(r.store_stats().map(|s| s.write_errors), Some(0));
    // After a restart (which prunes by the files it finds).
    drop(r);
    let (_, archive) = open_spanned(dir.path(), 120, 60, 20);
    assert_configs_known(&archive);
    assert_eq!(logged(dir.path()), archive.config_history());
}

#[test]
fn config_log_write_failures_are_retried_at_the_next_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut r, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
    let first = session_with(&mut r, START_MS, 0, 6, avc(), Some(aac()));
    // The disk fills as the publisher comes back at another size.
    set_failing(&mut r, true);
    let small = session_with(
        &mut r,
        START_MS + 10_000,
        100_000,
        6,
        avc_160x120(),
        Some(aac()),
    );
    let errors = r.store_stats().map_or(0, |s| s.write_errors);
    assert!(errors > 0);
    // Known in memory all along, not yet in the log.
    assert_eq!(
        archive.configs_at(small).as_ref().map(values),
        Some((Some(avc_160x120()), Some(aac())))
    );
    assert_eq!(logged(dir.path()).len(), 1);
    // The disk works again: the next segment sealed brings the log up to date, with the
    // change where it happened.
    set_failing(&mut r, false);
    r.begin_session(WallClock::from_unix_ms(START_MS + 20_000));
    r.set_track(avc_160x120());
    r.set_track(aac());
    let sealed = r.sealed_segments();
    for f in distinct(stream(200_000, 206_000, 1_000), 200_000) {
        r.push(f);
        if r.sealed_segments() > sealed {
            break;
        }
    }
    assert_eq!(r.sealed_segments(), sealed + 1);
    assert_eq!(
        logged(dir.path())
            .iter()
            .map(|c| c.since)
            .collect::<Vec<_>>(),
        vec![first, small]
    );
    assert_eq!(logged(dir.path()), archive.config_history());
    assert_eq!(r.store_stats().map(|s| s.write_errors), Some(errors));
    r.end_session();
    drop(r);
    let (_, archive) = open_spanned(dir.path(), 3_600, 60, 3_600);
    assert_eq!(
        archive
            .config_history()
            .iter()
            .map(values)
            .collect::<Vec<_>>(),
        vec![
            (Some(avc()), Some(aac())),
            (Some(avc_160x120()), Some(aac())),
        ]
    );
    assert_configs_known(&archive);
}

/// A publisher changing settings at every segment: the history keeps the newest
/// `MAX_CONFIGS` changes (two allocations for two settings), and the log is rewritten only
/// when it holds twice that, or at a restart.
#[test]
fn config_history_is_bounded() {
    use crate::store::configs::MAX_CONFIGS;
    use crate::TrackSamples;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = DiskStoreConfig::new(dir.path().to_path_buf(), 3_600 * S);
    let (mut store, _) = DiskStore::open(config.clone(), 0).expect("open");
    let archive = store.archive();
    let settings = [Arc::new(avc()), Arc::new(avc_160x120())];
    let count = 2 * MAX_CONFIGS + 10;
    for i in 0..count {
        // No payloads: the segment is not recorded, but its configuration is logged.
        let segment = Segment {
            sequence: i as u64,
            start: i as i64 * 2 * S,
            duration: 2 * S,
            discontinuity: false,
            discontinuity_sequence: 0,
            video: Some(TrackSamples::new(
                Arc::new((*settings[i % 2]).clone()),
                Vec::new(),
            )),
            audio: None,
        };
        store.commit(&segment, None);
    }
    let history = archive.config_history();
    assert_eq!(history.len(), MAX_CONFIGS);
    assert_eq!(
        history.first().map(|c| c.since),
        Some((count - MAX_CONFIGS) as i64 * 2 * S)
    );
    assert_eq!(
        history.last().map(|c| c.since),
        Some((count - 1) as i64 * 2 * S)
    );
    let allocations = |h: &[TrackConfigs]| {
        let mut ptrs: Vec<*const TrackInfo> = h
            .iter()
            .filter_map(|c| c.video.as_ref().map(Arc::as_ptr))
            .collect();
        ptrs.sort_unstable();
        ptrs.dedup();
        ptrs.len()
    };
    assert_eq!(allocations(&history), 2);
    let in_log = logged(dir.path());
    assert!(
        in_log.len() > MAX_CONFIGS && in_log.len() <= 2 * MAX_CONFIGS,
        "{} records",
        in_log.len()
    );
    assert_eq!(in_log[in_log.len() - MAX_CONFIGS..], history[..]);
    assert_eq!(store.stats().write_errors, 0);
    drop(store);
    let (store, _) = DiskStore::open(config, 0).expect("reopen");
    let archive = store.archive();
    assert_eq!(archive.config_history(), history);
    assert_eq!(allocations(&archive.config_history()), 2);
    assert_eq!(logged(dir.path()), history);
}
