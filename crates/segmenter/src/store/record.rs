//! The index file format: a log of checksummed records, one per track configuration and one per
//! sealed segment.
//!
//! ```text
//! record  = tag:u8  body_len:u32le  body  crc32(tag, body_len, body):u32le
//! tag 1   = track:   id:u32 codec:u8 (1 AVC, 2 AAC) timescale:u32 config (avcC or ASC, rest of body)
//! tag 2   = segment: sequence:u64 start:i64 duration:i64 flags:u8 (bit 0: discontinuity)
//!                    discontinuity_sequence:u64
//!                    track_count:u8, then per track:
//!                      track_id:u32 first_dts:i64 sample_count:u32, then per sample:
//!                        file:u32 offset:u64 len:u32 duration:u32 composition_offset:i32 flags:u8
//! ```
//!
//! Integers are little-endian. A sample's decode time is the track's `first_dts` plus the
//! durations of the samples before it, which is how the segmenter assigns durations. A record
//! is written only after the payloads it points at, so a reader that finds a record whole (its
//! checksum matches) can serve the segment; a torn record at the end of a file after a crash is
//! detected and ignored.

use std::sync::Arc;

use bytes::Bytes;
use media::{AacConfig, AvcConfig, CodecConfig, HevcConfig, Timescale, TrackInfo};

use crate::segment::{Sample, Segment, TrackSamples};
use crate::store::{Extent, Payload};

const TAG_TRACK: u8 = 1;
const TAG_SEGMENT: u8 = 2;
const HEADER: usize = 5;
const TRAILER: usize = 4;
/// Larger bodies are corrupt: a segment of 10 s at 240 fps with audio is ~100 KB of samples.
pub const MAX_BODY: usize = 16 << 20;
const SAMPLE_BYTES: usize = 4 + 8 + 4 + 4 + 4 + 1;

/// Why bytes are not a record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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
        Segment {
            sequence: self.sequence,
            start: self.start,
            duration: self.duration,
            discontinuity: self.discontinuity,
            discontinuity_sequence: self.discontinuity_sequence,
            video: None,
            audio: None,
        }
    }
}

/// A decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Track(TrackRecord),
    Segment(SegmentRecord),
}

/// Appends a track record.
pub fn encode_track(id: u32, info: &TrackInfo, out: &mut Vec<u8>) {
    let (codec, config) = match &info.codec {
        CodecConfig::Avc(c) => (1u8, &c.record),
        CodecConfig::Aac(c) => (2u8, &c.asc),
        CodecConfig::Hevc(c) => (3u8, &c.record),
    };
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
    let timescale = Timescale::new(r.u32()?).ok_or(RecordError::Corrupt("zero timescale"))?;
    let config = Bytes::copy_from_slice(r.rest());
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
    Ok(TrackRecord {
        id,
        info: Arc::new(TrackInfo { codec, timescale }),
    })
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
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// Decodes records from the start of `buf` until its end or the first bad record. Returns the
/// records and the length of the valid prefix; what follows it (a torn tail) is not a record.
pub fn decode_all(buf: &[u8]) -> (Vec<Record>, usize, Option<RecordError>) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        match decode(&buf[at..]) {
            Ok((record, len)) => {
                records.push(record);
                at += len;
            }
            Err(e) => return (records, at, Some(e)),
        }
    }
    (records, at, None)
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
