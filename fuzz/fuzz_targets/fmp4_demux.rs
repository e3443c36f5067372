//! Arbitrary bytes as an fMP4 init segment and a media segment for `FragmentDemuxer`. The first
//! byte chooses the split: odd, the rest is cut into init and segment at the index in the next
//! two bytes (big-endian, modulo the length); even, the rest is a media segment for the init
//! of the committed fMP4 HLS fixture (and is also tried as an init). Nothing may panic; the
//! count returned is what was appended, frames are of a track the init gave and never empty,
//! audio frames are sync samples, an error leaves the output untouched, and
//! the same segment pushed again gives each track the same samples (only their times
//! may move).
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::fmp4::demux::FragmentDemuxer;
use media::{Frame, TrackKind};

const FIXTURE_INIT: &[u8] = include_bytes!("../../fixtures/hls-fmp4/init.mp4");

fn check(demuxer: &FragmentDemuxer, segment: &[u8]) {
    let kinds: Vec<TrackKind> = demuxer.tracks().iter().map(|t| t.kind()).collect();
    assert!(!kinds.is_empty(), "an init without tracks was accepted");
    let mut first = demuxer.clone();
    let sentinel = Frame {
        kind: TrackKind::Audio,
        dts: media::MediaTime::new(0, media::Timescale::MILLIS),
        pts: media::MediaTime::new(0, media::Timescale::MILLIS),
        keyframe: true,
        data: bytes::Bytes::from_static(b"x"),
    };
    let mut out = vec![sentinel.clone()];
    match first.push_segment(segment, &mut out) {
        Ok(n) => {
            assert_eq!(out.len(), n + 1);
            assert!(
                n <= segment.len(),
                "{n} frames from {} bytes",
                segment.len()
            );
            for frame in &out[1..] {
                assert!(kinds.contains(&frame.kind), "frame of a track not read");
                assert!(!frame.data.is_empty());
                if frame.kind == TrackKind::Audio {
                    assert!(frame.keyframe);
                }
            }
        }
        Err(_) => assert_eq!(out, [sentinel.clone()], "an error changed the output"),
    }
    // The state kept between segments only moves times: the segment read again gives the
    // same samples (unless the moved times leave the range of the clock).
    if out.len() > 1 {
        let mut again = Vec::new();
        if let Ok(n) = first.push_segment(segment, &mut again) {
            assert_eq!(n, out.len() - 1);
            // Per track: the interleaving follows the times.
            for kind in [TrackKind::Video, TrackKind::Audio] {
                let samples = |frames: &[Frame]| {
                    frames
                        .iter()
                        .filter(|f| f.kind == kind)
                        .map(|f| (f.keyframe, f.data.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(samples(&out[1..]), samples(&again));
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        let Some((index, rest)) = rest.split_first_chunk::<2>() else {
            return;
        };
        let split = usize::from(u16::from_be_bytes(*index)) % (rest.len() + 1);
        let (init, segment) = rest.split_at(split);
        if let Ok(demuxer) = FragmentDemuxer::from_init(init) {
            check(&demuxer, segment);
        }
    } else {
        let demuxer = FragmentDemuxer::from_init(FIXTURE_INIT).expect("the fixture init parses");
        check(&demuxer, rest);
        if let Ok(demuxer) = FragmentDemuxer::from_init(rest) {
            check(&demuxer, &[]);
        }
    }
});
