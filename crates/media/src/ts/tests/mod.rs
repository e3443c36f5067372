//! Whole-segment tests: framing, PSI, timestamps, parameter sets, grouping, errors.

mod demux;
mod flv_reader;
mod hevc;
mod interop;

use bytes::Bytes;

use super::pes::ts33;
use super::psi::crc32_mpeg2;
use super::*;
use crate::codec::SpsInfo;

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9];
const PPS: &[u8] = &[0x68, 0xEB, 0xE3, 0xCB];
const FRAME: i64 = 3003;
const AAC_FRAME: i64 = 1920;

fn avc_config() -> CodecConfig {
    CodecConfig::Avc(crate::codec::AvcConfig {
        record: Bytes::new(),
        nal_length_size: 4,
        sps: vec![Bytes::from_static(SPS)],
        pps: vec![Bytes::from_static(PPS)],
        info: SpsInfo {
            profile_idc: 100,
            constraint_flags: 0,
            level_idc: 31,
            width: 1280,
            height: 720,
            frame_rate: None,
        },
    })
}

fn aac_config() -> AacConfig {
    AacConfig {
        asc: Bytes::from_static(&[0x11, 0x90]),
        object_type: 2,
        sampling_frequency_index: 3,
        sample_rate: 48_000,
        channel_config: 2,
        samples_per_frame: 1024,
    }
}

/// AVCC with 4-byte lengths.
fn avcc(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// An IDR or non-IDR slice NAL of `len` bytes.
fn slice(idr: bool, len: usize) -> Vec<u8> {
    let mut nal = vec![if idr { 0x65 } else { 0x41 }];
    nal.extend((1..len).map(|i| (i * 7 % 256) as u8 | 1));
    nal
}

/// A test stream in decode order: video with two B-frames per P, and audio by dts.
struct Stream {
    video: Vec<(i64, i64, bool, Vec<u8>)>,
    audio: Vec<(i64, Vec<u8>)>,
}

impl Stream {
    /// `frames` video frames and the audio of the same span, all shifted by `base`.
    fn new(base: i64, frames: usize) -> Stream {
        // Decode order I P B B P B B ...: (dts, pts) in frames.
        let mut video = Vec::new();
        for k in 0..frames as i64 {
            // Display order, delayed one frame so that pts >= dts.
            let pts = 1 + match k {
                0 => 0,
                k if k % 3 == 1 => k + 2,
                k => k - 1,
            };
            let idr = k == 0;
            let data = avcc(&[&slice(idr, 200 + 37 * k as usize)]);
            video.push((base + k * FRAME, base + pts * FRAME, idr, data));
        }
        let audio_frames = frames as i64 * FRAME / AAC_FRAME;
        let audio = (0..audio_frames)
            .map(|k| {
                (
                    base + k * AAC_FRAME,
                    vec![0x21 ^ k as u8; 100 + k as usize * 5],
                )
            })
            .collect();
        Stream { video, audio }
    }

    fn samples(&self) -> Vec<TsSample<'_>> {
        let mut samples: Vec<TsSample<'_>> = self
            .video
            .iter()
            .map(|(dts, pts, key, data)| TsSample {
                kind: TrackKind::Video,
                dts: *dts,
                pts: *pts,
                keyframe: *key,
                data,
            })
            .chain(self.audio.iter().map(|(t, data)| TsSample {
                kind: TrackKind::Audio,
                dts: *t,
                pts: *t,
                keyframe: true,
                data,
            }))
            .collect();
        // Stable: video first at equal dts.
        samples.sort_by_key(|s| s.dts);
        samples
    }
}

fn segment(samples: &[TsSample<'_>], sequence: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_segment(
        Some(&avc_config()),
        Some(&aac_config()),
        samples,
        sequence,
        &mut out,
    )
    .expect("valid segment");
    out
}

/// One parsed packet.
struct Packet<'a> {
    pid: u16,
    unit_start: bool,
    cc: u8,
    /// Adaptation field after its length byte.
    af: Option<&'a [u8]>,
    payload: &'a [u8],
}

fn packets(segment: &[u8]) -> Vec<Packet<'_>> {
    assert_eq!(segment.len() % PACKET_SIZE, 0, "whole packets");
    segment
        .chunks(PACKET_SIZE)
        .map(|p| {
            assert_eq!(p[0], 0x47, "sync byte");
            let control = (p[3] >> 4) & 3;
            let (af, payload_at) = if control & 2 != 0 {
                let len = usize::from(p[4]);
                (Some(&p[5..5 + len]), 5 + len)
            } else {
                (None, 4)
            };
            Packet {
                pid: u16::from_be_bytes([p[1], p[2]]) & 0x1FFF,
                unit_start: p[1] & 0x40 != 0,
                cc: p[3] & 0x0F,
                af,
                payload: if control & 1 != 0 {
                    &p[payload_at..]
                } else {
                    &[]
                },
            }
        })
        .collect()
}

/// One reassembled PES with the adaptation field of its first packet.
struct Pes {
    bytes: Vec<u8>,
    flags: u8,
    pcr: Option<u64>,
}

impl Pes {
    fn header_len(&self) -> usize {
        9 + usize::from(self.bytes[8])
    }
    fn payload(&self) -> &[u8] {
        &self.bytes[self.header_len()..]
    }
}

fn pes_of(segment: &[u8], pid: u16) -> Vec<Pes> {
    let mut out: Vec<Pes> = Vec::new();
    for p in packets(segment).into_iter().filter(|p| p.pid == pid) {
        if p.unit_start {
            let flags = p.af.and_then(|af| af.first().copied()).unwrap_or(0);
            let pcr = p.af.filter(|_| flags & 0x10 != 0).map(|af| {
                let b = &af[1..7];
                assert_eq!(b[4] & 0x7E, 0x7E, "reserved bits");
                assert_eq!((b[4] & 1, b[5]), (0, 0), "PCR extension 0");
                (u64::from(b[0]) << 25)
                    | (u64::from(b[1]) << 17)
                    | (u64::from(b[2]) << 9)
                    | (u64::from(b[3]) << 1)
                    | u64::from(b[4] >> 7)
            });
            out.push(Pes {
                bytes: Vec::new(),
                flags,
                pcr,
            });
        }
        out.last_mut()
            .expect("PES starts first")
            .bytes
            .extend_from_slice(p.payload);
    }
    out
}

/// Annex B NAL units (types) of an access unit; asserts 4-byte start codes.
fn nal_types(annexb: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 4 < annexb.len() {
        if annexb[i..i + 4] == [0, 0, 0, 1] {
            types.push(annexb[i + 4] & 0x1F);
            i += 4;
        } else {
            i += 1;
        }
    }
    assert!(annexb.starts_with(&[0, 0, 0, 1]));
    types
}

#[test]
fn every_packet_is_188_bytes_with_sync_byte() {
    let stream = Stream::new(900_000, 30);
    let out = segment(&stream.samples(), 0);
    assert_eq!(out.len() % PACKET_SIZE, 0);
    assert!(out.len() > 20 * PACKET_SIZE);
    assert!(out
        .chunks(PACKET_SIZE)
        .all(|p| p.len() == 188 && p[0] == 0x47));
    // Never 0xFF padding inside a PES: each PES payload is exactly what was muxed.
    let video = pes_of(&out, VIDEO_PID);
    assert_eq!(video.len(), 30);
    assert!(video.iter().all(|p| p.bytes[..4] == [0, 0, 1, 0xE0]));
}

#[test]
fn pat_and_pmt_lead_with_valid_crc_and_sequence_continuity_counter() {
    let stream = Stream::new(0, 3);
    for sequence in [0u64, 1, 15, 16, 17, 1_000_003, u64::MAX] {
        let out = segment(&stream.samples(), sequence);
        let ps = packets(&out);
        assert_eq!((ps[0].pid, ps[1].pid), (0, PMT_PID));
        for p in &ps[..2] {
            assert!(p.unit_start && p.af.is_none());
            assert_eq!(u64::from(p.cc), sequence % 16);
            assert_eq!(p.payload[0], 0, "pointer_field");
            let s = &p.payload[1..];
            let len = usize::from(u16::from_be_bytes([s[1], s[2]]) & 0x0FFF);
            assert_eq!(crc32_mpeg2(&s[..3 + len]), 0, "CRC");
            assert!(s[3 + len..].iter().all(|&b| b == 0xFF));
        }
        assert_eq!(
            ps.iter().filter(|p| p.pid == 0 || p.pid == PMT_PID).count(),
            2
        );
    }
}

#[test]
fn elementary_pids_restart_at_zero_with_discontinuity_and_are_deterministic() {
    let stream = Stream::new(12_345, 20);
    let samples = stream.samples();
    let a = segment(&samples, 41);
    assert_eq!(a, segment(&samples, 41), "same input, same bytes");
    for pid in [VIDEO_PID, AUDIO_PID] {
        let ps: Vec<Packet<'_>> = packets(&a).into_iter().filter(|p| p.pid == pid).collect();
        assert!(ps.len() > 16, "counter wraps within the segment");
        for (i, p) in ps.iter().enumerate() {
            assert_eq!(usize::from(p.cc), i % 16);
            let discontinuity =
                p.af.is_some_and(|af| af.first().is_some_and(|f| f & 0x80 != 0));
            assert_eq!(discontinuity, i == 0, "packet {i} of PID {pid:#x}");
        }
    }
}

#[test]
fn b_frames_round_trip_timestamps_across_the_33_bit_wrap() {
    // Starts 4 frames before 2^33, so the clock wraps inside the segment.
    let base = (1i64 << 33) - 4 * FRAME + (5 << 33);
    let stream = Stream::new(base, 12);
    let samples = stream.samples();
    assert!(samples.iter().any(|s| s.pts > s.dts));
    let out = segment(&samples, 3);
    let summary = inspect(&out).expect("parses");

    let video: Vec<&PesStart> = summary.pes.iter().filter(|p| p.pid == VIDEO_PID).collect();
    assert_eq!(video.len(), stream.video.len());
    for (pes, (dts, pts, key, _)) in video.iter().zip(&stream.video) {
        assert_eq!(pes.stream_id, 0xE0);
        assert_eq!(pes.pts, Some(ts33(*pts)));
        assert_eq!(pes.dts, (pts != dts).then(|| ts33(*dts)));
        assert_eq!(pes.decode_time(), Some(ts33(*dts)));
        assert_eq!(pes.random_access, *key);
    }
    assert!(
        video.iter().any(|p| p.pts < Some(1000)),
        "some timestamps wrapped"
    );

    // PCR on every video PES, 0.7 s behind its DTS, modulo 2^33.
    let video_pes = pes_of(&out, VIDEO_PID);
    for (pes, (dts, ..)) in video_pes.iter().zip(&stream.video) {
        assert_eq!(pes.pcr, Some(ts33(dts - 63_000)));
    }
    // Audio: PTS only, one per group, and no PCR.
    let audio: Vec<&PesStart> = summary.pes.iter().filter(|p| p.pid == AUDIO_PID).collect();
    assert!(!audio.is_empty());
    assert!(audio.iter().all(|p| p.dts.is_none() && p.stream_id == 0xC0));
    assert_eq!(audio[0].pts, Some(ts33(stream.audio[0].0)));
    assert!(pes_of(&out, AUDIO_PID).iter().all(|p| p.pcr.is_none()));
}

#[test]
fn first_video_pes_is_random_access_with_aud_sps_pps() {
    let stream = Stream::new(90_000, 6);
    let out = segment(&stream.samples(), 0);
    let summary = inspect(&out).expect("parses");
    let first = summary
        .pes
        .iter()
        .find(|p| p.pid == VIDEO_PID)
        .expect("video");
    assert!(first.random_access);

    let video = pes_of(&out, VIDEO_PID);
    assert_eq!(video[0].bytes[6], 0x84, "data_alignment_indicator");
    assert_eq!(
        u16::from_be_bytes([video[0].bytes[4], video[0].bytes[5]]),
        0
    );
    let au = video[0].payload();
    assert!(au.starts_with(&[0, 0, 0, 1, 0x09, 0xF0]), "AUD first");
    assert_eq!(nal_types(au), [9, 7, 8, 5]);
    let sps_at = 10;
    assert_eq!(&au[sps_at..sps_at + SPS.len()], SPS);
    assert_eq!(&au[sps_at + SPS.len() + 4..][..PPS.len()], PPS);
    // Later frames: AUD and slice only, no random access.
    for pes in &video[1..] {
        assert_eq!(nal_types(pes.payload()), [9, 1]);
        assert_eq!(pes.flags & 0x40, 0);
    }
    assert_ne!(video[0].flags & 0x40, 0);
}

#[test]
fn audio_frames_are_grouped_up_to_five_per_pes_with_exact_length() {
    let frames: Vec<Vec<u8>> = (0..12).map(|k| vec![k as u8; 50 + k * 3]).collect();
    let mut samples: Vec<TsSample<'_>> = frames
        .iter()
        .enumerate()
        .map(|(k, data)| TsSample {
            kind: TrackKind::Audio,
            dts: k as i64 * AAC_FRAME,
            pts: k as i64 * AAC_FRAME,
            keyframe: false,
            data,
        })
        .collect();
    // A video frame after audio frame 7 ends that group early.
    let key = avcc(&[&slice(true, 50)]);
    samples.insert(
        8,
        TsSample {
            kind: TrackKind::Video,
            dts: 7 * AAC_FRAME,
            pts: 7 * AAC_FRAME,
            keyframe: true,
            data: &key,
        },
    );
    let out = segment(&samples, 0);
    let audio = pes_of(&out, AUDIO_PID);
    let groups: Vec<usize> = [5, 3, 4].into();
    assert_eq!(audio.len(), groups.len());
    let mut next = 0;
    for (pes, n) in audio.iter().zip(groups) {
        let declared = usize::from(u16::from_be_bytes([pes.bytes[4], pes.bytes[5]]));
        assert_eq!(declared, pes.bytes.len() - 6, "exact PES_packet_length");
        assert_eq!(pes.flags & 0x10, 0, "video carries the PCR");
        let mut adts = pes.payload();
        for frame in &frames[next..next + n] {
            assert_eq!(&adts[..2], &[0xFF, 0xF1]);
            assert_eq!(adts[2] >> 6, 1, "LC");
            let len = (usize::from(adts[3] & 3) << 11)
                | (usize::from(adts[4]) << 3)
                | usize::from(adts[5] >> 5);
            assert_eq!(len, frame.len() + 7);
            assert_eq!(&adts[7..len], &frame[..]);
            adts = &adts[len..];
        }
        assert!(adts.is_empty());
        next += n;
    }
    let summary = inspect(&out).expect("parses");
    let pts: Vec<Option<u64>> = summary
        .pes
        .iter()
        .filter(|p| p.pid == AUDIO_PID)
        .map(|p| p.pts)
        .collect();
    let at = |k: u64| Some(k * AAC_FRAME as u64);
    assert_eq!(pts, [at(0), at(5), at(8)]);
}

#[test]
fn audio_only_segment_carries_pcr_on_audio() {
    let frames: Vec<Vec<u8>> = (0..7).map(|k| vec![0x5A; 10 + k]).collect();
    let samples: Vec<TsSample<'_>> = frames
        .iter()
        .enumerate()
        .map(|(k, data)| TsSample {
            kind: TrackKind::Audio,
            dts: 100_000 + k as i64 * AAC_FRAME,
            pts: 100_000 + k as i64 * AAC_FRAME,
            keyframe: true,
            data,
        })
        .collect();
    let mut out = Vec::new();
    write_segment(None, Some(&aac_config()), &samples, 2, &mut out).expect("valid");
    let pmt = &packets(&out)[1];
    let s = &pmt.payload[1..];
    assert_eq!(u16::from_be_bytes([s[8], s[9]]) & 0x1FFF, AUDIO_PID);
    assert_eq!(s[12], 0x0F);
    let audio = pes_of(&out, AUDIO_PID);
    assert_eq!(audio.len(), 2);
    assert_eq!(audio[0].pcr, Some(100_000 - 63_000));
    assert_eq!(audio[1].pcr, Some(100_000 + 5 * AAC_FRAME as u64 - 63_000));
    assert_eq!(inspect(&out).expect("parses").packets(VIDEO_PID), 0);
}

#[test]
fn stuffing_is_exact_for_audio_payloads_of_0_to_400_bytes() {
    let data = vec![0x33u8; 400];
    for len in 0..=400 {
        let samples = [TsSample {
            kind: TrackKind::Audio,
            dts: 0,
            pts: 0,
            keyframe: true,
            data: &data[..len],
        }];
        let mut out = Vec::new();
        write_segment(None, Some(&aac_config()), &samples, 0, &mut out).expect("valid");
        let ps = packets(&out);
        let audio: Vec<&Packet<'_>> = ps.iter().filter(|p| p.pid == AUDIO_PID).collect();
        // PES header 14 + ADTS 7 + frame; first packet has flags and PCR (8 bytes).
        let pes_len = 14 + 7 + len;
        let want = if pes_len <= 176 {
            1
        } else {
            1 + (pes_len - 176).div_ceil(184)
        };
        assert_eq!(audio.len(), want, "len {len}");
        let carried: usize = audio.iter().map(|p| p.payload.len()).sum();
        assert_eq!(carried, pes_len, "len {len}");
        let last = audio.last().expect("one packet");
        let used = 4 + last.af.map_or(0, |af| af.len() + 1) + last.payload.len();
        assert_eq!(used, PACKET_SIZE);
        if let Some(af) = last.af.filter(|_| audio.len() > 1) {
            assert!(af.is_empty() || (af[0] == 0 && af[1..].iter().all(|&b| b == 0xFF)));
        }
        assert_eq!(pes_of(&out, AUDIO_PID)[0].payload()[7..], data[..len]);
    }
}

#[test]
fn errors_leave_out_untouched() {
    let video = avc_config();
    let audio = aac_config();
    let good = avcc(&[&slice(true, 20)]);
    let mut overrun = good.clone();
    overrun[3] += 1;
    let big = vec![0u8; 8185];
    let sample = |kind, data| TsSample {
        kind,
        dts: 0,
        pts: 0,
        keyframe: true,
        data,
    };
    let mut bad_length_size = video.clone();
    if let CodecConfig::Avc(c) = &mut bad_length_size {
        c.nal_length_size = 3;
    }
    let cases: Vec<(Option<&CodecConfig>, Option<&AacConfig>, TsSample<'_>)> = vec![
        (
            Some(&video),
            Some(&audio),
            sample(TrackKind::Video, &overrun),
        ),
        (
            Some(&video),
            Some(&audio),
            sample(TrackKind::Video, &good[..3]),
        ),
        (None, Some(&audio), sample(TrackKind::Video, &good)),
        (Some(&video), None, sample(TrackKind::Audio, &big[..10])),
        (Some(&video), Some(&audio), sample(TrackKind::Audio, &big)),
        (
            Some(&bad_length_size),
            None,
            sample(TrackKind::Video, &good),
        ),
        (None, None, sample(TrackKind::Video, &good)),
    ];
    for (i, (v, a, s)) in cases.into_iter().enumerate() {
        let mut out = vec![1, 2, 3];
        let ok = [
            sample(TrackKind::Video, &good),
            sample(TrackKind::Audio, &big[..9]),
        ];
        let samples = if v.is_some() && a.is_some() {
            [ok[0], ok[1], s]
        } else {
            [s, s, s]
        };
        let err = write_segment(v, a, &samples, 0, &mut out);
        assert!(err.is_err(), "case {i} should fail");
        assert_eq!(out, [1, 2, 3], "case {i} left output behind");
    }
    // The largest frame ADTS can carry is fine.
    let mut out = Vec::new();
    write_segment(
        None,
        Some(&audio),
        &[sample(TrackKind::Audio, &big[..8184])],
        0,
        &mut out,
    )
    .expect("8191-byte ADTS frame");
}
