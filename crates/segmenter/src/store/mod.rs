//! Where sample payloads live: in memory, or in append-only files of a rendition's store.
//!
//! The segmenter hands every kept payload to a [`PayloadSink`] the moment the frame arrives and
//! keeps only the returned [`Payload`] handle. With the [`DiskStore`], a payload is written to the
//! rendition's current data file within milliseconds, so the process holds a few kilobytes of
//! write buffer per rendition instead of every open and sealed segment. Sealed segments are then
//! recorded in an index file next to the data (see [`record`]); the index is what survives a
//! restart.
//!
//! Readers resolve payload handles through a [`PayloadReader`], which loads everything a segment
//! needs with one positioned read per data file. The reader is the seam for storage that is not a
//! local disk.
//!
//! Every recorded segment is also summarized in a third file beside the index: the catch-up
//! index, read through an [`Archive`]. It answers manifests for any interval of the rolling
//! buffer (days of it) from disk, holding nothing per segment in memory, and loads a segment
//! that has left the live window in full when it is served.
//!
//! The store also logs every change of the rendition's track configurations (`configs.log`),
//! which the [`Archive`] answers from memory ([`CatchupIndex::configs_at`]): a catch-up of an
//! interval recorded with older settings gets the init segment of then.

pub mod archive;
pub mod configs;
pub mod disk;
pub mod record;

use std::fmt::Debug;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use media::{TrackInfo, TrackKind};

pub use archive::Archive;
pub use disk::{DiskStore, DiskStoreConfig, Recovered, StoreStats};

use crate::segment::Segment;

/// Where one sample's bytes are: a byte range of one data file of the rendition's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Extent {
    /// Data file id (unique and increasing within the rendition's directory).
    pub file: u32,
    pub offset: u64,
    pub len: u32,
}

impl Extent {
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// A sample's payload: held in memory, or an extent of a data file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Memory(Bytes),
    Stored(Extent),
}

impl Payload {
    /// Bytes of media.
    pub fn len(&self) -> usize {
        match self {
            Payload::Memory(b) => b.len(),
            Payload::Stored(e) => e.len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of process memory the payload holds.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Payload::Memory(b) => b.len(),
            Payload::Stored(_) => 0,
        }
    }

    pub fn extent(&self) -> Option<Extent> {
        match self {
            Payload::Memory(_) => None,
            Payload::Stored(e) => Some(*e),
        }
    }
}

/// Takes frame payloads as the segmenter keeps them.
pub trait PayloadSink {
    /// Stores `data` (a frame placed at `t90` on the channel timeline) and returns its handle.
    fn put(&mut self, data: Bytes, t90: i64) -> Payload;
}

/// Keeps payloads in memory, each in an allocation of exactly its size.
///
/// Ingest hands out slices of receive buffers; keeping such a slice would pin the (larger)
/// buffer behind it, so the bytes are copied once.
#[derive(Clone, Copy, Debug, Default)]
pub struct InMemory;

impl PayloadSink for InMemory {
    fn put(&mut self, data: Bytes, _t90: i64) -> Payload {
        Payload::Memory(Bytes::copy_from_slice(&data))
    }
}

/// The bytes of one segment's payloads, loaded for packaging.
#[derive(Clone, Debug, Default)]
pub struct SegmentBytes {
    /// `(file, first offset, bytes)`: one contiguous run per data file read.
    runs: Vec<(u32, u64, Run)>,
}

#[derive(Clone, Debug)]
enum Run {
    /// Read for this request; the buffer can be reused afterwards.
    Owned(Vec<u8>),
    /// Shared with the store (bytes that failed to reach the disk).
    Shared(Bytes),
}

impl Run {
    fn bytes(&self) -> &[u8] {
        match self {
            Run::Owned(v) => v,
            Run::Shared(b) => b,
        }
    }
}

impl SegmentBytes {
    /// A run of `file` starting at `offset`, read into a buffer of its own.
    pub fn add_read(&mut self, file: u32, offset: u64, bytes: Vec<u8>) {
        self.runs.push((file, offset, Run::Owned(bytes)));
    }

    /// A run of `file` starting at `offset`, shared with whoever else holds it.
    pub fn add_shared(&mut self, file: u32, offset: u64, bytes: Bytes) {
        self.runs.push((file, offset, Run::Shared(bytes)));
    }

    /// The bytes of `payload`, if they were loaded.
    pub fn get<'a>(&'a self, payload: &'a Payload) -> Option<&'a [u8]> {
        match payload {
            Payload::Memory(b) => Some(b),
            Payload::Stored(e) => self.runs.iter().find_map(|(file, base, run)| {
                if *file != e.file || e.offset < *base {
                    return None;
                }
                let start = usize::try_from(e.offset - base).ok()?;
                let end = start.checked_add(e.len as usize)?;
                run.bytes().get(start..end)
            }),
        }
    }

    /// The buffers read for this segment, for reuse.
    pub fn into_buffers(self) -> impl Iterator<Item = Vec<u8>> {
        self.runs.into_iter().filter_map(|(_, _, run)| match run {
            Run::Owned(v) => Some(v),
            Run::Shared(_) => None,
        })
    }
}

/// Loads the stored payloads of segments. Implementations must be cheap to share between threads;
/// loading may block (call it from a blocking-friendly context).
pub trait PayloadReader: Debug + Send + Sync {
    /// Loads what `segment` needs, reading into buffers from `buffer` (which may hand out
    /// reused ones; their contents are overwritten).
    fn load_with(
        &self,
        segment: &Segment,
        buffer: &mut dyn FnMut() -> Vec<u8>,
    ) -> io::Result<SegmentBytes>;

    /// Loads what `segment` needs into fresh buffers.
    fn load(&self, segment: &Segment) -> io::Result<SegmentBytes> {
        self.load_with(segment, &mut Vec::new)
    }
}

/// The catch-up index of a rendition's store: what it recorded, by time. Implementations must
/// be cheap to share between threads; queries may block. [`Archive`] reads the local disk
/// store's `.sum` files; object storage would implement this over its own listing.
pub trait CatchupIndex: Debug + Send + Sync {
    /// The recorded segments overlapping `[from, to)` (90 kHz channel time), oldest first, with
    /// their tracks summarized (no sample tables).
    fn summaries(&self, from: i64, to: i64) -> io::Result<Vec<Arc<Segment>>>;

    /// The recorded segments starting in `[from, to)`, oldest first, in full: sample tables
    /// whose payloads the store's [`PayloadReader`] loads.
    fn load(&self, from: i64, to: i64) -> io::Result<Vec<Segment>>;

    /// The start of the oldest and the end of the newest recorded segment.
    fn bounds(&self) -> Option<(i64, i64)>;

    /// The start of the oldest recorded segment; cheaper than [`CatchupIndex::bounds`] where
    /// the newest end is known otherwise (from the live window).
    fn oldest_start(&self) -> Option<i64> {
        self.bounds().map(|(start, _)| start)
    }

    /// The track configurations in effect at channel time `t` (90 kHz): those of the newest
    /// recorded change at or before `t`. `None` when none is known for `t` (before the first
    /// recorded segment, or an index that keeps no configuration history).
    fn configs_at(&self, _t: i64) -> Option<TrackConfigs> {
        None
    }

    /// Every configuration change still known, oldest first (few: one per publisher
    /// reconnect with other settings), for looking an init segment up by its content.
    fn config_history(&self) -> Vec<TrackConfigs> {
        Vec::new()
    }
}

/// Whether two optional track configurations are the same: the same allocation, or equal
/// values (a reconnecting publisher's unchanged settings are a new allocation). Every
/// comparison of configurations (window changes, the store's history, catch-up views) uses it.
pub fn same_config(a: Option<&Arc<TrackInfo>>, b: Option<&Arc<TrackInfo>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || **a == **b,
        (None, None) => true,
        _ => false,
    }
}

/// The video and audio configurations of a rendition from channel time `since` (90 kHz) until
/// the next change. A kind absent from the segment that changed keeps its previous
/// configuration (as [`crate::LiveWindow::config_changes`] counts changes).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackConfigs {
    pub since: i64,
    pub video: Option<Arc<TrackInfo>>,
    pub audio: Option<Arc<TrackInfo>>,
}

impl TrackConfigs {
    /// The configuration of `kind`.
    pub fn track(&self, kind: TrackKind) -> Option<&Arc<TrackInfo>> {
        match kind {
            TrackKind::Video => self.video.as_ref(),
            TrackKind::Audio => self.audio.as_ref(),
        }
    }
}

impl CatchupIndex for Archive {
    fn summaries(&self, from: i64, to: i64) -> io::Result<Vec<Arc<Segment>>> {
        Archive::summaries(self, from, to)
    }

    fn load(&self, from: i64, to: i64) -> io::Result<Vec<Segment>> {
        Archive::load(self, from, to)
    }

    fn bounds(&self) -> Option<(i64, i64)> {
        Archive::bounds(self)
    }

    fn oldest_start(&self) -> Option<i64> {
        Archive::oldest_start(self)
    }

    fn configs_at(&self, t: i64) -> Option<TrackConfigs> {
        Archive::configs_at(self, t)
    }

    fn config_history(&self) -> Vec<TrackConfigs> {
        Archive::config_history(self)
    }
}

/// A reader for renditions whose payloads are all in memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryReader;

impl PayloadReader for MemoryReader {
    fn load_with(
        &self,
        segment: &Segment,
        _buffer: &mut dyn FnMut() -> Vec<u8>,
    ) -> io::Result<SegmentBytes> {
        if segment.samples().any(|s| s.data.extent().is_some()) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "segment refers to stored payloads but the rendition has no store",
            ));
        }
        Ok(SegmentBytes::default())
    }
}
