//! The remux path over a recorded fixture: FLV tag bodies (as RTMP delivers them) through
//! `FlvDemuxer` into a segmenter `Rendition`, and sealed segments into MPEG-TS bytes.
//!
//! Throughput is counted in bytes of the input FLV file, so every stage reads as "MB/s of
//! ingest it keeps up with" and the stages can be compared side by side. Run with
//! `cargo bench -p server --bench remux`; results and the machine go in `docs/benchmarks.md`.
//! Set `REMUX_BENCH_FLV=/path/to/file.flv` to also run the same stages over another recording
//! (e.g. the 720p 3 Mbps file `scripts/bench-publishers.sh` generates).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use media::flv::{DemuxEvent, FlvDemuxer, FlvReader, FlvTagType};
use media::WallClock;
use packager::hls::ts_segment;
use segmenter::{Rendition, Segment, SegmentBytes, SegmenterConfig, WindowLimits};

/// 10 s of 320x240 25 fps H.264 (B-frames, 2 s GOP) + AAC, made by ffmpeg 5.1 (fixtures/README.md).
const FIXTURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv"
));

/// Session start on the channel timeline; fixed so every iteration cuts the same segments.
const SESSION_START: WallClock = WallClock::from_unix_ms(1_700_000_000_000);

/// One audio or video tag, as an RTMP session hands it to the demuxer.
struct Tag {
    video: bool,
    timestamp_ms: u32,
    body: Bytes,
}

/// Splits an FLV file into its audio and video tag bodies (script tags are not media).
fn flv_tags(flv: &[u8]) -> Vec<Tag> {
    let mut reader = FlvReader::new();
    reader.push(flv);
    let mut tags = Vec::new();
    while let Some(tag) = reader.next_tag().unwrap() {
        let video = match tag.tag_type {
            FlvTagType::Video => true,
            FlvTagType::Audio => false,
            FlvTagType::Script => continue,
        };
        tags.push(Tag {
            video,
            timestamp_ms: tag.timestamp_ms,
            body: tag.body,
        });
    }
    tags
}

/// Demuxes and segments one publish session of `tags`; returns the sealed segments.
fn demux_and_segment(tags: &[Tag]) -> Vec<Arc<Segment>> {
    let mut demuxer = FlvDemuxer::new();
    let mut rendition = Rendition::new(
        SegmenterConfig {
            segment_duration_secs: 2,
        },
        WindowLimits::default(),
    );
    rendition.begin_session(SESSION_START);
    for tag in tags {
        let event = if tag.video {
            demuxer.push_video(tag.timestamp_ms, &tag.body)
        } else {
            demuxer.push_audio(tag.timestamp_ms, &tag.body)
        };
        match event.unwrap() {
            Some(DemuxEvent::Track(track)) => rendition.set_track(track),
            Some(DemuxEvent::Frame(frame)) => rendition.push(frame),
            None => {}
        }
    }
    rendition.end_session();
    rendition.window.segments().iter().cloned().collect()
}

/// Muxes every segment to MPEG-TS, each into a fresh buffer sized as the playback route does;
/// returns the total TS bytes.
fn mux_all(segments: &[Arc<Segment>]) -> usize {
    let mut total = 0;
    for segment in segments {
        let mut out = Vec::with_capacity(segment.payload_bytes() * 11 / 10 + 4096);
        ts_segment(segment, &SegmentBytes::default(), &mut out).unwrap();
        total += out.len();
        black_box(&out);
    }
    total
}

/// The three stages over one FLV recording, in one group so they read side by side.
fn bench_flv(c: &mut Criterion, group_name: &str, flv: &[u8]) {
    let tags = flv_tags(flv);
    let segments = demux_and_segment(&tags);
    assert!(!segments.is_empty(), "{group_name}: no segment was sealed");
    assert!(mux_all(&segments) > 0, "{group_name}: no TS bytes");

    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Bytes(flv.len() as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    group.bench_function("demux_segment", |b| {
        b.iter(|| demux_and_segment(black_box(&tags)))
    });
    group.bench_function("ts_mux", |b| b.iter(|| mux_all(black_box(&segments))));
    group.bench_function("whole_path", |b| {
        b.iter(|| mux_all(&demux_and_segment(black_box(&tags))))
    });
    group.finish();
}

fn remux(c: &mut Criterion) {
    // The fixture is 10 s with a 2 s GOP: five 2 s segments, all kept by the default window.
    let segments = demux_and_segment(&flv_tags(FIXTURE));
    assert_eq!(segments.len(), 5, "fixture should cut into five segments");
    bench_flv(c, "remux", FIXTURE);

    if let Some(path) = std::env::var_os("REMUX_BENCH_FLV") {
        let flv = std::fs::read(&path).unwrap();
        bench_flv(c, "remux_extra", &flv);
    }
}

criterion_group!(benches, remux);
criterion_main!(benches);
