//! Arbitrary bytes pushed to `TsDemuxer` in arbitrary chunks (sizes taken from the first
//! bytes), then `finish`. Nothing may panic; frames only follow a track of their kind, video
//! payloads are well-formed length-prefixed NAL units (4-byte lengths, H.264 or H.265)
//! without parameter sets or delimiters, audio frames are sync samples with
//! pts == dts, and splitting the input differently gives the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::codec::avc::nal_units;
use media::ts::{TsDemuxer, TsEvent};
use media::codec::hevc;
use media::{CodecConfig, TrackKind};

fn run(data: &[u8], sizes: &[u8]) -> Vec<TsEvent> {
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    let mut rest = data;
    let mut k = 0;
    while !rest.is_empty() {
        // Chunk sizes 1..=1316 cycling over the size bytes; whole input when there are none.
        let size = match sizes.get(k % sizes.len().max(1)) {
            Some(&b) => 1 + usize::from(b) * 1316 / 256,
            None => rest.len(),
        };
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        demuxer.push(chunk, &mut events);
        rest = tail;
        k += 1;
    }
    demuxer.finish(&mut events);
    let stats = demuxer.stats();
    assert!(stats.skipped_bytes <= data.len() as u64);
    assert!(stats.packets <= (data.len() / 188) as u64);
    events
}

fuzz_target!(|input: &[u8]| {
    let Some((&n, rest)) = input.split_first() else {
        return;
    };
    let (sizes, data) = rest.split_at(usize::from(n % 8).min(rest.len()));
    let events = run(data, sizes);
    let (mut video, mut audio) = (false, false);
    let mut hevc_video = false;
    for event in &events {
        match event {
            TsEvent::Track(track) => match track.kind() {
                TrackKind::Video => {
                    video = true;
                    hevc_video = matches!(track.codec, CodecConfig::Hevc(_));
                }
                TrackKind::Audio => audio = true,
            },
            TsEvent::Frame(frame) => match frame.kind {
                TrackKind::Video => {
                    assert!(video, "video frame before its track");
                    assert!(!frame.data.is_empty());
                    for nal in nal_units(&frame.data, 4) {
                        let nal = nal.expect("well-formed AVCC");
                        assert!(!nal.is_empty());
                        if hevc_video {
                            let t = hevc::nal_type(&nal);
                            assert!(!(32..=35).contains(&t), "VPS/SPS/PPS/AUD kept");
                        } else {
                            assert!(!matches!(nal[0] & 0x1F, 7 | 8 | 9), "SPS/PPS/AUD kept");
                        }
                    }
                }
                TrackKind::Audio => {
                    assert!(audio, "audio frame before its track");
                    assert_eq!(frame.dts, frame.pts);
                    assert!(frame.keyframe);
                }
            },
            TsEvent::Error(_) => {}
        }
    }
    // Chunking does not change the outcome.
    assert_eq!(run(data, &[]), events);
});
