//! Chooses which input feeds a channel: the primary source or the standby, and which of their
//! URLs (`url`, then `backup_urls` in order) is connected.
//!
//! [`InputSelector`] is a state machine. The I/O shell reports frames, connections and ticks
//! with the time they happened and reads back [`Decision`]s with [`InputSelector::poll_decision`].
//! It contains no networking code and never reads the clock, so failover is tested under
//! simulated time.
//!
//! # Rules
//!
//! - **Alive** means an input delivered a frame less than `loss_threshold` ago and has not been
//!   reported disconnected since.
//! - **Loss.** The active input is lost once it has been silent for `loss_threshold` (checked on
//!   every event, so a shell that ticks every 10 ms switches within 10 ms of the threshold), or
//!   at once when it is reported [`disconnected`](InputSelector::disconnected): an encoder that
//!   left or a pull that failed will not deliver again on that connection, so waiting the
//!   threshold would only lengthen the outage. The selector then switches to the best alive
//!   input: the other role first, then the lowest candidate. If none is alive it stays on the
//!   lost input and reports [`Decision::Lost`]; the first input to deliver after that is taken
//!   ([`Decision::Resumed`] when it is the lost one itself, a switch otherwise).
//! - **Preference.** With [`Preference::Primary`] the selector returns from the standby to the
//!   primary once the primary has delivered frames steadily for `return_after`. With
//!   [`Preference::Equal`] it stays on the standby until the standby is lost.
//! - **Flapping.** "Steadily" means no gap between two frames reaches `loss_threshold` and no
//!   disconnect: any such gap or disconnect restarts the `return_after` timer. A primary that
//!   keeps dropping and returning for less than `return_after` therefore never takes over from
//!   a healthy standby, and every switch needs either a loss of the active input or a full
//!   `return_after` of steady primary frames: no switch storm.
//! - **Pull candidates.** For pull inputs each role has one current candidate, connected on
//!   request ([`Decision::Connect`]). A candidate that is reported disconnected, that stays
//!   silent for `loss_threshold` after delivering, or that delivers nothing within
//!   `connect_grace` of its connect request is replaced by the next one of its role (candidate
//!   1, 2, … then back to 0), with [`Decision::Disconnect`] first when it is still connected.
//!   The same candidate is requested at most once per `reconnect_interval`, so URLs that all
//!   refuse at once are not retried in a busy loop. Frames from a candidate that is no longer
//!   current are late frames of a closing connection and are dropped.
//! - **Switch time** is measured from the last frame that went to the output to the first frame
//!   of the new input that does, and reported in [`Decision::SwitchCompleted`].

use std::collections::VecDeque;
use std::fmt;
use std::ops::Add;
use std::time::Duration;

use tracing::{info, warn};

/// A point on a monotonic clock, in milliseconds since an origin the shell chooses (its start,
/// say). The selector compares these; it never reads a clock itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// Time from `earlier` to `self`, zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Millis {
    type Output = Millis;

    fn add(self, d: Duration) -> Millis {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Millis(self.0.saturating_add(ms))
    }
}

/// Whether an input belongs to the primary `sources` or the `secondary_sources`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Primary,
    Secondary,
}

impl Role {
    fn other(self) -> Role {
        match self {
            Role::Primary => Role::Secondary,
            Role::Secondary => Role::Primary,
        }
    }

    fn index(self) -> usize {
        match self {
            Role::Primary => 0,
            Role::Secondary => 1,
        }
    }
}

/// One input: a role and a candidate, where candidate 0 is the source's own `url` and
/// candidate `k` is `backup_urls[k - 1]`. Push inputs only have candidate 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputId {
    pub role: Role,
    pub candidate: usize,
}

impl InputId {
    /// The primary source's own `url` (or its push publisher).
    pub const PRIMARY: InputId = InputId::new(Role::Primary, 0);
    /// The standby source's own `url` (or its push publisher).
    pub const SECONDARY: InputId = InputId::new(Role::Secondary, 0);

    pub const fn new(role: Role, candidate: usize) -> InputId {
        InputId { role, candidate }
    }
}

impl fmt::Display for InputId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        };
        match self.candidate {
            0 => f.write_str(role),
            k => write!(f, "{role} backup_urls[{}]", k - 1),
        }
    }
}

/// `failover_conditions.input_preference`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preference {
    /// Return to the primary once it has delivered steadily for `return_after`.
    Primary,
    /// Stay on whichever input is live.
    #[default]
    Equal,
}

/// How inputs arrive: encoders push to us, or we pull from URLs and choose which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Encoders connect to us; one candidate per role; no connect requests.
    Push,
    /// The shell connects to URLs on [`Decision::Connect`].
    Pull,
}

/// What the selector needs from a channel's input configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorConfig {
    /// Silence after which the active input counts as lost (`input_loss_threshold_msec`).
    /// Zero is raised to 1 ms so that "alive" keeps a meaning.
    pub loss_threshold: Duration,
    pub preference: Preference,
    pub delivery: Delivery,
    /// Candidates of the primary role: 1 + `backup_urls.len()` for pull, 1 for push.
    pub primary_candidates: usize,
    /// Candidates of the standby role; 0 when there are no `secondary_sources`.
    pub secondary_candidates: usize,
    /// With [`Preference::Primary`], how long the primary must deliver steadily (no gap of
    /// `loss_threshold`) before the selector leaves the standby for it. Default 10 s: long
    /// enough that a restarting encoder proves itself, short against a standby's lifetime.
    pub return_after: Duration,
    /// Pull only: how long a newly requested candidate may take to deliver its first frame
    /// before the next candidate is tried. Default 5 s.
    pub connect_grace: Duration,
    /// Pull only: the least time between two connect requests for the same candidate.
    /// Default 1 s.
    pub reconnect_interval: Duration,
}

impl SelectorConfig {
    pub const DEFAULT_LOSS_THRESHOLD: Duration = Duration::from_millis(2_000);
    pub const DEFAULT_RETURN_AFTER: Duration = Duration::from_secs(10);
    pub const DEFAULT_CONNECT_GRACE: Duration = Duration::from_secs(5);
    pub const DEFAULT_RECONNECT_INTERVAL: Duration = Duration::from_secs(1);

    /// Defaults for everything but the inputs: EQUAL, 2 s loss threshold.
    pub fn new(
        delivery: Delivery,
        primary_candidates: usize,
        secondary_candidates: usize,
    ) -> SelectorConfig {
        SelectorConfig {
            loss_threshold: Self::DEFAULT_LOSS_THRESHOLD,
            preference: Preference::default(),
            delivery,
            primary_candidates,
            secondary_candidates,
            return_after: Self::DEFAULT_RETURN_AFTER,
            connect_grace: Self::DEFAULT_CONNECT_GRACE,
            reconnect_interval: Self::DEFAULT_RECONNECT_INTERVAL,
        }
    }

    /// The loss threshold from `input_loss_threshold_msec`, 2,000 ms when not set.
    pub fn loss_threshold_from_msec(msec: Option<u64>) -> Duration {
        msec.map_or(Self::DEFAULT_LOSS_THRESHOLD, Duration::from_millis)
    }
}

/// Why the selector changed inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchCause {
    /// Nothing was active yet; this is the first input to deliver. Not counted as a switch.
    FirstInput,
    /// The active input delivered nothing for `silent_for` (at least the loss threshold).
    InputLoss { silent_for: Duration },
    /// The active input's connection ended or its publisher left.
    Disconnected,
    /// [`Preference::Primary`]: the primary delivered steadily for `return_after`.
    PrimaryRecovered,
}

impl fmt::Display for SwitchCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchCause::FirstInput => f.write_str("first input"),
            SwitchCause::InputLoss { silent_for } => {
                write!(f, "input loss (silent for {} ms)", silent_for.as_millis())
            }
            SwitchCause::Disconnected => f.write_str("input disconnected"),
            SwitchCause::PrimaryRecovered => f.write_str("primary recovered"),
        }
    }
}

/// A change of the input whose frames go to the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    pub from: Option<InputId>,
    pub to: InputId,
    pub cause: SwitchCause,
    /// When the selector decided it.
    pub at: Millis,
}

/// What the shell must know or do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// From now on only `to`'s frames go to the output.
    Switch(Switch),
    /// The first frame of `switch.to` went to the output, `switch_time` after the last frame
    /// before it. Log the switch with its cause here.
    SwitchCompleted {
        switch: Switch,
        switch_time: Duration,
    },
    /// The active input is lost and no other input is alive; the output has no frames.
    Lost {
        input: InputId,
        cause: SwitchCause,
        at: Millis,
    },
    /// The lost input delivered again before any other; `outage` is the gap in the output.
    Resumed {
        input: InputId,
        outage: Duration,
        at: Millis,
    },
    /// Pull only: connect this candidate (its role's previous one is already given up).
    Connect(InputId),
    /// Pull only: close this candidate's connection.
    Disconnect(InputId),
}

/// Where the selector stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectorState {
    /// No input has delivered yet.
    Waiting,
    /// This input's frames go to the output.
    Active(InputId),
    /// This input was active and is lost; nothing else is alive.
    Lost(InputId),
}

/// Counters for monitoring. `switches` excludes the first selection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectorStats {
    pub switches: u64,
    pub input_loss_switches: u64,
    pub disconnect_switches: u64,
    pub primary_recovered_switches: u64,
    /// Times the active input was lost with nothing to switch to.
    pub losses: u64,
    /// Times a lost input came back before any other.
    pub resumes: u64,
    pub connect_requests: u64,
    /// The switch time of the last completed switch.
    pub last_switch_time: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Default)]
struct InputState {
    last_frame: Option<Millis>,
    /// First frame of the current steady run (no gap of the loss threshold, no disconnect).
    run_start: Option<Millis>,
    disconnected: bool,
    /// Pull: when this candidate was last requested.
    last_attempt: Option<Millis>,
}

#[derive(Clone, Debug)]
struct RoleState {
    candidates: Vec<InputState>,
    /// Pull: the candidate connected or to connect.
    current: usize,
    /// Pull: when `current` was requested; `None` while its request waits for
    /// `reconnect_interval`.
    attempt_since: Option<Millis>,
    /// Pull: when the deferred request for `current` is due.
    connect_at: Option<Millis>,
}

#[derive(Clone, Copy, Debug)]
struct LostState {
    cause: SwitchCause,
}

/// The primary/standby input selector of one channel. See the module documentation for its
/// rules.
#[derive(Debug)]
pub struct InputSelector {
    config: SelectorConfig,
    roles: [RoleState; 2],
    active: Option<InputId>,
    lost: Option<LostState>,
    /// A switch whose new input has not delivered to the output yet.
    pending: Option<Switch>,
    last_output_frame: Option<Millis>,
    decisions: VecDeque<Decision>,
    stats: SelectorStats,
}

impl InputSelector {
    /// A selector starting at `now`. For pull inputs the first connect requests are queued.
    pub fn new(mut config: SelectorConfig, now: Millis) -> InputSelector {
        config.loss_threshold = config.loss_threshold.max(Duration::from_millis(1));
        config.primary_candidates = config.primary_candidates.max(1);
        if config.delivery == Delivery::Push {
            config.secondary_candidates = config.secondary_candidates.min(1);
            config.primary_candidates = 1;
        }
        let role = |n: usize| RoleState {
            candidates: vec![InputState::default(); n],
            current: 0,
            attempt_since: None,
            connect_at: None,
        };
        let mut selector = InputSelector {
            roles: [
                role(config.primary_candidates),
                role(config.secondary_candidates),
            ],
            config,
            active: None,
            lost: None,
            pending: None,
            last_output_frame: None,
            decisions: VecDeque::new(),
            stats: SelectorStats::default(),
        };
        if selector.config.delivery == Delivery::Pull {
            for role in [Role::Primary, Role::Secondary] {
                if !selector.roles[role.index()].candidates.is_empty() {
                    selector.request_connect(role, now);
                }
            }
        }
        selector
    }

    pub fn config(&self) -> &SelectorConfig {
        &self.config
    }

    pub fn stats(&self) -> SelectorStats {
        self.stats
    }

    /// The input whose frames go to the output, also while it is lost.
    pub fn active(&self) -> Option<InputId> {
        self.active
    }

    pub fn state(&self) -> SelectorState {
        match (self.active, self.lost) {
            (None, _) => SelectorState::Waiting,
            (Some(a), None) => SelectorState::Active(a),
            (Some(a), Some(_)) => SelectorState::Lost(a),
        }
    }

    /// Whether a frame of `input` goes to the output now.
    pub fn accepts(&self, input: InputId) -> bool {
        self.active == Some(input)
    }

    /// The next decision to act on, oldest first.
    pub fn poll_decision(&mut self) -> Option<Decision> {
        self.decisions.pop_front()
    }

    /// `input` delivered a frame at `now`. Returns whether that frame goes to the output
    /// (the same as [`accepts`](Self::accepts) after the call).
    pub fn frame(&mut self, input: InputId, now: Millis) -> bool {
        // Losses due before this frame are decided first, as if the shell had ticked then.
        self.evaluate(now);
        if !self.is_current(input) {
            return false;
        }
        let threshold = self.config.loss_threshold;
        let Some(state) = self.input_mut(input) else {
            return false;
        };
        let gap = state.disconnected
            || state.run_start.is_none()
            || state
                .last_frame
                .is_none_or(|t| now.saturating_since(t) >= threshold);
        if gap {
            state.run_start = Some(now);
        }
        state.last_frame = Some(state.last_frame.map_or(now, |t| t.max(now)));
        state.disconnected = false;
        self.evaluate(now);

        if !self.accepts(input) {
            return false;
        }
        if let Some(switch) = self.pending.take_if(|s| s.to == input) {
            let switch_time = self
                .last_output_frame
                .map_or(now.saturating_since(switch.at), |t| now.saturating_since(t));
            self.stats.last_switch_time = Some(switch_time);
            info!(
                from = ?switch.from.map(|f| f.to_string()),
                to = %switch.to,
                cause = %switch.cause,
                switch_time_ms = switch_time.as_millis() as u64,
                "input switched"
            );
            self.decisions.push_back(Decision::SwitchCompleted {
                switch,
                switch_time,
            });
        }
        self.last_output_frame = Some(now);
        true
    }

    /// `input` connected at `now` (a pull connection succeeded or a push publisher arrived).
    /// It counts as alive only once it delivers a frame.
    pub fn connected(&mut self, input: InputId, now: Millis) {
        if let Some(state) = self.input_mut(input) {
            state.disconnected = false;
            state.last_frame = None;
            state.run_start = None;
        }
        self.evaluate(now);
    }

    /// `input`'s connection ended at `now` (a pull failed or a push publisher left). The active
    /// input is given up at once; a pull role moves to its next candidate.
    pub fn disconnected(&mut self, input: InputId, now: Millis) {
        let Some(state) = self.input_mut(input) else {
            return;
        };
        state.disconnected = true;
        state.run_start = None;
        if self.active == Some(input) && self.lost.is_none() {
            self.fail_active(input, SwitchCause::Disconnected, now);
        }
        if self.config.delivery == Delivery::Pull && self.is_current(input) {
            self.rotate(input.role, now);
        }
        self.evaluate(now);
    }

    /// Time passed; call it periodically (every 10 ms, say) or at [`next_deadline`](Self::next_deadline).
    pub fn tick(&mut self, now: Millis) {
        self.evaluate(now);
    }

    /// The earliest time at which a [`tick`](Self::tick) may decide something without any
    /// other event, if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        let threshold = self.config.loss_threshold;
        let mut deadlines: Vec<Millis> = self.start_deadline().into_iter().collect();
        if let (Some(active), None) = (self.active, self.lost) {
            if let Some(t) = self.input(active).and_then(|s| s.last_frame) {
                deadlines.push(t + threshold);
            }
            if self.config.preference == Preference::Primary && active.role == Role::Secondary {
                deadlines.extend(
                    self.roles[Role::Primary.index()]
                        .candidates
                        .iter()
                        .filter(|s| !s.disconnected)
                        .filter_map(|s| s.run_start)
                        .map(|t| t + self.config.return_after),
                );
            }
        }
        if self.config.delivery == Delivery::Pull {
            for role in &self.roles {
                let Some(current) = role.candidates.get(role.current) else {
                    continue;
                };
                deadlines.extend(role.connect_at);
                if let Some(since) = role.attempt_since {
                    deadlines.push(match current.last_frame.filter(|&t| t >= since) {
                        Some(t) => t + threshold,
                        None => since + self.config.connect_grace,
                    });
                }
            }
        }
        deadlines.into_iter().min()
    }

    fn input(&self, id: InputId) -> Option<&InputState> {
        self.roles[id.role.index()].candidates.get(id.candidate)
    }

    fn input_mut(&mut self, id: InputId) -> Option<&mut InputState> {
        self.roles[id.role.index()].candidates.get_mut(id.candidate)
    }

    /// Push: every configured input. Pull: only its role's current candidate.
    fn is_current(&self, id: InputId) -> bool {
        let role = &self.roles[id.role.index()];
        id.candidate < role.candidates.len()
            && (self.config.delivery == Delivery::Push || role.current == id.candidate)
    }

    fn alive(&self, id: InputId, now: Millis) -> bool {
        self.is_current(id)
            && self.input(id).is_some_and(|s| {
                !s.disconnected
                    && s.last_frame
                        .is_some_and(|t| now.saturating_since(t) < self.config.loss_threshold)
            })
    }

    /// The alive input to take, `prefer` role first, then the lowest candidate.
    fn best_alive(&self, now: Millis, prefer: Role, except: Option<InputId>) -> Option<InputId> {
        [prefer, prefer.other()].into_iter().find_map(|role| {
            (0..self.roles[role.index()].candidates.len())
                .map(|c| InputId::new(role, c))
                .find(|&id| Some(id) != except && self.alive(id, now))
        })
    }

    fn evaluate(&mut self, now: Millis) {
        self.check_active(now);
        self.check_return_to_primary(now);
        if self.config.delivery == Delivery::Pull {
            for role in [Role::Primary, Role::Secondary] {
                self.supervise(role, now);
            }
        }
    }

    fn check_active(&mut self, now: Millis) {
        let Some(active) = self.active else {
            // At start the primary is preferred whatever the preference: a standby that
            // delivers first is taken only once it has delivered for the loss threshold
            // without the primary (both are connected at once; either may be first).
            if let Some(to) = self.best_alive(now, Role::Primary, None) {
                if to.role == Role::Secondary && self.start_deadline().is_some_and(|t| now < t) {
                    return;
                }
                self.switch(to, SwitchCause::FirstInput, now);
            }
            return;
        };
        if let Some(lost) = self.lost {
            if self.alive(active, now) {
                self.lost = None;
                self.stats.resumes += 1;
                let outage = self
                    .last_output_frame
                    .map_or(Duration::ZERO, |t| now.saturating_since(t));
                info!(input = %active, outage_ms = outage.as_millis() as u64, "input resumed");
                self.decisions.push_back(Decision::Resumed {
                    input: active,
                    outage,
                    at: now,
                });
            } else if let Some(to) = self.best_alive(now, active.role.other(), Some(active)) {
                let cause = self.loss_cause(lost.cause, now);
                self.switch(to, cause, now);
            }
            return;
        }
        let Some(state) = self.input(active) else {
            return;
        };
        let cause = if state.disconnected {
            SwitchCause::Disconnected
        } else {
            match state.last_frame {
                Some(t) if now.saturating_since(t) >= self.config.loss_threshold => {
                    SwitchCause::InputLoss {
                        silent_for: now.saturating_since(t),
                    }
                }
                _ => return,
            }
        };
        self.fail_active(active, cause, now);
    }

    /// Before any input was active: when a standby that delivers may be taken without the
    /// primary (its first frame plus the loss threshold).
    fn start_deadline(&self) -> Option<Millis> {
        if self.active.is_some() {
            return None;
        }
        self.roles[Role::Secondary.index()]
            .candidates
            .iter()
            .filter(|s| !s.disconnected)
            .filter_map(|s| s.run_start)
            .min()
            .map(|t| t + self.config.loss_threshold)
    }

    /// The cause to report for leaving the lost `active` now: its silence so far, unless it
    /// was lost by a disconnect.
    fn loss_cause(&self, cause: SwitchCause, now: Millis) -> SwitchCause {
        match cause {
            SwitchCause::InputLoss { .. } => SwitchCause::InputLoss {
                silent_for: self
                    .last_output_frame
                    .map_or(Duration::ZERO, |t| now.saturating_since(t)),
            },
            SwitchCause::Disconnected | SwitchCause::FirstInput | SwitchCause::PrimaryRecovered => {
                cause
            }
        }
    }

    fn fail_active(&mut self, active: InputId, cause: SwitchCause, now: Millis) {
        match self.best_alive(now, active.role.other(), Some(active)) {
            Some(to) => self.switch(to, cause, now),
            None => {
                self.lost = Some(LostState { cause });
                self.stats.losses += 1;
                warn!(input = %active, cause = %cause, "input lost and no other input is alive");
                self.decisions.push_back(Decision::Lost {
                    input: active,
                    cause,
                    at: now,
                });
            }
        }
    }

    fn check_return_to_primary(&mut self, now: Millis) {
        if self.config.preference != Preference::Primary || self.lost.is_some() {
            return;
        }
        if self.active.is_none_or(|a| a.role != Role::Secondary) {
            return;
        }
        let steady = (0..self.roles[Role::Primary.index()].candidates.len())
            .map(|c| InputId::new(Role::Primary, c))
            .find(|&id| {
                self.alive(id, now)
                    && self
                        .input(id)
                        .and_then(|s| s.run_start)
                        .is_some_and(|t| now.saturating_since(t) >= self.config.return_after)
            });
        if let Some(to) = steady {
            self.switch(to, SwitchCause::PrimaryRecovered, now);
        }
    }

    fn switch(&mut self, to: InputId, cause: SwitchCause, now: Millis) {
        let switch = Switch {
            from: self.active,
            to,
            cause,
            at: now,
        };
        self.active = Some(to);
        self.lost = None;
        self.pending = Some(switch);
        match cause {
            SwitchCause::FirstInput => {}
            SwitchCause::InputLoss { .. } => self.stats.input_loss_switches += 1,
            SwitchCause::Disconnected => self.stats.disconnect_switches += 1,
            SwitchCause::PrimaryRecovered => self.stats.primary_recovered_switches += 1,
        }
        if cause != SwitchCause::FirstInput {
            self.stats.switches += 1;
        }
        self.decisions.push_back(Decision::Switch(switch));
    }

    /// Pull: gives up the current candidate of `role` when it failed, and requests the next.
    fn supervise(&mut self, role: Role, now: Millis) {
        let r = &self.roles[role.index()];
        let Some(current) = r.candidates.get(r.current).copied() else {
            return;
        };
        if let Some(at) = r.connect_at {
            if now >= at {
                self.request_connect(role, now);
            }
            return;
        }
        let Some(since) = r.attempt_since else {
            return;
        };
        let failed = current.disconnected
            || match current.last_frame.filter(|&t| t >= since) {
                Some(t) => now.saturating_since(t) >= self.config.loss_threshold,
                None => now.saturating_since(since) >= self.config.connect_grace,
            };
        if failed {
            if !current.disconnected {
                let id = InputId::new(role, r.current);
                self.decisions.push_back(Decision::Disconnect(id));
                if let Some(state) = self.input_mut(id) {
                    state.disconnected = true;
                    state.run_start = None;
                }
            }
            self.rotate(role, now);
        }
    }

    /// Pull: moves `role` to its next candidate (wrapping) and requests it, now or once
    /// `reconnect_interval` has passed since its last request.
    fn rotate(&mut self, role: Role, now: Millis) {
        let interval = self.config.reconnect_interval;
        let r = &mut self.roles[role.index()];
        let n = r.candidates.len();
        if n == 0 {
            return;
        }
        r.current = (r.current + 1) % n;
        r.attempt_since = None;
        let due = r.candidates[r.current]
            .last_attempt
            .map_or(now, |t| (t + interval).max(now));
        if due <= now {
            self.request_connect(role, now);
        } else {
            r.connect_at = Some(due);
        }
    }

    fn request_connect(&mut self, role: Role, now: Millis) {
        let r = &mut self.roles[role.index()];
        let current = r.current;
        let Some(state) = r.candidates.get_mut(current) else {
            return;
        };
        // A new connection is alive only once it delivers: frames of the old one do not count.
        state.disconnected = false;
        state.last_frame = None;
        state.run_start = None;
        state.last_attempt = Some(now);
        r.attempt_since = Some(now);
        r.connect_at = None;
        self.stats.connect_requests += 1;
        self.decisions
            .push_back(Decision::Connect(InputId::new(role, current)));
    }
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod selector_tests;
