//! Manifests and segments as pure views over the segment store.
//!
//! Nothing here knows the ingest protocol or does I/O: functions take the stored segments and a
//! package's settings and write a manifest or a segment: HLS (MPEG-TS or CMAF), DASH, Smooth.

pub mod cmaf;
pub mod dash;
pub mod hls;
pub mod mss;
pub mod selection;
pub mod text;
pub mod variant;
pub mod view;

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod grouping_tests;

pub use hls::{HlsResource, HlsSettings};
pub use variant::Variant;
pub use view::{Presentation, RenditionView};
