//! An RTMP publisher for tests, built on rml_rtmp's client session.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use media::flv::{FlvTag, FlvTagType};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
    PublishRequestType, StreamMetadata,
};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connected RTMP client that has been accepted (or refused) for publishing.
pub struct Publisher {
    stream: TcpStream,
    session: ClientSession,
}

/// How a publish attempt ended.
#[derive(Debug)]
pub enum PublishOutcome {
    Accepted(Box<Publisher>),
    /// The server refused or closed the connection.
    Refused(String),
}

impl Publisher {
    /// Connects, handshakes, connects to `app` and requests publishing `stream_key`.
    pub async fn connect(addr: SocketAddr, app: &str, stream_key: &str) -> PublishOutcome {
        match tokio::time::timeout(
            Duration::from_secs(10),
            Self::try_connect(addr, app, stream_key),
        )
        .await
        {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => PublishOutcome::Refused(e.to_string()),
            Err(_) => PublishOutcome::Refused("timed out".into()),
        }
    }

    async fn try_connect(
        addr: SocketAddr,
        app: &str,
        stream_key: &str,
    ) -> std::io::Result<PublishOutcome> {
        let err = |e: String| std::io::Error::other(e);
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut hs = Handshake::new(PeerType::Client);
        let p0p1 = hs
            .generate_outbound_p0_and_p1()
            .map_err(|e| err(format!("{e:?}")))?;
        stream.write_all(&p0p1).await?;
        let mut buf = vec![0u8; 65536];
        let remaining = loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(PublishOutcome::Refused("closed during handshake".into()));
            }
            match hs
                .process_bytes(&buf[..n])
                .map_err(|e| err(format!("{e:?}")))?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    stream.write_all(&response_bytes).await?;
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    stream.write_all(&response_bytes).await?;
                    break remaining_bytes;
                }
            }
        };
        let mut config = ClientSessionConfig::new();
        config.tc_url = Some(format!("rtmp://{addr}/{app}"));
        let (session, _) = ClientSession::new(config).map_err(|e| err(format!("{e:?}")))?;
        let mut p = Publisher { stream, session };
        let r = p
            .session
            .request_connection(app.to_string())
            .map_err(|e| err(format!("{e:?}")))?;
        p.send(vec![r]).await?;
        let mut events = p.handle(&remaining).await?;
        // Wait for connect and publish to be accepted.
        let mut published = false;
        let mut connected = false;
        for _ in 0..200 {
            for ev in events.drain(..) {
                match ev {
                    ClientSessionEvent::ConnectionRequestAccepted => {
                        connected = true;
                        let r = p
                            .session
                            .request_publishing(stream_key.to_string(), PublishRequestType::Live)
                            .map_err(|e| err(format!("{e:?}")))?;
                        p.send(vec![r]).await?;
                    }
                    ClientSessionEvent::ConnectionRequestRejected { description } => {
                        return Ok(PublishOutcome::Refused(description));
                    }
                    ClientSessionEvent::PublishRequestAccepted => published = true,
                    _ => {}
                }
            }
            if published {
                return Ok(PublishOutcome::Accepted(Box::new(p)));
            }
            let n = p.stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(PublishOutcome::Refused(format!(
                    "connection closed (connected: {connected})"
                )));
            }
            events = p.handle(&buf[..n]).await?;
        }
        Ok(PublishOutcome::Refused("no answer to publish".into()))
    }

    async fn handle(&mut self, bytes: &[u8]) -> std::io::Result<Vec<ClientSessionEvent>> {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let results = self
            .session
            .handle_input(bytes)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut events = Vec::new();
        let mut out = Vec::new();
        for r in results {
            match r {
                ClientSessionResult::OutboundResponse(_) => out.push(r),
                ClientSessionResult::RaisedEvent(e) => events.push(e),
                ClientSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        self.send(out).await?;
        Ok(events)
    }

    async fn send(&mut self, results: Vec<ClientSessionResult>) -> std::io::Result<()> {
        for r in results {
            if let ClientSessionResult::OutboundResponse(packet) = r {
                self.stream.write_all(&packet.bytes).await?;
            }
        }
        Ok(())
    }

    /// Sends onMetaData.
    pub async fn metadata(&mut self, width: u32, height: u32) -> std::io::Result<()> {
        let mut m = StreamMetadata::new();
        m.video_width = Some(width);
        m.video_height = Some(height);
        m.video_codec_id = Some(7);
        m.audio_codec_id = Some(10);
        let r = self
            .session
            .publish_metadata(&m)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        self.send(vec![r]).await
    }

    /// Sends one FLV tag as an RTMP audio or video message, with `offset_ms` added.
    pub async fn send_tag(&mut self, tag: &FlvTag, offset_ms: u32) -> std::io::Result<()> {
        let ts = RtmpTimestamp::new(tag.timestamp_ms.wrapping_add(offset_ms));
        let r = match tag.tag_type {
            FlvTagType::Video => self.session.publish_video_data(tag.body.clone(), ts, false),
            FlvTagType::Audio => self.session.publish_audio_data(tag.body.clone(), ts, false),
            FlvTagType::Script => return Ok(()),
        }
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        self.send(vec![r]).await
    }

    /// Sends raw bytes on the connection (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends every tag; with `realtime`, paced by the tags' timestamps.
    pub async fn send_tags(
        &mut self,
        tags: &[FlvTag],
        offset_ms: u32,
        realtime: bool,
    ) -> std::io::Result<()> {
        let start = tokio::time::Instant::now();
        let first = tags.first().map_or(0, |t| t.timestamp_ms);
        for tag in tags {
            if realtime {
                let due = start
                    + Duration::from_millis(u64::from(tag.timestamp_ms.saturating_sub(first)));
                tokio::time::sleep_until(due).await;
            }
            self.send_tag(tag, offset_ms).await?;
        }
        Ok(())
    }

    /// Sends deleteStream and closes the connection.
    pub async fn finish(mut self) -> std::io::Result<()> {
        if let Ok(results) = self.session.stop_publishing() {
            self.send(results).await?;
        }
        self.stream.shutdown().await
    }

    /// Drops the TCP connection without deleteStream, as some encoders do.
    pub fn drop_connection(self) {}

    /// The next data the server sends, or `None` when it closed the connection.
    pub async fn read_until_closed(&mut self, timeout: Duration) -> bool {
        let mut buf = vec![0u8; 4096];
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Publisher")
    }
}

/// Bytes of an FLV body, for building tags by hand.
pub fn tag(tag_type: FlvTagType, timestamp_ms: u32, body: Vec<u8>) -> FlvTag {
    FlvTag {
        tag_type,
        timestamp_ms,
        body: Bytes::from(body),
    }
}
