//! Demuxer tests: round trips through the crate's own muxer, an ffmpeg-made stream in many
//! chunkings, resync after garbage, packet loss, the 33-bit wrap, unsupported streams.

use bytes::Bytes;

use super::super::demux::{TsDemuxStats, TsDemuxer, TsError, TsEvent};
use super::super::packet::{PesFlags, PidWriter};
use super::super::pes::PesHeader;
use super::super::psi::{crc32_mpeg2, write_pat, write_pmt};
use super::super::*;
use super::flv_reader::{self, FlvStream};
use crate::codec::{CodecConfig, TrackInfo};
use crate::flv::{DemuxEvent as FlvEvent, FlvDemuxer, FlvReader, FlvTagType};
use crate::frame::{Frame, TrackKind};
use crate::time::Timescale;

const FLV_320: &[u8] = include_bytes!(
    "../../../../../fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv"
);
const FLV_160: &[u8] = include_bytes!(
    "../../../../../fixtures/ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv"
);
const TS_4S: &[u8] =
    include_bytes!("../../../../../fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_4s_2s-gop.ts");

/// What a demux run produced, split by kind.
#[derive(Debug, Default, PartialEq)]
struct Demuxed {
    tracks: Vec<TrackInfo>,
    video: Vec<Frame>,
    audio: Vec<Frame>,
    errors: Vec<TsError>,
    stats: TsDemuxStats,
}

/// Demuxes `ts` pushed in chunks of `chunk` bytes, checking that every frame follows a track
/// of its kind.
fn demux(ts: &[u8], chunk: usize) -> Demuxed {
    let mut demuxer = TsDemuxer::new();
    let mut events = Vec::new();
    for part in ts.chunks(chunk.max(1)) {
        demuxer.push(part, &mut events);
    }
    demuxer.finish(&mut events);
    let mut d = Demuxed {
        stats: demuxer.stats(),
        ..Demuxed::default()
    };
    for event in events {
        match event {
            TsEvent::Track(t) => d.tracks.push(t),
            TsEvent::Frame(f) => {
                assert!(
                    d.tracks.iter().any(|t| t.kind() == f.kind),
                    "frame before its track"
                );
                assert_eq!(f.dts.timescale, Timescale::MPEG);
                match f.kind {
                    TrackKind::Video => d.video.push(f),
                    TrackKind::Audio => d.audio.push(f),
                }
            }
            TsEvent::Error(e) => d.errors.push(e),
        }
    }
    d
}

/// The FLV's frames through the crate's own FLV demuxer.
fn flv_frames(flv: &[u8]) -> (Vec<Frame>, Vec<Frame>) {
    let mut reader = FlvReader::new();
    reader.push(flv);
    let mut demuxer = FlvDemuxer::new();
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    while let Some(tag) = reader.next_tag().expect("valid FLV") {
        let event = match tag.tag_type {
            FlvTagType::Video => demuxer.push_video(tag.timestamp_ms, &tag.body),
            FlvTagType::Audio => demuxer.push_audio(tag.timestamp_ms, &tag.body),
            FlvTagType::Script => Ok(None),
        };
        if let Some(FlvEvent::Frame(f)) = event.expect("valid tag") {
            match f.kind {
                TrackKind::Video => video.push(f),
                TrackKind::Audio => audio.push(f),
            }
        }
    }
    (video, audio)
}

/// Muxes a stream as one segment per GOP, as the HLS packager does, starting at `sequence`.
fn mux_by_gop(stream: &FlvStream, sequence: u64, out: &mut Vec<u8>) -> u64 {
    let mut sequence = sequence;
    let mut start = 0;
    let samples = &stream.samples;
    while start < samples.len() {
        let end = samples
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, s)| s.kind == TrackKind::Video && s.keyframe)
            .map_or(samples.len(), |(i, _)| i);
        let segment: Vec<TsSample<'_>> = samples[start..end]
            .iter()
            .map(|s| TsSample {
                kind: s.kind,
                dts: s.dts,
                pts: s.pts,
                keyframe: s.keyframe,
                data: &s.data,
            })
            .collect();
        write_segment(
            Some(&CodecConfig::Avc(stream.video.clone())),
            Some(&stream.audio),
            &segment,
            sequence,
            out,
        )
        .expect("mux");
        sequence += 1;
        start = end;
    }
    sequence
}

/// Checks demuxed frames against the samples that were muxed.
fn assert_round_trip(stream: &FlvStream, d: &Demuxed) {
    assert_eq!(d.errors, vec![], "no damage in the muxer's own output");
    let video: Vec<_> = stream
        .samples
        .iter()
        .filter(|s| s.kind == TrackKind::Video)
        .collect();
    let audio: Vec<_> = stream
        .samples
        .iter()
        .filter(|s| s.kind == TrackKind::Audio)
        .collect();
    assert_eq!(d.video.len(), video.len());
    assert_eq!(d.audio.len(), audio.len());
    for (k, (f, s)) in d.video.iter().zip(&video).enumerate() {
        assert_eq!(f.data[..], s.data[..], "video frame {k}: AVCC payload");
        assert_eq!(
            (f.dts.ticks, f.pts.ticks),
            (s.dts, s.pts),
            "video frame {k}"
        );
        assert_eq!(f.keyframe, s.keyframe, "video frame {k}");
    }
    for (k, (f, s)) in d.audio.iter().zip(&audio).enumerate() {
        assert_eq!(f.data[..], s.data[..], "audio frame {k}");
        assert_eq!(f.dts, f.pts);
        assert!(f.keyframe);
        // The muxer writes one PTS per PES of up to five frames; the others follow at 1024
        // samples (1920 ticks) each, where the FLV's were rounded to milliseconds.
        assert!(
            (f.pts.ticks - s.pts).abs() <= 90,
            "audio frame {k}: {} vs {}",
            f.pts.ticks,
            s.pts
        );
    }
}

fn avc(track: &TrackInfo) -> &crate::codec::AvcConfig {
    match &track.codec {
        CodecConfig::Avc(c) => c,
        other => panic!("expected AVC, got {other:?}"),
    }
}

#[test]
fn round_trip_through_own_muxer() {
    let stream = flv_reader::read(FLV_320, 10 * 90_000);
    let mut ts = Vec::new();
    mux_by_gop(&stream, 7, &mut ts);
    for chunk in [188, 1316, ts.len()] {
        let d = demux(&ts, chunk);
        assert_round_trip(&stream, &d);
        // The configuration repeats before every keyframe but is announced once per kind.
        assert_eq!(d.tracks.len(), 2, "{:?}", d.tracks);
        let video = d.tracks.iter().find(|t| t.kind() == TrackKind::Video);
        let config = avc(video.expect("video track"));
        assert_eq!(config.sps, stream.video.sps);
        assert_eq!(config.pps, stream.video.pps);
        assert_eq!((config.info.width, config.info.height), (320, 240));
        let Some(CodecConfig::Aac(aac)) = d
            .tracks
            .iter()
            .find(|t| t.kind() == TrackKind::Audio)
            .map(|t| &t.codec)
        else {
            panic!("audio track");
        };
        assert_eq!(
            (aac.object_type, aac.sample_rate, aac.channel_config),
            (2, 48_000, 2)
        );
        assert_eq!(d.stats.dropped_pes + d.stats.continuity_errors, 0);
    }
}

#[test]
fn pts_wraps_at_2_pow_33_onto_a_monotonic_timeline() {
    // Starts 1 s before 2^33: the 10 s stream wraps early on.
    let stream = flv_reader::read(FLV_320, (1 << 33) - 90_000);
    let mut ts = Vec::new();
    mux_by_gop(&stream, 0, &mut ts);
    let d = demux(&ts, 1316);
    assert_round_trip(&stream, &d);
    assert!(d.video.iter().any(|f| f.dts.ticks < 1 << 33));
    assert!(d.video.iter().any(|f| f.dts.ticks > (1 << 33) + 90_000));
    assert!(d.video.windows(2).all(|w| w[0].dts < w[1].dts));
    assert!(d.audio.windows(2).all(|w| w[0].pts < w[1].pts));
}

#[test]
fn changed_parameter_sets_announce_a_new_track() {
    let high = flv_reader::read(FLV_320, 90_000);
    let low = flv_reader::read(FLV_160, 90_000 + 10 * 90_000);
    let mut ts = Vec::new();
    let next = mux_by_gop(&high, 0, &mut ts);
    mux_by_gop(&low, next, &mut ts);
    let d = demux(&ts, 7000);
    assert_eq!(d.errors, vec![]);
    let sizes: Vec<(u32, u32)> = d
        .tracks
        .iter()
        .filter(|t| t.kind() == TrackKind::Video)
        .map(|t| (avc(t).info.width, avc(t).info.height))
        .collect();
    assert_eq!(sizes, vec![(320, 240), (160, 120)]);
    // Same audio configuration: announced once.
    assert_eq!(
        d.tracks
            .iter()
            .filter(|t| t.kind() == TrackKind::Audio)
            .count(),
        1
    );
    let count = |s: &FlvStream| {
        s.samples
            .iter()
            .filter(|x| x.kind == TrackKind::Video)
            .count()
    };
    assert_eq!(d.video.len(), count(&high) + count(&low));
}

// Expected values measured with
// `ffprobe -v error -show_packets -show_entries packet=stream_index,pts,dts,flags,size -of json
//  fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_4s_2s-gop.ts` (ffmpeg 5.1.9).
const FFPROBE_VIDEO_PACKETS: usize = 102;
/// (dts, pts) of the keyframes.
const FFPROBE_KEYFRAMES: [(i64, i64); 3] =
    [(126_000, 133_200), (306_000, 313_200), (486_000, 493_200)];
const FFPROBE_VIDEO_FIRST: (i64, i64) = (126_000, 133_200);
const FFPROBE_VIDEO_LAST: (i64, i64) = (489_600, 504_000);
const FFPROBE_VIDEO_PTS_SUM: i64 = 32_137_200;
const FFPROBE_AUDIO_PACKETS: usize = 188;
const FFPROBE_AUDIO_FIRST_PTS: i64 = 131_310;
const FFPROBE_AUDIO_LAST_PTS: i64 = 490_335;
const FFPROBE_AUDIO_PTS_SUM: i64 = 58_433_475;
/// ffprobe's AAC packet sizes include the 7-byte ADTS header.
const FFPROBE_AUDIO_BYTES: usize = 33_288;

fn assert_matches_ffprobe(d: &Demuxed) {
    assert_eq!(d.errors, vec![]);
    assert_eq!(d.video.len(), FFPROBE_VIDEO_PACKETS);
    assert_eq!(d.audio.len(), FFPROBE_AUDIO_PACKETS);
    let times = |f: &Frame| (f.dts.ticks, f.pts.ticks);
    let keyframes: Vec<(i64, i64)> = d.video.iter().filter(|f| f.keyframe).map(times).collect();
    assert_eq!(keyframes, FFPROBE_KEYFRAMES);
    assert_eq!(d.video.first().map(times), Some(FFPROBE_VIDEO_FIRST));
    assert_eq!(d.video.last().map(times), Some(FFPROBE_VIDEO_LAST));
    assert_eq!(
        d.video.iter().map(|f| f.pts.ticks).sum::<i64>(),
        FFPROBE_VIDEO_PTS_SUM
    );
    assert!(d
        .video
        .windows(2)
        .all(|w| w[1].dts.ticks - w[0].dts.ticks == 3600));
    assert_eq!(
        d.audio.first().map(|f| f.pts.ticks),
        Some(FFPROBE_AUDIO_FIRST_PTS)
    );
    assert_eq!(
        d.audio.last().map(|f| f.pts.ticks),
        Some(FFPROBE_AUDIO_LAST_PTS)
    );
    assert_eq!(
        d.audio.iter().map(|f| f.pts.ticks).sum::<i64>(),
        FFPROBE_AUDIO_PTS_SUM
    );
    assert_eq!(
        d.audio.iter().map(|f| f.data.len()).sum::<usize>(),
        FFPROBE_AUDIO_BYTES - 7 * FFPROBE_AUDIO_PACKETS
    );
}

#[test]
fn ffmpeg_stream_in_any_chunking_matches_ffprobe_and_the_source_flv() {
    let whole = demux(TS_4S, TS_4S.len());
    assert_matches_ffprobe(&whole);
    assert_eq!(whole.stats.packets, (TS_4S.len() / PACKET_SIZE) as u64);
    assert_eq!(whole.stats.skipped_bytes, 0);
    assert_eq!(whole.tracks.len(), 2);
    let video = whole.tracks.iter().find(|t| t.kind() == TrackKind::Video);
    let info = &avc(video.expect("video track")).info;
    assert_eq!((info.width, info.height, info.profile_idc), (320, 240, 100));

    // ffmpeg -c copy: the same frames as the FLV it came from, minus the parameter sets and
    // access unit delimiters the TS carries in band.
    let (flv_video, flv_audio) = flv_frames(FLV_320);
    for (k, (ts, flv)) in whole.video.iter().zip(&flv_video).enumerate() {
        assert_eq!(ts.data, flv.data, "video frame {k}");
        assert_eq!(ts.keyframe, flv.keyframe, "video frame {k}");
        assert_eq!(ts.composition_offset(), flv.composition_offset() * 90);
    }
    for (k, (ts, flv)) in whole.audio.iter().zip(&flv_audio).enumerate() {
        assert_eq!(ts.data, flv.data, "audio frame {k}");
    }

    for chunk in [1, 188, 1316, 7000] {
        let d = demux(TS_4S, chunk);
        assert_eq!(d, whole, "chunks of {chunk} bytes");
    }
}

/// The packets of `ts` that carry `pid`, by index.
fn packet_indices(ts: &[u8], pid: u16, unit_start: bool) -> Vec<usize> {
    ts.chunks(PACKET_SIZE)
        .enumerate()
        .filter(|(_, p)| {
            u16::from_be_bytes([p[1], p[2]]) & 0x1FFF == pid && (p[1] & 0x40 != 0) == unit_start
        })
        .map(|(i, _)| i)
        .collect()
}

fn without_packet(ts: &[u8], index: usize) -> Vec<u8> {
    let mut out = ts[..index * PACKET_SIZE].to_vec();
    out.extend_from_slice(&ts[(index + 1) * PACKET_SIZE..]);
    out
}

#[test]
fn garbage_before_and_between_packets_is_skipped() {
    let clean = demux(TS_4S, TS_4S.len());
    let mut prefix = vec![0u8; 500];
    prefix[0] = 0x47; // 188 bytes on is still garbage
    prefix[100] = 0x47;
    let middle = 200 * PACKET_SIZE;
    let noise: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(3) | 0x80).collect();
    let mut ts = prefix.clone();
    ts.extend_from_slice(&TS_4S[..middle]);
    ts.extend_from_slice(&noise);
    ts.extend_from_slice(&TS_4S[middle..]);
    for chunk in [1, 1316, ts.len()] {
        let d = demux(&ts, chunk);
        assert_eq!(
            d.errors,
            vec![
                TsError::SyncLost {
                    offset: 0,
                    skipped: 500
                },
                TsError::SyncLost {
                    offset: (500 + middle) as u64,
                    skipped: 100
                },
            ],
            "chunks of {chunk}"
        );
        assert_eq!(d.stats.skipped_bytes, 600);
        assert_eq!(
            (&d.tracks, &d.video, &d.audio),
            (&clean.tracks, &clean.video, &clean.audio)
        );
    }
}

#[test]
fn a_lost_packet_drops_only_its_pes() {
    let clean = demux(TS_4S, TS_4S.len());
    // A video packet in the middle of an access unit.
    let continuations = packet_indices(TS_4S, VIDEO_PID, false);
    let lost = continuations[continuations.len() / 2];
    let ts = without_packet(TS_4S, lost);
    let d = demux(&ts, 1316);
    assert_eq!(d.video.len(), clean.video.len() - 1);
    assert!(matches!(
        d.errors[..],
        [TsError::ContinuityGap { pid: VIDEO_PID, .. }]
    ));
    assert_eq!((d.stats.continuity_errors, d.stats.dropped_pes), (1, 1));
    let missing = clean
        .video
        .iter()
        .position(|f| !d.video.contains(f))
        .expect("one frame missing");
    let mut expected = clean.video.clone();
    expected.remove(missing);
    assert_eq!(d.video, expected);
    assert_eq!(d.audio, clean.audio);

    // The first packet of an audio PES (audio PES carry their length, so the one before is
    // already complete): the frames of that PES go, nothing else.
    let starts = packet_indices(TS_4S, AUDIO_PID, true);
    let ts = without_packet(TS_4S, starts[5]);
    let d = demux(&ts, 188);
    assert_eq!((d.stats.continuity_errors, d.stats.dropped_pes), (1, 0));
    assert_eq!(d.video, clean.video);
    let kept: Vec<&Frame> = clean.audio.iter().filter(|f| d.audio.contains(f)).collect();
    assert_eq!(kept.len(), d.audio.len());
    assert!(d.audio.len() < clean.audio.len() && d.audio.len() + 20 > clean.audio.len());
}

/// A PMT packet for program 1 listing `(stream_type, pid)` streams.
fn pmt_packet(cc: u8, streams: &[(u8, u16)]) -> Vec<u8> {
    let mut s = vec![0x02, 0, 0, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0x00];
    for &(stream_type, pid) in streams {
        s.push(stream_type);
        s.extend_from_slice(&(0xE000 | pid).to_be_bytes());
        s.extend_from_slice(&[0xF0, 0x00]);
    }
    let len = (s.len() + 4 - 3) as u16;
    s[1..3].copy_from_slice(&(0xB000 | len).to_be_bytes());
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    let mut p = vec![0x47, 0x50, 0x00, 0x10 | cc, 0x00];
    p.extend_from_slice(&s);
    p.resize(PACKET_SIZE, 0xFF);
    p
}

#[test]
fn mpeg2_video_is_reported_unsupported_once_and_audio_goes_on() {
    let mut ts = TS_4S.to_vec();
    for p in ts.chunks_mut(PACKET_SIZE) {
        if u16::from_be_bytes([p[1], p[2]]) & 0x1FFF == PMT_PID {
            let cc = p[3] & 0x0F;
            p.copy_from_slice(&pmt_packet(cc, &[(0x02, VIDEO_PID), (0x0F, AUDIO_PID)]));
        }
    }
    let d = demux(&ts, 1316);
    assert_eq!(
        d.errors,
        vec![TsError::UnsupportedStream {
            pid: VIDEO_PID,
            stream_type: 0x02,
            name: "MPEG-2 video"
        }]
    );
    assert!(d.video.is_empty());
    assert_eq!(d.audio.len(), FFPROBE_AUDIO_PACKETS);
    assert_eq!(d.tracks.len(), 1);
}

/// PAT, PMT (audio only) and then the given audio PES, each `(pts, body)`.
fn audio_only_stream(pes: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    write_pat(&mut out, 0);
    write_pmt(&mut out, 0, None, true);
    let mut writer = PidWriter::new(AUDIO_PID);
    for (pts, body) in pes {
        let header = PesHeader::new(0xC0, *pts, *pts, None).expect("header");
        let flags = PesFlags {
            random_access: true,
            pcr: None,
        };
        writer.write_pes(&mut out, flags, header.as_bytes(), &[body], body.len());
    }
    out
}

fn adts_frame(payload: &[u8]) -> Vec<u8> {
    let config = crate::codec::AacConfig::parse(Bytes::from_static(&[0x11, 0x90])).expect("ASC");
    let mut frame = config.adts_header(payload.len()).expect("fits").to_vec();
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn adts_frames_split_across_pes_keep_their_times() {
    let (a, b, c) = (vec![1u8; 300], vec![2u8; 310], vec![3u8; 320]);
    let (fa, fb, fc) = (adts_frame(&a), adts_frame(&b), adts_frame(&c));
    let cut = 100;
    let mut first = fa.clone();
    first.extend_from_slice(&fb[..cut]);
    let mut second = fb[cut..].to_vec();
    second.extend_from_slice(&fc);
    // The second PES's PTS is that of C, the first frame that starts in it.
    let ts = audio_only_stream(&[(9_000, first), (9_000 + 2 * 1920, second)]);
    let d = demux(&ts, 188);
    assert_eq!(d.errors, vec![]);
    let got: Vec<(i64, &[u8])> = d.audio.iter().map(|f| (f.pts.ticks, &f.data[..])).collect();
    assert_eq!(
        got,
        vec![(9_000, &a[..]), (10_920, &b[..]), (12_840, &c[..])]
    );
}

#[test]
fn oversized_pes_is_dropped_and_reported() {
    let big: Vec<u8> = adts_frame(&[9u8; 1000]).repeat(70);
    let small = adts_frame(&[4u8; 200]);
    let ts = audio_only_stream(&[(0, big), (200_000, small.clone())]);
    let d = demux(&ts, 1316);
    assert!(
        matches!(
            d.errors[..],
            [TsError::PesTooLarge {
                pid: AUDIO_PID,
                limit: 65_536,
                ..
            }]
        ),
        "{:?}",
        d.errors
    );
    assert_eq!(d.stats.dropped_pes, 1);
    assert_eq!(d.audio.len(), 1);
    assert_eq!(d.audio[0].pts.ticks, 200_000);
    assert_eq!(d.audio[0].data[..], small[7..]);
}

#[test]
fn truncated_and_empty_input_emit_nothing_and_never_panic() {
    for len in [0, 1, 187, 188, 189, 375, 376, 377, 1000] {
        let d = demux(&TS_4S[..len], 7);
        assert!(d.video.is_empty() && d.audio.is_empty());
    }
    // A stream cut mid-packet: everything before the cut still comes out.
    let cut = TS_4S.len() - 100;
    let d = demux(&TS_4S[..cut], 1316);
    assert!(d.video.len() >= FFPROBE_VIDEO_PACKETS - 1);
    assert_eq!(d.stats.skipped_bytes, (PACKET_SIZE - 100) as u64);
}
