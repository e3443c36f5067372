//! Fragmented MP4 (CMAF, fMP4 HLS) demuxer: an init segment, then media segments, to tracks
//! and frames. Sans-IO: the caller hands over whole segments as bytes.
//!
//! # Init segment ([`FragmentDemuxer::from_init`])
//!
//! `ftyp` (optional) and `moov`, decoded with `mp4-atom`. `moov` must have `mvex`: a file
//! whose samples are in the `moov` sample tables is not fragmented and has nothing to read
//! here. For each `trak` the first sample entry decides:
//!
//! - `avc1`/`avc3`: H.264, from the `avcC` record ([`AvcConfig::parse`]); the record is
//!   `mp4-atom`'s re-encoding of the box, which is the received bytes for every record whose
//!   reserved bits are set as ISO/IEC 14496-15 says (FFmpeg's are).
//! - `mp4a` with MPEG-4 or MPEG-2 AAC in its `esds`: AAC, from the DecoderSpecificInfo
//!   ([`AacConfig::parse`]).
//! - `hvc1`/`hev1`: H.265, from the `hvcC` record ([`HevcConfig::parse`]), re-encoded the same
//!   way; a `hev1` record must still hold its parameter sets.
//! - `encv`/`enca`: encrypted; the whole init segment is refused.
//! - anything else: skipped, and described in [`FragmentDemuxer::skipped_tracks`].
//!
//! The first video and the first audio track are used. Each keeps its `mdhd` timescale, its
//! `trex` defaults and the offset of its edit list (below).
//!
//! # Media segments ([`FragmentDemuxer::push_segment`])
//!
//! Top-level boxes: any number of `moof`s with their sample data in `mdat`s; `styp`, `sidx`,
//! `prft`, `emsg`, `free` and other boxes are skipped. In each `traf` of a used track:
//! `tfhd` (`base_data_offset`, `default-base-is-moof`, sample defaults over the `trex`
//! ones), `tfdt` (without it, the fragment starts where the track's previous one ended) and
//! every `trun` (data offset, first-sample flags, per-sample duration, size, flags and
//! composition offset, unsigned in version 0 and signed in version 1). Every sample's bytes
//! must lie inside an `mdat` of the segment. A `traf` with `senc` (Common Encryption) is
//! refused.
//!
//! Frames come out interleaved by decode time across the two tracks, each track in its own
//! decode order. Video is on the 90 kHz clock, audio on its sample rate's. Video payloads are
//! the samples as stored: length-prefixed NAL units with the `avcC`'s length size. A sample
//! is a sync sample unless its flags set `sample_is_non_sync_sample`; every audio sample is
//! one. Samples of zero bytes advance the clock but give no frame.
//!
//! # Edit lists
//!
//! A track's `elst` shifts its presentation: leading empty edits delay it, the first media
//! edit's `media_time` is where it starts. Both are folded into one offset added to every
//! decode and presentation time of the track (`empty duration - media_time`), so video and
//! audio keep the relative timing a player gives them (FFmpeg's HLS muxer delays AAC by an
//! empty edit, for one). Later edits and rates are ignored.
//!
//! # Robustness
//!
//! Nothing panics on any input and nothing is allocated in proportion to a count read from
//! the input: a segment may hold at most one sample per byte, and its samples together at most
//! the bytes of its `mdat`s (so overlapping offsets cannot make it copy out more than it
//! holds). [`FragmentDemuxer::push_segment`] either appends every frame of the segment or
//! returns an error and changes nothing.

use std::ops::Range;

use bytes::Bytes;
use mp4_atom::{Codec, Decode, Encode, FourCC, Moof, Moov, Traf, Trak};

use crate::codec::{AacConfig, AvcConfig, HevcConfig, TrackInfo};
use crate::error::MediaError;
use crate::frame::{Frame, TrackKind};
use crate::time::{MediaTime, Timescale};

#[cfg(test)]
#[path = "demux_tests.rs"]
mod tests;

/// `sample_is_non_sync_sample` in ISO/IEC 14496-12 sample flags.
pub const NON_SYNC_SAMPLE_FLAG: u32 = 0x0001_0000;

const WHAT_INIT: &str = "fMP4 init segment";
const WHAT_SEGMENT: &str = "fMP4 media segment";

/// Reads the frames of fragmented MP4 media segments that follow one init segment.
///
/// Keeps, per track, where its last fragment ended, for fragments without `tfdt`; call
/// [`FragmentDemuxer::reset`] at a discontinuity.
#[derive(Clone, Debug)]
pub struct FragmentDemuxer {
    video: Option<TrackState>,
    audio: Option<TrackState>,
    skipped: Vec<String>,
}

#[derive(Clone, Debug)]
struct TrackState {
    track_id: u32,
    info: TrackInfo,
    /// The `mdhd` timescale, which sample times are in.
    media_timescale: Timescale,
    defaults: SampleDefaults,
    /// Added to every decode and presentation time, in the media timescale (edit list).
    edit_offset: i64,
    /// Decode time (media timescale, before the edit offset) where the last fragment ended.
    next_decode_time: Option<u64>,
}

impl TrackState {
    fn slot(&self) -> usize {
        match self.info.kind() {
            TrackKind::Video => 0,
            TrackKind::Audio => 1,
        }
    }
}

/// Sample defaults of `trex`, which `tfhd` overrides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SampleDefaults {
    description_index: u32,
    duration: u32,
    size: u32,
    flags: u32,
}

impl FragmentDemuxer {
    /// Reads an init segment (`ftyp` and `moov`).
    ///
    /// Errors: no `moov`, a `moov` `mp4-atom` cannot decode, no `mvex`, an encrypted sample
    /// entry, a supported codec whose configuration does not parse, two used tracks with
    /// one track_ID, or no track this demuxer can read (the error lists what was skipped).
    pub fn from_init(init: &[u8]) -> Result<FragmentDemuxer, MediaError> {
        let mut moov_box = None;
        for found in top_level_boxes(init, WHAT_INIT) {
            let found = found?;
            if &found.kind == b"moov" && moov_box.is_none() {
                moov_box = Some(found);
            }
        }
        let moov_box = moov_box.ok_or_else(|| invalid(WHAT_INIT, 0, "no moov box"))?;
        let mut bytes = init.get(moov_box.range()).unwrap_or_default();
        let moov = Moov::decode(&mut bytes)
            .map_err(|e| invalid(WHAT_INIT, moov_box.start, format!("moov: {e}")))?;
        let mvex = moov.mvex.as_ref().ok_or_else(|| {
            invalid(
                WHAT_INIT,
                moov_box.start,
                "moov has no mvex: not a fragmented MP4 init segment",
            )
        })?;

        let mut demuxer = FragmentDemuxer {
            video: None,
            audio: None,
            skipped: Vec::new(),
        };
        for trak in &moov.trak {
            let track_id = trak.tkhd.track_id;
            let handler = fourcc_text(trak.mdia.hdlr.handler.as_ref());
            let describe = |why: &str| format!("track {track_id} ({handler}): {why}");
            let info = match track_info(trak)? {
                TrackOutcome::Use(info) => info,
                TrackOutcome::Skip(why) => {
                    demuxer.skipped.push(describe(&why));
                    continue;
                }
            };
            let slot = match info.kind() {
                TrackKind::Video => &mut demuxer.video,
                TrackKind::Audio => &mut demuxer.audio,
            };
            if slot.is_some() {
                demuxer.skipped.push(describe(&format!(
                    "{} ({}), a second {} track",
                    sample_entry_name(trak),
                    info.codec.codec_string(),
                    if info.kind() == TrackKind::Video {
                        "video"
                    } else {
                        "audio"
                    }
                )));
                continue;
            }
            let media_timescale = Timescale::new(trak.mdia.mdhd.timescale).ok_or_else(|| {
                invalid(
                    WHAT_INIT,
                    moov_box.start,
                    format!("track {track_id}: mdhd timescale 0"),
                )
            })?;
            let trex = mvex.trex.iter().find(|t| t.track_id == track_id);
            let defaults = trex.map_or(
                SampleDefaults {
                    description_index: 1,
                    ..SampleDefaults::default()
                },
                |t| SampleDefaults {
                    description_index: t.default_sample_description_index,
                    duration: t.default_sample_duration,
                    size: t.default_sample_size,
                    flags: t.default_sample_flags,
                },
            );
            *slot = Some(TrackState {
                track_id,
                info,
                media_timescale,
                defaults,
                edit_offset: edit_offset(trak, moov.mvhd.timescale, media_timescale),
                next_decode_time: None,
            });
        }
        if let (Some(video), Some(audio)) = (&demuxer.video, &demuxer.audio) {
            if video.track_id == audio.track_id {
                return Err(invalid(
                    WHAT_INIT,
                    moov_box.start,
                    format!(
                        "the video and the audio track both have track_ID {}",
                        video.track_id
                    ),
                ));
            }
        }
        if demuxer.video.is_none() && demuxer.audio.is_none() {
            let detail = if demuxer.skipped.is_empty() {
                "the init segment has no track".to_string()
            } else {
                format!(
                    "no H.264, H.265 or AAC track: {}",
                    demuxer.skipped.join("; ")
                )
            };
            return Err(MediaError::Unsupported {
                what: "fMP4 tracks",
                detail,
            });
        }
        Ok(demuxer)
    }

    /// The tracks frames come on: video first, then audio, each when there is one.
    pub fn tracks(&self) -> Vec<TrackInfo> {
        self.states().map(|t| t.info.clone()).collect()
    }

    /// The tracks of the init segment that are not read, each described in words (track_ID,
    /// handler, sample entry or why it is refused).
    pub fn skipped_tracks(&self) -> &[String] {
        &self.skipped
    }

    /// Forgets where each track's last fragment ended (a fragment without `tfdt` then starts
    /// at 0). For a discontinuity.
    pub fn reset(&mut self) {
        for track in [&mut self.video, &mut self.audio].into_iter().flatten() {
            track.next_decode_time = None;
        }
    }

    /// Reads one media segment (or any run of whole top-level boxes with its `moof`s and
    /// `mdat`s) and appends its frames to `out`, interleaved by decode time. Returns how many
    /// were appended.
    ///
    /// On error `out` and the demuxer are left as they were. Errors: a box that runs past the
    /// end, no `moof`, a `moof` `mp4-atom` cannot decode, encryption (`senc`), a sample
    /// description other than the first, sample data outside every `mdat`, times out of range,
    /// more samples than bytes, samples adding up to more bytes than the `mdat`s hold.
    pub fn push_segment(&mut self, data: &[u8], out: &mut Vec<Frame>) -> Result<usize, MediaError> {
        let mut boxes = Vec::new();
        for found in top_level_boxes(data, WHAT_SEGMENT) {
            boxes.push(found?);
        }
        // mdat payloads, in file order and disjoint: sorted for a binary search.
        let mdats: Vec<Range<usize>> = boxes
            .iter()
            .filter(|b| &b.kind == b"mdat")
            .map(|b| b.body..b.end)
            .collect();
        let mut next = [
            self.video.as_ref().and_then(|t| t.next_decode_time),
            self.audio.as_ref().and_then(|t| t.next_decode_time),
        ];
        let mut frames: [Vec<Frame>; 2] = [Vec::new(), Vec::new()];
        let mut reader = SegmentReader {
            data,
            mdats: &mdats,
            budget: data.len(),
            bytes_left: mdats.iter().map(|m| m.len()).sum(),
        };
        let mut moofs = 0usize;
        for found in boxes.iter().filter(|b| &b.kind == b"moof") {
            moofs += 1;
            let mut bytes = data.get(found.range()).unwrap_or_default();
            let moof = Moof::decode(&mut bytes)
                .map_err(|e| invalid(WHAT_SEGMENT, found.start, format!("moof: {e}")))?;
            let mut implicit_base = ImplicitBase::Moof;
            for traf in &moof.traf {
                if traf.senc.is_some() {
                    return Err(encrypted(format!(
                        "the traf of track {} at offset {} has a senc box (Common Encryption)",
                        traf.tfhd.track_id, found.start
                    )));
                }
                let Some(track) = self.track(traf.tfhd.track_id) else {
                    // A track that is not read: where its data ends is not worked out.
                    implicit_base = ImplicitBase::Unknown;
                    continue;
                };
                let slot = track.slot();
                let (end_time, data_end) = reader.read_traf(
                    track,
                    traf,
                    found.start,
                    implicit_base,
                    next[slot],
                    &mut frames[slot],
                )?;
                next[slot] = Some(end_time);
                implicit_base = ImplicitBase::After(data_end);
            }
        }
        if moofs == 0 {
            return Err(invalid(WHAT_SEGMENT, 0, "no moof box"));
        }

        let [video, audio] = frames;
        let appended = video.len() + audio.len();
        out.reserve(appended);
        merge_by_dts(video, audio, out);
        if let Some(track) = &mut self.video {
            track.next_decode_time = next[0];
        }
        if let Some(track) = &mut self.audio {
            track.next_decode_time = next[1];
        }
        Ok(appended)
    }

    fn states(&self) -> impl Iterator<Item = &TrackState> {
        [&self.video, &self.audio].into_iter().flatten()
    }

    fn track(&self, track_id: u32) -> Option<&TrackState> {
        self.states().find(|t| t.track_id == track_id)
    }
}

/// Where a `traf` without `base_data_offset` and `default-base-is-moof` has its data base.
#[derive(Clone, Copy, Debug)]
enum ImplicitBase {
    /// The first `traf` of a `moof`: the `moof`'s first byte.
    Moof,
    /// After the data of the previous `traf`.
    After(usize),
    /// After the data of a `traf` that was not read.
    Unknown,
}

/// The media segment being read and how many samples it may still hold.
struct SegmentReader<'a> {
    data: &'a [u8],
    mdats: &'a [Range<usize>],
    /// Samples left: at most one per byte of the segment.
    budget: usize,
    /// Sample bytes left: samples do not overlap, so together they fit in the `mdat`s (which
    /// bounds what is copied out, whatever the offsets say).
    bytes_left: usize,
}

impl<'a> SegmentReader<'a> {
    /// Reads the samples of one `traf` into `frames`. Returns the decode time after its last
    /// sample and the offset after its last sample's data.
    fn read_traf(
        &mut self,
        track: &TrackState,
        traf: &Traf,
        moof_start: usize,
        implicit_base: ImplicitBase,
        continued_from: Option<u64>,
        frames: &mut Vec<Frame>,
    ) -> Result<(u64, usize), MediaError> {
        let tfhd = &traf.tfhd;
        let description_index = tfhd
            .sample_description_index
            .unwrap_or(track.defaults.description_index);
        if description_index > 1 {
            return Err(MediaError::Unsupported {
                what: "fMP4 sample description",
                detail: format!(
                    "track {} uses sample description {description_index}; only the first is read",
                    track.track_id
                ),
            });
        }
        let default_duration = tfhd
            .default_sample_duration
            .unwrap_or(track.defaults.duration);
        let default_size = tfhd.default_sample_size.unwrap_or(track.defaults.size);
        let default_flags = tfhd.default_sample_flags.unwrap_or(track.defaults.flags);
        let base = match tfhd.base_data_offset {
            Some(offset) => usize::try_from(offset)
                .ok()
                .filter(|&o| o <= self.data.len())
                .ok_or_else(|| {
                    invalid(
                        WHAT_SEGMENT,
                        moof_start,
                        format!(
                            "track {}: base_data_offset {offset} is past the end of the segment",
                            track.track_id
                        ),
                    )
                })?,
            None if tfhd.default_base_is_moof => moof_start,
            None => match implicit_base {
                ImplicitBase::Moof => moof_start,
                ImplicitBase::After(end) => end,
                ImplicitBase::Unknown => {
                    return Err(MediaError::Unsupported {
                        what: "fMP4 data offsets",
                        detail: format!(
                            "the data of track {} follows that of a track that is not read \
                             (no base_data_offset, no default-base-is-moof)",
                            track.track_id
                        ),
                    })
                }
            },
        };
        let mut decode_time = traf
            .tfdt
            .as_ref()
            .map(|t| t.base_media_decode_time)
            .or(continued_from)
            .unwrap_or(0);
        let mut position = base;
        let video = track.info.kind() == TrackKind::Video;
        for trun in &traf.trun {
            if let Some(offset) = trun.data_offset {
                position = i128::try_from(base)
                    .ok()
                    .map(|b| b + i128::from(offset))
                    .and_then(|p| usize::try_from(p).ok())
                    .ok_or_else(|| {
                        invalid(
                            WHAT_SEGMENT,
                            moof_start,
                            format!(
                                "track {}: trun data_offset {offset} points before the segment",
                                track.track_id
                            ),
                        )
                    })?;
            }
            let count = trun.samples.len();
            if count > self.budget {
                return Err(invalid(
                    WHAT_SEGMENT,
                    moof_start,
                    format!(
                        "track {}: a trun of {count} samples, more than the segment's bytes left \
                         ({})",
                        track.track_id, self.budget
                    ),
                ));
            }
            self.budget -= count;
            frames.reserve(count.min(self.data.len() / 8 + 1));
            for entry in trun.samples.iter() {
                let duration = entry.duration.unwrap_or(default_duration);
                let size = entry.size.unwrap_or(default_size);
                let flags = entry.flags.unwrap_or(default_flags);
                let composition_offset = entry.cts.unwrap_or(0);
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                let end = position.saturating_add(size);
                if size > 0 {
                    let payload = self.sample_data(position..end).ok_or_else(|| {
                        invalid(
                            WHAT_SEGMENT,
                            position,
                            format!(
                                "track {}: a sample of {size} bytes at offset {position} is not \
                                 inside an mdat",
                                track.track_id
                            ),
                        )
                    })?;
                    self.bytes_left = self.bytes_left.checked_sub(size).ok_or_else(|| {
                        invalid(
                            WHAT_SEGMENT,
                            position,
                            format!(
                                "track {}: the samples add up to more bytes than the segment's \
                                 mdat boxes hold",
                                track.track_id
                            ),
                        )
                    })?;
                    let dts = i128::from(decode_time) + i128::from(track.edit_offset);
                    let pts = dts + i128::from(composition_offset);
                    frames.push(Frame {
                        kind: track.info.kind(),
                        dts: output_time(track, dts, moof_start)?,
                        pts: output_time(track, pts, moof_start)?,
                        keyframe: !video || flags & NON_SYNC_SAMPLE_FLAG == 0,
                        data: Bytes::copy_from_slice(payload),
                    });
                }
                position = end;
                decode_time = decode_time
                    .checked_add(u64::from(duration))
                    .ok_or_else(|| {
                        invalid(
                            WHAT_SEGMENT,
                            moof_start,
                            format!("track {}: decode time overflows", track.track_id),
                        )
                    })?;
            }
        }
        Ok((decode_time, position))
    }

    /// The bytes at `range` when they lie inside one `mdat` payload.
    fn sample_data(&self, range: Range<usize>) -> Option<&'a [u8]> {
        // The last mdat starting at or before the range.
        let index = self
            .mdats
            .partition_point(|m| m.start <= range.start)
            .checked_sub(1)?;
        let mdat = self.mdats.get(index)?;
        if range.end > mdat.end {
            return None;
        }
        self.data.get(range)
    }
}

/// A time in a track's media timescale (edit offset applied) on the track's output clock.
fn output_time(track: &TrackState, ticks: i128, offset: usize) -> Result<MediaTime, MediaError> {
    let ticks = i64::try_from(ticks).map_err(|_| {
        invalid(
            WHAT_SEGMENT,
            offset,
            format!("track {}: time {ticks} out of range", track.track_id),
        )
    })?;
    Ok(MediaTime::new(ticks, track.media_timescale).rescale(track.info.timescale))
}

/// Appends `video` and `audio` to `out` by decode time, each in its own order; video first
/// on a tie.
fn merge_by_dts(video: Vec<Frame>, audio: Vec<Frame>, out: &mut Vec<Frame>) {
    let mut video = video.into_iter().peekable();
    let mut audio = audio.into_iter().peekable();
    loop {
        let take_video = match (video.peek(), audio.peek()) {
            (Some(v), Some(a)) => v.dts <= a.dts,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return,
        };
        out.extend(if take_video {
            video.next()
        } else {
            audio.next()
        });
    }
}

/// What [`track_info`] makes of a `trak`.
enum TrackOutcome {
    Use(TrackInfo),
    /// Not read, and why.
    Skip(String),
}

/// The track a `trak` gives, or why it is skipped. Errors: encryption, and a supported codec
/// whose configuration is broken.
fn track_info(trak: &Trak) -> Result<TrackOutcome, MediaError> {
    let track_id = trak.tkhd.track_id;
    let Some(codec) = trak.mdia.minf.stbl.stsd.codecs.first() else {
        return Ok(TrackOutcome::Skip("no sample entry".to_string()));
    };
    let built = match codec {
        Codec::Avc1(mp4_atom::Avc1 { avcc, .. }) | Codec::Avc3(mp4_atom::Avc3 { avcc, .. }) => {
            avc_track(avcc, track_id)
        }
        Codec::Hvc1(mp4_atom::Hvc1 { hvcc, .. }) | Codec::Hev1(mp4_atom::Hev1 { hvcc, .. }) => {
            hevc_track(hvcc, track_id)
        }
        Codec::Mp4a(mp4a) => aac_track(mp4a, track_id),
        Codec::Unknown(kind, _)
            if kind == &FourCC::new(b"encv") || kind == &FourCC::new(b"enca") =>
        {
            return Err(encrypted(format!(
                "track {track_id} has the sample entry {} (Common Encryption)",
                fourcc_text(kind.as_ref())
            )));
        }
        _ => return Ok(TrackOutcome::Skip(sample_entry_name(trak))),
    };
    match built {
        Ok(info) => Ok(TrackOutcome::Use(info)),
        Err(MediaError::Unsupported { what, detail }) => Ok(TrackOutcome::Skip(format!(
            "{}: unsupported {what}: {detail}",
            sample_entry_name(trak)
        ))),
        Err(e) => Err(e),
    }
}

/// An H.264 track from its `avcC`.
fn avc_track(avcc: &mp4_atom::Avcc, track_id: u32) -> Result<TrackInfo, MediaError> {
    let record = config_record(avcc, "avcC", track_id)?;
    let config = AvcConfig::parse(record).map_err(|e| in_track(e, track_id))?;
    Ok(TrackInfo::video(config))
}

/// An H.265 track from its `hvcC` (in `hvc1`, or in `hev1`, whose record must still hold the
/// parameter sets: the track's configuration comes from them).
fn hevc_track(hvcc: &mp4_atom::Hvcc, track_id: u32) -> Result<TrackInfo, MediaError> {
    let record = config_record(hvcc, "hvcC", track_id)?;
    let config = HevcConfig::parse(record).map_err(|e| in_track(e, track_id))?;
    Ok(TrackInfo::hevc(config))
}

/// The body of a decoder configuration box as `mp4-atom` encodes it (its 8-byte header cut).
fn config_record(atom: &impl Encode, name: &str, track_id: u32) -> Result<Bytes, MediaError> {
    let mut encoded = Vec::new();
    atom.encode(&mut encoded).map_err(|e| {
        invalid(
            WHAT_INIT,
            0,
            format!("track {track_id}: {name} does not re-encode: {e}"),
        )
    })?;
    Ok(Bytes::from(encoded).slice(8..))
}

/// An AAC track from the `esds` of its `mp4a`; another MPEG-4 audio codec is unsupported.
fn aac_track(mp4a: &mp4_atom::Mp4a, track_id: u32) -> Result<TrackInfo, MediaError> {
    let config = &mp4a.esds.es_desc.dec_config;
    // MPEG-4 Audio, and the MPEG-2 AAC Main, LC and SSR profiles (ISO/IEC 14496-1 table 5).
    if !matches!(config.object_type_indication, 0x40 | 0x66 | 0x67 | 0x68) {
        return Err(MediaError::Unsupported {
            what: "fMP4 audio codec",
            detail: format!(
                "mp4a with objectTypeIndication 0x{:02X}, not AAC",
                config.object_type_indication
            ),
        });
    }
    let asc = config
        .dec_specific
        .as_ref()
        .map(|d| d.raw.as_slice())
        .filter(|raw| !raw.is_empty())
        .ok_or_else(|| {
            invalid(
                WHAT_INIT,
                0,
                format!("track {track_id}: the esds has no AudioSpecificConfig"),
            )
        })?;
    let config =
        AacConfig::parse(Bytes::copy_from_slice(asc)).map_err(|e| in_track(e, track_id))?;
    if config.sample_rate == 0 {
        return Err(invalid(
            WHAT_INIT,
            0,
            format!("track {track_id}: AudioSpecificConfig with sample rate 0"),
        ));
    }
    Ok(TrackInfo::audio(config))
}

/// The offset a track's edit list adds to its times, in its media timescale: the leading
/// empty edits' duration minus the first media edit's `media_time`. 0 without an edit list
/// or without a media edit.
fn edit_offset(trak: &Trak, movie_timescale: u32, media_timescale: Timescale) -> i64 {
    let Some(elst) = trak.edts.as_ref().and_then(|e| e.elst.as_ref()) else {
        return 0;
    };
    let mut empty = 0u128;
    for entry in &elst.entries {
        match entry.media_time {
            None => empty = empty.saturating_add(u128::from(entry.segment_duration)),
            Some(media_time) => {
                let empty_media = if movie_timescale == 0 {
                    0
                } else {
                    // Rounded to nearest; saturates far beyond any real duration.
                    let num = empty.saturating_mul(u128::from(media_timescale.get()));
                    let den = u128::from(movie_timescale);
                    (num.saturating_add(den / 2) / den).min(i128::MAX as u128) as i128
                };
                let offset = empty_media.saturating_sub(i128::from(media_time));
                return offset.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
            }
        }
    }
    0
}

/// The first sample entry's four-character code, for a skipped track.
fn sample_entry_name(trak: &Trak) -> String {
    let Some(codec) = trak.mdia.minf.stbl.stsd.codecs.first() else {
        return "no sample entry".to_string();
    };
    let kind = match codec {
        Codec::Unknown(kind, _) => Some(fourcc_text(kind.as_ref())),
        other => {
            let mut encoded = Vec::new();
            other
                .encode(&mut encoded)
                .ok()
                .and_then(|()| encoded.get(4..8).map(fourcc_text))
        }
    };
    match kind {
        Some(kind) => format!("sample entry {kind}"),
        None => "an unknown sample entry".to_string(),
    }
}

/// A four-character code as printable text.
fn fourcc_text(kind: &[u8]) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// One top-level box: its type and where it and its body are.
#[derive(Clone, Copy, Debug)]
struct RawBox {
    kind: [u8; 4],
    start: usize,
    /// Offset of the first byte after the header.
    body: usize,
    end: usize,
}

impl RawBox {
    fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// The top-level boxes of `data`, each checked to lie within it; stops after the first error.
fn top_level_boxes<'a>(
    data: &'a [u8],
    what: &'static str,
) -> impl Iterator<Item = Result<RawBox, MediaError>> + 'a {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= data.len() {
            return None;
        }
        let found = read_box(data, pos, what);
        match &found {
            Ok(b) => pos = b.end,
            Err(_) => failed = true,
        }
        Some(found)
    })
}

/// The box whose header starts at `pos`.
fn read_box(data: &[u8], pos: usize, what: &'static str) -> Result<RawBox, MediaError> {
    let rest = data.get(pos..).unwrap_or_default();
    let truncated = |needed: usize| MediaError::Truncated {
        what,
        offset: pos,
        needed,
        available: rest.len(),
    };
    let word = |at: usize| {
        rest.get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
    };
    let (Some(size), Some(kind)) = (word(0), word(4)) else {
        return Err(truncated(8));
    };
    let (size, header_len) = match u32::from_be_bytes(size) {
        0 => (rest.len() as u64, 8u64),
        1 => {
            let (Some(high), Some(low)) = (word(8), word(12)) else {
                return Err(truncated(16));
            };
            (
                (u64::from(u32::from_be_bytes(high)) << 32) | u64::from(u32::from_be_bytes(low)),
                16,
            )
        }
        n => (u64::from(n), 8),
    };
    if size < header_len {
        return Err(invalid(
            what,
            pos,
            format!(
                "{} box of size {size}, smaller than its {header_len}-byte header",
                fourcc_text(&kind)
            ),
        ));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > rest.len() {
        return Err(truncated(size));
    }
    Ok(RawBox {
        kind,
        start: pos,
        body: pos + header_len as usize,
        end: pos + size,
    })
}

fn invalid(what: &'static str, offset: usize, reason: impl Into<String>) -> MediaError {
    MediaError::Invalid {
        what,
        offset,
        reason: reason.into(),
    }
}

fn encrypted(detail: String) -> MediaError {
    MediaError::Unsupported {
        what: "encrypted fMP4",
        detail,
    }
}

/// A codec configuration error, with the track it belongs to.
fn in_track(e: MediaError, track_id: u32) -> MediaError {
    match e {
        MediaError::Invalid {
            what,
            offset,
            reason,
        } => MediaError::Invalid {
            what,
            offset,
            reason: format!("track {track_id}: {reason}"),
        },
        MediaError::Unsupported { what, detail } => MediaError::Unsupported {
            what,
            detail: format!("track {track_id}: {detail}"),
        },
        other => other,
    }
}
