//! Connects push ingest to channels: admits and authorizes pushes and feeds their events to
//! the input switch of their rendition.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ingest::selector::{InputId, Role};
use ingest::{
    Admission, IngestEvent, IngestSink, PublishAuthorizer, PublishRequest, PushProtocol, Refusal,
};
use model::{InputProtocol, IpWhitelist};

use crate::channel::{ChannelRuntime, RenditionSlot};
use crate::registry::ChannelRegistry;
use crate::switch::push_input;

/// The longest a ticker sleeps between two checks when no deadline is pending.
const TICK_IDLE: Duration = Duration::from_millis(200);

/// Authorizes publishes against the current channel registry.
#[derive(Debug)]
pub struct RegistryAuthorizer {
    registry: Arc<RwLock<Arc<ChannelRegistry>>>,
}

impl RegistryAuthorizer {
    pub fn new(registry: Arc<RwLock<Arc<ChannelRegistry>>>) -> Self {
        RegistryAuthorizer { registry }
    }

    /// Finds the rendition `request` feeds and checks everything but the claim.
    fn check(
        &self,
        request: &PublishRequest,
    ) -> Result<(Arc<ChannelRuntime>, Arc<RenditionSlot>, Role), Refusal> {
        let registry = self
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some((channel, slot, role)) = registry.find_ingest(&request.app, &request.stream_name)
        else {
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
        let input = &channel.config.input;
        let expected = input.input_protocol;
        let fits = matches!(
            (expected, request.protocol),
            (InputProtocol::RtmpPush, PushProtocol::Rtmp)
                | (InputProtocol::SrtPush, PushProtocol::Srt)
        );
        if !fits {
            return Err(Refusal::WrongProtocol {
                stream: request.stream_name.clone(),
                expected: expected.as_str().to_string(),
                got: request.protocol.as_str(),
            });
        }
        if request.protocol == PushProtocol::Srt {
            if let Some(list) = &input.ip_whitelist {
                // Validation accepted the list; one that does not parse allows nobody.
                let allowed = IpWhitelist::parse(list)
                    .map(|l| l.allows(request.peer.ip()))
                    .unwrap_or(false);
                if !allowed {
                    return Err(Refusal::AddressNotAllowed(request.peer.ip()));
                }
            }
        }
        if slot.is_claimed(push_input(role)) {
            return Err(Refusal::AlreadyPublishing(request.stream_name.clone()));
        }
        Ok((channel, slot, role))
    }
}

impl PublishAuthorizer for RegistryAuthorizer {
    fn admit(&self, request: &PublishRequest) -> Result<Admission, Refusal> {
        let (channel, slot, role) = self.check(request)?;
        let input = &channel.config.input;
        let passphrase = match role {
            Role::Primary => input
                .primary_sources()
                .get(slot.source)
                .and_then(|s| s.passphrase.clone()),
            // The standby pushes with the standby source's passphrase when one is declared,
            // else with the primary's.
            Role::Secondary => input
                .standby_sources()
                .get(slot.source)
                .and_then(|s| s.passphrase.clone())
                .or_else(|| {
                    input
                        .primary_sources()
                        .get(slot.source)
                        .and_then(|s| s.passphrase.clone())
                }),
        };
        Ok(Admission { passphrase })
    }

    fn authorize(&self, request: &PublishRequest) -> Result<Box<dyn IngestSink>, Refusal> {
        let (channel, slot, role) = self.check(request)?;
        let input = push_input(role);
        if !slot.try_claim(input) {
            return Err(Refusal::AlreadyPublishing(request.stream_name.clone()));
        }
        tracing::info!(
            channel = %channel.config.id,
            rendition = %slot.name,
            input = %input,
            protocol = request.protocol.as_str(),
            peer = %request.peer,
            "publish started"
        );
        spawn_ticker(&channel, &slot);
        Ok(Box::new(RenditionSink {
            channel,
            slot,
            input,
        }))
    }
}

/// Feeds one publisher's events into its rendition's input switch; dropping it ends the
/// session.
#[derive(Debug)]
pub struct RenditionSink {
    channel: Arc<ChannelRuntime>,
    slot: Arc<RenditionSlot>,
    input: InputId,
}

impl RenditionSink {
    /// A sink for `input` of `slot` (a pull connection); the caller has reported it connected.
    pub fn new(channel: Arc<ChannelRuntime>, slot: Arc<RenditionSlot>, input: InputId) -> Self {
        RenditionSink {
            channel,
            slot,
            input,
        }
    }
}

impl IngestSink for RenditionSink {
    fn on_event(&mut self, event: IngestEvent) -> Result<(), String> {
        if self.slot.is_retired() {
            return Err("the channel was stopped or reconfigured".to_string());
        }
        let mut switch = self.slot.lock_input();
        let mut rendition = self.slot.lock();
        match event {
            IngestEvent::Track(track) => switch.track(self.input, track, &mut rendition),
            IngestEvent::Frame(frame) => {
                switch.frame(self.input, frame, &mut rendition, &self.channel.clock)
            }
        }
        Ok(())
    }
}

impl Drop for RenditionSink {
    fn drop(&mut self) {
        let mut switch = self.slot.lock_input();
        let mut rendition = self.slot.lock();
        switch.disconnected(self.input, &mut rendition, &self.channel.clock);
        tracing::info!(
            channel = %self.channel.config.id,
            rendition = %self.slot.name,
            input = %self.input,
            segments = rendition.sealed_segments(),
            dropped_frames = rendition.segmenter.dropped_frames(),
            "publish ended"
        );
    }
}

/// Starts the task that ticks `slot`'s input switch while publishers are connected, so a
/// silent input is declared lost at its deadline even when no other input delivers.
fn spawn_ticker(channel: &Arc<ChannelRuntime>, slot: &Arc<RenditionSlot>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if !slot.start_ticking() {
        return;
    }
    let channel = Arc::downgrade(channel);
    let slot = slot.clone();
    handle.spawn(async move {
        loop {
            let wait = {
                let switch = slot.lock_input();
                if slot.is_retired() || !switch.any_claimed() || channel.strong_count() == 0 {
                    slot.stop_ticking();
                    return;
                }
                switch
                    .next_deadline()
                    .map_or(TICK_IDLE, |d| d.min(TICK_IDLE))
            };
            tokio::time::sleep(wait + Duration::from_millis(1)).await;
            let Some(channel) = channel.upgrade() else {
                slot.stop_ticking();
                return;
            };
            let mut switch = slot.lock_input();
            let mut rendition = slot.lock();
            switch.tick(&mut rendition, &channel.clock);
        }
    });
}
