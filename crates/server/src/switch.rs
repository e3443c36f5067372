//! The input switch of one rendition: which input's frames reach the segmenter, and how the
//! output timeline stays continuous when that changes.
//!
//! Every input (the primary and standby publishers of a push channel, the connected URLs of
//! a pull channel) reports its events here. The [`InputSelector`] decides which input is
//! active; this shell keeps, for each input, its newest track configurations and the frames
//! since its last video keyframe, so a switch can start the new input at once from that
//! keyframe instead of waiting up to a GOP for the next one.
//!
//! # The output timeline at a switch
//!
//! A switch ends the rendition's session and begins a new one (one HLS `DISCONTINUITY`, a
//! fresh segment). The new session places its first frame (the keyframe kept for the new
//! input) at the wall-clock time that keyframe arrived, but never before the end of what the
//! rendition already holds (the segmenter's floor). The active input was silent for the loss
//! threshold before the switch, and the kept keyframe arrived within that time or later, so
//! the output never goes back and its gap is at most the threshold. Renditions of one encoder
//! stay aligned through the channel's shared clock mapping.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::selector::{
    Decision, Delivery, InputId, InputSelector, Millis, Preference, Role, SelectorConfig,
    SelectorStats,
};
use media::{Frame, TrackInfo, TrackKind, WallClock};
use segmenter::{ClockShare, Rendition};

/// Frames kept per input beyond which its GOP is dropped (and kept again from the next
/// keyframe): 20 s at 50 fps with audio.
const MAX_KEPT_FRAMES: usize = 3_000;
/// Bytes kept per input beyond which its GOP is dropped: a 10 s GOP at 25 Mbit/s.
const MAX_KEPT_BYTES: usize = 32 << 20;
/// How long a newly selected input that has shown only one track kind may wait for the other
/// before its output starts: an MPEG-TS input (SRT, HLS) announces audio only with its first
/// audio packet, often after the first video frames, and a first segment without audio would
/// make players and probes that start there miss the audio track.
const WAIT_FOR_TRACKS_MS: u64 = 1_000;

/// How a channel's inputs are selected, from its configuration.
pub fn selector_config(input: &model::InputStreamInfo, source: usize) -> SelectorConfig {
    let failover = input.failover();
    let push = input.input_protocol.is_push();
    let (primary, secondary) = if push {
        // Any push channel takes a standby publisher (`{id}_{bitrate}_standby`).
        (1, 1)
    } else {
        let candidates = |url: Option<&String>, backups: Option<&Vec<String>>| {
            usize::from(url.is_some()) + backups.map_or(0, Vec::len)
        };
        let p = input
            .primary_sources()
            .get(source)
            .map_or(0, |s| candidates(s.url.as_ref(), s.backup_urls.as_ref()));
        let s = input
            .standby_sources()
            .get(source)
            .map_or(0, |s| candidates(s.url.as_ref(), s.backup_urls.as_ref()));
        (p, s)
    };
    let mut config = SelectorConfig::new(
        if push { Delivery::Push } else { Delivery::Pull },
        primary,
        secondary,
    );
    config.loss_threshold =
        SelectorConfig::loss_threshold_from_msec(Some(failover.input_loss_threshold_msec()));
    config.preference = match failover.input_preference() {
        model::InputPreference::Primary => Preference::Primary,
        model::InputPreference::Equal => Preference::Equal,
    };
    config
}

/// What one input delivered lately, for starting it at a switch.
#[derive(Debug, Default)]
struct Kept {
    /// Newest configuration per track kind.
    tracks: Vec<TrackInfo>,
    /// Frames since the last video keyframe (only the newest audio frame when the input has
    /// no video), with the wall-clock time each arrived.
    frames: VecDeque<(Frame, WallClock)>,
    bytes: usize,
    /// A push publisher holds this input.
    claimed: bool,
}

impl Kept {
    fn has_video(&self) -> bool {
        self.tracks.iter().any(|t| t.kind() == TrackKind::Video)
    }

    fn set_track(&mut self, track: TrackInfo) {
        self.tracks.retain(|t| t.kind() != track.kind());
        self.tracks.push(track);
    }

    fn keep(&mut self, frame: &Frame, at: WallClock) {
        let restart = match frame.kind {
            TrackKind::Video => frame.keyframe,
            _ => !self.has_video(),
        };
        if restart
            || self.frames.len() >= MAX_KEPT_FRAMES
            || self.bytes + frame.data.len() > MAX_KEPT_BYTES
        {
            self.frames.clear();
            self.bytes = 0;
            if !restart {
                // Too much since the keyframe: keep nothing until the next one.
                return;
            }
        }
        if self.frames.is_empty() && frame.kind == TrackKind::Video && !frame.keyframe {
            return;
        }
        self.bytes += frame.data.len();
        self.frames.push_back((frame.clone(), at));
    }

    fn clear(&mut self) {
        self.tracks.clear();
        self.frames.clear();
        self.bytes = 0;
    }
}

/// The input-to-channel clock mappings a channel's renditions share, one per role: renditions
/// fed by one encoder cut at the same points, and an input that comes back (a thawed or
/// reconnected encoder keeping its clock) lands where its clock says, while the other role's
/// encoder, on another clock, never borrows its mapping.
#[derive(Debug, Default)]
pub struct InputClocks {
    pub primary: Arc<ClockShare>,
    pub standby: Arc<ClockShare>,
}

impl InputClocks {
    pub fn of(&self, role: Role) -> &Arc<ClockShare> {
        match role {
            Role::Primary => &self.primary,
            Role::Secondary => &self.standby,
        }
    }
}

/// Counters of one rendition's switches, for logs and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwitchStats {
    pub selector: SelectorStats,
    /// Longest switch time seen.
    pub max_switch_time: Option<Duration>,
}

/// The input switch of one rendition. See the module documentation.
#[derive(Debug)]
pub struct InputSwitch {
    selector: InputSelector,
    epoch: Instant,
    kept: Vec<(InputId, Kept)>,
    /// The input whose session the rendition is in, if any.
    output: Option<InputId>,
    /// A selected input whose output waits for its second track kind, until a deadline.
    pending: Option<(InputId, Millis)>,
    max_switch_time: Option<Duration>,
    /// Pull: connect and disconnect requests for the pull supervisor, oldest first.
    requests: VecDeque<Decision>,
    /// Names for logs.
    channel: String,
    rendition: String,
}

impl InputSwitch {
    pub fn new(config: SelectorConfig, channel: &str, rendition: &str) -> InputSwitch {
        let epoch = Instant::now();
        InputSwitch {
            selector: InputSelector::new(config, Millis(0)),
            epoch,
            kept: Vec::new(),
            output: None,
            pending: None,
            max_switch_time: None,
            requests: VecDeque::new(),
            channel: channel.to_string(),
            rendition: rendition.to_string(),
        }
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn kept_mut(&mut self, input: InputId) -> &mut Kept {
        let at = match self.kept.iter().position(|(id, _)| *id == input) {
            Some(at) => at,
            None => {
                self.kept.push((input, Kept::default()));
                self.kept.len() - 1
            }
        };
        &mut self.kept[at].1
    }

    /// Claims `input` for a push publisher; false if one already holds it.
    pub fn claim(&mut self, input: InputId) -> bool {
        let kept = self.kept_mut(input);
        if kept.claimed {
            return false;
        }
        kept.claimed = true;
        kept.clear();
        let now = self.now();
        self.selector.connected(input, now);
        true
    }

    pub fn is_claimed(&self, input: InputId) -> bool {
        self.kept
            .iter()
            .any(|(id, kept)| *id == input && kept.claimed)
    }

    /// Whether any push publisher is connected.
    pub fn any_claimed(&self) -> bool {
        self.kept.iter().any(|(_, kept)| kept.claimed)
    }

    /// A pull connection of `input` is up.
    pub fn connected(&mut self, input: InputId) {
        self.kept_mut(input).clear();
        let now = self.now();
        self.selector.connected(input, now);
    }

    /// `input`'s publisher left or its connection ended.
    pub fn disconnected(
        &mut self,
        input: InputId,
        rendition: &mut Rendition,
        clocks: &InputClocks,
    ) {
        let kept = self.kept_mut(input);
        kept.claimed = false;
        kept.clear();
        let now = self.now();
        self.selector.disconnected(input, now);
        self.apply(rendition, clocks, None);
    }

    /// A track configuration from `input`.
    pub fn track(&mut self, input: InputId, track: TrackInfo, rendition: &mut Rendition) {
        self.kept_mut(input).set_track(track.clone());
        if self.output == Some(input) {
            tracing::info!(
                channel = %self.channel,
                rendition = %self.rendition,
                input = %input,
                codec = %track.codec.codec_string(),
                "track configured"
            );
            rendition.set_track(track);
        }
    }

    /// A frame from `input`: kept for a later switch, and pushed to the rendition when
    /// `input` is the active one.
    pub fn frame(
        &mut self,
        input: InputId,
        frame: Frame,
        rendition: &mut Rendition,
        clocks: &InputClocks,
    ) {
        let wall = WallClock::now();
        self.kept_mut(input).keep(&frame, wall);
        let now = self.now();
        let accepted = self.selector.frame(input, now);
        let mut started = self.apply(rendition, clocks, Some(input));
        if self.pending.is_some_and(|(id, _)| id == input) {
            started |= self.start_pending(now, rendition, clocks);
        }
        if accepted && self.output == Some(input) && !started {
            rendition.push(frame);
        }
    }

    /// Starts the pending input once it has both track kinds or its wait is over; returns
    /// whether it started.
    fn start_pending(
        &mut self,
        now: Millis,
        rendition: &mut Rendition,
        clocks: &InputClocks,
    ) -> bool {
        let Some((input, deadline)) = self.pending else {
            return false;
        };
        let complete = self
            .kept
            .iter()
            .find(|(id, _)| *id == input)
            .is_some_and(|(_, k)| k.tracks.len() >= 2);
        if !complete && now < deadline {
            return false;
        }
        self.pending = None;
        self.start(input, rendition, clocks);
        true
    }

    /// Begins the output of `input` now, or once its tracks are known (see
    /// [`WAIT_FOR_TRACKS_MS`]); returns whether it started now.
    fn select(&mut self, input: InputId, rendition: &mut Rendition, clocks: &InputClocks) -> bool {
        let now = self.now();
        if self.output.take().is_some() {
            rendition.end_session();
        }
        self.pending = Some((input, Millis(now.0.saturating_add(WAIT_FOR_TRACKS_MS))));
        self.start_pending(now, rendition, clocks)
    }

    /// Time passed: loss and return deadlines are checked.
    pub fn tick(&mut self, rendition: &mut Rendition, clocks: &InputClocks) {
        let now = self.now();
        self.selector.tick(now);
        self.apply(rendition, clocks, None);
        self.start_pending(now, rendition, clocks);
    }

    /// How long until [`tick`](Self::tick) may decide something, if anything is pending.
    pub fn next_deadline(&self) -> Option<Duration> {
        let now = self.now();
        let pending = self.pending.map(|(_, at)| at);
        [self.selector.next_deadline(), pending]
            .into_iter()
            .flatten()
            .min()
            .map(|at| at.saturating_since(now))
    }

    /// Pull: the next connect or disconnect request.
    pub fn next_request(&mut self) -> Option<Decision> {
        self.requests.pop_front()
    }

    pub fn stats(&self) -> SwitchStats {
        SwitchStats {
            selector: self.selector.stats(),
            max_switch_time: self.max_switch_time,
        }
    }

    pub fn active(&self) -> Option<InputId> {
        self.output
    }

    /// Acts on the selector's decisions. Returns whether `current` (the input of the event
    /// being handled) was started from its kept frames, which include that event's frame.
    fn apply(
        &mut self,
        rendition: &mut Rendition,
        clocks: &InputClocks,
        current: Option<InputId>,
    ) -> bool {
        let mut started = false;
        while let Some(decision) = self.selector.poll_decision() {
            match decision {
                Decision::Switch(switch) => {
                    started |=
                        self.select(switch.to, rendition, clocks) && Some(switch.to) == current;
                }
                Decision::Resumed { input, outage, .. } => {
                    tracing::info!(
                        channel = %self.channel,
                        rendition = %self.rendition,
                        input = %input,
                        outage_ms = outage.as_millis() as u64,
                        "input resumed"
                    );
                    started |= self.select(input, rendition, clocks) && Some(input) == current;
                }
                Decision::SwitchCompleted {
                    switch,
                    switch_time,
                } => {
                    let stats = self.selector.stats();
                    if switch.from.is_some() {
                        self.max_switch_time = self.max_switch_time.max(Some(switch_time));
                        tracing::warn!(
                            channel = %self.channel,
                            rendition = %self.rendition,
                            from = %switch.from.map(|f| f.to_string()).unwrap_or_default(),
                            to = %switch.to,
                            cause = %switch.cause,
                            switch_time_ms = switch_time.as_millis() as u64,
                            switches = stats.switches,
                            "input switched"
                        );
                    } else {
                        tracing::info!(
                            channel = %self.channel,
                            rendition = %self.rendition,
                            input = %switch.to,
                            "input selected"
                        );
                    }
                }
                Decision::Lost { input, cause, .. } => {
                    tracing::warn!(
                        channel = %self.channel,
                        rendition = %self.rendition,
                        input = %input,
                        cause = %cause,
                        "input lost and no other input is delivering"
                    );
                    self.pending = None;
                    if self.output.take().is_some() {
                        rendition.end_session();
                    }
                }
                Decision::Connect(_) | Decision::Disconnect(_) => self.requests.push_back(decision),
            }
        }
        started
    }

    /// Begins a rendition session fed by `input`, from its kept keyframe on.
    fn start(&mut self, input: InputId, rendition: &mut Rendition, clocks: &InputClocks) {
        let (tracks, frames) = match self.kept.iter().find(|(id, _)| *id == input) {
            Some((_, kept)) => (kept.tracks.clone(), kept.frames.clone()),
            None => (Vec::new(), VecDeque::new()),
        };
        if self.output.is_some() {
            rendition.end_session();
        }
        let anchor = frames.front().map_or_else(WallClock::now, |(_, at)| *at);
        rendition.begin_aligned_session(anchor, clocks.of(input.role).clone());
        for track in tracks {
            rendition.set_track(track);
        }
        for (frame, _) in frames {
            rendition.push(frame);
        }
        self.output = Some(input);
    }
}

/// The input a push stream name feeds: the primary, or the standby for `…_standby` names.
pub fn push_input(role: Role) -> InputId {
    InputId::new(role, 0)
}
