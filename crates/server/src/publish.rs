//! Connects ingest to channels: authorizes pushes and feeds their frames to the segmenter.

use std::sync::{Arc, RwLock};

use ingest::{IngestEvent, IngestSink, PublishAuthorizer, PublishRequest, Refusal};
use media::WallClock;

use crate::channel::{ChannelRuntime, RenditionSlot};
use crate::registry::ChannelRegistry;

/// Authorizes publishes against the current channel registry.
#[derive(Debug)]
pub struct RegistryAuthorizer {
    registry: Arc<RwLock<Arc<ChannelRegistry>>>,
}

impl RegistryAuthorizer {
    pub fn new(registry: Arc<RwLock<Arc<ChannelRegistry>>>) -> Self {
        RegistryAuthorizer { registry }
    }
}

impl PublishAuthorizer for RegistryAuthorizer {
    fn authorize(&self, request: &PublishRequest) -> Result<Box<dyn IngestSink>, Refusal> {
        let registry = self
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some((channel, slot)) = registry.find_ingest(&request.app, &request.stream_name) else {
            if registry.is_off(&request.app, &request.stream_name) {
                return Err(Refusal::ChannelOff(request.stream_name.clone()));
            }
            if !registry.knows_app(&request.app) {
                return Err(Refusal::UnknownApp(request.app.clone()));
            }
            return Err(Refusal::UnknownStream(request.stream_name.clone()));
        };
        if slot.is_retired() {
            return Err(Refusal::ChannelOff(request.stream_name.clone()));
        }
        if !slot.try_claim() {
            return Err(Refusal::AlreadyPublishing(request.stream_name.clone()));
        }
        slot.lock()
            .begin_aligned_session(WallClock::now(), channel.clock.clone());
        tracing::info!(
            channel = %channel.config.id,
            rendition = %slot.name,
            peer = %request.peer,
            "publish started"
        );
        Ok(Box::new(RenditionSink { channel, slot }))
    }
}

/// Feeds one publisher's events into its rendition; dropping it ends the session.
#[derive(Debug)]
struct RenditionSink {
    channel: Arc<ChannelRuntime>,
    slot: Arc<RenditionSlot>,
}

impl IngestSink for RenditionSink {
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String> {
        if self.slot.is_retired() {
            return Err("the channel was stopped or reconfigured".to_string());
        }
        let mut rendition = self.slot.lock();
        match event {
            IngestEvent::Track(track) => {
                tracing::info!(
                    channel = %self.channel.config.id,
                    rendition = %self.slot.name,
                    codec = %track.codec.codec_string(),
                    "track configured"
                );
                rendition.set_track(track);
            }
            IngestEvent::Frame(frame) => rendition.push(frame),
        }
        Ok(())
    }
}

impl Drop for RenditionSink {
    fn drop(&mut self) {
        let mut rendition = self.slot.lock();
        rendition.end_session();
        tracing::info!(
            channel = %self.channel.config.id,
            rendition = %self.slot.name,
            segments = rendition.sealed_segments(),
            dropped_frames = rendition.segmenter.dropped_frames(),
            "publish ended"
        );
        drop(rendition);
        self.slot.release();
    }
}
