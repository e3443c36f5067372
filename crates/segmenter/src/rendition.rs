//! One rendition: its segmenter and its window, updated together.

use media::{Frame, TrackInfo, WallClock};

use crate::segment::Segment;
use crate::segmenter::{RenditionSegmenter, SegmenterConfig};
use crate::window::{LiveWindow, WindowLimits};

/// A rendition's cutting state and the segments it has sealed.
#[derive(Debug)]
pub struct Rendition {
    pub segmenter: RenditionSegmenter,
    pub window: LiveWindow,
    sealed: u64,
}

impl Rendition {
    pub fn new(config: SegmenterConfig, limits: WindowLimits) -> Rendition {
        Rendition {
            segmenter: RenditionSegmenter::new(config),
            window: LiveWindow::new(limits),
            sealed: 0,
        }
    }

    pub fn begin_session(&mut self, now: WallClock) {
        let sealed = self.segmenter.begin_session(now);
        self.store(sealed);
    }

    pub fn end_session(&mut self) {
        let sealed = self.segmenter.end_session();
        self.store(sealed);
    }

    pub fn set_track(&mut self, track: TrackInfo) {
        self.segmenter.set_track(track);
    }

    pub fn push(&mut self, frame: Frame) {
        let sealed = self.segmenter.push(frame);
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

    fn store(&mut self, sealed: Vec<Segment>) {
        for segment in sealed {
            self.sealed += 1;
            self.window.push(segment);
        }
    }
}
