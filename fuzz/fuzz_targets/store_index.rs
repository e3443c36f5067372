//! The store's index file format: any bytes decode to a prefix of whole records and an error,
//! never a panic; decoded segment records re-encode to the same bytes.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use segmenter::store::record::{self, Record};
use segmenter::TrackSamples;

fuzz_target!(|data: &[u8]| {
    let (records, valid, error) = record::decode_all(data);
    assert!(valid <= data.len());
    assert_eq!(error.is_none(), valid == data.len());
    let mut tracks = Vec::new();
    for r in records {
        match r {
            Record::Track(t) => tracks.push(t),
            Record::Segment(s) => {
                // Re-encode with the tracks it names, when they are known and of the right kind.
                let find = |id: u32| tracks.iter().find(|t| t.id == id).map(|t| t.info.clone());
                let mut segment = s.segment_without_tracks();
                let mut ids = [0u32; 2];
                for t in &s.tracks {
                    let Some(info) = find(t.track_id) else { return };
                    let slot = match info.kind() {
                        media::TrackKind::Video => (&mut segment.video, 0),
                        media::TrackKind::Audio => (&mut segment.audio, 1),
                    };
                    if slot.0.is_some() {
                        return;
                    }
                    ids[slot.1] = t.track_id;
                    *slot.0 = Some(TrackSamples {
                        track: Arc::clone(&info),
                        samples: t.samples.clone(),
                    });
                }
                if s.tracks.first().is_some_and(|t| {
                    find(t.track_id).is_some_and(|i| i.kind() == media::TrackKind::Audio)
                }) && s.tracks.len() == 2
                {
                    // Audio recorded before video: the encoder always writes video first.
                    return;
                }
                let mut out = Vec::new();
                assert!(record::encode_segment(&segment, ids[0], ids[1], &mut out));
                let (again, _) = record::decode(&out).expect("re-encoded record decodes");
                assert_eq!(again, Record::Segment(s));
            }
        }
    }
});
