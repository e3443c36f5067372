//! One rendition: its segmenter, its window and its store, updated together.

use std::sync::Arc;

use media::{Frame, TrackInfo, WallClock};

use crate::segment::Segment;
use crate::segmenter::{RenditionSegmenter, SegmenterConfig};
use crate::store::{CatchupIndex, DiskStore, MemoryReader, PayloadReader, Recovered, StoreStats};
use crate::timeline::ClockShare;
use crate::window::{LiveWindow, WindowLimits};

/// A rendition's cutting state, the segments it has sealed, and where their payloads live.
#[derive(Debug)]
pub struct Rendition {
    pub segmenter: RenditionSegmenter,
    pub window: LiveWindow,
    sealed: u64,
    store: Option<DiskStore>,
    reader: Arc<dyn PayloadReader>,
}

impl Rendition {
    /// A rendition whose payloads stay in memory.
    pub fn new(config: SegmenterConfig, limits: WindowLimits) -> Rendition {
        Rendition {
            segmenter: RenditionSegmenter::new(config),
            window: LiveWindow::new(limits),
            sealed: 0,
            store: None,
            reader: Arc::new(MemoryReader),
        }
    }

    /// A rendition whose payloads go to `store`, continuing after the segments it recovered.
    pub fn with_store(
        config: SegmenterConfig,
        limits: WindowLimits,
        store: DiskStore,
        recovered: Recovered,
    ) -> Rendition {
        let mut rendition = Rendition {
            segmenter: RenditionSegmenter::new(config),
            window: LiveWindow::new(limits),
            sealed: 0,
            reader: store.reader(),
            store: Some(store),
        };
        if let Some(last) = recovered.segments.last() {
            rendition.segmenter.resume_after(last);
        }
        for segment in recovered.segments {
            rendition.window.push(segment);
        }
        rendition
    }

    pub fn begin_session(&mut self, now: WallClock) {
        let sealed = self.segmenter.begin_session(now);
        self.store(sealed);
        self.window.close_groups();
    }

    /// A session sharing its clock mapping with sibling renditions through `share`, so
    /// renditions pushed by one encoder cut at the same points.
    pub fn begin_aligned_session(&mut self, now: WallClock, share: Arc<ClockShare>) {
        let sealed = self.segmenter.begin_aligned_session(now, share);
        self.store(sealed);
        self.window.close_groups();
    }

    pub fn end_session(&mut self) {
        let sealed = self.segmenter.end_session();
        self.store(sealed);
        self.window.close_groups();
    }

    pub fn set_track(&mut self, track: TrackInfo) {
        self.segmenter.set_track(track);
    }

    pub fn push(&mut self, frame: Frame) {
        let sealed = match self.store.as_mut() {
            Some(store) => self.segmenter.push_into(frame, store),
            None => self.segmenter.push(frame),
        };
        self.store(sealed);
    }

    /// Whether a publisher is connected.
    pub fn is_live(&self) -> bool {
        self.segmenter.in_session()
    }

    /// Segments sealed since creation.
    pub fn sealed_segments(&self) -> u64 {
        self.sealed
    }

    /// Loads segment payloads; shareable, and may block.
    pub fn reader(&self) -> Arc<dyn PayloadReader> {
        self.reader.clone()
    }

    /// The store's catch-up index (every recorded segment still on disk), if payloads go to
    /// disk; shareable, and its queries block.
    pub fn archive(&self) -> Option<Arc<dyn CatchupIndex>> {
        self.store
            .as_ref()
            .map(|store| store.archive() as Arc<dyn CatchupIndex>)
    }

    /// The store's counters, if payloads go to disk.
    pub fn store_stats(&self) -> Option<StoreStats> {
        self.store.as_ref().map(DiskStore::stats)
    }

    /// Runs `f` on the store, if payloads go to disk.
    pub fn with_store_mut(&mut self, f: impl FnOnce(&mut DiskStore)) {
        if let Some(store) = self.store.as_mut() {
            f(store);
        }
    }

    fn store(&mut self, sealed: Vec<Segment>) {
        for segment in sealed {
            self.sealed += 1;
            if let Some(store) = self.store.as_mut() {
                store.commit(&segment, self.window.segments().front().map(|s| &**s));
            }
            self.window.push(segment);
        }
    }
}
