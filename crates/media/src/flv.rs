//! FLV: tag bodies as RTMP carries them, a demuxer that turns them into [`Frame`]s, and a
//! reader that splits an FLV file or HTTP-FLV stream into tags.
//!
//! Video is H.264 (codec id 7) or H.265, either as Enhanced RTMP sends it (the ExHeader with
//! FourCC `hvc1`, as OBS 29.1 and later and ffmpeg 6.1 and later write it) or with the legacy
//! codec id 12 some encoders and CDNs use; audio is AAC (sound format 10). Other codecs are
//! [`MediaError::Unsupported`] with the codec named.
//! Nothing here does I/O or reads the clock; all payloads are zero-copy slices of the input.

use bytes::{Buf, Bytes, BytesMut};

use crate::codec::{AacConfig, AvcConfig, CodecConfig, HevcConfig, TrackInfo};
use crate::error::MediaError;
use crate::frame::{Frame, TrackKind};
use crate::time::{MediaTime, Timescale, Wrapping32Extender};

const VIDEO_TAG: &str = "FLV video tag";
const AUDIO_TAG: &str = "FLV audio tag";
const FLV_CODEC_AVC: u8 = 7;
/// The codec id that FLV extensions before Enhanced RTMP gave H.265 (same layout as AVC).
const FLV_CODEC_HEVC_LEGACY: u8 = 12;
const FLV_SOUND_AAC: u8 = 10;

/// The body of an FLV video tag carrying H.264 or H.265.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VideoTag {
    /// AVCPacketType 0: an AVCDecoderConfigurationRecord.
    AvcSequenceHeader(Bytes),
    /// An HEVCDecoderConfigurationRecord: Enhanced RTMP's SequenceStart with FourCC `hvc1`,
    /// or packet type 0 with the legacy codec id 12.
    HevcSequenceHeader(Bytes),
    /// AVCPacketType 1 (or Enhanced RTMP's CodedFrames/CodedFramesX): one access unit of
    /// length-prefixed NAL units.
    AvcNalu {
        /// H.265 NAL units (FourCC `hvc1` or codec id 12), not H.264.
        hevc: bool,
        /// Frame type 1 (keyframe); 2 to 4 are inter frames.
        keyframe: bool,
        /// pts - dts in milliseconds (a signed 24-bit field).
        composition_time_ms: i32,
        data: Bytes,
    },
    /// AVCPacketType 2: the encoder ended the sequence.
    AvcEndOfSequence,
    /// Frame type 5: a video info/command frame (client-side seek markers); no picture.
    Command,
}

/// The body of an FLV audio tag carrying AAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioTag {
    /// AACPacketType 0: an AudioSpecificConfig.
    AacSequenceHeader(Bytes),
    /// AACPacketType 1: one raw AAC frame.
    AacRaw(Bytes),
}

/// Parses an FLV video tag body (the first byte is FrameType/CodecID).
pub fn parse_video_tag(body: &Bytes) -> Result<VideoTag, MediaError> {
    let Some(&first) = body.first() else {
        return Err(truncated(VIDEO_TAG, 0, 1, 0));
    };
    if first & 0x80 != 0 {
        return parse_ex_video_tag(body, first);
    }
    let frame_type = first >> 4;
    let codec_id = first & 0x0F;
    if frame_type == 5 {
        return Ok(VideoTag::Command);
    }
    if codec_id != FLV_CODEC_AVC && codec_id != FLV_CODEC_HEVC_LEGACY {
        return Err(MediaError::Unsupported {
            what: "video codec",
            detail: format!(
                "FLV video codec id {codec_id} ({})",
                video_codec_name(codec_id)
            ),
        });
    }
    if !(1..=4).contains(&frame_type) {
        return Err(MediaError::Invalid {
            what: VIDEO_TAG,
            offset: 0,
            reason: format!("frame type {frame_type}"),
        });
    }
    let Some(&packet_type) = body.get(1) else {
        return Err(truncated(VIDEO_TAG, 1, 1, 0));
    };
    if packet_type == 2 {
        return Ok(VideoTag::AvcEndOfSequence);
    }
    if packet_type > 2 {
        return Err(MediaError::Invalid {
            what: VIDEO_TAG,
            offset: 1,
            reason: format!("AVCPacketType {packet_type}"),
        });
    }
    let Some(ct) = body.get(2..5) else {
        return Err(truncated(VIDEO_TAG, 2, 3, body.len() - 2));
    };
    // SI24: sign-extend by shifting the 24 bits to the top of an i32 and back.
    let composition_time_ms = i32::from_be_bytes([ct[0], ct[1], ct[2], 0]) >> 8;
    let data = body.slice(5..);
    Ok(if packet_type == 0 && codec_id == FLV_CODEC_HEVC_LEGACY {
        VideoTag::HevcSequenceHeader(data)
    } else if packet_type == 0 {
        VideoTag::AvcSequenceHeader(data)
    } else {
        VideoTag::AvcNalu {
            hevc: codec_id == FLV_CODEC_HEVC_LEGACY,
            keyframe: frame_type == 1,
            composition_time_ms,
            data,
        }
    })
}

/// Parses an Enhanced RTMP video tag (E-RTMP v1, "ExVideoTagHeader"): `first` has IsExHeader
/// set, the frame type in bits 4 to 6 and the packet type in bits 0 to 3; a FourCC follows.
fn parse_ex_video_tag(body: &Bytes, first: u8) -> Result<VideoTag, MediaError> {
    let frame_type = (first >> 4) & 0x07;
    let packet_type = first & 0x0F;
    let Some(fourcc) = body.get(1..5) else {
        return Err(truncated(VIDEO_TAG, 1, 4, body.len().saturating_sub(1)));
    };
    if fourcc != b"hvc1" {
        return Err(MediaError::Unsupported {
            what: "video codec",
            detail: format!(
                "FLV enhanced video (ExHeader) with FourCC '{}'",
                fourcc_text(fourcc)
            ),
        });
    }
    if frame_type == 5 && packet_type != 4 {
        return Ok(VideoTag::Command);
    }
    match packet_type {
        // SequenceStart
        0 => Ok(VideoTag::HevcSequenceHeader(body.slice(5..))),
        // CodedFrames: SI24 composition time, then the NAL units.
        1 => {
            let Some(ct) = body.get(5..8) else {
                return Err(truncated(VIDEO_TAG, 5, 3, body.len().saturating_sub(5)));
            };
            Ok(VideoTag::AvcNalu {
                hevc: true,
                keyframe: frame_type == 1,
                composition_time_ms: i32::from_be_bytes([ct[0], ct[1], ct[2], 0]) >> 8,
                data: body.slice(8..),
            })
        }
        // SequenceEnd
        2 => Ok(VideoTag::AvcEndOfSequence),
        // CodedFramesX: composition time 0, not written.
        3 => Ok(VideoTag::AvcNalu {
            hevc: true,
            keyframe: frame_type == 1,
            composition_time_ms: 0,
            data: body.slice(5..),
        }),
        // Metadata (HDR colour info and the like): nothing a segment needs.
        4 => Ok(VideoTag::Command),
        other => Err(MediaError::Unsupported {
            what: "video packet",
            detail: format!("Enhanced RTMP video packet type {other} for 'hvc1'"),
        }),
    }
}

/// Parses an FLV audio tag body (the first byte is SoundFormat/Rate/Size/Type).
pub fn parse_audio_tag(body: &Bytes) -> Result<AudioTag, MediaError> {
    let Some(&first) = body.first() else {
        return Err(truncated(AUDIO_TAG, 0, 1, 0));
    };
    let format = first >> 4;
    if format != FLV_SOUND_AAC {
        return Err(MediaError::Unsupported {
            what: "audio codec",
            detail: format!("FLV audio format {format} ({})", audio_format_name(format)),
        });
    }
    let Some(&packet_type) = body.get(1) else {
        return Err(truncated(AUDIO_TAG, 1, 1, 0));
    };
    let data = body.slice(2..);
    match packet_type {
        0 => Ok(AudioTag::AacSequenceHeader(data)),
        1 => Ok(AudioTag::AacRaw(data)),
        other => Err(MediaError::Invalid {
            what: AUDIO_TAG,
            offset: 1,
            reason: format!("AACPacketType {other}"),
        }),
    }
}

fn truncated(what: &'static str, offset: usize, needed: usize, available: usize) -> MediaError {
    MediaError::Truncated {
        what,
        offset,
        needed,
        available,
    }
}

fn fourcc_text(fourcc: &[u8]) -> String {
    fourcc
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

fn video_codec_name(id: u8) -> &'static str {
    match id {
        1 => "JPEG",
        2 => "Sorenson H.263",
        3 => "Screen video",
        4 => "On2 VP6",
        5 => "On2 VP6 with alpha",
        6 => "Screen video v2",
        7 => "AVC",
        12 => "HEVC",
        13 => "AV1",
        _ => "unknown",
    }
}

fn audio_format_name(format: u8) -> &'static str {
    match format {
        0 => "Linear PCM, platform endian",
        1 => "ADPCM",
        2 => "MP3",
        3 => "Linear PCM, little endian",
        4 => "Nellymoser 16 kHz mono",
        5 => "Nellymoser 8 kHz mono",
        6 => "Nellymoser",
        7 => "G.711 A-law",
        8 => "G.711 mu-law",
        9 => "Enhanced RTMP ExHeader",
        10 => "AAC",
        11 => "Speex",
        14 => "MP3 8 kHz",
        15 => "device-specific sound",
        _ => "reserved",
    }
}

/// What the demuxer made of one tag.
#[derive(Clone, Debug, PartialEq)]
pub enum DemuxEvent {
    /// A new or changed codec configuration; frames after it use it.
    Track(TrackInfo),
    Frame(Frame),
}

/// Turns FLV video and audio tag bodies (from RTMP or an [`FlvReader`]) into tracks and frames.
///
/// Frame times are in milliseconds on the input's clock, extended past the 32-bit wrap by one
/// extender shared by audio and video. Frames before their track's sequence header are dropped
/// and counted, because no decoder could use them.
#[derive(Debug, Default)]
pub struct FlvDemuxer {
    video: Option<CodecConfig>,
    audio: Option<AacConfig>,
    clock: Wrapping32Extender,
    dropped_frames: u64,
}

impl FlvDemuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// One FLV video tag body with its 32-bit millisecond timestamp (wrap-around handled inside).
    ///
    /// `Ok(None)` for a repeated sequence header, an end of sequence, a command frame, an empty
    /// body or NALU payload, and a frame before the first sequence header.
    pub fn push_video(
        &mut self,
        timestamp_ms: u32,
        body: &Bytes,
    ) -> Result<Option<DemuxEvent>, MediaError> {
        if body.is_empty() {
            return Ok(None);
        }
        match parse_video_tag(body)? {
            VideoTag::AvcSequenceHeader(record) => {
                if self.video.as_ref().is_some_and(|v| *v.record() == record) {
                    return Ok(None);
                }
                let track = TrackInfo::video(AvcConfig::parse(record)?);
                self.video = Some(track.codec.clone());
                Ok(Some(DemuxEvent::Track(track)))
            }
            VideoTag::HevcSequenceHeader(record) => {
                if self.video.as_ref().is_some_and(|v| *v.record() == record) {
                    return Ok(None);
                }
                let track = TrackInfo::hevc(HevcConfig::parse(record)?);
                self.video = Some(track.codec.clone());
                Ok(Some(DemuxEvent::Track(track)))
            }
            VideoTag::AvcNalu {
                hevc,
                keyframe,
                composition_time_ms,
                data,
            } => {
                if data.is_empty() {
                    return Ok(None);
                }
                let Some(config) = &self.video else {
                    self.dropped_frames += 1;
                    return Ok(None);
                };
                if hevc != matches!(config, CodecConfig::Hevc(_)) {
                    return Err(MediaError::Invalid {
                        what: VIDEO_TAG,
                        offset: 0,
                        reason: format!(
                            "an {} frame on a track whose sequence header is {}",
                            if hevc { "H.265" } else { "H.264" },
                            config.codec_string()
                        ),
                    });
                }
                let dts = MediaTime::new(self.clock.extend(timestamp_ms), Timescale::MILLIS);
                let pts = MediaTime::new(
                    dts.ticks + i64::from(composition_time_ms),
                    Timescale::MILLIS,
                );
                Ok(Some(DemuxEvent::Frame(Frame {
                    kind: TrackKind::Video,
                    dts,
                    pts,
                    keyframe,
                    data,
                })))
            }
            VideoTag::AvcEndOfSequence | VideoTag::Command => Ok(None),
        }
    }

    /// One FLV audio tag body with its 32-bit millisecond timestamp.
    ///
    /// `Ok(None)` for a repeated sequence header, an empty body or AAC payload, and a frame
    /// before the first sequence header.
    pub fn push_audio(
        &mut self,
        timestamp_ms: u32,
        body: &Bytes,
    ) -> Result<Option<DemuxEvent>, MediaError> {
        if body.is_empty() {
            return Ok(None);
        }
        match parse_audio_tag(body)? {
            AudioTag::AacSequenceHeader(asc) => {
                if self.audio.as_ref().is_some_and(|a| a.asc == asc) {
                    return Ok(None);
                }
                let config = AacConfig::parse(asc)?;
                self.audio = Some(config.clone());
                Ok(Some(DemuxEvent::Track(TrackInfo::audio(config))))
            }
            AudioTag::AacRaw(data) => {
                if data.is_empty() {
                    return Ok(None);
                }
                if self.audio.is_none() {
                    self.dropped_frames += 1;
                    return Ok(None);
                }
                let t = MediaTime::new(self.clock.extend(timestamp_ms), Timescale::MILLIS);
                Ok(Some(DemuxEvent::Frame(Frame {
                    kind: TrackKind::Audio,
                    dts: t,
                    pts: t,
                    keyframe: true,
                    data,
                })))
            }
        }
    }

    /// The current video configuration, after the first video sequence header.
    pub fn video(&self) -> Option<&CodecConfig> {
        self.video.as_ref()
    }

    /// The current audio configuration, after the first AAC sequence header.
    pub fn audio(&self) -> Option<&AacConfig> {
        self.audio.as_ref()
    }

    /// Frames dropped because they came before their track's sequence header.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped_frames
    }
}

/// The kind of an FLV tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlvTagType {
    /// Tag type 8.
    Audio,
    /// Tag type 9.
    Video,
    /// Tag type 18: AMF0 script data (onMetaData).
    Script,
}

/// One tag of an FLV file or stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlvTag {
    pub tag_type: FlvTagType,
    /// The 24-bit timestamp with its 8-bit extension as the upper byte.
    pub timestamp_ms: u32,
    /// The tag body, a zero-copy slice of the reader's buffer.
    pub body: Bytes,
}

/// The 9-byte FLV file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlvHeader {
    pub version: u8,
    pub has_audio: bool,
    pub has_video: bool,
}

#[derive(Clone, Copy, Debug)]
enum ReaderState {
    Header,
    /// Bytes still to discard: the rest of an oversized header and PreviousTagSize0.
    Skip(usize),
    Tags,
}

/// Splits an FLV file or HTTP-FLV stream into tags, from bytes pushed in chunks of any size.
///
/// Partial input is not an error: `next_tag` returns `Ok(None)` and keeps what it has. An
/// error leaves the buffer where the bad bytes start, so it repeats; the stream is unusable
/// from there. PreviousTagSize fields are skipped, not checked.
#[derive(Debug)]
pub struct FlvReader {
    buf: BytesMut,
    state: ReaderState,
    /// Stream offset of `buf[0]`, for error offsets.
    offset: usize,
    max_tag_size: usize,
    header: Option<FlvHeader>,
}

impl Default for FlvReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvReader {
    /// Tag bodies up to this size are accepted by default (the 24-bit field cannot exceed it).
    pub const MAX_TAG_SIZE: usize = 16 << 20;
    /// A DataOffset beyond this is taken as corruption rather than a header to skip.
    const MAX_DATA_OFFSET: u32 = 64 << 10;

    pub fn new() -> Self {
        FlvReader {
            buf: BytesMut::new(),
            state: ReaderState::Header,
            offset: 0,
            max_tag_size: Self::MAX_TAG_SIZE,
            header: None,
        }
    }

    /// A reader that rejects tag bodies larger than `max_tag_size` bytes as invalid.
    pub fn with_max_tag_size(max_tag_size: usize) -> Self {
        FlvReader {
            max_tag_size,
            ..Self::new()
        }
    }

    /// Appends stream bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The file header, once read.
    pub fn header(&self) -> Option<FlvHeader> {
        self.header
    }

    /// Bytes pushed but not yet returned as tags.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn advance(&mut self, n: usize) {
        self.buf.advance(n);
        self.offset += n;
    }

    /// The next complete tag, `Ok(None)` until enough bytes are pushed.
    pub fn next_tag(&mut self) -> Result<Option<FlvTag>, MediaError> {
        loop {
            match self.state {
                ReaderState::Header => {
                    if self.buf.len() < 9 {
                        return Ok(None);
                    }
                    let h = &self.buf[..9];
                    if &h[..3] != b"FLV" {
                        return Err(MediaError::Invalid {
                            what: "FLV header",
                            offset: self.offset,
                            reason: format!("signature {:02x?}, expected \"FLV\"", &h[..3]),
                        });
                    }
                    if h[3] != 1 {
                        return Err(MediaError::Unsupported {
                            what: "FLV version",
                            detail: format!("version {}", h[3]),
                        });
                    }
                    let data_offset = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
                    if !(9..=Self::MAX_DATA_OFFSET).contains(&data_offset) {
                        return Err(MediaError::Invalid {
                            what: "FLV header",
                            offset: self.offset + 5,
                            reason: format!("DataOffset {data_offset}"),
                        });
                    }
                    self.header = Some(FlvHeader {
                        version: h[3],
                        has_audio: h[4] & 0x04 != 0,
                        has_video: h[4] & 0x01 != 0,
                    });
                    self.advance(9);
                    // In range by the check above.
                    self.state = ReaderState::Skip(data_offset as usize - 9 + 4);
                }
                ReaderState::Skip(n) => {
                    let k = n.min(self.buf.len());
                    self.advance(k);
                    if k < n {
                        self.state = ReaderState::Skip(n - k);
                        return Ok(None);
                    }
                    self.state = ReaderState::Tags;
                }
                ReaderState::Tags => return self.read_tag(),
            }
        }
    }

    fn read_tag(&mut self) -> Result<Option<FlvTag>, MediaError> {
        const WHAT: &str = "FLV tag header";
        if self.buf.len() < 11 {
            return Ok(None);
        }
        let h = &self.buf[..11];
        if h[0] & 0x20 != 0 {
            return Err(MediaError::Unsupported {
                what: "FLV tag",
                detail: format!("encrypted tag (Filter bit set) at offset {}", self.offset),
            });
        }
        let tag_type = match h[0] & 0x1F {
            8 => FlvTagType::Audio,
            9 => FlvTagType::Video,
            18 => FlvTagType::Script,
            other => {
                return Err(MediaError::Invalid {
                    what: WHAT,
                    offset: self.offset,
                    reason: format!("tag type {other}"),
                })
            }
        };
        let size = (usize::from(h[1]) << 16) | (usize::from(h[2]) << 8) | usize::from(h[3]);
        if size > self.max_tag_size {
            return Err(MediaError::Invalid {
                what: WHAT,
                offset: self.offset + 1,
                reason: format!("tag size {size} exceeds {}", self.max_tag_size),
            });
        }
        let timestamp_ms = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        if self.buf.len() < 11 + size + 4 {
            return Ok(None);
        }
        self.advance(11);
        let body = self.buf.split_to(size).freeze();
        self.offset += size;
        self.advance(4); // PreviousTagSize
        Ok(Some(FlvTag {
            tag_type,
            timestamp_ms,
            body,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::{hex, FFMPEG_HVCC};

    /// Made by ffmpeg 5.1 with x264 core 164:
    /// `ffmpeg -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100
    ///  -t 2 -pix_fmt yuv420p -c:v libx264 -g 25 -bf 2 -crf 35 -c:a aac -ac 2 -b:a 64k -f flv`.
    /// It doubles as the seed of the `flv_reader` fuzz target.
    const FFMPEG_FLV: &[u8] =
        include_bytes!("../../../fixtures/ffmpeg-5.1_h264-aac_320x240_2s.flv");

    fn b(bytes: &[u8]) -> Bytes {
        Bytes::copy_from_slice(bytes)
    }

    fn all_tags(reader: &mut FlvReader) -> Vec<FlvTag> {
        let mut out = Vec::new();
        while let Some(tag) = reader.next_tag().unwrap() {
            out.push(tag);
        }
        out
    }

    /// (AVC sequence header tag body, AAC sequence header tag body) from the fixture.
    fn fixture_sequence_headers() -> (Bytes, Bytes) {
        let mut r = FlvReader::new();
        r.push(FFMPEG_FLV);
        let tags = all_tags(&mut r);
        let video = tags
            .iter()
            .find(|t| t.tag_type == FlvTagType::Video)
            .unwrap();
        let audio = tags
            .iter()
            .find(|t| t.tag_type == FlvTagType::Audio)
            .unwrap();
        (video.body.clone(), audio.body.clone())
    }

    #[test]
    fn parses_video_tags() {
        let body = b(&[0x17, 0x01, 0x00, 0x00, 0x50, 0, 0, 0, 1, 0x65]);
        assert_eq!(
            parse_video_tag(&body).unwrap(),
            VideoTag::AvcNalu {
                hevc: false,
                keyframe: true,
                composition_time_ms: 80,
                data: b(&[0, 0, 0, 1, 0x65]),
            }
        );
        // Negative composition time, inter frame, zero-copy slice.
        let body = b(&[0x27, 0x01, 0xFF, 0xFF, 0xD8, 9, 9]);
        let VideoTag::AvcNalu {
            hevc: false,
            keyframe,
            composition_time_ms,
            data,
        } = parse_video_tag(&body).unwrap()
        else {
            panic!("not a NALU tag");
        };
        assert!(!keyframe);
        assert_eq!(composition_time_ms, -40);
        assert_eq!(data.as_ptr(), body[5..].as_ptr());

        assert_eq!(
            parse_video_tag(&b(&[0x17, 0, 0, 0, 0, 1, 2])).unwrap(),
            VideoTag::AvcSequenceHeader(b(&[1, 2]))
        );
        assert_eq!(
            parse_video_tag(&b(&[0x17, 0x02, 0, 0, 0])).unwrap(),
            VideoTag::AvcEndOfSequence
        );
        assert_eq!(
            parse_video_tag(&b(&[0x17, 0x02])).unwrap(),
            VideoTag::AvcEndOfSequence
        );
        assert_eq!(
            parse_video_tag(&b(&[0x57, 0x00])).unwrap(),
            VideoTag::Command
        );
        assert_eq!(parse_video_tag(&b(&[0x52])).unwrap(), VideoTag::Command);
    }

    #[test]
    fn rejects_other_video_codecs_by_name() {
        let err = parse_video_tag(&b(&[0x1D, 0x01, 0, 0, 0])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported video codec: FLV video codec id 13 (AV1)"
        );
        let err = parse_video_tag(&b(&[0x12, 0x00])).unwrap_err();
        assert!(err.to_string().contains("2 (Sorenson H.263)"), "{err}");
        // Enhanced RTMP: IsExHeader, keyframe, PacketTypeCodedFrames, FourCC av01.
        let err = parse_video_tag(&b(&[0x91, b'a', b'v', b'0', b'1', 0, 0, 0])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported video codec: FLV enhanced video (ExHeader) with FourCC 'av01'"
        );
        assert!(matches!(
            parse_video_tag(&b(&[0x90])),
            Err(MediaError::Truncated { .. })
        ));
    }

    #[test]
    fn enhanced_rtmp_hevc_tags_become_an_hevc_track_and_frames() {
        let mut d = FlvDemuxer::new();
        // SequenceStart (packet type 0), keyframe, FourCC hvc1, then the record.
        let mut start = vec![0x90, b'h', b'v', b'c', b'1'];
        start.extend(hex(FFMPEG_HVCC));
        let Some(DemuxEvent::Track(track)) = d.push_video(0, &b(&start)).unwrap() else {
            panic!("no track from the sequence start");
        };
        assert_eq!(track.codec.codec_string(), "hvc1.1.6.L60.90");
        assert_eq!(track.codec.video_size(), Some((320, 240)));
        assert_eq!(d.push_video(0, &b(&start)).unwrap(), None, "a repeat");
        // CodedFrames (1): keyframe with composition time 80 ms.
        let nal = [0, 0, 0, 3, 0x26, 0x01, 0xAF];
        let mut coded = vec![0x91, b'h', b'v', b'c', b'1', 0, 0, 80];
        coded.extend(nal);
        let Some(DemuxEvent::Frame(f)) = d.push_video(40, &b(&coded)).unwrap() else {
            panic!("no frame");
        };
        assert!(f.keyframe);
        assert_eq!((f.dts.ticks, f.pts.ticks), (40, 120));
        assert_eq!(&f.data[..], &nal);
        // CodedFramesX (3): inter frame, composition time 0, no SI24 field.
        let mut coded_x = vec![0xA3, b'h', b'v', b'c', b'1'];
        coded_x.extend([0, 0, 0, 3, 0x02, 0x01, 0xD0]);
        let Some(DemuxEvent::Frame(f)) = d.push_video(80, &b(&coded_x)).unwrap() else {
            panic!("no frame");
        };
        assert!(!f.keyframe);
        assert_eq!((f.dts.ticks, f.pts.ticks), (80, 80));
        // SequenceEnd (2), Metadata (4): no event. A truncated FourCC is an error.
        assert_eq!(d.push_video(120, &b(b"\x92hvc1")).unwrap(), None);
        assert_eq!(d.push_video(120, &b(b"\x94hvc1\x02")).unwrap(), None);
        assert!(parse_video_tag(&b(&[0x91, b'h', b'v'])).is_err());
        assert!(parse_video_tag(&b(&[0x91, b'h', b'v', b'c', b'1', 0])).is_err());
        assert!(parse_video_tag(&b(&[0x97, b'h', b'v', b'c', b'1'])).is_err());
    }

    #[test]
    fn legacy_codec_id_12_carries_hevc_like_avc() {
        let mut d = FlvDemuxer::new();
        let mut header = vec![0x1C, 0x00, 0, 0, 0];
        header.extend(hex(FFMPEG_HVCC));
        let Some(DemuxEvent::Track(track)) = d.push_video(0, &b(&header)).unwrap() else {
            panic!("no track");
        };
        assert!(matches!(track.codec, CodecConfig::Hevc(_)));
        let body = [0x1C, 0x01, 0, 0, 40, 0, 0, 0, 2, 0x26, 0x01];
        let Some(DemuxEvent::Frame(f)) = d.push_video(0, &b(&body)).unwrap() else {
            panic!("no frame");
        };
        assert_eq!(f.pts.ticks - f.dts.ticks, 40);
    }

    #[test]
    fn rejects_malformed_video_tags() {
        assert!(matches!(
            parse_video_tag(&Bytes::new()),
            Err(MediaError::Truncated { offset: 0, .. })
        ));
        assert!(matches!(
            parse_video_tag(&b(&[0x17])),
            Err(MediaError::Truncated { offset: 1, .. })
        ));
        assert!(matches!(
            parse_video_tag(&b(&[0x17, 0x01, 0x00])),
            Err(MediaError::Truncated { offset: 2, .. })
        ));
        assert!(matches!(
            parse_video_tag(&b(&[0x17, 0x03, 0, 0, 0])),
            Err(MediaError::Invalid { offset: 1, .. })
        ));
        assert!(matches!(
            parse_video_tag(&b(&[0x07, 0x01, 0, 0, 0])),
            Err(MediaError::Invalid { offset: 0, .. })
        ));
    }

    #[test]
    fn parses_audio_tags() {
        let body = b(&[0xAF, 0x00, 0x12, 0x10]);
        assert_eq!(
            parse_audio_tag(&body).unwrap(),
            AudioTag::AacSequenceHeader(b(&[0x12, 0x10]))
        );
        let body = b(&[0xAF, 0x01, 0x21, 0x4A]);
        let AudioTag::AacRaw(data) = parse_audio_tag(&body).unwrap() else {
            panic!("not raw AAC");
        };
        assert_eq!(data.as_ptr(), body[2..].as_ptr());
        assert_eq!(
            parse_audio_tag(&b(&[0xAF, 0x01])).unwrap(),
            AudioTag::AacRaw(Bytes::new())
        );

        let err = parse_audio_tag(&b(&[0x2F, 0x01])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported audio codec: FLV audio format 2 (MP3)"
        );
        let err = parse_audio_tag(&b(&[0x9F])).unwrap_err();
        assert!(err.to_string().contains("ExHeader"), "{err}");
        assert!(matches!(
            parse_audio_tag(&Bytes::new()),
            Err(MediaError::Truncated { offset: 0, .. })
        ));
        assert!(matches!(
            parse_audio_tag(&b(&[0xAF])),
            Err(MediaError::Truncated { offset: 1, .. })
        ));
        assert!(matches!(
            parse_audio_tag(&b(&[0xAF, 0x02])),
            Err(MediaError::Invalid { offset: 1, .. })
        ));
    }

    #[test]
    fn demuxer_emits_tracks_once_and_frames_on_the_millisecond_clock() {
        let (avc_header, aac_header) = fixture_sequence_headers();
        let mut d = FlvDemuxer::new();

        // Before any sequence header: dropped and counted.
        assert_eq!(
            d.push_video(0, &b(&[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65]))
                .unwrap(),
            None
        );
        assert_eq!(d.push_audio(0, &b(&[0xAF, 1, 0x21])).unwrap(), None);
        assert_eq!(d.dropped_frames(), 2);

        let Some(DemuxEvent::Track(video)) = d.push_video(0, &avc_header).unwrap() else {
            panic!("no video track");
        };
        assert_eq!(video.kind(), TrackKind::Video);
        assert_eq!(video.timescale, Timescale::MPEG);
        assert_eq!(d.video().unwrap().video_size().unwrap().0, 320);
        // A repeat is silent.
        assert_eq!(d.push_video(0, &avc_header).unwrap(), None);

        let Some(DemuxEvent::Track(audio)) = d.push_audio(0, &aac_header).unwrap() else {
            panic!("no audio track");
        };
        assert_eq!(audio.timescale.get(), 44100);
        assert_eq!(d.audio().unwrap().channel_config, 2);
        assert_eq!(d.push_audio(5, &aac_header).unwrap(), None);

        // A changed config is a new track.
        let Some(DemuxEvent::Track(changed)) =
            d.push_audio(10, &b(&[0xAF, 0, 0x11, 0x90])).unwrap()
        else {
            panic!("no changed audio track");
        };
        assert_eq!(changed.timescale.get(), 48000);

        let Some(DemuxEvent::Frame(f)) = d
            .push_video(40, &b(&[0x27, 1, 0, 0, 80, 0, 0, 0, 1, 0x41]))
            .unwrap()
        else {
            panic!("no video frame");
        };
        assert_eq!(f.kind, TrackKind::Video);
        assert_eq!(f.dts, MediaTime::from_millis(40));
        assert_eq!(f.pts, MediaTime::from_millis(120));
        assert!(!f.keyframe);
        assert_eq!(f.data.as_ref(), &[0, 0, 0, 1, 0x41]);
        assert_eq!(f.composition_offset(), 80);

        let Some(DemuxEvent::Frame(a)) = d.push_audio(43, &b(&[0xAF, 1, 0x21, 0x4A])).unwrap()
        else {
            panic!("no audio frame");
        };
        assert_eq!(
            (a.dts, a.pts),
            (MediaTime::from_millis(43), MediaTime::from_millis(43))
        );
        assert!(a.keyframe);
        assert_eq!(a.data.as_ref(), &[0x21, 0x4A]);

        // Nothing to emit.
        assert_eq!(d.push_video(50, &Bytes::new()).unwrap(), None);
        assert_eq!(d.push_video(50, &b(&[0x17, 1, 0, 0, 0])).unwrap(), None);
        assert_eq!(d.push_video(50, &b(&[0x17, 2, 0, 0, 0])).unwrap(), None);
        assert_eq!(d.push_video(50, &b(&[0x57, 0])).unwrap(), None);
        assert_eq!(d.push_audio(50, &b(&[0xAF, 1])).unwrap(), None);
        assert_eq!(d.dropped_frames(), 2);

        // Errors: another codec's frame, unsupported codec, unparsable sequence header.
        assert!(d.push_video(60, &b(&[0x1C, 1, 0, 0, 0, 1])).is_err());
        assert!(d.push_video(60, &b(&[0x1D, 1, 0, 0, 0, 1])).is_err());
        assert!(d.push_video(60, &b(&[0x17, 0, 0, 0, 0, 1, 2])).is_err());
        assert!(d.push_audio(60, &b(&[0xAF, 0])).is_err());
        // The config in force is unchanged by a failed header.
        assert_eq!(d.video().unwrap().video_size().unwrap().0, 320);
    }

    #[test]
    fn demuxer_extends_timestamps_across_the_32bit_wrap() {
        let (avc_header, aac_header) = fixture_sequence_headers();
        let mut d = FlvDemuxer::new();
        d.push_video(0, &avc_header).unwrap();
        d.push_audio(0, &aac_header).unwrap();
        let frame = |e: Option<DemuxEvent>| match e {
            Some(DemuxEvent::Frame(f)) => f,
            other => panic!("expected a frame, got {other:?}"),
        };
        let v = frame(
            d.push_video(u32::MAX - 20, &b(&[0x17, 1, 0, 0, 40, 0, 0, 0, 1, 0x65]))
                .unwrap(),
        );
        assert_eq!(v.dts.ticks, i64::from(u32::MAX - 20));
        assert_eq!(v.pts.ticks, i64::from(u32::MAX) + 20);
        // Audio just past the wrap, then video slightly behind it: one shared clock.
        let a = frame(d.push_audio(3, &b(&[0xAF, 1, 0x21])).unwrap());
        assert_eq!(a.dts.ticks, (1i64 << 32) + 3);
        let v = frame(
            d.push_video(u32::MAX - 1, &b(&[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]))
                .unwrap(),
        );
        assert_eq!(v.dts.ticks, i64::from(u32::MAX - 1));
        let v = frame(
            d.push_video(19, &b(&[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]))
                .unwrap(),
        );
        assert_eq!(v.dts.ticks, (1i64 << 32) + 19);
    }

    #[test]
    fn reads_ffmpeg_file_in_any_chunking() {
        let mut whole = FlvReader::new();
        whole.push(FFMPEG_FLV);
        let expected = all_tags(&mut whole);
        assert_eq!(whole.buffered(), 0);
        assert_eq!(
            whole.header(),
            Some(FlvHeader {
                version: 1,
                has_audio: true,
                has_video: true
            })
        );
        let count = |t: FlvTagType| expected.iter().filter(|x| x.tag_type == t).count();
        assert_eq!(count(FlvTagType::Script), 1);
        assert_eq!(count(FlvTagType::Video), 52);
        assert_eq!(count(FlvTagType::Audio), 89);
        assert!(expected[0].body.starts_with(b"\x02\x00\x0aonMetaData"));

        for chunk in [1, 7, 11, 4096] {
            let mut r = FlvReader::new();
            let mut got = Vec::new();
            for piece in FFMPEG_FLV.chunks(chunk) {
                r.push(piece);
                while let Some(tag) = r.next_tag().unwrap() {
                    got.push(tag);
                }
            }
            assert_eq!(got, expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn demuxes_ffmpeg_file() {
        let mut r = FlvReader::new();
        r.push(FFMPEG_FLV);
        let mut d = FlvDemuxer::new();
        let mut tracks = Vec::new();
        let mut video = Vec::new();
        let mut audio = Vec::new();
        for tag in all_tags(&mut r) {
            let event = match tag.tag_type {
                FlvTagType::Video => d.push_video(tag.timestamp_ms, &tag.body).unwrap(),
                FlvTagType::Audio => d.push_audio(tag.timestamp_ms, &tag.body).unwrap(),
                FlvTagType::Script => None,
            };
            match event {
                Some(DemuxEvent::Track(t)) => tracks.push(t),
                Some(DemuxEvent::Frame(f)) if f.kind == TrackKind::Video => video.push(f),
                Some(DemuxEvent::Frame(f)) => audio.push(f),
                None => {}
            }
        }
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].codec.codec_string(), "avc1.64000D");
        assert_eq!(tracks[1].codec.codec_string(), "mp4a.40.2");
        assert_eq!(video.len(), 50, "2 s at 25 fps");
        assert_eq!(audio.len(), 88);
        assert_eq!(d.dropped_frames(), 0);

        let nal_length_size = d.video().unwrap().nal_length_size().unwrap();
        let keyframes: Vec<i64> = video
            .iter()
            .filter(|f| f.keyframe)
            .map(|f| f.dts.ticks)
            .collect();
        assert_eq!(keyframes, [0, 1000], "-g 25");
        for f in &video {
            assert_eq!(
                crate::codec::avc::contains_idr(&f.data, nal_length_size),
                f.keyframe
            );
            assert!(f.pts >= f.dts);
        }
        assert!(video.windows(2).all(|w| w[0].dts < w[1].dts));
        // B-frames: presentation order differs from decode order.
        assert!(video.windows(2).any(|w| w[1].pts < w[0].pts));
        assert!(audio.windows(2).all(|w| w[0].dts <= w[1].dts));
    }

    fn tag(tag_type: u8, timestamp: u32, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag_type];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&timestamp.to_be_bytes()[1..]);
        out.push((timestamp >> 24) as u8);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(body);
        out.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        out
    }

    const HEADER: [u8; 13] = [b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0];

    #[test]
    fn reader_tag_fields_and_partial_input() {
        let mut r = FlvReader::new();
        r.push(&HEADER[..5]);
        assert_eq!(r.next_tag().unwrap(), None);
        r.push(&HEADER[5..11]);
        assert_eq!(r.next_tag().unwrap(), None);
        r.push(&HEADER[11..]);
        let t = tag(9, 0x1234_5678, &[0x17, 2, 0, 0, 0]);
        r.push(&t[..t.len() - 1]);
        assert_eq!(r.next_tag().unwrap(), None);
        assert_eq!(r.buffered(), t.len() - 1);
        r.push(&t[t.len() - 1..]);
        let got = r.next_tag().unwrap().unwrap();
        assert_eq!(got.tag_type, FlvTagType::Video);
        assert_eq!(got.timestamp_ms, 0x1234_5678);
        assert_eq!(got.body.as_ref(), &[0x17, 2, 0, 0, 0]);
        // An empty tag body is a tag.
        r.push(&tag(8, 1, &[]));
        let got = r.next_tag().unwrap().unwrap();
        assert_eq!((got.tag_type, got.body.len()), (FlvTagType::Audio, 0));
        assert_eq!(r.next_tag().unwrap(), None);
    }

    #[test]
    fn reader_skips_an_extended_header() {
        let mut r = FlvReader::new();
        r.push(&[b'F', b'L', b'V', 1, 1, 0, 0, 0, 12, 0xAA, 0xBB]);
        assert_eq!(r.next_tag().unwrap(), None);
        r.push(&[0xCC, 0, 0, 0, 0]);
        r.push(&tag(18, 0, b"\x02\x00\x0aonMetaData"));
        let got = r.next_tag().unwrap().unwrap();
        assert_eq!(got.tag_type, FlvTagType::Script);
        assert_eq!(
            r.header().map(|h| (h.has_audio, h.has_video)),
            Some((false, true))
        );
    }

    #[test]
    fn reader_errors_name_the_offset() {
        let mut r = FlvReader::new();
        r.push(b"FLX\x01\x05\0\0\0\x09\0\0\0\0");
        assert!(matches!(
            r.next_tag(),
            Err(MediaError::Invalid { offset: 0, .. })
        ));
        // Sticky: the bad bytes stay.
        assert!(r.next_tag().is_err());

        let mut r = FlvReader::new();
        r.push(b"FLV\x02\x05\0\0\0\x09\0\0\0\0");
        assert!(matches!(r.next_tag(), Err(MediaError::Unsupported { .. })));

        let mut r = FlvReader::new();
        r.push(b"FLV\x01\x05\0\0\0\x08\0\0\0\0");
        assert!(matches!(
            r.next_tag(),
            Err(MediaError::Invalid { offset: 5, .. })
        ));

        let good = tag(9, 0, &[0x17, 2, 0, 0, 0]);
        let mut r = FlvReader::new();
        r.push(&HEADER);
        r.push(&good);
        r.push(&tag(7, 0, &[1, 2, 3]));
        assert!(r.next_tag().unwrap().is_some());
        let err = r.next_tag().unwrap_err();
        assert!(
            matches!(err, MediaError::Invalid { offset, .. } if offset == 13 + good.len()),
            "{err}"
        );

        let mut r = FlvReader::new();
        r.push(&HEADER);
        r.push(&tag(0x20 | 9, 0, &[1, 2, 3]));
        let err = r.next_tag().unwrap_err();
        assert!(err.to_string().contains("encrypted"), "{err}");

        // Over the size cap: an error as soon as the header is in, without waiting for the body.
        let mut r = FlvReader::with_max_tag_size(1000);
        r.push(&HEADER);
        r.push(&[9, 0, 0x03, 0xE9, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            r.next_tag(),
            Err(MediaError::Invalid { offset: 14, .. })
        ));
    }

    /// xorshift64*: a deterministic source of test bytes without an extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn bytes(&mut self, max_len: usize) -> Vec<u8> {
            let len = self.below(max_len + 1);
            (0..len).map(|_| self.next() as u8).collect()
        }

        /// Flips, overwrites, inserts, deletes or truncates a few bytes of `input`.
        fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
            let mut v = input.to_vec();
            for _ in 0..=self.below(4) {
                let at = self.below(v.len());
                match self.below(6) {
                    0 if !v.is_empty() => v[at] ^= 1 << self.below(8),
                    1 if !v.is_empty() => v[at] = self.next() as u8,
                    2 => v.insert(at.min(v.len()), self.next() as u8),
                    3 if !v.is_empty() => {
                        v.remove(at);
                    }
                    4 => v.truncate(at),
                    _ if !v.is_empty() => v[at] = [0x00, 0xFF, 0x03, 0x80][self.below(4)],
                    _ => {}
                }
            }
            v
        }
    }

    /// Feeds `data` to every parser in this crate's FLV and codec modules; any may fail,
    /// none may panic, and what they accept must be consistent.
    fn exercise_all_parsers(data: &[u8], seeded: &mut FlvDemuxer) {
        use crate::codec::{aac, avc, bitreader, sps};

        let body = Bytes::copy_from_slice(data);
        let _ = parse_video_tag(&body);
        let _ = parse_audio_tag(&body);
        let mut fresh = FlvDemuxer::new();
        let _ = fresh.push_video(0, &body);
        let _ = fresh.push_audio(0, &body);
        let ts = data.first().map_or(0, |&b| u32::from(b) << 24);
        let _ = seeded.push_video(ts, &body);
        let _ = seeded.push_audio(ts, &body);

        // As an FLV stream, alone and behind a valid header, in two chunks.
        for prefix in [&[][..], &HEADER[..]] {
            let mut r = FlvReader::new();
            let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
            r.push(prefix);
            r.push(&data[..split]);
            while let Ok(Some(_)) = r.next_tag() {}
            r.push(&data[split..]);
            while let Ok(Some(_)) = r.next_tag() {}
        }

        if let Ok(cfg) = AvcConfig::parse(body.clone()) {
            assert!(matches!(cfg.nal_length_size, 1 | 2 | 4));
            assert!(!cfg.sps.is_empty());
            assert!((1..=32768).contains(&cfg.info.width));
            assert!((1..=32768).contains(&cfg.info.height));
        }
        let mut with_header = vec![0x67];
        with_header.extend_from_slice(data);
        for nal in [data, &with_header[..]] {
            if let Ok(info) = sps::parse_sps(nal) {
                assert!((1..=32768).contains(&info.width));
                assert!((1..=32768).contains(&info.height));
            }
        }
        let _ = bitreader::nal_to_rbsp(data);
        let mut r = bitreader::BitReader::new(data);
        while r.read_ue().is_ok() && r.read_se().is_ok() && r.read_bits(13).is_ok() {}

        if let Ok(cfg) = AacConfig::parse(body.clone()) {
            assert!(cfg.sample_rate > 0);
            if let Ok(header) = cfg.adts_header(100) {
                let (back, len) = AacConfig::from_adts(&header).unwrap();
                assert_eq!(len, 107);
                assert_eq!(back.sampling_frequency_index, cfg.sampling_frequency_index);
                assert_eq!(back.channel_config, cfg.channel_config);
            }
        }
        if let Ok((cfg, len)) = AacConfig::from_adts(data) {
            assert!(len >= aac::ADTS_HEADER_LEN);
            assert!(cfg.adts_header(len - 7).is_ok());
        }
        for size in [1, 2, 3, 4] {
            for nal in avc::nal_units(data, size) {
                let Ok(nal) = nal else { break };
                let _ = avc::nal_type(nal);
            }
            let _ = avc::contains_idr(data, size);
        }
        if data.len() > 2 {
            let (sps_part, pps_part) = data.split_at(data.len() / 2);
            if let Ok(cfg) = AvcConfig::build_record(sps_part, pps_part) {
                assert_eq!(AvcConfig::parse(cfg.record.clone()).unwrap(), cfg);
            }
        }
    }

    #[test]
    fn smoke_fuzz_never_panics() {
        let (avc_header, aac_header) = fixture_sequence_headers();
        let mut seeded = FlvDemuxer::new();
        seeded.push_video(0, &avc_header).unwrap();
        seeded.push_audio(0, &aac_header).unwrap();

        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let data = rng.bytes(300);
            exercise_all_parsers(&data, &mut seeded);
        }

        let avc_record = avc_header.slice(5..).to_vec();
        let sps = AvcConfig::parse(avc_header.slice(5..)).unwrap().sps[0].to_vec();
        let valid: Vec<Vec<u8>> = vec![
            avc_header.to_vec(),
            aac_header.to_vec(),
            avc_record,
            sps,
            vec![0x12, 0x10],
            vec![0x2B, 0x92, 0x08, 0x00],
            vec![0x13, 0x10, 0x56, 0xE5, 0x98],
            vec![0xFF, 0xF1, 0x4C, 0x80, 0x24, 0xFF, 0xFC],
            vec![0x27, 1, 0, 0, 80, 0, 0, 0, 2, 0x41, 0x9A],
            [&HEADER[..], &tag(9, 0, &[0x17, 2, 0, 0, 0])].concat(),
        ];
        for i in 0..4000 {
            let data = rng.mutate(&valid[i % valid.len()]);
            exercise_all_parsers(&data, &mut seeded);
        }

        // Mutations of the whole ffmpeg file through reader and demuxer.
        for _ in 0..100 {
            let data = rng.mutate(FFMPEG_FLV);
            let mut r = FlvReader::new();
            let mut d = FlvDemuxer::new();
            r.push(&data);
            while let Ok(Some(tag)) = r.next_tag() {
                let _ = match tag.tag_type {
                    FlvTagType::Video => d.push_video(tag.timestamp_ms, &tag.body),
                    FlvTagType::Audio => d.push_audio(tag.timestamp_ms, &tag.body),
                    FlvTagType::Script => Ok(None),
                };
            }
        }
    }
}
