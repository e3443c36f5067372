//! CMAF headers and fragments decoded back with mp4-atom, their byte layout, and errors.

mod interop;

use bytes::Bytes;
use mp4_atom::{Avcc, Codec, Decode, DrefEntry, Encode, Ftyp, Mdat, Moof, Moov, Styp, TrunEntry};

use super::*;
use crate::codec::SpsInfo;

const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9, 0x40, 0x50, 0x05, 0xBB];
const PPS: &[u8] = &[0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0];
const ASC: &[u8] = &[0x11, 0x90];

/// An AVCDecoderConfigurationRecord with one SPS and PPS; `reserved_bits` sets the reserved
/// bits of lengthSizeMinusOne and numOfSequenceParameterSets as the spec asks.
fn record(reserved_bits: bool) -> Vec<u8> {
    let (length, count) = if reserved_bits {
        (0xFF, 0xE1)
    } else {
        (0x03, 0x01)
    };
    let mut r = vec![1, SPS[1], SPS[2], SPS[3], length, count];
    r.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
    r.extend_from_slice(SPS);
    r.push(1);
    r.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
    r.extend_from_slice(PPS);
    // High profile: chroma format 4:2:0, 8-bit, no SPS extensions.
    r.extend_from_slice(&[0xFD, 0xF8, 0xF8, 0x00]);
    r
}

fn avc_config(record: Vec<u8>) -> AvcConfig {
    AvcConfig {
        record: Bytes::from(record),
        nal_length_size: 4,
        sps: vec![Bytes::from_static(SPS)],
        pps: vec![Bytes::from_static(PPS)],
        info: SpsInfo {
            profile_idc: 100,
            constraint_flags: 0,
            level_idc: 31,
            width: 1280,
            height: 720,
            frame_rate: Some(25.0),
        },
    }
}

fn aac_config() -> AacConfig {
    AacConfig {
        asc: Bytes::from_static(ASC),
        object_type: 2,
        sampling_frequency_index: 3,
        sample_rate: 48_000,
        channel_config: 2,
        samples_per_frame: 1024,
    }
}

fn init(track: &TrackInfo, track_id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_init_segment(track, track_id, &mut out).expect("valid header");
    out
}

fn decode_init(bytes: &[u8]) -> (Ftyp, Moov) {
    let mut buf = bytes;
    let ftyp = Ftyp::decode(&mut buf).expect("ftyp");
    let moov = Moov::decode(&mut buf).expect("moov");
    assert!(buf.is_empty(), "nothing after moov");
    (ftyp, moov)
}

/// The body of the box at the end of `path`, each step skipping the given bytes of its
/// body before its children.
pub(super) const AVCC_PATH: [(&[u8; 4], usize); 8] = [
    (b"moov", 0),
    (b"trak", 0),
    (b"mdia", 0),
    (b"minf", 0),
    (b"stbl", 0),
    (b"stsd", 8),
    (b"avc1", 78),
    (b"avcC", 0),
];

pub(super) fn body_at(bytes: &[u8], path: &[(&[u8; 4], usize)]) -> Range<usize> {
    let mut body = 0..bytes.len();
    for (kind, skip) in path {
        let found = find_box(bytes, body, kind).expect("box on the path");
        body = found.start + 8 + skip..found.end;
    }
    body
}

/// The boxes that fill `range`: (type, range of the whole box).
fn children(bytes: &[u8], range: Range<usize>) -> Vec<([u8; 4], Range<usize>)> {
    let mut out = Vec::new();
    let mut pos = range.start;
    while pos < range.end {
        let size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let (size, _) = if size == 1 {
            let large = u64::from_be_bytes(bytes[pos + 8..pos + 16].try_into().expect("8"));
            (large as usize, 16)
        } else {
            (size, 8)
        };
        assert!(size >= 8 && pos + size <= range.end, "box at {pos} fits");
        out.push((
            bytes[pos + 4..pos + 8].try_into().expect("4 bytes"),
            pos..pos + size,
        ));
        pos += size;
    }
    out
}

#[test]
fn video_header_round_trips_through_mp4_atom() {
    let track = TrackInfo::video(avc_config(record(true)));
    let out = init(&track, 7);
    let (ftyp, moov) = decode_init(&out);

    assert_eq!(ftyp.major_brand, FourCC::new(b"iso6"));
    assert_eq!(ftyp.minor_version, 0);
    let brands: Vec<FourCC> = [b"iso6", b"cmfc", b"mp41"]
        .into_iter()
        .map(FourCC::new)
        .collect();
    assert_eq!(ftyp.compatible_brands, brands);

    assert_eq!(moov.mvhd.timescale, 90_000);
    assert_eq!(moov.mvhd.duration, 0);
    assert_eq!(moov.mvhd.next_track_id, 8);
    assert_eq!(moov.trak.len(), 1);
    let trak = &moov.trak[0];
    assert_eq!(trak.tkhd.track_id, 7);
    assert!(trak.tkhd.enabled && trak.tkhd.in_movie);
    assert_eq!(trak.tkhd.width, FixedPoint::new(1280, 0));
    assert_eq!(trak.tkhd.height, FixedPoint::new(720, 0));
    assert_eq!(trak.tkhd.volume, FixedPoint::new(0, 0));
    assert_eq!(trak.tkhd.duration, 0);
    assert!(trak.edts.is_none(), "no edit list");

    let mdia = &trak.mdia;
    assert_eq!(mdia.mdhd.timescale, 90_000);
    assert_eq!(mdia.mdhd.duration, 0);
    assert_eq!(mdia.mdhd.language, "und");
    assert_eq!(mdia.hdlr.handler, FourCC::new(b"vide"));
    let minf = &mdia.minf;
    assert!(minf.vmhd.is_some() && minf.smhd.is_none());
    assert_eq!(minf.dinf.dref.entries.len(), 1);
    assert!(matches!(&minf.dinf.dref.entries[0], DrefEntry::Url(url) if url.location.is_empty()));

    let stbl = &minf.stbl;
    assert!(stbl.stts.entries.is_empty());
    assert!(stbl.stsc.entries.is_empty());
    assert_eq!(
        stbl.stsz.samples,
        mp4_atom::StszSamples::Different { sizes: vec![] }
    );
    assert_eq!(stbl.stco.as_ref().map(|s| s.entries.len()), Some(0));
    assert!(stbl.ctts.is_none() && stbl.stss.is_none() && stbl.co64.is_none());
    assert_eq!(stbl.stsd.codecs.len(), 1);
    let Codec::Avc1(avc1) = &stbl.stsd.codecs[0] else {
        panic!("not avc1: {:?}", stbl.stsd.codecs[0]);
    };
    assert_eq!(avc1.visual.width, 1280);
    assert_eq!(avc1.visual.height, 720);
    assert_eq!(avc1.visual.data_reference_index, 1);
    assert_eq!(avc1.avcc.avc_profile_indication, 100);
    assert_eq!(avc1.avcc.avc_level_indication, 31);
    assert_eq!(avc1.avcc.length_size, 4);
    assert_eq!(avc1.avcc.sequence_parameter_sets, [SPS.to_vec()]);
    assert_eq!(avc1.avcc.picture_parameter_sets, [PPS.to_vec()]);

    // The avcC payload is the record, byte for byte.
    assert_eq!(&out[body_at(&out, &AVCC_PATH)], &record(true)[..]);

    let mvex = moov.mvex.expect("mvex");
    assert_eq!(mvex.trex.len(), 1);
    assert_eq!(mvex.trex[0].track_id, 7);
    assert_eq!(mvex.trex[0].default_sample_description_index, 1);

    // Same input, same bytes; appended after what `out` held.
    let mut again = vec![9, 9];
    write_init_segment(&track, 7, &mut again).expect("valid");
    assert_eq!(&again[..2], &[9, 9]);
    assert_eq!(&again[2..], &out[..]);
}

#[test]
fn avcc_is_the_record_even_where_mp4_atom_would_rewrite_it() {
    // Reserved bits left at zero: valid to decoders, but not what mp4-atom writes.
    let raw = record(false);
    let out = init(&TrackInfo::video(avc_config(raw.clone())), 1);
    assert_eq!(&out[body_at(&out, &AVCC_PATH)], &raw[..]);

    let (_, moov) = decode_init(&out);
    let Codec::Avc1(avc1) = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not avc1");
    };
    let mut reencoded = Vec::new();
    avc1.avcc.encode(&mut reencoded).expect("encode");
    assert_ne!(&reencoded[8..], &raw[..], "mp4-atom normalises the record");
    assert_eq!(
        Avcc::decode(&mut &reencoded[..]).expect("decode"),
        avc1.avcc
    );
}

#[test]
fn audio_header_round_trips_through_mp4_atom() {
    let track = TrackInfo::audio(aac_config());
    let out = init(&track, 2);
    let (_, moov) = decode_init(&out);

    assert_eq!(moov.mvhd.timescale, 48_000);
    let trak = &moov.trak[0];
    assert_eq!(trak.tkhd.track_id, 2);
    assert_eq!(trak.tkhd.volume, FixedPoint::new(1, 0));
    assert_eq!(trak.tkhd.width, FixedPoint::new(0, 0));
    assert_eq!(trak.mdia.mdhd.timescale, 48_000);
    assert_eq!(trak.mdia.hdlr.handler, FourCC::new(b"soun"));
    let minf = &trak.mdia.minf;
    assert!(minf.smhd.is_some() && minf.vmhd.is_none());

    let Codec::Mp4a(mp4a) = &minf.stbl.stsd.codecs[0] else {
        panic!("not mp4a");
    };
    assert_eq!(mp4a.audio.channel_count, 2);
    assert_eq!(mp4a.audio.sample_size, 16);
    assert_eq!(mp4a.audio.sample_rate, FixedPoint::new(48_000, 0));
    assert_eq!(mp4a.audio.data_reference_index, 1);
    let dec = &mp4a.esds.es_desc.dec_config;
    assert_eq!(dec.object_type_indication, 0x40);
    assert_eq!(dec.stream_type, 5);
    let dsi = dec.dec_specific.as_ref().expect("DecoderSpecificInfo");
    assert_eq!(dsi.raw, ASC);
    assert_eq!((dsi.profile, dsi.freq_index, dsi.chan_conf), (2, 3, 2));
    assert_eq!(moov.mvex.expect("mvex").trex[0].track_id, 2);

    // 96 kHz does not fit the 16.16 rate field: 0 there, the ASC has it.
    let mut hi = aac_config();
    hi.sample_rate = 96_000;
    hi.channel_config = 7;
    let out = init(&TrackInfo::audio(hi), 1);
    let (_, moov) = decode_init(&out);
    assert_eq!(moov.mvhd.timescale, 96_000);
    let Codec::Mp4a(mp4a) = &moov.trak[0].mdia.minf.stbl.stsd.codecs[0] else {
        panic!("not mp4a");
    };
    assert_eq!(mp4a.audio.sample_rate, FixedPoint::new(0, 0));
    assert_eq!(mp4a.audio.channel_count, 8);
}

#[test]
fn header_errors_leave_out_untouched() {
    let mut wide = avc_config(record(true));
    wide.info.width = 70_000;
    let mut old_version = record(true);
    old_version[0] = 0;
    let mut no_asc = aac_config();
    no_asc.asc = Bytes::new();
    let cases = [
        (TrackInfo::video(avc_config(record(true))), 0),
        (TrackInfo::audio(aac_config()), 0),
        (TrackInfo::video(avc_config(Vec::new())), 1),
        (TrackInfo::video(avc_config(record(true)[..6].to_vec())), 1),
        (TrackInfo::video(avc_config(old_version)), 1),
        (TrackInfo::video(wide), 1),
        (TrackInfo::audio(no_asc), 1),
    ];
    for (i, (track, track_id)) in cases.iter().enumerate() {
        let mut out = vec![1, 2, 3];
        let err = write_init_segment(track, *track_id, &mut out);
        assert!(err.is_err(), "case {i} should fail");
        assert_eq!(out, [1, 2, 3], "case {i} left output behind");
    }
}

/// A fragment decoded with mp4-atom, with where its boxes start.
struct Fragment {
    styp: Option<Styp>,
    moof: Moof,
    moof_start: usize,
    mdat: Mdat,
}

fn decode_fragment(bytes: &[u8]) -> Fragment {
    let mut buf = bytes;
    let styp = (&buf[4..8] == b"styp").then(|| Styp::decode(&mut buf).expect("styp"));
    let moof_start = bytes.len() - buf.len();
    let moof = Moof::decode(&mut buf).expect("moof");
    let mdat = Mdat::decode(&mut buf).expect("mdat");
    assert!(buf.is_empty(), "nothing after mdat");
    Fragment {
        styp,
        moof,
        moof_start,
        mdat,
    }
}

fn fragment(
    samples: &[FragmentSample],
    payloads: &[Vec<u8>],
    base: u64,
    options: &FragmentOptions<'_>,
) -> Vec<u8> {
    let mut out = Vec::new();
    write_fragment_with(
        3,
        42,
        base,
        samples,
        &mut payloads.iter().map(Vec::as_slice),
        options,
        &mut out,
    )
    .expect("valid fragment");
    out
}

/// Decode order I P B B P B B with signed offsets, some negative.
fn video_samples() -> (Vec<FragmentSample>, Vec<Vec<u8>>) {
    let offsets = [0, 9_000, -3_000, -3_000, 6_000, i32::MIN, i32::MAX];
    let samples: Vec<FragmentSample> = offsets
        .iter()
        .enumerate()
        .map(|(i, &composition_offset)| FragmentSample {
            duration: 3_000 + i as u32,
            size: 100 + 17 * i as u32,
            keyframe: i == 0,
            composition_offset,
        })
        .collect();
    let payloads = samples
        .iter()
        .enumerate()
        .map(|(i, s)| vec![i as u8 ^ 0x5A; s.size as usize])
        .collect();
    (samples, payloads)
}

#[test]
fn fragment_round_trips_through_mp4_atom() {
    let (samples, payloads) = video_samples();
    let base = (1u64 << 40) + 7;
    let out = fragment(
        &samples,
        &payloads,
        base,
        &FragmentOptions {
            styp: true,
            ..Default::default()
        },
    );
    let f = decode_fragment(&out);

    let styp = f.styp.expect("styp");
    assert_eq!(styp.major_brand, FourCC::new(b"msdh"));
    let brands: Vec<FourCC> = [b"msdh", b"cmfs"].into_iter().map(FourCC::new).collect();
    assert_eq!(styp.compatible_brands, brands);

    assert_eq!(f.moof.mfhd.sequence_number, 42);
    assert_eq!(f.moof.traf.len(), 1);
    let traf = &f.moof.traf[0];
    assert_eq!(traf.tfhd.track_id, 3);
    assert!(traf.tfhd.default_base_is_moof);
    assert_eq!(traf.tfhd.base_data_offset, None);
    assert_eq!(traf.tfhd.default_sample_flags, None);
    assert_eq!(
        traf.tfdt.as_ref().map(|t| t.base_media_decode_time),
        Some(base)
    );
    assert_eq!(traf.trun.len(), 1);
    let trun = &traf.trun[0];
    let entries: Vec<TrunEntry> = trun.samples.iter().collect();
    assert_eq!(entries.len(), samples.len());
    for (i, (entry, sample)) in entries.iter().zip(&samples).enumerate() {
        assert_eq!(entry.duration, Some(sample.duration), "sample {i}");
        assert_eq!(entry.size, Some(sample.size), "sample {i}");
        let flags = if i == 0 { 0x0200_0000 } else { 0x0101_0000 };
        assert_eq!(entry.flags, Some(flags), "sample {i}");
        assert_eq!(entry.cts, Some(i64::from(sample.composition_offset)));
    }

    // Versions: tfdt 1 (64-bit time), trun 1 (signed offsets).
    let traf_path: [(&[u8; 4], usize); 2] = [(b"moof", 0), (b"traf", 0)];
    let traf_body = body_at(&out, &traf_path);
    let kids = children(&out, traf_body);
    let kinds: Vec<&[u8; 4]> = kids.iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, [b"tfhd", b"tfdt", b"trun"]);
    assert_eq!(out[kids[1].1.start + 8], 1, "tfdt version");
    assert_eq!(out[kids[2].1.start + 8], 1, "trun version");
    let tfhd_flags = u32::from_be_bytes(out[kids[0].1.start + 8..][..4].try_into().expect("4"));
    assert_eq!(tfhd_flags, 0x0002_0000, "default-base-is-moof only");

    // data_offset: from the first byte of moof to the first payload byte in mdat.
    let all: Vec<u8> = payloads.concat();
    let data_offset = trun.data_offset.expect("data_offset") as usize;
    let moof_len = children(&out, f.moof_start..out.len())[0].1.len();
    assert_eq!(data_offset, moof_len + 8);
    assert_eq!(&out[f.moof_start + data_offset..], &all[..]);
    assert_eq!(f.mdat.data, all);
}

#[test]
fn zero_offsets_are_left_out_and_styp_is_optional() {
    let samples: Vec<FragmentSample> = (0..5)
        .map(|i| FragmentSample {
            duration: 1024,
            size: 10 + i,
            keyframe: true,
            composition_offset: 0,
        })
        .collect();
    let payloads: Vec<Vec<u8>> = samples.iter().map(|s| vec![7; s.size as usize]).collect();
    let out = fragment(&samples, &payloads, 0, &FragmentOptions::default());
    assert_eq!(&out[4..8], b"moof");
    let f = decode_fragment(&out);
    assert!(f.styp.is_none());
    let trun = &f.moof.traf[0].trun[0];
    assert!(trun.samples.iter().all(|e| e.cts.is_none()
        && e.flags == Some(SYNC_SAMPLE_FLAGS)
        && e.duration == Some(1024)));
    assert_eq!(f.mdat.data, payloads.concat());
    assert_eq!(
        &out[trun.data_offset.expect("offset") as usize..],
        &payloads.concat()[..]
    );

    // One sample, through the plain entry point.
    let mut one = Vec::new();
    write_fragment(
        1,
        1,
        5,
        &samples[..1],
        &mut std::iter::once(&payloads[0][..]),
        true,
        &mut one,
    )
    .expect("valid");
    let f = decode_fragment(&one);
    assert!(f.styp.is_some());
    let entries: Vec<TrunEntry> = f.moof.traf[0].trun[0].samples.iter().collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].flags, Some(SYNC_SAMPLE_FLAGS));
    assert_eq!(f.mdat.data, payloads[0]);
}

/// A Smooth Streaming `tfxd` box: UUID, version 1, fragment time and duration.
fn tfxd(time: u64, duration: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&44u32.to_be_bytes());
    b.extend_from_slice(b"uuid");
    b.extend_from_slice(&[
        0x6D, 0x1D, 0x9B, 0x05, 0x42, 0xD5, 0x44, 0xE6, 0x80, 0xE2, 0x14, 0x1D, 0xAF, 0xF7, 0x57,
        0xB2,
    ]);
    b.extend_from_slice(&[1, 0, 0, 0]);
    b.extend_from_slice(&time.to_be_bytes());
    b.extend_from_slice(&duration.to_be_bytes());
    b
}

#[test]
fn extra_boxes_go_inside_traf_and_data_offset_counts_them() {
    let (samples, payloads) = video_samples();
    // A tfxd and a `free` box with a 64-bit size.
    let mut extra = tfxd(123_456_789, 20_000_000);
    extra.extend_from_slice(&1u32.to_be_bytes());
    extra.extend_from_slice(b"free");
    extra.extend_from_slice(&20u64.to_be_bytes());
    extra.extend_from_slice(&[0xAB; 4]);
    let plain = fragment(&samples, &payloads, 90_000, &FragmentOptions::default());
    let out = fragment(
        &samples,
        &payloads,
        90_000,
        &FragmentOptions {
            tfdt: true,
            styp: false,
            extra_traf_boxes: &extra,
        },
    );
    assert_eq!(out.len(), plain.len() + extra.len());

    let moof = &children(&out, 0..out.len())[0];
    assert_eq!(&moof.0, b"moof");
    let moof_kids = children(&out, moof.1.start + 8..moof.1.end);
    assert_eq!(&moof_kids[1].0, b"traf");
    let traf = moof_kids[1].1.clone();
    assert_eq!(traf.end, moof.1.end, "traf ends moof");
    let kinds: Vec<[u8; 4]> = children(&out, traf.start + 8..traf.end)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(kinds, [*b"tfhd", *b"tfdt", *b"trun", *b"uuid", *b"free"]);
    assert_eq!(&out[traf.end - extra.len()..traf.end], &extra[..]);

    // mp4-atom skips the boxes it does not model and still reads the rest.
    let f = decode_fragment(&out);
    let trun = &f.moof.traf[0].trun[0];
    let data_offset = trun.data_offset.expect("data_offset") as usize;
    assert_eq!(data_offset, moof.1.len() + 8);
    assert_eq!(&out[data_offset..], &payloads.concat()[..]);
    assert_eq!(f.mdat.data, payloads.concat());
    let plain_trun = &decode_fragment(&plain).moof.traf[0].trun[0];
    assert!(trun.samples.iter().eq(plain_trun.samples.iter()));
    assert_eq!(
        trun.data_offset,
        plain_trun.data_offset.map(|o| o + extra.len() as i32)
    );
}

#[test]
fn fragment_errors_leave_out_untouched() {
    let (samples, payloads) = video_samples();
    let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    let mut short = slices.clone();
    short[2] = &payloads[2][1..];
    let long_payload = [payloads[4].clone(), vec![0]].concat();
    let mut long = slices.clone();
    long[4] = &long_payload;
    let few = slices[..slices.len() - 1].to_vec();
    let mut many = slices.clone();
    many.push(&payloads[0]);

    let ok = FragmentOptions::default();
    let extra = |bytes: &'static [u8]| FragmentOptions {
        tfdt: true,
        styp: true,
        extra_traf_boxes: bytes,
    };
    type Case<'a> = (
        u32,
        &'a [FragmentSample],
        Vec<&'a [u8]>,
        FragmentOptions<'a>,
    );
    let cases: Vec<Case<'_>> = vec![
        (1, &samples, short, ok),
        (1, &samples, long, ok),
        (1, &samples, few, ok),
        (1, &samples, many, ok),
        (1, &[], Vec::new(), ok),
        (0, &samples, slices.clone(), ok),
        // Extra boxes: a size below its header, a cut header, size 0, a box longer than
        // the bytes, a cut 64-bit size.
        (
            1,
            &samples,
            slices.clone(),
            extra(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']),
        ),
        (1, &samples, slices.clone(), extra(&[0, 0, 0, 8, b'f'])),
        (
            1,
            &samples,
            slices.clone(),
            extra(&[0, 0, 0, 0, b'f', b'r', b'e', b'e']),
        ),
        (
            1,
            &samples,
            slices.clone(),
            extra(&[0, 0, 0, 9, b'f', b'r', b'e', b'e']),
        ),
        (
            1,
            &samples,
            slices.clone(),
            extra(&[0, 0, 0, 1, b'f', b'r', b'e', b'e', 0, 0]),
        ),
    ];
    for (i, (track_id, samples, payloads, options)) in cases.into_iter().enumerate() {
        let mut out = vec![1, 2, 3];
        let err = write_fragment_with(
            track_id,
            1,
            0,
            samples,
            &mut payloads.into_iter(),
            &options,
            &mut out,
        );
        assert!(err.is_err(), "case {i} should fail");
        assert_eq!(out, [1, 2, 3], "case {i} left output behind");
    }

    // An endless payload iterator is an error, not a hang.
    let mut out = Vec::new();
    let err = write_fragment(
        1,
        1,
        0,
        &samples[..1],
        &mut std::iter::repeat(&payloads[0][..]),
        false,
        &mut out,
    );
    assert!(err.is_err() && out.is_empty());
}

#[test]
fn mdat_switches_to_a_64_bit_size_above_4_gib() {
    let fits = u64::from(u32::MAX) - 8;
    let header = mdat_header(fits);
    assert_eq!(header.len(), 8);
    assert_eq!(&header[..4], &u32::MAX.to_be_bytes());
    assert_eq!(&header[4..], b"mdat");

    let header = mdat_header(fits + 1);
    assert_eq!(header.len(), 16);
    assert_eq!(&header[..8], &[0, 0, 0, 1, b'm', b'd', b'a', b't']);
    assert_eq!(&header[8..], &(fits + 1 + 16).to_be_bytes());
}

#[test]
fn hevc_header_has_an_hvc1_entry_with_the_record_as_received() {
    let raw = crate::test_support::hex(crate::test_support::FFMPEG_HVCC);
    let config =
        crate::codec::HevcConfig::parse(Bytes::from(raw.clone())).expect("ffmpeg hvcC parses");
    let out = init(&TrackInfo::hevc(config), 1);
    let (_, moov) = decode_init(&out);
    let trak = &moov.trak[0];
    assert_eq!(trak.mdia.hdlr.handler, mp4_atom::FourCC::new(b"vide"));
    assert_eq!(trak.mdia.mdhd.timescale, 90_000);
    let Codec::Hvc1(hvc1) = &trak.mdia.minf.stbl.stsd.codecs[0] else {
        panic!(
            "expected hvc1, got {:?}",
            trak.mdia.minf.stbl.stsd.codecs[0]
        );
    };
    assert_eq!((hvc1.visual.width, hvc1.visual.height), (320, 240));
    assert_eq!(hvc1.hvcc.general_profile_idc, 1);
    assert_eq!(hvc1.hvcc.general_level_idc, 60);
    assert_eq!(hvc1.hvcc.arrays.len(), 3);
    let path = [
        (b"moov", 0),
        (b"trak", 0),
        (b"mdia", 0),
        (b"minf", 0),
        (b"stbl", 0),
        (b"stsd", 8),
        (b"hvc1", 78),
        (b"hvcC", 0),
    ];
    assert_eq!(&out[body_at(&out, &path)], &raw[..]);
}
