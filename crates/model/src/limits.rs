//! Value ranges and defaults from the OTT channel API, shared by validation and by the crates that
//! apply a channel (so a default is written down once).

/// Largest source bitrate and stream-selection bandwidth, in bit/s (100 Mbit/s).
pub const MAX_BITRATE: u64 = 104_857_600;
/// Largest source width in pixels (4K).
pub const MAX_WIDTH: u32 = 4096;
/// Largest source height in pixels (4K).
pub const MAX_HEIGHT: u32 = 2160;
/// Shortest output segment, in seconds.
pub const MIN_SEGMENT_DURATION_SECONDS: u32 = 1;
/// Longest output segment, in seconds.
pub const MAX_SEGMENT_DURATION_SECONDS: u32 = 10;
/// Longest playlist window, in seconds (24 hours).
pub const MAX_PLAYLIST_WINDOW_SECONDS: u32 = 86_400;
/// A non-zero playlist window holds at least this many segments.
pub const MIN_PLAYLIST_SEGMENTS: u32 = 3;
/// Longest catch-up (rolling buffer) duration, in seconds (14 days).
pub const MAX_ROLLINGBUFFER_DURATION: u64 = 1_209_600;
/// Largest input loss threshold before failover, in milliseconds (1 hour).
pub const MAX_INPUT_LOSS_THRESHOLD_MSEC: u64 = 3_600_000;
/// Input loss threshold used when the channel does not set one, in milliseconds.
pub const DEFAULT_INPUT_LOSS_THRESHOLD_MSEC: u64 = 2_000;
/// Most audio selectors one channel may declare.
pub const MAX_AUDIO_SELECTORS: usize = 8;
/// Most HTTP headers one DRM request may carry.
pub const MAX_DRM_HTTP_HEADERS: usize = 5;
/// Range of the DASH timing fields (`suggested_presentation_delay`, `minimum_update_period`,
/// `min_buffer_time`), in seconds.
pub const DASH_TIMING_SECONDS: std::ops::RangeInclusive<u32> = 1..=120;
/// Range of the HLS version number a package may ask for.
pub const HLS_VERSIONS: std::ops::RangeInclusive<u8> = 1..=10;
/// HLS version used when a package does not set one.
pub const DEFAULT_HLS_VERSION: u8 = 3;
/// Largest MPEG-TS PID (13 bits).
pub const MAX_PID: u32 = 0x1FFF;
/// The only `ad_marker` value an HLS package accepts.
pub const HLS_AD_MARKER: &str = "ENHANCED_SCTE35";
/// The only `ad_marker` value a DASH package accepts.
pub const DASH_AD_MARKER: &str = "xml+bin";
