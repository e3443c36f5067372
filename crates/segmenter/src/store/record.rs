//! The index and summary file format: a log of checksummed records, one per track
//! configuration and one per sealed segment (its full record, or its summary).
//!
//! ```text
//! record  = tag:u8  body_len:u32le  body  crc32(tag, body_len, body):u32le
//! tag 1   = track:   id:u32 codec:u8 (1 AVC, 2 AAC, 3 HEVC) timescale:u32
//!                    config (avcC, ASC or hvcC: the rest of the body)
//! tag 2   = segment: sequence:u64 start:i64 duration:i64 flags:u8 (bit 0: discontinuity)
//!                    discontinuity_sequence:u64
//!                    track_count:u8, then per track:
//!                      track_id:u32 first_dts:i64 sample_count:u32, then per sample:
//!                        file:u32 offset:u64 len:u32 duration:u32 composition_offset:i32 flags:u8
//! tag 3   = summary: sequence:u64 start:i64 duration:i64 flags:u8 (bit 0: discontinuity)
//!                    discontinuity_sequence:u64 idx_offset:u64 idx_len:u32
//!                    track_count:u8, then per track:
//!                      track_id:u32 first_dts:i64 duration:u64 last_duration:u32
//!                      longest_duration:u32 count:u32 bytes:u64
//! tag 4   = configs: since:i64 track_count:u8 (at most one video and one audio), then per
//!                    track: codec:u8 (as in tag 1) timescale:u32 config_len:u32 config
//! ```
//!
//! Index files (`.idx`) hold track and segment records. Summary files (`.sum`, the catch-up
//! index read by [`super::archive::Archive`]) hold track and summary records: a summary is what
//! a manifest needs of a segment (its [`TrackSummary`] per track) and where the segment's full
//! record lies in the index file of the same id (`idx_offset`, `idx_len`: the whole record,
//! header and checksum included). Track ids in a summary file are those of its index file. A
//! summary is written only after the segment record it points at. A summary is corrupt when
//! `idx_len` cannot be a record's length or a track's aggregates cannot be of the samples of
//! one segment record (more samples than fit, the last longer than the longest, ...).
//!
//! The configuration log (`configs.log`, one per rendition directory) holds only configs
//! records: the video and audio configurations in effect from `since` (90 kHz) on, one record
//! per change (see [`super::disk`]). A configs record in an index or summary file is not
//! written there and is skipped as damage; track or segment records in the log likewise.
//!
//! Integers are little-endian. A sample's decode time is the track's `first_dts` plus the
//! durations of the samples before it, which is how the segmenter assigns durations. A record
//! is written only after the payloads it points at, so a reader that finds a record whole (its
//! checksum matches) can serve the segment; a torn record at the end of a file after a crash is
//! detected and ignored.

use std::sync::Arc;

use bytes::Bytes;
use media::{AacConfig, AvcConfig, CodecConfig, HevcConfig, Timescale, TrackInfo, TrackKind};

use crate::segment::{Sample, Segment, TrackSamples, TrackSummary};
use crate::store::{Extent, Payload, TrackConfigs};

const TAG_TRACK: u8 = 1;
const TAG_SEGMENT: u8 = 2;
const TAG_SUMMARY: u8 = 3;
const TAG_CONFIGS: u8 = 4;
const HEADER: usize = 5;
const TRAILER: usize = 4;
/// Larger bodies are corrupt: a segment of 10 s at 240 fps with audio is ~100 KB of samples.
pub const MAX_BODY: usize = 16 << 20;
const SAMPLE_BYTES: usize = 4 + 8 + 4 + 4 + 4 + 1;
/// Bytes of a summary record (whole, with header and checksum) without its tracks.
pub const SUMMARY_BYTES: usize = HEADER + 8 + 8 + 8 + 1 + 8 + 8 + 4 + 1 + TRAILER;
/// Bytes of a summary record per track.
pub const SUMMARY_TRACK_BYTES: usize = 4 + 8 + 8 + 4 + 4 + 4 + 8;
/// Longest whole record: what a summary's `idx_len` may be at most.
pub const MAX_RECORD: usize = HEADER + MAX_BODY + TRAILER;

/// Why bytes are not a record.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// The buffer ends inside a record: a torn write, or more bytes are needed.
    #[error("record is incomplete")]
    Incomplete,
    #[error("corrupt record: {0}")]
    Corrupt(&'static str),
}

/// A track configuration, numbered within its index file.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackRecord {
    pub id: u32,
    pub info: Arc<TrackInfo>,
}

/// One track's samples of a segment record, before track ids are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordTrack {
    pub track_id: u32,
    pub samples: Vec<Sample>,
}

/// A sealed segment as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRecord {
    pub sequence: u64,
    pub start: i64,
    pub duration: i64,
    pub discontinuity: bool,
    pub discontinuity_sequence: u64,
    pub tracks: Vec<RecordTrack>,
}

impl SegmentRecord {
    /// The recorded segment without its tracks (they need the track records to resolve).
    pub fn segment_without_tracks(&self) -> Segment {
        bare_segment(
            self.sequence,
            self.start,
            self.duration,
            self.discontinuity,
            self.discontinuity_sequence,
        )
    }
}

/// One track of a summary record, before its track id is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryTrack {
    pub track_id: u32,
    pub summary: TrackSummary,
}

/// What a manifest needs of a recorded segment, and where its full record is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRecord {
    pub sequence: u64,
    pub start: i64,
    pub duration: i64,
    pub discontinuity: bool,
    pub discontinuity_sequence: u64,
    /// Offset of the segment's record in the index file of the same id.
    pub idx_offset: u64,
    /// Length of that record, header and checksum included.
    pub idx_len: u32,
    pub tracks: SummaryTracks,
}

/// The (at most two) tracks of a summary record, held inline: a catch-up query decodes
/// thousands of summaries and should not allocate for each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SummaryTracks {
    items: [Option<SummaryTrack>; 2],
}

impl SummaryTracks {
    /// Adds `track`; false (and nothing added) when two are held already.
    pub fn push(&mut self, track: SummaryTrack) -> bool {
        match self.items.iter_mut().find(|t| t.is_none()) {
            Some(slot) => {
                *slot = Some(track);
                true
            }
            None => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &SummaryTrack> {
        self.items.iter().flatten()
    }

    /// The track at `index` (in the order pushed).
    pub fn get_mut(&mut self, index: usize) -> Option<&mut SummaryTrack> {
        self.items.get_mut(index).and_then(Option::as_mut)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.items[0].is_none()
    }

    pub fn clear(&mut self) {
        self.items = [None, None];
    }
}

impl FromIterator<SummaryTrack> for SummaryTracks {
    /// The first two of `tracks`.
    fn from_iter<I: IntoIterator<Item = SummaryTrack>>(tracks: I) -> SummaryTracks {
        let mut out = SummaryTracks::default();
        for t in tracks {
            if !out.push(t) {
                break;
            }
        }
        out
    }
}

impl<'a> IntoIterator for &'a SummaryTracks {
    type Item = &'a SummaryTrack;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<SummaryTrack>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter().flatten()
    }
}

impl SummaryRecord {
    /// The summary of `segment`, whose record (of `idx_len` bytes) was written at `idx_offset`
    /// of its index file with the video and audio tracks numbered `video_id` and `audio_id`.
    pub fn of(
        segment: &Segment,
        video_id: u32,
        audio_id: u32,
        idx_offset: u64,
        idx_len: u32,
    ) -> SummaryRecord {
        let tracks = [
            segment.video.as_ref().map(|t| (video_id, t)),
            segment.audio.as_ref().map(|t| (audio_id, t)),
        ]
        .into_iter()
        .flatten()
        .map(|(track_id, t)| SummaryTrack {
            track_id,
            summary: t.summary(),
        })
        .collect();
        SummaryRecord {
            sequence: segment.sequence,
            start: segment.start,
            duration: segment.duration,
            discontinuity: segment.discontinuity,
            discontinuity_sequence: segment.discontinuity_sequence,
            idx_offset,
            idx_len,
            tracks,
        }
    }

    pub fn end(&self) -> i64 {
        self.start.saturating_add(self.duration)
    }

    /// Where the full record lies in the index file: `offset..end`.
    pub fn idx_range(&self) -> (u64, u64) {
        (
            self.idx_offset,
            self.idx_offset.saturating_add(u64::from(self.idx_len)),
        )
    }

    /// The summarized segment without its tracks (they need the track records to resolve).
    pub fn segment_without_tracks(&self) -> Segment {
        bare_segment(
            self.sequence,
            self.start,
            self.duration,
            self.discontinuity,
            self.discontinuity_sequence,
        )
    }
}

/// A segment with these times and flags and no tracks yet.
fn bare_segment(
    sequence: u64,
    start: i64,
    duration: i64,
    discontinuity: bool,
    discontinuity_sequence: u64,
) -> Segment {
    Segment {
        sequence,
        start,
        duration,
        discontinuity,
        discontinuity_sequence,
        video: None,
        audio: None,
    }
}

/// A decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Track(TrackRecord),
    Segment(SegmentRecord),
    Summary(SummaryRecord),
    /// The configurations in effect from a time on (only in the configuration log).
    Configs(TrackConfigs),
}

/// The codec number (1 AVC, 2 AAC, 3 HEVC) and the configuration bytes of `info`, as track
/// and configs records store them.
fn codec_config(info: &TrackInfo) -> (u8, &Bytes) {
    match &info.codec {
        CodecConfig::Avc(c) => (1u8, &c.record),
        CodecConfig::Aac(c) => (2u8, &c.asc),
        CodecConfig::Hevc(c) => (3u8, &c.record),
    }
}

/// Appends a track record.
pub fn encode_track(id: u32, info: &TrackInfo, out: &mut Vec<u8>) {
    let (codec, config) = codec_config(info);
    let start = begin(TAG_TRACK, out);
    out.extend_from_slice(&id.to_le_bytes());
    out.push(codec);
    out.extend_from_slice(&info.timescale.get().to_le_bytes());
    out.extend_from_slice(config);
    finish(start, out);
}

/// Appends a segment record. `track_ids` gives the id of the video and audio track written with
/// [`encode_track`]. Returns false (writing nothing) if a sample is not stored in a data file.
pub fn encode_segment(segment: &Segment, video_id: u32, audio_id: u32, out: &mut Vec<u8>) -> bool {
    let tracks: Vec<(u32, &TrackSamples)> = [
        segment.video.as_ref().map(|t| (video_id, t)),
        segment.audio.as_ref().map(|t| (audio_id, t)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if tracks
        .iter()
        .any(|(_, t)| t.samples.iter().any(|s| s.data.extent().is_none()))
    {
        return false;
    }
    let rollback = out.len();
    let start = begin(TAG_SEGMENT, out);
    out.extend_from_slice(&segment.sequence.to_le_bytes());
    out.extend_from_slice(&segment.start.to_le_bytes());
    out.extend_from_slice(&segment.duration.to_le_bytes());
    out.push(u8::from(segment.discontinuity));
    out.extend_from_slice(&segment.discontinuity_sequence.to_le_bytes());
    out.push(tracks.len() as u8);
    for (id, track) in tracks {
        out.extend_from_slice(&id.to_le_bytes());
        let first = track.samples.first().map_or(0, |s| s.dts);
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&(track.samples.len() as u32).to_le_bytes());
        for s in &track.samples {
            let Some(e) = s.data.extent() else {
                out.truncate(rollback);
                return false;
            };
            out.extend_from_slice(&e.file.to_le_bytes());
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.len.to_le_bytes());
            out.extend_from_slice(&s.duration.to_le_bytes());
            out.extend_from_slice(&s.composition_offset.to_le_bytes());
            out.push(u8::from(s.keyframe));
        }
    }
    if out.len() - start - HEADER > MAX_BODY {
        out.truncate(rollback);
        return false;
    }
    finish(start, out);
    true
}

/// Appends a summary record. Writes nothing (and returns false) for more than two tracks.
pub fn encode_summary(summary: &SummaryRecord, out: &mut Vec<u8>) -> bool {
    let Ok(count) = u8::try_from(summary.tracks.len()) else {
        return false;
    };
    if count > 2 {
        return false;
    }
    let start = begin(TAG_SUMMARY, out);
    out.extend_from_slice(&summary.sequence.to_le_bytes());
    out.extend_from_slice(&summary.start.to_le_bytes());
    out.extend_from_slice(&summary.duration.to_le_bytes());
    out.push(u8::from(summary.discontinuity));
    out.extend_from_slice(&summary.discontinuity_sequence.to_le_bytes());
    out.extend_from_slice(&summary.idx_offset.to_le_bytes());
    out.extend_from_slice(&summary.idx_len.to_le_bytes());
    out.push(count);
    for t in &summary.tracks {
        let s = &t.summary;
        out.extend_from_slice(&t.track_id.to_le_bytes());
        out.extend_from_slice(&s.first_dts.to_le_bytes());
        out.extend_from_slice(&s.duration.to_le_bytes());
        out.extend_from_slice(&s.last_duration.to_le_bytes());
        out.extend_from_slice(&s.longest_duration.to_le_bytes());
        out.extend_from_slice(&s.count.to_le_bytes());
        out.extend_from_slice(&s.bytes.to_le_bytes());
    }
    finish(start, out);
    true
}

/// Appends a configs record: the video, then the audio configuration of `configs`. Writes
/// nothing (and returns false) when a slot holds a configuration of the other kind (it would
/// read back in the other slot) or the record would be longer than any record may be.
pub fn encode_configs(configs: &TrackConfigs, out: &mut Vec<u8>) -> bool {
    let tracks = [
        (configs.video.as_deref(), TrackKind::Video),
        (configs.audio.as_deref(), TrackKind::Audio),
    ];
    if tracks
        .iter()
        .any(|(info, kind)| info.is_some_and(|i| i.kind() != *kind))
    {
        return false;
    }
    let rollback = out.len();
    let start = begin(TAG_CONFIGS, out);
    out.extend_from_slice(&configs.since.to_le_bytes());
    out.push(tracks.iter().filter(|(info, _)| info.is_some()).count() as u8);
    for info in tracks.into_iter().filter_map(|(info, _)| info) {
        let (codec, config) = codec_config(info);
        let Ok(len) = u32::try_from(config.len()) else {
            out.truncate(rollback);
            return false;
        };
        out.push(codec);
        out.extend_from_slice(&info.timescale.get().to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(config);
    }
    if out.len() - start - HEADER > MAX_BODY {
        out.truncate(rollback);
        return false;
    }
    finish(start, out);
    true
}

fn begin(tag: u8, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.push(tag);
    out.extend_from_slice(&[0; 4]);
    start
}

fn finish(start: usize, out: &mut Vec<u8>) {
    let body_len = (out.len() - start - HEADER) as u32;
    out[start + 1..start + HEADER].copy_from_slice(&body_len.to_le_bytes());
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Decodes the record at the start of `buf`, returning it and its length in bytes.
pub fn decode(buf: &[u8]) -> Result<(Record, usize), RecordError> {
    if buf.len() < HEADER {
        return Err(RecordError::Incomplete);
    }
    let tag = buf[0];
    let body_len = u32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if body_len > MAX_BODY {
        return Err(RecordError::Corrupt("record longer than any segment"));
    }
    let total = HEADER + body_len + TRAILER;
    let Some(whole) = buf.get(..total) else {
        return Err(RecordError::Incomplete);
    };
    let (data, crc) = whole.split_at(HEADER + body_len);
    if crc32fast::hash(data) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(RecordError::Corrupt("checksum mismatch"));
    }
    let mut r = Reader(&data[HEADER..]);
    let record = match tag {
        TAG_TRACK => Record::Track(decode_track(&mut r)?),
        TAG_SEGMENT => Record::Segment(decode_segment(&mut r)?),
        TAG_SUMMARY => Record::Summary(decode_summary(&mut r)?),
        TAG_CONFIGS => Record::Configs(decode_configs(&mut r)?),
        _ => return Err(RecordError::Corrupt("unknown record tag")),
    };
    if !r.0.is_empty() {
        return Err(RecordError::Corrupt("trailing bytes in record"));
    }
    Ok((record, total))
}

fn decode_track(r: &mut Reader<'_>) -> Result<TrackRecord, RecordError> {
    let id = r.u32()?;
    let codec = r.u8()?;
    let timescale = r.u32()?;
    let info = track_info(codec, timescale, r.rest())?;
    Ok(TrackRecord {
        id,
        info: Arc::new(info),
    })
}

fn decode_configs(r: &mut Reader<'_>) -> Result<TrackConfigs, RecordError> {
    let since = r.i64()?;
    let count = r.u8()?;
    if count > 2 {
        return Err(RecordError::Corrupt("more than two tracks"));
    }
    let mut configs = TrackConfigs {
        since,
        video: None,
        audio: None,
    };
    for _ in 0..count {
        let codec = r.u8()?;
        let timescale = r.u32()?;
        let len = r.u32()? as usize;
        let info = track_info(codec, timescale, r.bytes(len)?)?;
        let slot = match info.kind() {
            TrackKind::Video => &mut configs.video,
            TrackKind::Audio => &mut configs.audio,
        };
        if slot.is_some() {
            return Err(RecordError::Corrupt("two configurations of one kind"));
        }
        *slot = Some(Arc::new(info));
    }
    Ok(configs)
}

/// The track configuration stored as `codec` (1 AVC, 2 AAC, 3 HEVC), `timescale` and the
/// codec's configuration record `config`, shared by track and configs records.
fn track_info(codec: u8, timescale: u32, config: &[u8]) -> Result<TrackInfo, RecordError> {
    let timescale = Timescale::new(timescale).ok_or(RecordError::Corrupt("zero timescale"))?;
    let config = Bytes::copy_from_slice(config);
    let codec = match codec {
        1 => CodecConfig::Avc(
            AvcConfig::parse(config).map_err(|_| RecordError::Corrupt("bad avcC in track"))?,
        ),
        2 => CodecConfig::Aac(
            AacConfig::parse(config).map_err(|_| RecordError::Corrupt("bad ASC in track"))?,
        ),
        3 => CodecConfig::Hevc(
            HevcConfig::parse(config).map_err(|_| RecordError::Corrupt("bad hvcC in track"))?,
        ),
        _ => return Err(RecordError::Corrupt("unknown codec")),
    };
    Ok(TrackInfo { codec, timescale })
}

fn decode_segment(r: &mut Reader<'_>) -> Result<SegmentRecord, RecordError> {
    let sequence = r.u64()?;
    let start = r.i64()?;
    let duration = r.i64()?;
    if duration <= 0 {
        return Err(RecordError::Corrupt("segment duration not positive"));
    }
    let flags = r.u8()?;
    let discontinuity_sequence = r.u64()?;
    let count = r.u8()?;
    if count > 2 {
        return Err(RecordError::Corrupt("more than two tracks"));
    }
    let mut tracks = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let track_id = r.u32()?;
        let mut dts = r.i64()?;
        let n = r.u32()? as usize;
        if n.checked_mul(SAMPLE_BYTES).is_none_or(|b| b > r.0.len()) {
            return Err(RecordError::Corrupt("sample count beyond record"));
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let extent = Extent {
                file: r.u32()?,
                offset: r.u64()?,
                len: r.u32()?,
            };
            if extent.offset.checked_add(u64::from(extent.len)).is_none() {
                return Err(RecordError::Corrupt("extent past 2^64"));
            }
            let duration = r.u32()?;
            let composition_offset = r.i32()?;
            let keyframe = r.u8()? & 1 == 1;
            samples.push(Sample {
                dts,
                composition_offset,
                duration,
                keyframe,
                data: Payload::Stored(extent),
            });
            dts = dts
                .checked_add(i64::from(duration))
                .ok_or(RecordError::Corrupt("decode time overflows"))?;
        }
        tracks.push(RecordTrack { track_id, samples });
    }
    Ok(SegmentRecord {
        sequence,
        start,
        duration,
        discontinuity: flags & 1 == 1,
        discontinuity_sequence,
        tracks,
    })
}

fn decode_summary(r: &mut Reader<'_>) -> Result<SummaryRecord, RecordError> {
    let sequence = r.u64()?;
    let start = r.i64()?;
    let duration = r.i64()?;
    if duration <= 0 {
        return Err(RecordError::Corrupt("segment duration not positive"));
    }
    if start.checked_add(duration).is_none() {
        return Err(RecordError::Corrupt("segment end overflows"));
    }
    let flags = r.u8()?;
    let discontinuity_sequence = r.u64()?;
    let idx_offset = r.u64()?;
    let idx_len = r.u32()?;
    if (idx_len as usize) < HEADER + TRAILER || idx_len as usize > MAX_RECORD {
        return Err(RecordError::Corrupt("summary points at no possible record"));
    }
    if idx_offset.checked_add(u64::from(idx_len)).is_none() {
        return Err(RecordError::Corrupt("index range past 2^64"));
    }
    let count = r.u8()?;
    if count > 2 {
        return Err(RecordError::Corrupt("more than two tracks"));
    }
    let mut tracks = SummaryTracks::default();
    for _ in 0..count {
        let track_id = r.u32()?;
        let summary = TrackSummary {
            first_dts: r.i64()?,
            duration: r.u64()?,
            last_duration: r.u32()?,
            longest_duration: r.u32()?,
            count: r.u32()?,
            bytes: r.u64()?,
        };
        if !plausible(&summary) {
            return Err(RecordError::Corrupt("track summary is not of any samples"));
        }
        tracks.push(SummaryTrack { track_id, summary });
    }
    Ok(SummaryRecord {
        sequence,
        start,
        duration,
        discontinuity: flags & 1 == 1,
        discontinuity_sequence,
        idx_offset,
        idx_len,
        tracks,
    })
}

/// Whether `s` can be the aggregates of a track's samples in a segment record: no more
/// samples than a record holds, each at most `u32::MAX` ticks and bytes long, the last no longer
/// than the longest. (So sums of many summaries stay far from overflowing.)
fn plausible(s: &TrackSummary) -> bool {
    let count = u64::from(s.count);
    let most = count * u64::from(u32::MAX);
    count <= (MAX_BODY / SAMPLE_BYTES) as u64
        && s.last_duration <= s.longest_duration
        && u64::from(s.longest_duration) <= s.duration
        && s.duration <= most
        && s.bytes <= most
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(RecordError::Corrupt("record body too short"))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn bytes(&mut self, len: usize) -> Result<&'a [u8], RecordError> {
        if len > self.0.len() {
            return Err(RecordError::Corrupt("record body too short"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// Decodes records from the start of `buf` until its end or the first bad record. Returns the
/// records and the length of the valid prefix; what follows it (a torn tail) is not a record.
pub fn decode_all(buf: &[u8]) -> (Vec<Record>, usize, Option<RecordError>) {
    let mut records = Records::new(buf);
    let decoded: Vec<Record> = records.by_ref().collect();
    (decoded, records.valid(), records.error())
}

/// The records of `buf` one by one, as [`decode_all`] reads them but without collecting: it
/// stops at the first record that is not whole, whose error [`Records::error`] then gives.
#[derive(Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    at: usize,
    error: Option<RecordError>,
}

impl<'a> Records<'a> {
    pub fn new(buf: &'a [u8]) -> Records<'a> {
        Records {
            buf,
            at: 0,
            error: None,
        }
    }

    /// Bytes of whole records read so far.
    pub fn valid(&self) -> usize {
        self.at
    }

    /// Why reading stopped before the end of the buffer, once it has.
    pub fn error(&self) -> Option<RecordError> {
        self.error.clone()
    }
}

impl Records<'_> {
    /// The next record, passing over summaries whose segment (`start`, `end`, 90 kHz) `wanted`
    /// refuses without checking or decoding them: a query reads whole summary files but needs
    /// only the summaries of its interval. A passed-over record costs its framing only; if its
    /// length were damaged, the record read after it fails its checksum and reading stops
    /// there, as it would have.
    pub fn next_wanted(&mut self, wanted: impl Fn(i64, i64) -> bool) -> Option<Record> {
        while self.error.is_none() {
            let rest = self.buf.get(self.at..)?;
            let Some(len) = summary_span(rest)
                .and_then(|(start, end, len)| (!wanted(start, end)).then_some(len))
            else {
                break;
            };
            self.at += len;
        }
        self.next()
    }
}

/// The segment span (`start`, `start + duration`) of the whole summary record at the front of
/// `buf`, and the record's length, read without checking the record; `None` for anything else.
fn summary_span(buf: &[u8]) -> Option<(i64, i64, usize)> {
    let (&tag, rest) = buf.split_first()?;
    if tag != TAG_SUMMARY {
        return None;
    }
    let body_len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    if body_len > MAX_BODY {
        return None;
    }
    let total = HEADER + body_len + TRAILER;
    let body = buf.get(HEADER..total.checked_sub(TRAILER)?)?;
    if buf.len() < total {
        return None;
    }
    let field = |at: usize| -> Option<i64> {
        Some(i64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?))
    };
    let start = field(8)?;
    let end = start.checked_add(field(16)?)?;
    Some((start, end, total))
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.error.is_some() {
            return None;
        }
        let rest = self.buf.get(self.at..).filter(|r| !r.is_empty())?;
        match decode(rest) {
            Ok((record, len)) => {
                self.at += len;
                Some(record)
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{aac, avc};

    fn stored(file: u32, offset: u64, len: u32) -> Payload {
        Payload::Stored(Extent { file, offset, len })
    }

    fn segment() -> Segment {
        let v = Arc::new(avc());
        let a = Arc::new(aac());
        Segment {
            sequence: 7,
            start: 900_000,
            duration: 180_000,
            discontinuity: true,
            discontinuity_sequence: 4,
            video: Some(TrackSamples {
                stored_summary: None,
                track: v,
                samples: vec![
                    Sample {
                        dts: 900_000,
                        composition_offset: 7200,
                        duration: 3600,
                        keyframe: true,
                        data: stored(3, 0, 1000),
                    },
                    Sample {
                        dts: 903_600,
                        composition_offset: -3600,
                        duration: 3600,
                        keyframe: false,
                        data: stored(3, 1200, 300),
                    },
                ],
            }),
            audio: Some(TrackSamples {
                stored_summary: None,
                track: a,
                samples: vec![Sample {
                    dts: 480_000,
                    composition_offset: 0,
                    duration: 1024,
                    keyframe: true,
                    data: stored(4, 1000, 200),
                }],
            }),
        }
    }

    #[test]
    fn round_trip() {
        let seg = segment();
        let mut buf = Vec::new();
        let v = seg.video.as_ref().map(|t| t.track.clone());
        let a = seg.audio.as_ref().map(|t| t.track.clone());
        encode_track(1, v.as_deref().expect("video"), &mut buf);
        encode_track(2, a.as_deref().expect("audio"), &mut buf);
        assert!(encode_segment(&seg, 1, 2, &mut buf));
        let (records, len, err) = decode_all(&buf);
        assert_eq!((len, err), (buf.len(), None));
        assert_eq!(records.len(), 3);
        let Record::Segment(s) = &records[2] else {
            panic!("not a segment: {:?}", records[2]);
        };
        assert_eq!(
            (
                s.sequence,
                s.start,
                s.duration,
                s.discontinuity,
                s.discontinuity_sequence
            ),
            (7, 900_000, 180_000, true, 4)
        );
        assert_eq!(s.tracks[0].track_id, 1);
        assert_eq!(
            s.tracks[0].samples,
            seg.video
                .as_ref()
                .map(|t| t.samples.clone())
                .unwrap_or_default()
        );
        assert_eq!(
            s.tracks[1].samples,
            seg.audio
                .as_ref()
                .map(|t| t.samples.clone())
                .unwrap_or_default()
        );
        let Record::Track(t) = &records[0] else {
            panic!("not a track");
        };
        assert_eq!(*t.info, avc());
    }

    #[test]
    fn torn_and_corrupt_tails_are_detected() {
        let seg = segment();
        let mut buf = Vec::new();
        assert!(encode_segment(&seg, 1, 2, &mut buf));
        let whole = buf.len();
        assert!(encode_segment(&seg, 1, 2, &mut buf));
        for cut in whole + 1..buf.len() {
            let (records, len, err) = decode_all(&buf[..cut]);
            assert_eq!(records.len(), 1);
            assert_eq!(len, whole);
            assert_eq!(err, Some(RecordError::Incomplete), "cut at {cut}");
        }
        let mut flipped = buf.clone();
        flipped[whole + 20] ^= 0x40;
        let (records, len, err) = decode_all(&flipped);
        assert_eq!((records.len(), len), (1, whole));
        assert_eq!(err, Some(RecordError::Corrupt("checksum mismatch")));
    }

    fn summary() -> SummaryRecord {
        SummaryRecord::of(&segment(), 1, 2, 1234, 456)
    }

    #[test]
    fn unwanted_summaries_are_passed_over_and_damage_still_stops_reading() {
        // A track record, then ten summaries of consecutive 2 s segments.
        let mut buf = Vec::new();
        encode_track(1, &avc(), &mut buf);
        let mut starts = Vec::new();
        for i in 0..10i64 {
            let mut s = summary();
            s.sequence = i as u64;
            s.start = 900_000 + i * 180_000;
            starts.push(s.start);
            assert!(encode_summary(&s, &mut buf));
        }
        let from = starts[3];
        let to = starts[6];
        let wanted = |start: i64, end: i64| end > from && start < to;
        let mut records = Records::new(&buf);
        let mut got = Vec::new();
        while let Some(r) = records.next_wanted(wanted) {
            got.push(r);
        }
        assert_eq!((records.valid(), records.error()), (buf.len(), None));
        assert!(
            matches!(got[0], Record::Track(_)),
            "track records are always read"
        );
        let kept: Vec<i64> = got
            .iter()
            .filter_map(|r| match r {
                Record::Summary(s) => Some(s.start),
                _ => None,
            })
            .collect();
        assert_eq!(kept, starts[3..6]);

        // A damaged record that is passed over goes unnoticed only if the next one read is
        // whole; damage to its length makes the next record fail its checksum.
        let one = buf.len() - 10 * (SUMMARY_BYTES + 2 * SUMMARY_TRACK_BYTES);
        let mut damaged = buf.clone();
        damaged[one + 1] ^= 0x01; // the first summary's length
        let mut records = Records::new(&damaged);
        let mut summaries = 0;
        while let Some(r) = records.next_wanted(wanted) {
            summaries += usize::from(matches!(r, Record::Summary(_)));
        }
        assert_eq!(summaries, 0);
        assert!(records.error().is_some());
    }

    #[test]
    fn summary_round_trip() {
        let seg = segment();
        let s = summary();
        assert_eq!(
            (
                s.sequence,
                s.start,
                s.duration,
                s.discontinuity,
                s.discontinuity_sequence
            ),
            (7, 900_000, 180_000, true, 4)
        );
        assert_eq!(
            (s.idx_offset, s.idx_len, s.idx_range()),
            (1234, 456, (1234, 1690))
        );
        let video = seg.video.as_ref().map(|t| TrackSummary::of(&t.samples));
        let audio = seg.audio.as_ref().map(|t| TrackSummary::of(&t.samples));
        assert_eq!(
            s.tracks.iter().copied().collect::<Vec<_>>(),
            vec![
                SummaryTrack {
                    track_id: 1,
                    summary: video.unwrap_or_default()
                },
                SummaryTrack {
                    track_id: 2,
                    summary: audio.unwrap_or_default()
                },
            ]
        );
        let mut buf = Vec::new();
        encode_track(1, &avc(), &mut buf);
        let at = buf.len();
        assert!(encode_summary(&s, &mut buf));
        assert_eq!(buf.len() - at, SUMMARY_BYTES + 2 * SUMMARY_TRACK_BYTES);
        let (records, len, err) = decode_all(&buf);
        assert_eq!((len, err), (buf.len(), None));
        assert_eq!(records[1], Record::Summary(s.clone()));
        let shown = match &records[1] {
            Record::Summary(r) => r.segment_without_tracks(),
            other => panic!("not a summary: {other:?}"),
        };
        assert_eq!((shown.sequence, shown.end()), (7, 1_080_000));

        // No tracks, and torn anywhere: never a record.
        let mut bare = s.clone();
        bare.tracks.clear();
        let mut buf = Vec::new();
        assert!(encode_summary(&bare, &mut buf));
        assert_eq!(buf.len(), SUMMARY_BYTES);
        assert_eq!(decode(&buf), Ok((Record::Summary(bare), SUMMARY_BYTES)));
        for cut in 0..buf.len() {
            assert_eq!(
                decode(&buf[..cut]),
                Err(RecordError::Incomplete),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn corrupt_summaries_are_rejected() {
        let mut three = summary();
        let first = *three.tracks.iter().next().expect("a track");
        assert!(
            !three.tracks.push(first),
            "a summary holds two tracks at most"
        );
        type Change = fn(&mut SummaryRecord);
        let cases: [(Change, &str); 7] = [
            (|s| s.duration = 0, "segment duration not positive"),
            (|s| s.idx_len = 3, "summary points at no possible record"),
            (
                |s| s.idx_len = MAX_RECORD as u32 + 1,
                "summary points at no possible record",
            ),
            (|s| s.idx_offset = u64::MAX - 10, "index range past 2^64"),
            (
                |s| {
                    if let Some(t) = s.tracks.get_mut(0) {
                        t.summary.count = 1 << 30;
                    }
                },
                "track summary is not of any samples",
            ),
            (
                |s| {
                    if let Some(t) = s.tracks.get_mut(1) {
                        t.summary.last_duration += 1;
                    }
                },
                "track summary is not of any samples",
            ),
            (
                |s| {
                    if let Some(t) = s.tracks.get_mut(0) {
                        t.summary.bytes = u64::MAX;
                    }
                },
                "track summary is not of any samples",
            ),
        ];
        for (change, why) in cases {
            let mut s = summary();
            change(&mut s);
            let mut buf = Vec::new();
            assert!(encode_summary(&s, &mut buf));
            assert_eq!(decode(&buf), Err(RecordError::Corrupt(why)));
        }
        // A body one byte short or long is not a summary.
        let mut buf = Vec::new();
        assert!(encode_summary(&summary(), &mut buf));
        for body in [
            buf.len() - HEADER - TRAILER - 1,
            buf.len() - HEADER - TRAILER + 1,
        ] {
            let mut other = vec![TAG_SUMMARY, 0, 0, 0, 0];
            other[1..5].copy_from_slice(&(body as u32).to_le_bytes());
            other.extend(buf[HEADER..].iter().copied().chain([0]).take(body));
            let crc = crc32fast::hash(&other);
            other.extend_from_slice(&crc.to_le_bytes());
            assert!(matches!(decode(&other), Err(RecordError::Corrupt(_))));
        }
    }

    /// The `hvcC` ffmpeg writes for a 320x240 x265 stream (Main profile).
    fn hevc() -> TrackInfo {
        const HVCC: &str = "0101600000009000000000003cf000fcfdf8f800000f03a00001001840010c01ffff01600000030090000003000003003c959009a10001002a42010101600000030090000003000003003ca00a080f16595924932bc05a020000030002000003003210a2000100074401c172b46240";
        let bytes: Vec<u8> = (0..HVCC.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&HVCC[i..i + 2], 16).expect("hex"))
            .collect();
        TrackInfo::hevc(HevcConfig::parse(Bytes::from(bytes)).expect("hvcC"))
    }

    fn configs(video: Option<TrackInfo>, audio: Option<TrackInfo>) -> TrackConfigs {
        TrackConfigs {
            since: -1_234_567_890_123,
            video: video.map(Arc::new),
            audio: audio.map(Arc::new),
        }
    }

    /// A record of `tag` around `body`, with its checksum right.
    fn framed(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn configs_round_trip() {
        for c in [
            configs(Some(avc()), Some(aac())),
            configs(Some(hevc()), None),
            configs(None, Some(aac())),
            configs(None, None),
        ] {
            let mut buf = Vec::new();
            assert!(encode_configs(&c, &mut buf));
            let tracks = usize::from(c.video.is_some()) + usize::from(c.audio.is_some());
            let configs_bytes: usize = [&c.video, &c.audio]
                .into_iter()
                .flatten()
                .map(|t| codec_config(t).1.len())
                .sum();
            assert_eq!(
                buf.len(),
                HEADER + 8 + 1 + tracks * (1 + 4 + 4) + configs_bytes + TRAILER
            );
            assert_eq!(decode(&buf), Ok((Record::Configs(c.clone()), buf.len())));
            // Torn anywhere: never a record.
            for cut in 0..buf.len() {
                assert_eq!(
                    decode(&buf[..cut]),
                    Err(RecordError::Incomplete),
                    "cut {cut}"
                );
            }
            let mut flipped = buf.clone();
            flipped[HEADER + 3] ^= 0x10;
            assert_eq!(
                decode(&flipped),
                Err(RecordError::Corrupt("checksum mismatch"))
            );
        }
        // Each kind in its own slot only.
        let mut swapped = configs(None, None);
        swapped.video = Some(Arc::new(aac()));
        let mut buf = Vec::new();
        assert!(!encode_configs(&swapped, &mut buf));
        assert!(buf.is_empty());
    }

    #[test]
    fn corrupt_configs_are_rejected() {
        let mut whole = Vec::new();
        assert!(encode_configs(
            &configs(Some(avc()), Some(aac())),
            &mut whole
        ));
        let body = &whole[HEADER..whole.len() - TRAILER];
        let video_len = codec_config(&avc()).1.len();
        // `since`, count, then the video track: codec, timescale, length, avcC.
        let count_at = 8;
        let video_at = count_at + 1;
        let audio_at = video_at + 9 + video_len;
        let with = |at: usize, bytes: &[u8]| {
            let mut b = body.to_vec();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            framed(TAG_CONFIGS, &b)
        };
        let two_videos = {
            let mut b = body[..audio_at].to_vec();
            b[count_at] = 2;
            b.extend_from_slice(&body[video_at..audio_at]);
            framed(TAG_CONFIGS, &b)
        };
        let cases: [(Vec<u8>, &str); 8] = [
            (with(count_at, &[3]), "more than two tracks"),
            (with(count_at, &[1]), "trailing bytes in record"),
            (two_videos, "two configurations of one kind"),
            (with(video_at, &[9]), "unknown codec"),
            (with(video_at + 1, &[0; 4]), "zero timescale"),
            (with(video_at + 5, &[0xff; 4]), "record body too short"),
            (with(video_at + 9, &[0; 4]), "bad avcC in track"),
            (with(audio_at + 5, &[0, 0, 0, 0]), "bad ASC in track"),
        ];
        for (bytes, why) in cases {
            assert_eq!(decode(&bytes), Err(RecordError::Corrupt(why)), "{why}");
        }
        // One byte more than the tracks: trailing bytes.
        let longer = framed(TAG_CONFIGS, &[body, &[0]].concat());
        assert_eq!(
            decode(&longer),
            Err(RecordError::Corrupt("trailing bytes in record"))
        );
    }

    #[test]
    fn memory_payloads_are_not_recorded() {
        let mut seg = segment();
        if let Some(v) = seg.video.as_mut() {
            v.samples[1].data = Payload::Memory(Bytes::from_static(b"x"));
        }
        let mut buf = Vec::new();
        assert!(!encode_segment(&seg, 1, 2, &mut buf));
        assert!(buf.is_empty());
    }
}
