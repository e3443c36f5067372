//! RTMP push ingest: encoders publish to `rtmp://host/app/stream_key?query` and their audio and
//! video become [`IngestEvent`](crate::IngestEvent)s in the sink the
//! [`PublishAuthorizer`](crate::PublishAuthorizer) hands out.
//!
//! [`RtmpPublishSession`] is the protocol (handshake, commands, FLV tag demuxing) as a state
//! machine over bytes, built on rml_rtmp's `Handshake` and `ServerSession`; [`serve`] is the
//! tokio shell with the sockets, timeouts and connection limits. Headwater does not serve RTMP
//! playback: `play` is refused.
//!
//! rml_rtmp trusts its input more than it should: it panics on some messages and decodes AMF0
//! recursively without a depth limit. Every call into it is wrapped in `catch_unwind`, and
//! deeply nested AMF0 is refused before rml_rtmp sees it, so a hostile peer only ever closes
//! its own connection.

mod amf0_screen;
mod contain;
mod error;
mod server;
mod session;

pub use error::{RtmpError, Stage};
pub use server::{serve, RtmpLimits};
pub use session::{Action, CloseReason, EndReason, PublishSummary, RtmpPublishSession};

#[cfg(test)]
mod session_tests;
