//! FLV_PULL: HTTP-FLV over HTTP or HTTPS.
//!
//! An HTTP-FLV upstream answers one GET with an FLV file that never ends: the same tags an RTMP
//! publisher sends, behind a 9-byte header. [`pull`] is the I/O shell (one request, one body,
//! timeouts); [`FlvStreamIngest`] turns body bytes into ingest events without sockets or clock,
//! so its policy is tested without an upstream.

use bytes::Bytes;
use media::flv::{DemuxEvent, FlvDemuxer, FlvReader, FlvTagType};
use media::{MediaError, TrackKind};
use tracing::{debug, info_span, trace, warn, Instrument};

use super::{PullError, PullOptions};
use crate::{IngestEvent, IngestSink};

/// An HTTP client for pulls, shared by every pull of the process so connections and TLS
/// sessions are reused.
///
/// It has no overall request timeout because an HTTP-FLV body never ends: [`pull`] bounds the
/// connection and every read with [`PullOptions`] instead. Upstreams see the user agent
/// `headwater/<version>`, so their operators can tell an origin pull from a player.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("headwater/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        .build()
}

/// Reads one HTTP-FLV upstream into `sink` until the upstream ends the body or the pull fails.
///
/// `Ok(())` only when the body ended cleanly at a tag boundary. `options.connect_timeout` bounds
/// connecting plus the response headers, `options.read_timeout` every read of the body after
/// that, so a stalled upstream fails instead of hanging the input. The `Content-Type` is not
/// checked (upstreams send `video/x-flv`, `application/octet-stream` or nothing); the body's FLV
/// signature is. Never retries: see the [module](super) docs.
pub async fn pull(
    client: &reqwest::Client,
    url: &str,
    options: &PullOptions,
    sink: &mut dyn IngestSink,
) -> Result<(), PullError> {
    let span = info_span!("flv_pull", %url);
    pull_in_span(client, url, options, sink)
        .instrument(span)
        .await
}

async fn pull_in_span(
    client: &reqwest::Client,
    url: &str,
    options: &PullOptions,
    sink: &mut dyn IngestSink,
) -> Result<(), PullError> {
    let parsed = super::parse_http_url(url)?;
    let mut response = super::get(client, parsed, options).await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    debug!(%status, version = ?response.version(), ?content_type, "FLV pull connected");

    let mut stream = FlvStreamIngest::new();
    let pull_error = |e: StreamError| match e {
        StreamError::Sink(message) => PullError::Sink(message),
        other => PullError::Protocol {
            url: url.to_string(),
            why: other.describe(content_type.as_deref()),
        },
    };
    loop {
        let chunk = match tokio::time::timeout(options.read_timeout, response.chunk()).await {
            Err(_elapsed) => {
                return Err(PullError::Timeout {
                    url: url.to_string(),
                    after: options.read_timeout,
                })
            }
            Ok(Err(e)) => return Err(super::transport(url, e)),
            Ok(Ok(chunk)) => chunk,
        };
        match chunk {
            Some(bytes) => stream.push(&bytes, sink).map_err(pull_error)?,
            None => {
                stream.finish().map_err(pull_error)?;
                debug!(
                    bytes = stream.bytes,
                    frames = stream.frames,
                    dropped_tags = stream.video.dropped + stream.audio.dropped,
                    frames_before_config = stream.demuxer.dropped_frames(),
                    "FLV pull: upstream ended the body"
                );
                return Ok(());
            }
        }
    }
}

/// Why [`FlvStreamIngest`] stopped.
#[derive(Debug)]
enum StreamError {
    /// The body does not start with an FLV header.
    NotFlv(MediaError),
    /// The tag structure broke after a valid header; the rest of the stream cannot be framed.
    Corrupt(MediaError),
    /// The body ended before the header was complete or inside a tag.
    EndedEarly { header_read: bool, buffered: usize },
    /// Every track carries a codec Headwater cannot use, so no frame can ever come.
    NothingPlayable { video: String, audio: String },
    /// The sink refused an event.
    Sink(String),
}

impl StreamError {
    fn describe(&self, content_type: Option<&str>) -> String {
        match self {
            StreamError::NotFlv(e) => format!(
                "the body is not FLV (Content-Type {}): {e}",
                content_type.unwrap_or("absent")
            ),
            StreamError::Corrupt(e) => format!("the FLV stream is corrupt: {e}"),
            StreamError::EndedEarly {
                header_read: false,
                buffered,
            } => format!("the body ended after {buffered} bytes, before a complete FLV header"),
            StreamError::EndedEarly {
                header_read: true,
                buffered,
            } => format!("the body ended inside an FLV tag ({buffered} bytes of it received)"),
            StreamError::NothingPlayable { video, audio } => {
                format!("no playable track: video: {video}; audio: {audio}")
            }
            StreamError::Sink(message) => message.clone(),
        }
    }
}

/// What one track kind's tags have done so far: enough to warn once, not per tag, and to tell
/// when no frame can come.
#[derive(Debug, Default)]
struct TagHealth {
    /// Why the current codec cannot be used; cleared when the kind delivers an event again
    /// (the upstream switched back to a codec Headwater handles).
    unsupported: Option<String>,
    warned_unsupported: bool,
    warned_damaged: bool,
    /// Tags dropped because they did not demux.
    dropped: u64,
}

/// Turns the bytes of one FLV stream, chunked any way, into ingest events.
///
/// One bad audio or video tag is dropped with a warning, and so are tags of a codec Headwater
/// does not handle while the other track still plays: an upstream whose video is HEVC still
/// feeds its AAC audio. Only a broken tag structure, a stream whose tracks are all unsupported,
/// or a refusing sink stop it. Script data (`onMetaData`) is ignored: tracks come from the
/// sequence headers.
#[derive(Debug)]
struct FlvStreamIngest {
    reader: FlvReader,
    demuxer: FlvDemuxer,
    video: TagHealth,
    audio: TagHealth,
    /// Body bytes pushed.
    bytes: u64,
    /// Frames the sink accepted.
    frames: u64,
}

impl FlvStreamIngest {
    fn new() -> Self {
        FlvStreamIngest {
            reader: FlvReader::new(),
            demuxer: FlvDemuxer::new(),
            video: TagHealth::default(),
            audio: TagHealth::default(),
            bytes: 0,
            frames: 0,
        }
    }

    /// Takes the next body bytes and hands the sink every event of the tags they complete.
    fn push(&mut self, data: &[u8], sink: &mut dyn IngestSink) -> Result<(), StreamError> {
        self.bytes += data.len() as u64;
        self.reader.push(data);
        loop {
            let tag = match self.reader.next_tag() {
                Ok(Some(tag)) => tag,
                Ok(None) => return Ok(()),
                Err(e) if self.reader.header().is_none() => return Err(StreamError::NotFlv(e)),
                Err(e) => return Err(StreamError::Corrupt(e)),
            };
            let kind = match tag.tag_type {
                FlvTagType::Video => TrackKind::Video,
                FlvTagType::Audio => TrackKind::Audio,
                FlvTagType::Script => {
                    trace!(len = tag.body.len(), "ignoring FLV script data");
                    continue;
                }
            };
            self.on_media_tag(kind, tag.timestamp_ms, &tag.body, sink)?;
        }
    }

    /// Checks that the body ended where a tag ended, not in the middle of one.
    fn finish(&self) -> Result<(), StreamError> {
        let buffered = self.reader.buffered();
        let header_read = self.reader.header().is_some();
        if !header_read || buffered > 0 {
            return Err(StreamError::EndedEarly {
                header_read,
                buffered,
            });
        }
        Ok(())
    }

    fn on_media_tag(
        &mut self,
        kind: TrackKind,
        timestamp_ms: u32,
        body: &Bytes,
        sink: &mut dyn IngestSink,
    ) -> Result<(), StreamError> {
        let error = match demux_tag(&mut self.demuxer, kind, timestamp_ms, body) {
            Ok(None) => return Ok(()),
            Ok(Some(event)) => {
                let health = self.health(kind);
                if let Some(was) = health.unsupported.take() {
                    debug!(?kind, was = %was, "FLV pull: track playable again");
                }
                match &event {
                    IngestEvent::Track(track) => {
                        debug!(?kind, codec = %track.codec.codec_string(), "FLV pull track");
                    }
                    IngestEvent::Frame(_) => self.frames += 1,
                }
                return sink.on_event(event).map_err(StreamError::Sink);
            }
            Err(error) => error,
        };
        let health = self.health(kind);
        health.dropped += 1;
        if let MediaError::Unsupported { .. } = error {
            if !health.warned_unsupported {
                health.warned_unsupported = true;
                warn!(?kind, %error, "FLV pull: dropping the tags of an unsupported codec");
            }
            health.unsupported = Some(error.to_string());
            if let (Some(video), Some(audio)) = (&self.video.unsupported, &self.audio.unsupported) {
                return Err(StreamError::NothingPlayable {
                    video: video.clone(),
                    audio: audio.clone(),
                });
            }
        } else if !health.warned_damaged {
            health.warned_damaged = true;
            warn!(
                ?kind,
                timestamp_ms,
                tag_len = body.len(),
                %error,
                "FLV pull: dropping a tag that does not demux (later ones are counted, not logged)"
            );
        } else {
            debug!(?kind, timestamp_ms, tag_len = body.len(), %error, "FLV pull: dropping a tag");
        }
        Ok(())
    }

    fn health(&mut self, kind: TrackKind) -> &mut TagHealth {
        match kind {
            TrackKind::Video => &mut self.video,
            TrackKind::Audio => &mut self.audio,
        }
    }
}

/// Demuxes one FLV audio or video tag body into the ingest event it makes, if any.
fn demux_tag(
    demuxer: &mut FlvDemuxer,
    kind: TrackKind,
    timestamp_ms: u32,
    body: &Bytes,
) -> Result<Option<IngestEvent>, MediaError> {
    let demuxed = match kind {
        TrackKind::Video => demuxer.push_video(timestamp_ms, body)?,
        TrackKind::Audio => demuxer.push_audio(timestamp_ms, body)?,
    };
    Ok(demuxed.map(|event| match event {
        DemuxEvent::Track(track) => IngestEvent::Track(track),
        DemuxEvent::Frame(frame) => IngestEvent::Frame(frame),
    }))
}

#[cfg(test)]
#[path = "flv_tests.rs"]
mod tests;
