//! The store's index and summary file format (`.idx`, `.sum`, and the configuration log): any
//! bytes decode to a prefix of whole records and an error, never a panic; decoded segment,
//! summary and configs records re-encode to records that decode equal; a summary resolved as
//! the catch-up index does reports its own aggregates.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use segmenter::store::record::{self, Record, SummaryRecord};
use segmenter::{TrackSamples, TrackSummary};

fuzz_target!(|data: &[u8]| {
    check(data);
    // Mutations almost never keep a checksum right: the same bytes with every framed record's
    // checksum fixed reach the record bodies' decoders.
    check(&with_checksums_fixed(data));
});

/// `data` with the checksum of each record it frames (tag, length, body, checksum) rewritten.
fn with_checksums_fixed(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut at = 0;
    while let Some(header) = out.get(at..at + 5) {
        let body = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let Some(end) = (at + 5).checked_add(body) else {
            break;
        };
        if end + 4 > out.len() || body > record::MAX_BODY {
            break;
        }
        let crc = crc32fast::hash(&out[at..end]);
        out[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        at = end + 4;
    }
    out
}

fn check(data: &[u8]) {
    let (records, valid, error) = record::decode_all(data);
    assert!(valid <= data.len());
    assert_eq!(error.is_none(), valid == data.len());
    // Reading only the summaries of a window (from the first bytes) passes over others
    // without a panic, and what it returns is what reading everything returns, filtered,
    // as long as nothing it passed over was damaged.
    let window = data.get(..16).map_or((i64::MIN, i64::MAX), |w| {
        let a = i64::from_le_bytes(w[..8].try_into().unwrap_or_default());
        let b = i64::from_le_bytes(w[8..].try_into().unwrap_or_default());
        (a.min(b), a.max(b))
    });
    let wanted = |start: i64, end: i64| end > window.0 && start < window.1;
    let mut some = record::Records::new(data);
    let mut picked = Vec::new();
    while let Some(r) = some.next_wanted(wanted) {
        picked.push(r);
    }
    assert!(some.valid() <= data.len());
    if some.error().is_none() && error.is_none() {
        let expected: Vec<&Record> = records
            .iter()
            .filter(|r| match r {
                Record::Summary(s) => wanted(s.start, s.end()),
                _ => true,
            })
            .collect();
        assert_eq!(picked.iter().collect::<Vec<_>>(), expected);
    }
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
                    *slot.0 = Some(TrackSamples::new(Arc::clone(&info), t.samples.clone()));
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
            Record::Summary(s) => summary(&s, &tracks),
            Record::Configs(c) => configs(&c),
        }
    }
}

/// A configs record holds each kind in its own slot and re-encodes to itself.
fn configs(c: &segmenter::store::TrackConfigs) {
    assert!(c
        .video
        .as_ref()
        .is_none_or(|v| v.kind() == media::TrackKind::Video));
    assert!(c
        .audio
        .as_ref()
        .is_none_or(|a| a.kind() == media::TrackKind::Audio));
    let mut out = Vec::new();
    assert!(record::encode_configs(c, &mut out));
    let (again, len) = record::decode(&out).expect("re-encoded configs record decodes");
    assert_eq!(len, out.len());
    assert_eq!(again, Record::Configs(c.clone()));
}

fn summary(s: &SummaryRecord, tracks: &[record::TrackRecord]) {
    let (offset, end) = s.idx_range();
    assert!(s.duration > 0 && s.end() > s.start);
    assert_eq!(end - offset, u64::from(s.idx_len));
    assert!(s.idx_len as usize <= record::MAX_RECORD);
    assert!(s.tracks.len() <= 2);
    let mut out = Vec::new();
    assert!(record::encode_summary(s, &mut out));
    assert_eq!(
        out.len(),
        record::SUMMARY_BYTES + s.tracks.len() * record::SUMMARY_TRACK_BYTES
    );
    let (again, len) = record::decode(&out).expect("re-encoded summary decodes");
    assert_eq!(len, out.len());
    assert_eq!(again, Record::Summary(s.clone()));
    let mut total = TrackSummary::default();
    for t in &s.tracks {
        let summary = t.summary;
        assert!(summary.last_duration <= summary.longest_duration);
        let _ = summary.last_dts();
        total = total.then(&summary).then(&summary);
        let Some(info) = tracks.iter().find(|r| r.id == t.track_id) else {
            continue;
        };
        let track = TrackSamples::summarized(info.info.clone(), summary);
        assert_eq!(track.summary(), summary);
        assert_eq!(track.is_summary_only(), summary.count > 0);
        assert_eq!(track.sample_count(), summary.count as usize);
        assert_eq!(track.payload_bytes() as u64, summary.bytes);
        assert_eq!(
            track.first_dts_ticks(),
            (summary.count > 0).then_some(summary.first_dts)
        );
        assert!(track.samples.is_empty());
    }
    let _ = total.last_dts();
}
