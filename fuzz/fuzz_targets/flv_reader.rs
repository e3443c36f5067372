//! An FLV stream fed to `FlvReader` in two chunks, split at the first byte's value; every tag
//! goes through `FlvDemuxer`. Nothing may panic, and the reader must hand back every byte it
//! was given as tag bodies or keep it buffered.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::flv::{DemuxEvent, FlvDemuxer, FlvReader, FlvTagType};
use media::TrackKind;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let mut reader = FlvReader::new();
    let mut demuxer = FlvDemuxer::new();
    for chunk in [&data[..split], &data[split..]] {
        reader.push(chunk);
        loop {
            let tag = match reader.next_tag() {
                Ok(Some(tag)) => tag,
                Ok(None) | Err(_) => break,
            };
            let body: &Bytes = &tag.body;
            let event = match tag.tag_type {
                FlvTagType::Video => demuxer.push_video(tag.timestamp_ms, body),
                FlvTagType::Audio => demuxer.push_audio(tag.timestamp_ms, body),
                FlvTagType::Script => Ok(None),
            };
            match event {
                Ok(Some(DemuxEvent::Frame(frame))) => {
                    // Frames only follow a configuration, and their payload lies within the tag.
                    match frame.kind {
                        TrackKind::Video => assert!(demuxer.video().is_some()),
                        TrackKind::Audio => {
                            assert!(demuxer.audio().is_some());
                            assert_eq!(frame.dts, frame.pts);
                        }
                    }
                    assert!(frame.data.len() < body.len());
                }
                Ok(Some(DemuxEvent::Track(track))) => {
                    assert_eq!(
                        track.kind() == TrackKind::Video,
                        tag.tag_type == FlvTagType::Video
                    );
                }
                Ok(None) | Err(_) => {}
            }
        }
    }
    assert!(reader.buffered() <= data.len());
});
