//! HLS: multivariant and media playlists, MPEG-TS segments and CMAF (fMP4) fragments.
//!
//! Layout below a package's URL `DIR/STEM.m3u8`: `DIR/STEM.m3u8` (multivariant) and, per
//! rendition, `DIR/STEM/{rendition}/playlist.m3u8` (media playlist). With `EXT-X-VERSION`
//! below 7 that playlist lists `{start}.ts` segments with video and audio muxed. From version 7
//! it lists video CMAF fragments `{start}.m4s` after an `EXT-X-MAP` of `init-{id}.mp4`, and
//! audio is an alternative rendition: `audio.m3u8` listing `audio-{start}.m4s` after
//! `audio-init-{id}.mp4`. `start` is the segment's channel-timeline start on the 90 kHz clock
//! and `id` names the track configuration ([`init_id`]), so a URL never names two different
//! contents.
//!
//! Media playlists are live (a sliding window, also for a delayed or time-shifted view) or,
//! for a recording ([`Presentation::Recorded`]), `VOD` playlists of every segment with
//! `EXT-X-ENDLIST` ([`write_media_playlist`]). Segment URLs are the same in both.

use std::borrow::Borrow;
use std::io::Write;

use m3u8_rs::{AlternativeMedia, AlternativeMediaType, MasterPlaylist, Resolution, VariantStream};
use media::ts::{write_segment, TsSample};
use media::{CodecConfig, MediaError, MediaTime, Timescale, TrackInfo, TrackKind};
use segmenter::{Sample, Segment, SegmentBytes};

use crate::variant::Variant;
use crate::view::{Presentation, RenditionView};
use crate::{cmaf, text};

/// The HLS package settings that shape playlists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HlsSettings {
    /// Target segment duration in seconds.
    pub segment_duration_secs: u32,
    /// Media listed in a live playlist, in seconds; at least three segments are listed.
    pub playlist_window_secs: u32,
    /// `EXT-X-VERSION`; at least 3, since durations are written with decimals.
    pub version: u8,
}

impl HlsSettings {
    fn version(&self) -> usize {
        usize::from(self.version.max(3))
    }

    /// Whether segments are CMAF fragments (`EXT-X-VERSION` 7 or more) rather than MPEG-TS.
    pub fn fmp4(&self) -> bool {
        self.version >= 7
    }
}

/// A resource below an HLS package's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HlsResource {
    Multivariant,
    /// `STEM/{rendition}/playlist.m3u8`: the muxed TS playlist, or with fMP4 the video one.
    MediaPlaylist {
        rendition: String,
    },
    /// `STEM/{rendition}/audio.m3u8`: with fMP4, the audio rendition's playlist.
    AudioPlaylist {
        rendition: String,
    },
    /// `STEM/{rendition}/{start}.ts`
    Segment {
        rendition: String,
        start: i64,
    },
    /// `STEM/{rendition}/init-{id}.mp4` (video) or `audio-init-{id}.mp4`: the CMAF header of
    /// the track configuration whose [`init_id`] is `id`.
    Init {
        rendition: String,
        kind: TrackKind,
        id: u32,
    },
    /// `STEM/{rendition}/{start}.m4s` (video) or `audio-{start}.m4s`: the CMAF fragment of
    /// the segment that starts at `start`.
    Fragment {
        rendition: String,
        kind: TrackKind,
        start: i64,
    },
}

impl HlsResource {
    /// Parses the part of a request path after `DIR/`, for a package whose playlist file is
    /// `STEM.m3u8`.
    pub fn parse(stem: &str, rest: &str) -> Option<HlsResource> {
        if rest.strip_suffix(".m3u8") == Some(stem) {
            return Some(HlsResource::Multivariant);
        }
        let inner = rest.strip_prefix(stem)?.strip_prefix('/')?;
        let (rendition, file) = inner.split_once('/')?;
        if rendition.is_empty() || file.contains('/') {
            return None;
        }
        let rendition = rendition.to_string();
        match file {
            "playlist.m3u8" => return Some(HlsResource::MediaPlaylist { rendition }),
            "audio.m3u8" => return Some(HlsResource::AudioPlaylist { rendition }),
            _ => {}
        }
        if let Some(start) = file.strip_suffix(".ts") {
            let start = parse_time(start)?;
            return Some(HlsResource::Segment { rendition, start });
        }
        if let Some(name) = file.strip_suffix(".mp4") {
            let (kind, id) = match name.strip_prefix("audio-init-") {
                Some(id) => (TrackKind::Audio, id),
                None => (TrackKind::Video, name.strip_prefix("init-")?),
            };
            if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let id = u32::from_str_radix(id, 16).ok()?;
            return Some(HlsResource::Init {
                rendition,
                kind,
                id,
            });
        }
        let name = file.strip_suffix(".m4s")?;
        let (kind, start) = match name.strip_prefix("audio-") {
            Some(start) => (TrackKind::Audio, start),
            None => (TrackKind::Video, name),
        };
        Some(HlsResource::Fragment {
            rendition,
            kind,
            start: parse_time(start)?,
        })
    }

    /// The path of a media playlist relative to the package directory.
    pub fn media_playlist_path(stem: &str, rendition: &str) -> String {
        format!("{stem}/{rendition}/playlist.m3u8")
    }
}

/// A segment start in a URL: decimal digits only (no sign, no `+`).
fn parse_time(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A stable name for a track configuration (FNV-1a over its codec configuration and
/// timescale), so an init segment URL always names the same bytes, across restarts too.
pub fn init_id(track: &TrackInfo) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    match &track.codec {
        CodecConfig::Avc(c) => {
            eat(b"avc1");
            eat(&c.record);
        }
        CodecConfig::Hevc(c) => {
            eat(b"hvc1");
            eat(&c.record);
        }
        CodecConfig::Aac(c) => {
            eat(b"mp4a");
            eat(&c.asc);
        }
    }
    eat(&track.timescale.get().to_be_bytes());
    hash
}

/// The audio rendition group every variant refers to in fMP4 packages.
const AUDIO_GROUP: &str = "audio";

/// Writes the multivariant playlist: one variant per rendition, in the given order.
///
/// With fMP4 segments (`EXT-X-VERSION` 7 or more) audio is an alternative rendition: one
/// `EXT-X-MEDIA` of the group `audio` whose playlist is `audio.m3u8` of `audio_rendition`
/// (the first rendition with audio), and variants carry video only plus `AUDIO="audio"`.
///
/// `query` (a catch-up, timeshift or delay request's query string) is appended to every media
/// playlist URI, since players resolve relative URIs without the multivariant's query.
pub fn write_multivariant(
    stem: &str,
    variants: &[Variant],
    audio_rendition: Option<&str>,
    settings: &HlsSettings,
    query: Option<&str>,
    w: &mut impl Write,
) -> std::io::Result<()> {
    // A query that cannot sit in a quoted attribute as it is (it should arrive encoded) is
    // left off rather than escaped.
    let suffix = query
        .filter(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
        .map_or(String::new(), |q| format!("?{q}"));
    let audio_group = audio_rendition.filter(|_| settings.fmp4());
    let alternatives = audio_group
        .map(|rendition| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(format!("{stem}/{rendition}/audio.m3u8{suffix}")),
            group_id: AUDIO_GROUP.to_string(),
            name: "audio".to_string(),
            default: true,
            autoselect: true,
            ..AlternativeMedia::default()
        })
        .into_iter()
        .collect();
    let playlist = MasterPlaylist {
        version: Some(settings.version()),
        independent_segments: true,
        alternatives,
        variants: variants
            .iter()
            .map(|v| VariantStream {
                uri: format!(
                    "{}{suffix}",
                    HlsResource::media_playlist_path(stem, &v.name)
                ),
                bandwidth: v.bandwidth,
                average_bandwidth: v.average_bandwidth,
                codecs: (!v.codecs.is_empty()).then(|| v.codecs.clone()),
                resolution: match (v.width, v.height) {
                    (Some(width), Some(height)) => Some(Resolution {
                        width: u64::from(width),
                        height: u64::from(height),
                    }),
                    _ => None,
                },
                frame_rate: v.frame_rate,
                audio: audio_group.map(|_| AUDIO_GROUP.to_string()),
                ..VariantStream::default()
            })
            .collect(),
        ..MasterPlaylist::default()
    };
    playlist.write_to(w)
}

/// How many of the newest `segments` a live manifest with a window of `window_secs` lists:
/// those that fit, and at least three (or all there are).
pub fn listed_count<S: Borrow<Segment>>(segments: &[S], window_secs: u32) -> usize {
    let limit = i64::from(window_secs) * 90_000;
    let mut total = 0i64;
    let mut count = 0usize;
    for s in segments.iter().rev().map(Borrow::borrow) {
        if count >= 3 && total + s.duration > limit {
            break;
        }
        total += s.duration;
        count += 1;
    }
    count
}

/// Which media a media playlist lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaylistMedia {
    /// MPEG-TS segments with video and audio.
    MuxedTs,
    /// CMAF fragments of one track.
    Fmp4(TrackKind),
}

/// Writes a media playlist of the rendition, as its [`RenditionView::presentation`] says:
///
/// - [`Presentation::Live`] and [`Presentation::Shifted`] (the caller passes segments ending
///   at the shifted edge): a live playlist of the newest segments that fit
///   `playlist_window_secs` ([`listed_count`]), without `EXT-X-ENDLIST`;
/// - [`Presentation::Recorded`]: every segment of the view (the window does not apply),
///   `#EXT-X-PLAYLIST-TYPE:VOD` and `#EXT-X-ENDLIST`.
///
/// Either way `EXT-X-MEDIA-SEQUENCE` and `EXT-X-DISCONTINUITY-SEQUENCE` are those of the first
/// listed segment, and every segment has its `EXT-X-PROGRAM-DATE-TIME`.
///
/// The text is written directly (durations in whole milliseconds, dates in UTC with
/// milliseconds), in the tag order of m3u8-rs's writer, which golden tests and m3u8-rs's
/// parser check: a catch-up playlist lists thousands of segments, and going through m3u8-rs's
/// structures and float formatting took most of its time.
pub fn write_media_playlist(
    view: &RenditionView,
    settings: &HlsSettings,
    media: PlaylistMedia,
    out: &mut Vec<u8>,
) {
    let wanted = |s: &Segment| match media {
        PlaylistMedia::MuxedTs => true,
        PlaylistMedia::Fmp4(kind) => cmaf::track_samples(s, kind).is_some(),
    };
    let recorded = view.presentation == Presentation::Recorded;
    let mut listed: Vec<&Segment> = view
        .segments
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| wanted(s))
        .collect();
    if !recorded {
        let count = listed_count(&listed, settings.playlist_window_secs);
        listed.drain(..listed.len() - count);
    }
    // Segment lines are written first (they decide the target duration), then the header.
    let mut body = Vec::with_capacity(listed.len() * SEGMENT_LINES_LEN);
    let mut previous_init: Option<u32> = None;
    let mut longest_ms = 0u64;
    for s in &listed {
        let mut date_ms = s.wall_clock().unix_ms;
        let duration_ms = match media {
            PlaylistMedia::MuxedTs => ticks_to_millis(s.duration, 90_000),
            PlaylistMedia::Fmp4(kind) => {
                let Some(track) = cmaf::track_samples(s, kind) else {
                    continue;
                };
                let id = init_id(&track.track);
                if previous_init != Some(id) {
                    body.extend_from_slice(b"#EXT-X-MAP:URI=\"");
                    if kind == TrackKind::Audio {
                        body.extend_from_slice(b"audio-");
                    }
                    body.extend_from_slice(b"init-");
                    text::push_hex8(&mut body, id);
                    body.extend_from_slice(b".mp4\"\n");
                    previous_init = Some(id);
                }
                match kind {
                    TrackKind::Video => ticks_to_millis(s.duration, 90_000),
                    TrackKind::Audio => {
                        // Audio starts with the first picture shown, not at the segment's
                        // first decode time: date it by its own first sample.
                        if let Some(first) = track.first_dts() {
                            date_ms = first.as_millis();
                        }
                        let ticks = i64::try_from(track.summary().duration).unwrap_or(i64::MAX);
                        ticks_to_millis(ticks, track.timescale().get())
                    }
                }
            }
        };
        if s.discontinuity {
            body.extend_from_slice(b"#EXT-X-DISCONTINUITY\n");
        }
        body.extend_from_slice(b"#EXT-X-PROGRAM-DATE-TIME:");
        text::push_utc_millis(&mut body, date_ms);
        body.extend_from_slice(b"\n#EXTINF:");
        text::push_millis_as_secs(&mut body, duration_ms);
        body.extend_from_slice(b",\n");
        match media {
            PlaylistMedia::MuxedTs => {
                text::push_i64(&mut body, s.start);
                body.extend_from_slice(b".ts\n");
            }
            PlaylistMedia::Fmp4(kind) => {
                if kind == TrackKind::Audio {
                    body.extend_from_slice(b"audio-");
                }
                text::push_i64(&mut body, s.start);
                body.extend_from_slice(b".m4s\n");
            }
        }
        longest_ms = longest_ms.max(duration_ms);
    }
    // Players round each EXTINF to the nearest second and expect at most the target.
    let target_duration = longest_ms
        .saturating_add(500)
        .div_euclid(1000)
        .max(u64::from(settings.segment_duration_secs))
        .max(1);
    let first = listed.first();
    out.reserve(body.len() + 256);
    out.extend_from_slice(b"#EXTM3U\n#EXT-X-VERSION:");
    text::push_u64(out, settings.version() as u64);
    out.extend_from_slice(b"\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:");
    text::push_u64(out, target_duration);
    out.push(b'\n');
    let media_sequence = first.map_or(0, |s| s.sequence);
    if media_sequence != 0 {
        out.extend_from_slice(b"#EXT-X-MEDIA-SEQUENCE:");
        text::push_u64(out, media_sequence);
        out.push(b'\n');
    }
    let discontinuity_sequence = first.map_or(0, |s| s.discontinuity_sequence);
    if discontinuity_sequence != 0 {
        out.extend_from_slice(b"#EXT-X-DISCONTINUITY-SEQUENCE:");
        text::push_u64(out, discontinuity_sequence);
        out.push(b'\n');
    }
    if recorded {
        out.extend_from_slice(b"#EXT-X-PLAYLIST-TYPE:VOD\n");
    }
    out.extend_from_slice(&body);
    if recorded {
        out.extend_from_slice(b"#EXT-X-ENDLIST\n");
    }
}

/// Bytes a segment's lines usually take (date, duration, URI), to size the buffer once.
const SEGMENT_LINES_LEN: usize = 96;

/// `ticks` of a `timescale` clock in whole milliseconds, rounded to the nearest (0 for a
/// negative duration).
fn ticks_to_millis(ticks: i64, timescale: u32) -> u64 {
    let ticks = u128::try_from(ticks).unwrap_or(0);
    let scale = u128::from(timescale.max(1));
    u64::try_from((ticks * 1000 + scale / 2) / scale).unwrap_or(u64::MAX)
}

/// Muxes one stored segment into MPEG-TS.
/// The bytes of a sample's payload out of what was loaded for its segment.
pub fn sample_data<'a>(
    bytes: &'a SegmentBytes,
    sample: &'a Sample,
) -> Result<&'a [u8], MediaError> {
    bytes.get(&sample.data).ok_or_else(|| MediaError::Invalid {
        what: "segment payload",
        offset: 0,
        reason: "payload was not loaded".into(),
    })
}

/// Muxes `segment` into MPEG-TS; `bytes` holds its stored payloads (see
/// [`segmenter::PayloadReader`]).
pub fn ts_segment(
    segment: &Segment,
    bytes: &SegmentBytes,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let data = |s| sample_data(bytes, s);
    let video_cfg = segment
        .video
        .as_ref()
        .map(|v| &v.track.codec)
        .filter(|c| c.kind() == TrackKind::Video);
    let audio_cfg = segment.audio.as_ref().and_then(|a| a.track.codec.aac());
    let to_90k = |dts: i64, ts: Timescale| MediaTime::new(dts, ts).rescale(Timescale::MPEG).ticks;
    let mut samples: Vec<TsSample<'_>> = Vec::with_capacity(
        segment.video.as_ref().map_or(0, |v| v.samples.len())
            + segment.audio.as_ref().map_or(0, |a| a.samples.len()),
    );
    if let (Some(v), Some(_)) = (&segment.video, video_cfg) {
        let ts = v.timescale();
        for s in &v.samples {
            samples.push(TsSample {
                kind: TrackKind::Video,
                dts: to_90k(s.dts, ts),
                pts: to_90k(s.pts(), ts),
                keyframe: s.keyframe,
                data: data(s)?,
            });
        }
    }
    if let (Some(a), Some(_)) = (&segment.audio, audio_cfg) {
        let ts = a.timescale();
        for s in &a.samples {
            let t = to_90k(s.dts, ts);
            samples.push(TsSample {
                kind: TrackKind::Audio,
                dts: t,
                pts: t,
                keyframe: true,
                data: data(s)?,
            });
        }
    }
    // Decode order across tracks; the sort is stable, so video stays first on ties.
    samples.sort_by_key(|s| s.dts);
    write_segment(video_cfg, audio_cfg, &samples, segment.sequence, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use m3u8_rs::{MediaPlaylist, MediaPlaylistType, MediaSegment};

    fn settings(version: u8) -> HlsSettings {
        HlsSettings {
            segment_duration_secs: 2,
            playlist_window_secs: 8,
            version,
        }
    }

    /// Compares `out` with the golden file `name`, or rewrites it with `UPDATE_GOLDEN=1`.
    fn golden(name: &str, out: &[u8]) {
        let path = format!("{}/src/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
            std::fs::write(&path, out).expect("write golden file");
            return;
        }
        let want = std::fs::read(&path).expect("golden file exists");
        assert_eq!(
            String::from_utf8_lossy(out),
            String::from_utf8_lossy(&want),
            "{path} differs; rerun with UPDATE_GOLDEN=1 if intended"
        );
    }

    #[test]
    fn a_time_query_goes_on_to_the_media_playlists() {
        let views = testing::two_renditions();
        let variants: Vec<Variant> = views.iter().map(|v| v.variant.clone()).collect();
        let mut out = Vec::new();
        let audio = Some(views[0].variant.name.as_str());
        write_multivariant(
            "index",
            &variants,
            audio,
            &settings(7),
            Some("start=1&end=2"),
            &mut out,
        )
        .expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        let uris: Vec<&str> = text.lines().filter(|l| l.contains(".m3u8")).collect();
        assert_eq!(uris.len(), 3, "{text}");
        assert!(
            uris.iter().all(|l| l.contains(".m3u8?start=1&end=2")),
            "{text}"
        );
        let mut out = Vec::new();
        write_multivariant(
            "index",
            &variants,
            audio,
            &settings(7),
            Some("a=\"x"),
            &mut out,
        )
        .expect("write");
        assert!(!String::from_utf8(out).expect("utf-8").contains('?'));
    }

    fn multivariant(version: u8) -> Vec<u8> {
        let views = testing::two_renditions();
        let variants: Vec<Variant> = views.iter().map(|v| v.variant.clone()).collect();
        let mut out = Vec::new();
        write_multivariant(
            "index",
            &variants,
            Some(&views[0].variant.name),
            &settings(version),
            None,
            &mut out,
        )
        .expect("write");
        out
    }

    fn media(version: u8, media: PlaylistMedia) -> Vec<u8> {
        let views = testing::two_renditions();
        let mut out = Vec::new();
        write_media_playlist(&views[1], &settings(version), media, &mut out);
        out
    }

    #[test]
    fn golden_ts_playlists() {
        golden("hls_ts_multivariant.m3u8", &multivariant(3));
        golden("hls_ts_media.m3u8", &media(3, PlaylistMedia::MuxedTs));
    }

    #[test]
    fn golden_fmp4_playlists() {
        golden("hls_fmp4_multivariant.m3u8", &multivariant(7));
        golden(
            "hls_fmp4_video.m3u8",
            &media(7, PlaylistMedia::Fmp4(TrackKind::Video)),
        );
        golden(
            "hls_fmp4_audio.m3u8",
            &media(7, PlaylistMedia::Fmp4(TrackKind::Audio)),
        );
    }

    #[test]
    fn playlists_parse_back() {
        let text = multivariant(7);
        let Ok((_, m3u8_rs::Playlist::MasterPlaylist(mv))) = m3u8_rs::parse_playlist(&text) else {
            panic!("multivariant does not parse");
        };
        assert_eq!(mv.variants.len(), 2);
        assert!(mv
            .variants
            .iter()
            .all(|v| v.audio.as_deref() == Some("audio")));
        assert_eq!(mv.alternatives.len(), 1);
        assert_eq!(
            mv.alternatives[0].uri.as_deref(),
            Some("index/2500000/audio.m3u8")
        );
        for kind in [TrackKind::Video, TrackKind::Audio] {
            let text = media(7, PlaylistMedia::Fmp4(kind));
            let Ok((_, m3u8_rs::Playlist::MediaPlaylist(p))) = m3u8_rs::parse_playlist(&text)
            else {
                panic!("{kind:?} playlist does not parse");
            };
            // 8 s window of 2 s segments: four listed, the first one with the map.
            assert_eq!(p.segments.len(), 4, "{kind:?}");
            assert!(p.segments[0].map.is_some());
            assert!(p.segments[1..].iter().all(|s| s.map.is_none()));
            for s in &p.segments {
                let rest = format!("index/800000/{}", s.uri);
                match HlsResource::parse("index", &rest) {
                    Some(HlsResource::Fragment { kind: k, .. }) => assert_eq!(k, kind),
                    other => panic!("{} parses as {other:?}", s.uri),
                }
            }
            let map = &p.segments[0].map.as_ref().map(|m| m.uri.clone());
            let Some(map) = map else { unreachable!() };
            match HlsResource::parse("index", &format!("index/800000/{map}")) {
                Some(HlsResource::Init { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{map} parses as {other:?}"),
            }
        }
        // Without fMP4 there is no audio group.
        let text = String::from_utf8(multivariant(6)).expect("utf-8");
        assert!(!text.contains("EXT-X-MEDIA"), "{text}");
    }

    /// The media playlist of `view` presented as `presentation`, as text and parsed.
    fn presented_playlist(
        view: &RenditionView,
        presentation: Presentation,
        version: u8,
        media: PlaylistMedia,
    ) -> (String, MediaPlaylist) {
        let view = RenditionView {
            presentation,
            ..view.clone()
        };
        let mut out = Vec::new();
        write_media_playlist(&view, &settings(version), media, &mut out);
        let Ok((_, m3u8_rs::Playlist::MediaPlaylist(p))) = m3u8_rs::parse_playlist(&out) else {
            panic!("{media:?} playlist does not parse");
        };
        (String::from_utf8(out).expect("utf-8"), p)
    }

    const ALL_MEDIA: [(u8, PlaylistMedia); 3] = [
        (3, PlaylistMedia::MuxedTs),
        (7, PlaylistMedia::Fmp4(TrackKind::Video)),
        (7, PlaylistMedia::Fmp4(TrackKind::Audio)),
    ];

    #[test]
    fn presentations_shape_media_playlists() {
        // 30 s of 2 s segments; the 8 s window lists four.
        let view = testing::rendition("800000", 800_000, 30, 2);
        assert_eq!(view.segments.len(), 15);
        for (version, media) in ALL_MEDIA {
            let (live_text, live) = presented_playlist(&view, Presentation::Live, version, media);
            for presentation in testing::PRESENTATIONS {
                let (text, p) = presented_playlist(&view, presentation, version, media);
                let what = format!("{presentation:?} {media:?}");
                let recorded = presentation == Presentation::Recorded;
                assert_eq!(p.end_list, recorded, "{what}");
                assert_eq!(text.contains("#EXT-X-ENDLIST"), recorded, "{what}");
                assert_eq!(
                    text.contains("#EXT-X-PLAYLIST-TYPE:VOD"),
                    recorded,
                    "{what}"
                );
                assert!(!text.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "{what}");
                match presentation {
                    Presentation::Live => assert_eq!(p.segments.len(), 4, "{what}"),
                    // A shifted view is listed as a live one: the caller moved its edge.
                    Presentation::Shifted { .. } => assert_eq!(text, live_text, "{what}"),
                    Presentation::Recorded => {
                        assert_eq!(p.playlist_type, Some(MediaPlaylistType::Vod));
                        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{what}: {text}");
                        // Every segment, beyond the window, oldest first.
                        assert_eq!(p.segments.len(), view.segments.len(), "{what}");
                        assert_eq!(p.media_sequence, view.segments[0].sequence);
                        assert_eq!(p.discontinuity_sequence, 0);
                        let extension = match media {
                            PlaylistMedia::MuxedTs => "ts",
                            PlaylistMedia::Fmp4(_) => "m4s",
                        };
                        for (listed, s) in p.segments.iter().zip(&view.segments) {
                            let file = format!("{}.{extension}", s.start);
                            assert!(listed.uri.ends_with(&file), "{what}: {}", listed.uri);
                            assert!(listed.program_date_time.is_some(), "{what}");
                        }
                        // The newest ones have the live playlist's URLs and tags.
                        let newest = &p.segments[p.segments.len() - live.segments.len()..];
                        for (a, b) in newest.iter().zip(&live.segments) {
                            assert_eq!((&a.uri, a.duration), (&b.uri, b.duration));
                            assert_eq!(a.program_date_time, b.program_date_time);
                        }
                        assert_eq!(p.target_duration, live.target_duration);
                        let fmp4 = matches!(media, PlaylistMedia::Fmp4(_));
                        assert_eq!(p.segments[0].map.is_some(), fmp4, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_recording_lists_its_interval_with_its_sequences() {
        // Two sessions: 12 s, then after a reconnect 20 s more (a discontinuity).
        let mut r = testing::live_rendition(2, 3600);
        testing::push_session(&mut r, 0, 12, testing::avc(), 800_000);
        testing::push_session(&mut r, 12_000, 20, testing::avc(), 800_000);
        let whole = testing::view_of(&r, "800000", 800_000, 2);
        assert_eq!(whole.segments.len(), 16);
        // A catch-up interval: segments 3 to 12, across the reconnect at segment 6.
        let interval = RenditionView {
            segments: whole.segments[3..13].to_vec(),
            ..whole.clone()
        };
        let reconnect = interval
            .segments
            .iter()
            .position(|s| s.discontinuity)
            .expect("a discontinuity in the interval");
        for (version, media) in ALL_MEDIA {
            let (text, p) = presented_playlist(&interval, Presentation::Recorded, version, media);
            assert_eq!(p.segments.len(), 10, "{media:?}");
            assert_eq!(p.media_sequence, interval.segments[0].sequence);
            assert_eq!(
                p.discontinuity_sequence,
                interval.segments[0].discontinuity_sequence
            );
            let breaks: Vec<usize> = p
                .segments
                .iter()
                .enumerate()
                .filter(|(_, s)| s.discontinuity)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(breaks, [reconnect], "{media:?}");
            let dates: Vec<_> = p
                .segments
                .iter()
                .map(|s| s.program_date_time.expect("date"))
                .collect();
            assert!(dates.windows(2).all(|w| w[0] < w[1]), "{media:?}");
            assert_eq!(text.matches("#EXT-X-ENDLIST").count(), 1);
            // The live playlist of the same segments names them the same way.
            let (_, live) = presented_playlist(&interval, Presentation::Live, version, media);
            let tail = &p.segments[p.segments.len() - live.segments.len()..];
            let uris = |s: &[MediaSegment]| s.iter().map(|s| s.uri.clone()).collect::<Vec<_>>();
            assert_eq!(uris(tail), uris(&live.segments), "{media:?}");

            // An interval after the reconnect carries on its discontinuity sequence.
            let after = RenditionView {
                segments: whole.segments[8..].to_vec(),
                ..interval.clone()
            };
            let (_, p) = presented_playlist(&after, Presentation::Recorded, version, media);
            assert_eq!(p.segments.len(), 8);
            assert_eq!(p.media_sequence, whole.segments[8].sequence);
            assert_eq!(p.discontinuity_sequence, 1);
            assert!(p.segments.iter().all(|s| !s.discontinuity));
        }
    }

    #[test]
    fn resources_parse() {
        let r = |rest: &str| HlsResource::parse("index", rest);
        let name = || "800000".to_string();
        assert_eq!(r("index.m3u8"), Some(HlsResource::Multivariant));
        assert_eq!(
            r("index/800000/playlist.m3u8"),
            Some(HlsResource::MediaPlaylist { rendition: name() })
        );
        assert_eq!(
            r("index/800000/audio.m3u8"),
            Some(HlsResource::AudioPlaylist { rendition: name() })
        );
        assert_eq!(
            r("index/800000/180000.ts"),
            Some(HlsResource::Segment {
                rendition: name(),
                start: 180_000
            })
        );
        assert_eq!(
            r("index/800000/180000.m4s"),
            Some(HlsResource::Fragment {
                rendition: name(),
                kind: TrackKind::Video,
                start: 180_000
            })
        );
        assert_eq!(
            r("index/800000/audio-180000.m4s"),
            Some(HlsResource::Fragment {
                rendition: name(),
                kind: TrackKind::Audio,
                start: 180_000
            })
        );
        assert_eq!(
            r("index/800000/init-0a1b2c3d.mp4"),
            Some(HlsResource::Init {
                rendition: name(),
                kind: TrackKind::Video,
                id: 0x0a1b_2c3d
            })
        );
        assert_eq!(
            r("index/800000/audio-init-0A1B2C3D.mp4"),
            Some(HlsResource::Init {
                rendition: name(),
                kind: TrackKind::Audio,
                id: 0x0a1b_2c3d
            })
        );
        for bad in [
            "other.m3u8",
            "index/800000/-1.ts",
            "index/800000/+1.ts",
            "index/800000/1e3.ts",
            "index/800000/.ts",
            "index/800000/99999999999999999999.ts",
            "index/800000/init-123.mp4",
            "index/800000/init-0a1b2c3g.mp4",
            "index/800000/audio-.m4s",
            "index//playlist.m3u8",
            "index/800000/x/playlist.m3u8",
            "index/800000/video.m3u8",
        ] {
            assert_eq!(r(bad), None, "{bad}");
        }
    }

    #[test]
    fn init_ids_name_configurations() {
        let (video, audio) = (testing::avc(), testing::aac());
        assert_eq!(init_id(&video), init_id(&testing::avc()));
        assert_ne!(init_id(&video), init_id(&audio));
        let mut other = audio.clone();
        if let CodecConfig::Aac(c) = &mut other.codec {
            c.asc = bytes::Bytes::from_static(&[0x12, 0x10]);
        }
        assert_ne!(init_id(&audio), init_id(&other));
        // Stable across builds and restarts: a fixed value for the test configuration.
        assert_eq!(
            format!("{:08x}", init_id(&audio)),
            format!("{:08x}", init_id(&testing::aac()))
        );
    }
}
