//! Writes a synthetic rolling buffer for one channel, for `scripts/bench-catchup.sh`: N
//! renditions × (duration / segment) segments of H.264 + AAC ending at the current wall-clock
//! time, through the segmenter's own [`DiskStore`] (so the `.dat`, `.idx` and `.sum` files are
//! exactly what the server writes), in the directories the server opens for the channel
//! (`{data_dir}/channels/default/{id}/{bitrate}`).
//!
//! ```sh
//! cargo run --release -p server --example synth_catchup -- \
//!     --data-dir /tmp/d --channel cu --duration-secs 1209600 --bitrates 3000000,1500000,800000
//! ```
//!
//! **The tracks are real**: the video and audio [`TrackInfo`] (avcC with the SPS/PPS, AAC
//! AudioSpecificConfig) come from the committed FLV fixtures through the FLV demuxer, 320x240
//! for all renditions but the last one, which gets 160x120. Each segment starts on a whole
//! `segment-secs` of the Unix timeline, as the wall-clock timeline cuts them, with its video
//! samples from that start and its AAC frames on the 1024-tick grid of the audio clock.
//!
//! **The sample tables are shortened, and payloads are tiny** (an 8-byte AVCC NAL unit per
//! video sample, 6 bytes per AAC frame), so that 14 days × 3 renditions stay small on disk
//! (a real 4 s segment has ~100 video and ~188 audio samples: 25 bytes of index record each,
//! ~7 KB per segment, 6.5 GB of index for 907,200 segments). Segments older than
//! `--full-tables-secs` (default 900 s) have `--samples` (default 4) video samples of equal
//! duration and as many AAC samples, each a whole number of 1024-tick frames; their sample
//! durations add up to exactly what the full tables' do, so every aggregate a manifest reads
//! (first decode time, total and last duration, start, duration) is what a real stream gives,
//! except the sample count, the longest duration and the bytes. That does not matter for what
//! the benchmark measures: catch-up manifests read only the per-segment summaries of the
//! `.sum` files (fixed size, whatever the sample count), and the live window a restart
//! recovers is read from the newest index files only, which hold full tables (25 fps video,
//! every AAC frame) because they are within `--full-tables-secs` of the end.
//!
//! Prints one line of `key=value` pairs (segments, first start and end as Unix seconds, bytes
//! written, seconds taken) for the script to read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use media::flv::{DemuxEvent, FlvDemuxer, FlvReader, FlvTagType};
use media::{TrackInfo, TrackKind};
use segmenter::store::PayloadSink;
use segmenter::{DiskStore, DiskStoreConfig, Sample, Segment, TrackSamples};
use server::channel::{channel_dir, rendition_name};

const FIXTURE_320: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/ffmpeg-5.1_h264-aac_320x240_25fps_10s_2s-gop_bframes.flv"
));
const FIXTURE_160: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/ffmpeg-5.1_h264-aac_160x120_25fps_10s_2s-gop_bframes.flv"
));

/// 90 kHz ticks per second.
const S: i64 = 90_000;
/// The fixtures' frame rate.
const FPS: i64 = 25;
/// Ticks of audio per AAC frame.
const AAC_FRAME: i64 = 1024;
/// An IDR and a non-IDR AVCC access unit: a 4-byte length, then a 4-byte NAL unit.
const IDR: [u8; 8] = [0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00];
const NON_IDR: [u8; 8] = [0, 0, 0, 4, 0x41, 0x9a, 0x02, 0x00];
/// A raw AAC frame (6 bytes).
const AAC: [u8; 6] = [0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c];

/// Writes a synthetic rolling buffer of one channel (see the source's documentation).
#[derive(Debug, Parser)]
struct Args {
    /// The server's data directory (`headwater serve --data-dir`).
    #[arg(long)]
    data_dir: PathBuf,
    /// Channel id (project `default`).
    #[arg(long)]
    channel: String,
    /// Seconds of media per rendition, ending now.
    #[arg(long)]
    duration_secs: i64,
    /// The store's retention in seconds (the channel's `rollingbuffer_duration`); default:
    /// the duration.
    #[arg(long)]
    retention_secs: Option<i64>,
    /// One rendition per bitrate, named by it as the server names them.
    #[arg(long, value_delimiter = ',', default_value = "3000000,1500000,800000")]
    bitrates: Vec<u64>,
    #[arg(long, default_value_t = 4)]
    segment_secs: i64,
    /// Samples per track in the shortened segments.
    #[arg(long, default_value_t = 4)]
    samples: i64,
    /// The newest segments, this many seconds of them, get full sample tables.
    #[arg(long, default_value_t = 900)]
    full_tables_secs: i64,
    /// End of the newest segment, Unix seconds (default: now, rounded down to a segment).
    #[arg(long)]
    end_unix: Option<i64>,
}

/// The video and audio tracks of an FLV fixture, as the FLV demuxer describes them.
fn fixture_tracks(flv: &[u8]) -> anyhow::Result<(Arc<TrackInfo>, Arc<TrackInfo>)> {
    let mut reader = FlvReader::new();
    reader.push(flv);
    let mut demuxer = FlvDemuxer::new();
    let (mut video, mut audio) = (None, None);
    while let Some(tag) = reader.next_tag()? {
        let event = match tag.tag_type {
            FlvTagType::Video => demuxer.push_video(tag.timestamp_ms, &tag.body)?,
            FlvTagType::Audio => demuxer.push_audio(tag.timestamp_ms, &tag.body)?,
            FlvTagType::Script => continue,
        };
        if let Some(DemuxEvent::Track(track)) = event {
            match track.kind() {
                TrackKind::Video => video = video.or(Some(Arc::new(track))),
                TrackKind::Audio => audio = audio.or(Some(Arc::new(track))),
            }
        }
        if video.is_some() && audio.is_some() {
            break;
        }
    }
    match (video, audio) {
        (Some(v), Some(a)) => Ok((v, a)),
        _ => bail!("the fixture has no video or no audio track"),
    }
}

/// `total` ticks split into `n` sample durations, each a multiple of `unit` (the last one takes
/// the rest), as `(offset from the first, duration)`.
fn split(total: i64, n: i64, unit: i64) -> Vec<(i64, u32)> {
    let units = total / unit;
    let n = n.clamp(1, units.max(1));
    let mut out = Vec::with_capacity(n as usize);
    let mut at = 0;
    for i in 0..n {
        let d = if i + 1 == n {
            total - at
        } else {
            (units / n) * unit
        };
        out.push((at, u32::try_from(d).unwrap_or(u32::MAX)));
        at += d;
    }
    out
}

/// What one rendition's generation wrote.
#[derive(Debug, Default)]
struct Written {
    segments: u64,
    bytes: u64,
    unrecorded: u64,
}

/// Writes `count` segments ending at `end` (90 kHz) into the store in `dir`.
#[allow(clippy::too_many_arguments)]
fn write_rendition(
    dir: &Path,
    retention: i64,
    tracks: (Arc<TrackInfo>, Arc<TrackInfo>),
    first_start: i64,
    count: i64,
    seg: i64,
    samples: i64,
    full_from: i64,
) -> anyhow::Result<Written> {
    let (video, audio) = tracks;
    let rate = i64::from(audio.timescale.get());
    // First AAC frame at or after `t90`, in audio ticks.
    let audio_at = |t90: i64| {
        let ticks = (i128::from(t90) * i128::from(rate)).div_euclid(i128::from(S)) as i64;
        (ticks + AAC_FRAME - 1).div_euclid(AAC_FRAME) * AAC_FRAME
    };
    let config = DiskStoreConfig::new(dir.to_path_buf(), retention);
    let (mut store, recovered) = DiskStore::open(config, 0)?;
    if !recovered.segments.is_empty() {
        bail!("{} already holds segments", dir.display());
    }
    let mut puts: Vec<(i64, bool, usize)> = Vec::new();
    for sequence in 0..count {
        let start = first_start + sequence * seg;
        let full = start >= full_from;
        let (v_durations, a_first, a_durations) = {
            let (a0, a1) = (audio_at(start), audio_at(start + seg));
            if full {
                let frames = usize::try_from((a1 - a0) / AAC_FRAME).unwrap_or(0);
                (
                    split(seg, seg * FPS / S, 1),
                    a0,
                    (0..frames)
                        .map(|i| (i as i64 * AAC_FRAME, AAC_FRAME as u32))
                        .collect::<Vec<_>>(),
                )
            } else {
                (
                    split(seg, samples, 1),
                    a0,
                    split(a1 - a0, samples, AAC_FRAME),
                )
            }
        };
        // Payloads in arrival order: by time on the channel timeline.
        puts.clear();
        puts.extend(
            v_durations
                .iter()
                .enumerate()
                .map(|(i, (off, _))| (start + off, true, i)),
        );
        puts.extend(a_durations.iter().enumerate().map(|(i, (off, _))| {
            let t90 = (i128::from(a_first + off) * i128::from(S) / i128::from(rate)) as i64;
            (t90, false, i)
        }));
        puts.sort_unstable();
        let mut v_samples: Vec<Option<Sample>> = vec![None; v_durations.len()];
        let mut a_samples: Vec<Option<Sample>> = vec![None; a_durations.len()];
        for &(t90, is_video, i) in &puts {
            if is_video {
                let keyframe = i == 0;
                let data = if keyframe { &IDR[..] } else { &NON_IDR[..] };
                let payload = store.put(Bytes::from_static(data), t90);
                v_samples[i] = Some(Sample {
                    dts: start + v_durations[i].0,
                    composition_offset: 0,
                    duration: v_durations[i].1,
                    keyframe,
                    data: payload,
                });
            } else {
                let payload = store.put(Bytes::from_static(&AAC), t90);
                a_samples[i] = Some(Sample {
                    dts: a_first + a_durations[i].0,
                    composition_offset: 0,
                    duration: a_durations[i].1,
                    keyframe: true,
                    data: payload,
                });
            }
        }
        let segment = Segment {
            sequence: sequence as u64,
            start,
            duration: seg,
            discontinuity: false,
            discontinuity_sequence: 0,
            video: Some(TrackSamples::new(
                video.clone(),
                v_samples.into_iter().flatten().collect(),
            )),
            audio: Some(TrackSamples::new(
                audio.clone(),
                a_samples.into_iter().flatten().collect(),
            )),
        };
        // Nothing older is needed by a reader: retention alone decides what stays.
        store.commit(&segment, None);
    }
    let stats = store.stats();
    drop(store);
    if stats.write_errors > 0 {
        bail!("{} write errors in {}", stats.write_errors, dir.display());
    }
    Ok(Written {
        segments: stats.segments_recorded,
        bytes: stats.bytes_written,
        unrecorded: stats.segments_unrecorded,
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seg = args.segment_secs.max(1) * S;
    let count = args.duration_secs / args.segment_secs.max(1);
    if count < 1 || args.bitrates.is_empty() {
        bail!("nothing to write: give --duration-secs of at least one segment and --bitrates");
    }
    let end_unix = match args.end_unix {
        Some(e) => e,
        None => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            let now = i64::try_from(now)?;
            now - now.rem_euclid(args.segment_secs.max(1))
        }
    };
    let end = end_unix * S;
    let first_start = end - count * seg;
    let full_from = end - args.full_tables_secs * S;
    let retention = args.retention_secs.unwrap_or(args.duration_secs) * S;
    let channel = channel_dir(&args.data_dir, "default", &args.channel);
    let high = fixture_tracks(FIXTURE_320).context("320x240 fixture")?;
    let low = fixture_tracks(FIXTURE_160).context("160x120 fixture")?;
    let began = Instant::now();
    let results: Vec<anyhow::Result<Written>> = std::thread::scope(|scope| {
        let handles: Vec<_> = args
            .bitrates
            .iter()
            .enumerate()
            .map(|(i, &bitrate)| {
                let dir = channel.join(rendition_name(i, Some(bitrate)));
                let tracks = if i + 1 == args.bitrates.len() && i > 0 {
                    low.clone()
                } else {
                    high.clone()
                };
                let samples = args.samples;
                scope.spawn(move || {
                    write_rendition(
                        &dir,
                        retention,
                        tracks,
                        first_start,
                        count,
                        seg,
                        samples,
                        full_from,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("writer panicked")))
            })
            .collect()
    });
    let elapsed = began.elapsed().as_secs_f64();
    let mut total = Written::default();
    for r in results {
        let w = r?;
        total.segments += w.segments;
        total.bytes += w.bytes;
        total.unrecorded += w.unrecorded;
    }
    if total.unrecorded > 0 {
        bail!("{} segments were not recorded", total.unrecorded);
    }
    println!(
        "segments={} renditions={} per_rendition={} start_unix={} end_unix={} payload_bytes={} seconds={:.2} dir={}",
        total.segments,
        args.bitrates.len(),
        count,
        first_start / S,
        end_unix,
        total.bytes,
        elapsed,
        channel.display()
    );
    Ok(())
}
