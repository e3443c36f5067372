//! Fragmented MP4 (CMAF) writer: one call writes a CMAF header, another one CMAF fragment.
//!
//! Each output carries exactly one track, as CMAF requires; a rendition with video and audio
//! is two tracks with their own headers and fragments. The boxes are built with `mp4-atom`
//! and the functions are pure: no I/O, no clock, no state between calls. On error the output
//! vector is left as it was.
//!
//! # CMAF header ([`write_init_segment`])
//!
//! `ftyp` (major brand `iso6`; compatible `iso6`, `cmfc`, `mp41`), then `moov` with `mvhd`,
//! one `trak` and `mvex`/`trex`. The sample tables are empty: every sample is described by
//! the fragments. The `avcC` box holds the track's AVCDecoderConfigurationRecord byte for
//! byte as it was received; `esds` carries the AudioSpecificConfig as DecoderSpecificInfo.
//! There is no edit list: presentation times are exactly `decode time + composition offset`
//! (callers that want the first picture at its decode time use negative offsets).
//!
//! # CMAF fragment ([`write_fragment`], [`write_fragment_with`])
//!
//! An optional `styp` (major brand `msdh`; compatible `msdh`, `cmfs`), then `moof` with
//! `mfhd` and one `traf` (`tfhd` with `default-base-is-moof`, `tfdt` version 1, one `trun`
//! version 1), then `mdat` with the sample payloads in order. The `trun` gives every sample
//! its duration, size and flags explicitly, plus its composition offset unless all offsets
//! in the fragment are zero, so nothing depends on `trex` defaults. `data_offset` is counted
//! from the first byte of `moof` to the first payload byte.
//!
//! Raw, pre-encoded boxes (such as the Smooth Streaming `tfxd`/`tfrf` UUID boxes) can be
//! appended to the end of `traf` with [`FragmentOptions::extra_traf_boxes`]; `mp4-atom`'s
//! `Traf` has no field for arbitrary boxes, so they are spliced into the encoded `moof` and
//! the `traf` and `moof` sizes and `data_offset` are adjusted.

use std::ops::Range;

use mp4_atom::esds::{DecoderConfig, DecoderSpecific, EsDescriptor, SLConfig};
use mp4_atom::{
    Audio, Avc1, Avcc, Codec, Dinf, Dref, Encode, Esds, FixedPoint, FourCC, Ftyp, Hdlr, Hvc1, Hvcc,
    Matrix, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mp4a, Mvex, Mvhd, Smhd, Stbl, Stco, Stsd, Styp,
    Tfdt, Tfhd, Tkhd, Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url, Visual, Vmhd,
};

use crate::codec::{AacConfig, AvcConfig, CodecConfig, HevcConfig, TrackInfo};
use crate::error::MediaError;

pub mod demux;
#[cfg(test)]
mod tests;

/// Major brand of the CMAF header's `ftyp`: ISO BMFF as of the 2012 edition, which has
/// `tfdt` and `trun` version 1 (signed composition offsets).
pub const INIT_MAJOR_BRAND: [u8; 4] = *b"iso6";
/// Compatible brands of the CMAF header's `ftyp`: `iso6`, the CMAF structural brand `cmfc`,
/// and `mp41` for the MPEG-4 (`mp4a`/`esds`) sample entries.
pub const INIT_COMPATIBLE_BRANDS: [[u8; 4]; 3] = [*b"iso6", *b"cmfc", *b"mp41"];
/// Major brand of a fragment's `styp`: a DASH media segment (ISO/IEC 23009-1 6.3.4.2).
///
/// Not `msix`, which promises a `sidx` this writer does not produce.
pub const SEGMENT_MAJOR_BRAND: [u8; 4] = *b"msdh";
/// Compatible brands of a fragment's `styp`: `msdh` and the CMAF segment brand `cmfs`.
pub const SEGMENT_COMPATIBLE_BRANDS: [[u8; 4]; 2] = [*b"msdh", *b"cmfs"];

/// `trun` sample flags of a sync sample: `sample_depends_on = 2` (depends on no other sample).
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `trun` sample flags of any other sample: `sample_depends_on = 1` and
/// `sample_is_non_sync_sample = 1`.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// One sample of a fragment, as the `trun` describes it. Times are in the track timescale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragmentSample {
    /// Decode time of the next sample minus this one's.
    pub duration: u32,
    /// Bytes of the sample's payload.
    pub size: u32,
    /// A sync sample: an IDR picture, or any audio frame.
    pub keyframe: bool,
    /// Presentation time minus decode time; may be negative.
    pub composition_offset: i32,
}

impl FragmentSample {
    /// The `trun` sample flags: [`SYNC_SAMPLE_FLAGS`] or [`NON_SYNC_SAMPLE_FLAGS`].
    pub fn flags(&self) -> u32 {
        if self.keyframe {
            SYNC_SAMPLE_FLAGS
        } else {
            NON_SYNC_SAMPLE_FLAGS
        }
    }
}

/// How [`write_fragment_with`] frames a fragment. The default is a CMAF fragment: `tfdt`, no
/// `styp`, nothing more in `traf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentOptions<'a> {
    /// Start with a `styp` box; set it on the first fragment of each segment.
    pub styp: bool,
    /// Write `tfdt` (version 1) with the first sample's decode time. CMAF requires it;
    /// Smooth Streaming (MS-SSTR) fragments have none: their clients take the time from the
    /// manifest (or `tfxd`).
    pub tfdt: bool,
    /// Complete boxes (header included), appended inside `traf` after the `trun`.
    ///
    /// Each must be a well-formed box with a 32-bit or 64-bit size (not size 0); their
    /// content is not checked.
    pub extra_traf_boxes: &'a [u8],
}

impl Default for FragmentOptions<'_> {
    fn default() -> Self {
        FragmentOptions {
            styp: false,
            tfdt: true,
            extra_traf_boxes: &[],
        }
    }
}

/// Writes a CMAF header for one track: `ftyp` and a `moov` whose only `trak` has `track_id`.
///
/// The header is appended to `out`; on error `out` is left as it was. Errors: a `track_id`
/// of 0, a video size beyond 65535 pixels, an AVC record that is not version 1 or shorter
/// than its 7-byte minimum, an empty AudioSpecificConfig.
pub fn write_init_segment(
    track: &TrackInfo,
    track_id: u32,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let start = out.len();
    let result = write_init_segment_to(track, track_id, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Writes one CMAF fragment: an optional `styp`, then `moof` and `mdat`.
///
/// `samples` are in decode order and the first starts at `base_media_decode_time` (track
/// timescale). `payloads` yields each sample's bytes in the same order; each must be exactly
/// `size` bytes long, and there must be exactly one per sample (at most one more than that
/// is taken from the iterator, to tell). An empty `samples` is an error, since a CMAF
/// fragment holds at least one sample.
///
/// The fragment is appended to `out`; on error `out` is left as it was.
pub fn write_fragment(
    track_id: u32,
    sequence_number: u32,
    base_media_decode_time: u64,
    samples: &[FragmentSample],
    payloads: &mut dyn Iterator<Item = &[u8]>,
    with_styp: bool,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let options = FragmentOptions {
        tfdt: true,
        styp: with_styp,
        extra_traf_boxes: &[],
    };
    write_fragment_with(
        track_id,
        sequence_number,
        base_media_decode_time,
        samples,
        payloads,
        &options,
        out,
    )
}

/// [`write_fragment`] with options: whether to write `styp`, and raw boxes to append inside
/// `traf` (which `data_offset` accounts for).
pub fn write_fragment_with(
    track_id: u32,
    sequence_number: u32,
    base_media_decode_time: u64,
    samples: &[FragmentSample],
    payloads: &mut dyn Iterator<Item = &[u8]>,
    options: &FragmentOptions<'_>,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let start = out.len();
    let result = write_fragment_to(
        track_id,
        sequence_number,
        base_media_decode_time,
        samples,
        payloads,
        options,
        out,
    );
    if result.is_err() {
        out.truncate(start);
    }
    result
}

const WHAT_INIT: &str = "CMAF header";
const WHAT_FRAGMENT: &str = "CMAF fragment";

fn invalid(what: &'static str, offset: usize, reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what,
        offset,
        reason: reason.into(),
    }
}

/// An `mp4-atom` encoding error, with the box being written.
fn atom_error(what: &'static str) -> impl Fn(mp4_atom::Error) -> MediaError {
    move |e| invalid(what, 0, format!("mp4-atom could not encode it: {e}"))
}

fn check_track_id(what: &'static str, track_id: u32) -> Result<(), MediaError> {
    if track_id == 0 {
        return Err(invalid(what, 0, "track_ID 0 is reserved"));
    }
    Ok(())
}

fn write_init_segment_to(
    track: &TrackInfo,
    track_id: u32,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    check_track_id(WHAT_INIT, track_id)?;
    let timescale = track.timescale.get();
    let (handler, media_header, tkhd_size, volume, codec) = match &track.codec {
        CodecConfig::Avc(config) => {
            let (width, height) = video_size(config.info.width, config.info.height)?;
            (
                b"vide",
                MediaHeader::Video,
                (width, height),
                0,
                Codec::Avc1(avc1(config, width, height)?),
            )
        }
        CodecConfig::Hevc(config) => {
            let (width, height) = video_size(config.info.width, config.info.height)?;
            (
                b"vide",
                MediaHeader::Video,
                (width, height),
                0,
                Codec::Hvc1(hvc1(config, width, height)),
            )
        }
        CodecConfig::Aac(config) => (
            b"soun",
            MediaHeader::Sound,
            (0, 0),
            1,
            Codec::Mp4a(mp4a(config)?),
        ),
    };

    let ftyp = Ftyp {
        major_brand: FourCC::new(&INIT_MAJOR_BRAND),
        minor_version: 0,
        compatible_brands: INIT_COMPATIBLE_BRANDS.iter().map(FourCC::new).collect(),
    };
    let trak = Trak {
        tkhd: Tkhd {
            track_id,
            enabled: true,
            in_movie: true,
            volume: FixedPoint::new(volume, 0),
            matrix: Matrix::default(),
            width: FixedPoint::new(tkhd_size.0, 0),
            height: FixedPoint::new(tkhd_size.1, 0),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(handler),
                name: match media_header {
                    MediaHeader::Video => "Headwater video".into(),
                    MediaHeader::Sound => "Headwater audio".into(),
                },
            },
            minf: Minf {
                vmhd: matches!(media_header, MediaHeader::Video).then(Vmhd::default),
                smhd: matches!(media_header, MediaHeader::Sound).then(Smhd::default),
                dinf: Dinf {
                    dref: Dref {
                        // An empty location sets the self-contained flag.
                        entries: vec![Url::default().into()],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![codec],
                    },
                    stco: Some(Stco::default()),
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    };
    let moov = Moov {
        mvhd: Mvhd {
            creation_time: 0,
            modification_time: 0,
            timescale,
            duration: 0,
            rate: FixedPoint::new(1, 0),
            volume: FixedPoint::new(1, 0),
            matrix: Matrix::default(),
            next_track_id: track_id.saturating_add(1),
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: vec![Trex {
                track_id,
                default_sample_description_index: 1,
                ..Default::default()
            }],
        }),
        trak: vec![trak],
        ..Default::default()
    };

    let mut moov_bytes = Vec::new();
    moov.encode(&mut moov_bytes).map_err(atom_error("moov"))?;
    match &track.codec {
        CodecConfig::Avc(config) => {
            replace_config_body(&mut moov_bytes, (b"avc1", b"avcC"), &config.record)?
        }
        CodecConfig::Hevc(config) => {
            replace_config_body(&mut moov_bytes, (b"hvc1", b"hvcC"), &config.record)?
        }
        CodecConfig::Aac(_) => {}
    }
    ftyp.encode(out).map_err(atom_error("ftyp"))?;
    out.extend_from_slice(&moov_bytes);
    Ok(())
}

#[derive(Clone, Copy)]
enum MediaHeader {
    Video,
    Sound,
}

fn video_size(width: u32, height: u32) -> Result<(u16, u16), MediaError> {
    let dimension = |value: u32, name: &str| {
        u16::try_from(value).map_err(|_| {
            invalid(
                WHAT_INIT,
                0,
                format!("video {name} {value} does not fit the 16-bit sample entry field"),
            )
        })
    };
    Ok((dimension(width, "width")?, dimension(height, "height")?))
}

/// The `avc1` sample entry. Its `avcC` is a placeholder with the record's profile and level;
/// [`replace_config_body`] puts the record itself in after encoding, so that it is copied
/// exactly rather than parsed and re-encoded (which would normalise reserved bits and drop
/// or reject bytes `mp4-atom` does not model).
fn avc1(config: &AvcConfig, width: u16, height: u16) -> Result<Avc1, MediaError> {
    let record = &config.record;
    let header = record.get(..7).ok_or_else(|| MediaError::Truncated {
        what: "AVCDecoderConfigurationRecord",
        offset: 0,
        needed: 7,
        available: record.len(),
    })?;
    if header[0] != 1 {
        return Err(invalid(
            "AVCDecoderConfigurationRecord",
            0,
            format!("configurationVersion {}, expected 1", header[0]),
        ));
    }
    Ok(Avc1 {
        visual: Visual {
            data_reference_index: 1,
            width,
            height,
            ..Default::default()
        },
        avcc: Avcc {
            configuration_version: 1,
            avc_profile_indication: header[1],
            profile_compatibility: header[2],
            avc_level_indication: header[3],
            length_size: 4,
            ..Default::default()
        },
        ..Default::default()
    })
}

/// The `hvc1` sample entry (parameter sets out of band, as HLS requires). Its `hvcC` is a
/// placeholder; [`replace_config_body`] puts the record itself in after encoding.
fn hvc1(config: &HevcConfig, width: u16, height: u16) -> Hvc1 {
    let i = &config.info;
    Hvc1 {
        visual: Visual {
            data_reference_index: 1,
            width,
            height,
            ..Default::default()
        },
        hvcc: Hvcc {
            configuration_version: 1,
            general_profile_space: i.profile_space,
            general_tier_flag: i.tier_flag,
            general_profile_idc: i.profile_idc,
            general_profile_compatibility_flags: i.profile_compatibility_flags.to_be_bytes(),
            general_constraint_indicator_flags: i.constraint_indicator_flags,
            general_level_idc: i.level_idc,
            chroma_format_idc: i.chroma_format_idc,
            length_size_minus_one: 3,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The `mp4a` sample entry with the AudioSpecificConfig as DecoderSpecificInfo.
fn mp4a(config: &AacConfig) -> Result<Mp4a, MediaError> {
    if config.asc.is_empty() {
        return Err(invalid(
            "AudioSpecificConfig",
            0,
            "empty; the esds needs it as DecoderSpecificInfo",
        ));
    }
    // Channels of each channel_configuration (ISO/IEC 14496-3 table 1.19); 0 means a
    // program config element decides, where 2 is the conventional template value.
    let channel_count = match config.channel_config {
        n @ 1..=6 => u16::from(n),
        7 | 12 | 14 => 8,
        11 => 7,
        13 => 24,
        _ => 2,
    };
    Ok(Mp4a {
        audio: Audio {
            data_reference_index: 1,
            channel_count,
            sample_size: 16,
            // The 16.16 field cannot hold rates above 65535 Hz; 0 then, as decoders take
            // the rate from the AudioSpecificConfig.
            sample_rate: FixedPoint::new(u16::try_from(config.sample_rate).unwrap_or(0), 0),
        },
        esds: Esds {
            es_desc: EsDescriptor {
                // ISO/IEC 14496-14 3.1.2: ES_ID is 0 in the file format.
                es_id: 0,
                dec_config: DecoderConfig {
                    // MPEG-4 Audio (ISO/IEC 14496-3), audio stream.
                    object_type_indication: 0x40,
                    stream_type: 0x05,
                    dec_specific: Some(DecoderSpecific {
                        profile: config.object_type,
                        freq_index: config.sampling_frequency_index,
                        chan_conf: config.channel_config,
                        raw: config.asc.to_vec(),
                    }),
                    ..Default::default()
                },
                sl_config: SLConfig::default(),
                ..Default::default()
            },
        },
        btrt: None,
        taic: None,
    })
}

/// The boxes from `moov` down to the video sample entry, each with the bytes of its body
/// before its first child box (full box header and entry count of `stsd`; the
/// VisualSampleEntry fields of the sample entry).
const SAMPLE_ENTRY_PATH: [(&[u8; 4], usize); 6] = [
    (b"moov", 0),
    (b"trak", 0),
    (b"mdia", 0),
    (b"minf", 0),
    (b"stbl", 0),
    (b"stsd", 8),
];
/// Bytes of a VisualSampleEntry before its child boxes.
const VISUAL_SAMPLE_ENTRY_LEN: usize = 78;

/// Replaces the body of the decoder configuration box (`avcC` in `avc1`, `hvcC` in `hvc1`)
/// in an encoded `moov` with `record` and corrects the sizes of that box and every box
/// around it.
fn replace_config_body(
    moov: &mut Vec<u8>,
    (entry, config): (&[u8; 4], &[u8; 4]),
    record: &[u8],
) -> Result<(), MediaError> {
    let path = SAMPLE_ENTRY_PATH
        .into_iter()
        .chain([(entry, VISUAL_SAMPLE_ENTRY_LEN), (config, 0)]);
    let mut starts = Vec::with_capacity(SAMPLE_ENTRY_PATH.len() + 2);
    let mut body = 0..moov.len();
    for (kind, skip) in path {
        let found = find_box(moov, body, kind)?;
        starts.push(found.start);
        body = found.start + 8 + skip..found.end;
    }
    let old_len = body.len();
    moov.splice(body, record.iter().copied());
    for start in starts {
        let size = box_size(moov, start)?;
        let new_size = size
            .checked_sub(old_len)
            .and_then(|s| s.checked_add(record.len()))
            .ok_or_else(|| invalid(WHAT_INIT, start, "box size out of range"))?;
        set_box_size(moov, start, new_size)?;
    }
    Ok(())
}

/// The 32-bit size of the box at `at` (mp4-atom writes no 64-bit sizes below `mdat`).
fn box_size(buf: &[u8], at: usize) -> Result<usize, MediaError> {
    let bytes = buf
        .get(at..at.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or_else(|| invalid("fMP4 box", at, "no box header here"))?;
    usize::try_from(u32::from_be_bytes(bytes))
        .map_err(|_| invalid("fMP4 box", at, "size does not fit in memory"))
}

fn set_box_size(buf: &mut [u8], at: usize, size: usize) -> Result<(), MediaError> {
    let size = u32::try_from(size).map_err(|_| {
        invalid(
            "fMP4 box",
            at,
            format!("{size} bytes exceed a 32-bit box size"),
        )
    })?;
    let slot = buf
        .get_mut(at..at.saturating_add(4))
        .ok_or_else(|| invalid("fMP4 box", at, "no box header here"))?;
    slot.copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// The first box of type `kind` among the boxes that fill `within`, header included.
fn find_box(buf: &[u8], within: Range<usize>, kind: &[u8; 4]) -> Result<Range<usize>, MediaError> {
    let mut pos = within.start;
    while pos.saturating_add(8) <= within.end {
        let size = box_size(buf, pos)?;
        let end = pos.saturating_add(size);
        if size < 8 || end > within.end {
            return Err(invalid(
                "fMP4 box",
                pos,
                format!("size {size} out of range"),
            ));
        }
        if buf.get(pos + 4..pos + 8) == Some(kind.as_slice()) {
            return Ok(pos..end);
        }
        pos = end;
    }
    Err(invalid(
        "fMP4 box",
        within.start,
        format!("no {} box", String::from_utf8_lossy(kind)),
    ))
}

/// Checks that `bytes` is a sequence of complete boxes.
fn check_boxes(bytes: &[u8]) -> Result<(), MediaError> {
    const WHAT: &str = "extra traf box";
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let truncated = |needed: usize| MediaError::Truncated {
            what: WHAT,
            offset: pos,
            needed,
            available: rest.len(),
        };
        let word = |at: usize| {
            rest.get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
        };
        let size32 = word(0).ok_or_else(|| truncated(8))?;
        if rest.len() < 8 {
            return Err(truncated(8));
        }
        let (size, header) = match size32 {
            0 => {
                return Err(invalid(
                    WHAT,
                    pos,
                    "size 0 (to the end of the file) is not allowed inside traf",
                ))
            }
            1 => {
                let (Some(high), Some(low)) = (word(8), word(12)) else {
                    return Err(truncated(16));
                };
                ((u64::from(high) << 32) | u64::from(low), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(invalid(
                WHAT,
                pos,
                format!("size {size} is smaller than its header"),
            ));
        }
        let size = usize::try_from(size).map_err(|_| truncated(usize::MAX))?;
        if size > rest.len() {
            return Err(truncated(size));
        }
        pos += size;
    }
    Ok(())
}

/// The `mdat` header for `payload_len` bytes: 8 bytes, or 16 with a 64-bit size.
fn mdat_header(payload_len: u64) -> Vec<u8> {
    let mut header = Vec::with_capacity(16);
    match u32::try_from(payload_len + 8) {
        Ok(size) => {
            header.extend_from_slice(&size.to_be_bytes());
            header.extend_from_slice(b"mdat");
        }
        Err(_) => {
            header.extend_from_slice(&1u32.to_be_bytes());
            header.extend_from_slice(b"mdat");
            header.extend_from_slice(&(payload_len + 16).to_be_bytes());
        }
    }
    header
}

/// Encodes `moof` and appends `extra_traf_boxes` to the end of its (only) `traf`.
fn encode_moof(moof: &Moof, extra_traf_boxes: &[u8]) -> Result<Vec<u8>, MediaError> {
    let mut buf = Vec::new();
    moof.encode(&mut buf).map_err(atom_error("moof"))?;
    if extra_traf_boxes.is_empty() {
        return Ok(buf);
    }
    let traf = find_box(&buf, 8..buf.len(), b"traf")?;
    if traf.end != buf.len() {
        return Err(invalid(
            WHAT_FRAGMENT,
            traf.start,
            "traf is not the last box of moof",
        ));
    }
    let grow = |size: usize| {
        size.checked_add(extra_traf_boxes.len())
            .ok_or_else(|| invalid(WHAT_FRAGMENT, 0, "moof size out of range"))
    };
    let traf_size = grow(box_size(&buf, traf.start)?)?;
    set_box_size(&mut buf, traf.start, traf_size)?;
    let moof_size = grow(box_size(&buf, 0)?)?;
    set_box_size(&mut buf, 0, moof_size)?;
    buf.extend_from_slice(extra_traf_boxes);
    Ok(buf)
}

fn write_fragment_to(
    track_id: u32,
    sequence_number: u32,
    base_media_decode_time: u64,
    samples: &[FragmentSample],
    payloads: &mut dyn Iterator<Item = &[u8]>,
    options: &FragmentOptions<'_>,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    check_track_id(WHAT_FRAGMENT, track_id)?;
    if samples.is_empty() {
        return Err(invalid(
            WHAT_FRAGMENT,
            0,
            "no samples; a CMAF fragment holds at least one",
        ));
    }
    if u32::try_from(samples.len()).is_err() {
        return Err(invalid(
            WHAT_FRAGMENT,
            0,
            format!("{} samples exceed trun's 32-bit count", samples.len()),
        ));
    }
    check_boxes(options.extra_traf_boxes)?;

    // Every payload is checked before anything is written. One more than needed is taken
    // to notice a surplus without draining an endless iterator.
    let payloads: Vec<&[u8]> = payloads.take(samples.len() + 1).collect();
    if payloads.len() != samples.len() {
        let reason = if payloads.len() > samples.len() {
            format!("more payloads than the {} samples", samples.len())
        } else {
            format!("{} payloads for {} samples", payloads.len(), samples.len())
        };
        return Err(invalid(WHAT_FRAGMENT, 0, reason));
    }
    let mut payload_len = 0u64;
    for (i, (sample, payload)) in samples.iter().zip(&payloads).enumerate() {
        if u32::try_from(payload.len()) != Ok(sample.size) {
            return Err(invalid(
                WHAT_FRAGMENT,
                0,
                format!(
                    "sample {i}: payload of {} bytes, size says {}",
                    payload.len(),
                    sample.size
                ),
            ));
        }
        payload_len += u64::from(sample.size);
    }
    let mdat_header = mdat_header(payload_len);

    let with_cts = samples.iter().any(|s| s.composition_offset != 0);
    let entries = samples
        .iter()
        .map(|s| TrunEntry {
            duration: Some(s.duration),
            size: Some(s.size),
            flags: Some(s.flags()),
            cts: with_cts.then_some(i64::from(s.composition_offset)),
        })
        .collect::<Vec<_>>();
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number },
        traf: vec![Traf {
            tfhd: Tfhd {
                track_id,
                default_base_is_moof: true,
                ..Default::default()
            },
            tfdt: options.tfdt.then_some(Tfdt {
                base_media_decode_time,
            }),
            trun: vec![Trun {
                data_offset: Some(0),
                samples: TrunSamples::Explicit(entries),
            }],
            ..Default::default()
        }],
    };
    // data_offset has a fixed width, so a first encoding gives the size of moof.
    let moof_len = encode_moof(&moof, options.extra_traf_boxes)?.len();
    let data_offset = moof_len
        .checked_add(mdat_header.len())
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| invalid(WHAT_FRAGMENT, 0, "moof too large for trun's data_offset"))?;
    for traf in &mut moof.traf {
        for trun in &mut traf.trun {
            trun.data_offset = Some(data_offset);
        }
    }
    let moof_bytes = encode_moof(&moof, options.extra_traf_boxes)?;
    if moof_bytes.len() != moof_len {
        return Err(invalid(
            WHAT_FRAGMENT,
            0,
            "moof changed size when data_offset was set",
        ));
    }

    let total = usize::try_from(payload_len)
        .ok()
        .and_then(|n| n.checked_add(moof_len + mdat_header.len() + 32))
        .ok_or_else(|| invalid(WHAT_FRAGMENT, 0, "fragment does not fit in memory"))?;
    out.reserve(total);
    if options.styp {
        Styp {
            major_brand: FourCC::new(&SEGMENT_MAJOR_BRAND),
            minor_version: 0,
            compatible_brands: SEGMENT_COMPATIBLE_BRANDS.iter().map(FourCC::new).collect(),
        }
        .encode(out)
        .map_err(atom_error("styp"))?;
    }
    out.extend_from_slice(&moof_bytes);
    out.extend_from_slice(&mdat_header);
    for payload in payloads {
        out.extend_from_slice(payload);
    }
    Ok(())
}
