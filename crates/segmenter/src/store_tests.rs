//! The disk store under a rendition: payloads round-trip, restarts resume, torn index tails are
//! skipped, retention holds, and write errors keep media served from memory.

use std::fs;
use std::path::Path;

use bytes::Bytes;
use media::{Frame, WallClock};

use crate::store::{DiskStore, DiskStoreConfig, Recovered};
use crate::tests::{aac, avc, stream};
use crate::{Rendition, Segment, SegmenterConfig, WindowLimits};

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
