//! FLV video and audio tag bodies: any input parses or fails; payloads are slices of the body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use media::flv::{parse_audio_tag, parse_video_tag, AudioTag, VideoTag};

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let within = |slice: &Bytes| slice.is_empty() || body.as_ptr_range().contains(&slice.as_ptr());
    match parse_video_tag(&body) {
        Ok(VideoTag::AvcSequenceHeader(d)) | Ok(VideoTag::HevcSequenceHeader(d)) => {
            assert_eq!(d.len() + 5, body.len());
            assert!(within(&d));
        }
        Ok(VideoTag::AvcNalu { data: d, hevc, .. }) => {
            // 5 header bytes (legacy, or Enhanced RTMP's CodedFramesX), 8 for Enhanced RTMP's
            // CodedFrames with its composition time; the payload is the rest of the body.
            let header = body.len() - d.len();
            assert!(header == 5 || (hevc && header == 8), "header of {header} bytes");
            assert!(within(&d));
        }
        Ok(VideoTag::AvcEndOfSequence) | Ok(VideoTag::Command) | Err(_) => {}
    }
    match parse_audio_tag(&body) {
        Ok(AudioTag::AacSequenceHeader(d)) | Ok(AudioTag::AacRaw(d)) => {
            assert_eq!(d.len() + 2, body.len());
            assert!(within(&d));
        }
        Err(_) => {}
    }
});
