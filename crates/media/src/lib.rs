//! Media model shared by every Headwater crate: typed media time, frames, track and codec
//! information, and the containers Headwater reads and writes (FLV tag bodies, MPEG-TS,
//! fragmented MP4 / CMAF).
//!
//! It contains no networking code and never reads the clock.

pub mod codec;
pub mod error;
pub mod flv;
pub mod fmp4;
pub mod frame;
pub mod time;
pub mod ts;

pub use codec::{AacConfig, AvcConfig, CodecConfig, HevcConfig, HevcInfo, SpsInfo, TrackInfo};
pub use error::MediaError;
pub use frame::{Frame, TrackKind};
pub use time::{MediaTime, Timescale, WallClock};

#[cfg(test)]
mod test_support;
