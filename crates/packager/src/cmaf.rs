//! CMAF views of stored segments: an init segment per track, and one fragment per track per
//! segment. HLS-fMP4 and DASH serve these as they are; Smooth Streaming re-times them.
//!
//! Every output track has track ID 1 (one track per file, as CMAF wants). Fragment decode
//! times are the stored ones: the channel timeline in the track's timescale, anchored to the
//! Unix epoch, so a DASH `availabilityStartTime` of 1970-01-01 never moves.

use media::fmp4::{self, FragmentOptions, FragmentSample};
use media::{MediaError, TrackInfo, TrackKind};
use segmenter::{Segment, SegmentBytes, TrackSamples};

use crate::hls::sample_data;

/// The track ID of every CMAF output track.
pub const TRACK_ID: u32 = 1;

/// Writes the CMAF header of `track`.
pub fn init_segment(track: &TrackInfo, out: &mut Vec<u8>) -> Result<(), MediaError> {
    fmp4::write_init_segment(track, TRACK_ID, out)
}

/// The samples of `segment`'s track of `kind`, if it has any.
pub fn track_samples(segment: &Segment, kind: TrackKind) -> Option<&TrackSamples> {
    let track = match kind {
        TrackKind::Video => segment.video.as_ref(),
        TrackKind::Audio => segment.audio.as_ref(),
    };
    track.filter(|t| t.sample_count() > 0)
}

/// The `trun` view of a track's samples.
pub fn fragment_samples(track: &TrackSamples) -> Vec<FragmentSample> {
    track
        .samples
        .iter()
        .map(|s| FragmentSample {
            duration: s.duration,
            size: u32::try_from(s.data.len()).unwrap_or(u32::MAX),
            keyframe: s.keyframe,
            composition_offset: s.composition_offset,
        })
        .collect()
}

/// Writes the CMAF fragment of `segment`'s track of `kind` (with `styp`): its decode time is
/// the first sample's, its sequence number the segment's (modulo 2^32).
///
/// Errors when the segment has no samples of that kind or a payload was not loaded.
pub fn fragment(
    segment: &Segment,
    kind: TrackKind,
    bytes: &SegmentBytes,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    fragment_with(segment, kind, bytes, &[], out)
}

/// [`fragment`] with raw boxes appended inside `traf` (Smooth Streaming's `tfxd`/`tfrf`).
pub fn fragment_with(
    segment: &Segment,
    kind: TrackKind,
    bytes: &SegmentBytes,
    extra_traf_boxes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let track = track_samples(segment, kind).ok_or_else(|| MediaError::Invalid {
        what: "CMAF fragment",
        offset: 0,
        reason: format!("segment {} has no {kind:?} samples", segment.sequence),
    })?;
    let samples = fragment_samples(track);
    let payloads: Vec<&[u8]> = track
        .samples
        .iter()
        .map(|s| sample_data(bytes, s))
        .collect::<Result<_, _>>()?;
    let first = track.samples.first().ok_or_else(|| MediaError::Invalid {
        what: "CMAF fragment",
        offset: 0,
        reason: format!("segment {} was not loaded in full", segment.sequence),
    })?;
    let base = u64::try_from(first.dts).map_err(|_| MediaError::Invalid {
        what: "CMAF fragment",
        offset: 0,
        reason: "negative decode time".into(),
    })?;
    let options = FragmentOptions {
        tfdt: true,
        styp: true,
        extra_traf_boxes,
    };
    fmp4::write_fragment_with(
        TRACK_ID,
        segment.sequence as u32,
        base,
        &samples,
        &mut payloads.into_iter(),
        &options,
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use mp4_atom::{Decode, Mdat, Moof, Moov, TrunSamples};

    #[test]
    fn fragments_carry_the_stored_samples() {
        let views = testing::two_renditions();
        let bytes = SegmentBytes::default();
        for segment in &views[0].segments {
            for kind in [TrackKind::Video, TrackKind::Audio] {
                let Some(track) = track_samples(segment, kind) else {
                    continue;
                };
                let mut out = Vec::new();
                fragment(segment, kind, &bytes, &mut out).expect("fragment");
                assert_eq!(&out[4..8], b"styp");
                let styp_len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
                let mut buf = &out[styp_len..];
                let moof = Moof::decode(&mut buf).expect("moof");
                let mdat = Mdat::decode(&mut buf).expect("mdat");
                assert!(buf.is_empty());
                assert_eq!(moof.mfhd.sequence_number, segment.sequence as u32);
                let traf = &moof.traf[0];
                assert_eq!(traf.tfhd.track_id, TRACK_ID);
                let tfdt = traf.tfdt.as_ref().expect("tfdt");
                assert_eq!(tfdt.base_media_decode_time as i64, track.samples[0].dts);
                let trun = &traf.trun[0];
                let TrunSamples::Explicit(entries) = &trun.samples else {
                    panic!("trun has per-sample entries");
                };
                assert_eq!(entries.len(), track.samples.len());
                let mut payload = Vec::new();
                for (e, s) in entries.iter().zip(&track.samples) {
                    assert_eq!(e.duration, Some(s.duration));
                    assert_eq!(e.size, Some(s.data.len() as u32));
                    let sync = e.flags.map(|f| f & 0x0001_0000 == 0);
                    assert_eq!(sync, Some(s.keyframe), "sync flag");
                    if kind == TrackKind::Video {
                        assert_eq!(e.cts, Some(i64::from(s.composition_offset)));
                    }
                    payload.extend_from_slice(bytes.get(&s.data).expect("payload"));
                }
                assert_eq!(mdat.data, payload);
            }
        }
    }

    #[test]
    fn init_segments_decode() {
        for track in [testing::avc(), testing::aac()] {
            let mut out = Vec::new();
            init_segment(&track, &mut out).expect("init");
            assert_eq!(&out[4..8], b"ftyp");
            let ftyp_len = u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize;
            let mut buf = &out[ftyp_len..];
            let moov = Moov::decode(&mut buf).expect("moov");
            assert_eq!(moov.trak.len(), 1);
            assert_eq!(moov.trak[0].tkhd.track_id, TRACK_ID);
            assert_eq!(moov.trak[0].mdia.mdhd.timescale, track.timescale.get());
        }
    }

    #[test]
    fn a_segment_without_the_track_is_an_error() {
        let views = testing::two_renditions();
        let mut segment = (*views[0].segments[0]).clone();
        segment.audio = None;
        let mut out = Vec::new();
        assert!(fragment(
            &segment,
            TrackKind::Audio,
            &SegmentBytes::default(),
            &mut out
        )
        .is_err());
        assert!(out.is_empty());
    }
}
