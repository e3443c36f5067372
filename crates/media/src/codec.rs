//! Track and codec information: what a player needs to know before the first frame.

use bytes::Bytes;

use crate::frame::TrackKind;
use crate::time::Timescale;

pub mod aac;
pub mod avc;
pub mod bitreader;
pub mod hevc;
pub mod sps;

/// H.264 sequence parameter set facts that manifests need.
#[derive(Clone, Debug, PartialEq)]
pub struct SpsInfo {
    pub profile_idc: u8,
    /// The byte after profile_idc in the SPS (constraint_set flags).
    pub constraint_flags: u8,
    pub level_idc: u8,
    /// Display width in pixels, after cropping.
    pub width: u32,
    /// Display height in pixels, after cropping.
    pub height: u32,
    /// Frames per second from the VUI timing info, when the encoder wrote it.
    pub frame_rate: Option<f64>,
}

/// H.264 decoder configuration: the AVCDecoderConfigurationRecord and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct AvcConfig {
    /// The record exactly as received (the `avcC` box payload).
    pub record: Bytes,
    /// Bytes of each NAL length prefix in frames (1, 2 or 4).
    pub nal_length_size: u8,
    /// Sequence parameter sets, NAL units without start code or length prefix.
    pub sps: Vec<Bytes>,
    /// Picture parameter sets, likewise.
    pub pps: Vec<Bytes>,
    /// Parsed from the first SPS.
    pub info: SpsInfo,
}

impl AvcConfig {
    /// The RFC 6381 codec string, `avc1.PPCCLL`.
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02X}{:02X}{:02X}",
            self.info.profile_idc, self.info.constraint_flags, self.info.level_idc
        )
    }
}

/// AAC decoder configuration: the AudioSpecificConfig and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AacConfig {
    /// The AudioSpecificConfig exactly as received.
    pub asc: Bytes,
    /// Audio object type (2 = AAC-LC, 5 = SBR, 29 = PS).
    pub object_type: u8,
    /// Index into the MPEG-4 sampling frequency table (15 when explicit).
    pub sampling_frequency_index: u8,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// channel_configuration (1 = mono, 2 = stereo, ...).
    pub channel_config: u8,
    /// Samples per frame (1024, or 960 with frameLengthFlag).
    pub samples_per_frame: u32,
}

impl AacConfig {
    /// The RFC 6381 codec string, `mp4a.40.N`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

pub use hevc::{HevcConfig, HevcInfo};

/// The codec configuration of one track.
#[derive(Clone, Debug, PartialEq)]
pub enum CodecConfig {
    Avc(AvcConfig),
    Hevc(HevcConfig),
    Aac(AacConfig),
}

impl CodecConfig {
    pub fn kind(&self) -> TrackKind {
        match self {
            CodecConfig::Avc(_) | CodecConfig::Hevc(_) => TrackKind::Video,
            CodecConfig::Aac(_) => TrackKind::Audio,
        }
    }

    pub fn codec_string(&self) -> String {
        match self {
            CodecConfig::Avc(c) => c.codec_string(),
            CodecConfig::Hevc(c) => c.codec_string(),
            CodecConfig::Aac(c) => c.codec_string(),
        }
    }

    /// Display width and height of a video track.
    pub fn video_size(&self) -> Option<(u32, u32)> {
        match self {
            CodecConfig::Avc(c) => Some((c.info.width, c.info.height)),
            CodecConfig::Hevc(c) => Some((c.info.width, c.info.height)),
            CodecConfig::Aac(_) => None,
        }
    }

    /// Frames per second of a video track, when its parameter sets say.
    pub fn frame_rate(&self) -> Option<f64> {
        match self {
            CodecConfig::Avc(c) => c.info.frame_rate,
            CodecConfig::Hevc(c) => c.info.frame_rate,
            CodecConfig::Aac(_) => None,
        }
    }

    /// Bytes of each NAL length prefix in the frames of a video track.
    pub fn nal_length_size(&self) -> Option<u8> {
        match self {
            CodecConfig::Avc(c) => Some(c.nal_length_size),
            CodecConfig::Hevc(c) => Some(c.nal_length_size),
            CodecConfig::Aac(_) => None,
        }
    }

    /// The decoder configuration record as received or built (`avcC`, `hvcC` payload, or
    /// the AudioSpecificConfig).
    pub fn record(&self) -> &Bytes {
        match self {
            CodecConfig::Avc(c) => &c.record,
            CodecConfig::Hevc(c) => &c.record,
            CodecConfig::Aac(c) => &c.asc,
        }
    }

    /// The AAC configuration of an audio track.
    pub fn aac(&self) -> Option<&AacConfig> {
        match self {
            CodecConfig::Aac(c) => Some(c),
            _ => None,
        }
    }
}

/// One track of a rendition: its codec and the clock its frames are on.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackInfo {
    pub codec: CodecConfig,
    /// 90 kHz for video, the sample rate for audio.
    pub timescale: Timescale,
}

impl TrackInfo {
    pub fn kind(&self) -> TrackKind {
        self.codec.kind()
    }

    /// A video track on the 90 kHz clock.
    pub fn video(config: AvcConfig) -> TrackInfo {
        TrackInfo {
            codec: CodecConfig::Avc(config),
            timescale: Timescale::MPEG,
        }
    }

    /// An H.265 video track on the 90 kHz clock.
    pub fn hevc(config: HevcConfig) -> TrackInfo {
        TrackInfo {
            codec: CodecConfig::Hevc(config),
            timescale: Timescale::MPEG,
        }
    }

    /// An audio track on a clock of its sample rate (90 kHz if the rate is zero).
    pub fn audio(config: AacConfig) -> TrackInfo {
        let timescale = Timescale::new(config.sample_rate).unwrap_or(Timescale::MPEG);
        TrackInfo {
            codec: CodecConfig::Aac(config),
            timescale,
        }
    }
}
