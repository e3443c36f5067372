//! One access unit on a track's clock.

use bytes::Bytes;

use crate::time::MediaTime;

/// Which kind of track a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackKind {
    Video,
    Audio,
}

/// One access unit: a coded video picture or an audio frame.
///
/// Video data is in the length-prefixed (AVCC) form of the track's configuration record;
/// AAC data is one raw access unit without ADTS header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: TrackKind,
    /// Decode time.
    pub dts: MediaTime,
    /// Presentation time; equal to `dts` when the codec has no reordering.
    pub pts: MediaTime,
    /// A sync sample: an IDR picture, or any audio frame.
    pub keyframe: bool,
    pub data: Bytes,
}

impl Frame {
    /// `pts - dts` in the frame's decode timescale.
    pub fn composition_offset(&self) -> i64 {
        self.pts.rescale(self.dts.timescale).ticks - self.dts.ticks
    }
}
