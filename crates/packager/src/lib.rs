//! Manifests and segments as pure views over the segment store.
//!
//! Nothing here knows the ingest protocol or does I/O: functions take the stored segments and a
//! package's settings and write a manifest or a segment. HLS (MPEG-TS segments) today.

pub mod hls;
pub mod variant;

pub use hls::{HlsResource, HlsSettings};
pub use variant::Variant;
