//! Cuts frames into keyframe-aligned segments on the channel timeline and keeps a bounded
//! window of them in memory.
//!
//! The channel timeline is the Unix epoch on a 90 kHz clock: a segment's start time is also its
//! wall-clock time, so segment boundaries (multiples of the segment duration) line up across
//! renditions, restarts and nodes. Nothing here knows which protocol delivered the frames.

pub mod group;
pub mod rendition;
pub mod segment;
pub mod segmenter;
pub mod store;
pub mod timeline;
pub mod window;

pub use rendition::Rendition;
pub use segment::{Sample, Segment, TrackSamples, TrackSummary};
pub use segmenter::{RenditionSegmenter, SegmenterConfig};
pub use store::{
    DiskStore, DiskStoreConfig, InMemory, MemoryReader, Payload, PayloadReader, PayloadSink,
    SegmentBytes,
};
pub use timeline::{ClockShare, SessionTimeline};
pub use window::{LiveWindow, WindowLimits};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod store_tests;
