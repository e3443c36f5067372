//! The input selector under simulated time: frames every 40 ms, a tick every 10 ms.

use std::time::Duration;

use super::*;

const P: InputId = InputId::PRIMARY;
const S: InputId = InputId::SECONDARY;
const FRAME_MS: u64 = 40;
const TICK_MS: u64 = 10;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn primary_candidate(k: usize) -> InputId {
    InputId::new(Role::Primary, k)
}

/// Drives one selector through simulated time and records everything it decided.
struct Sim {
    sel: InputSelector,
    now: u64,
    log: Vec<(u64, Decision)>,
    /// (time, input) of every frame that went to the output.
    accepted: Vec<(u64, InputId)>,
}

impl Sim {
    fn new(config: SelectorConfig) -> Sim {
        let mut sim = Sim {
            sel: InputSelector::new(config, Millis(0)),
            now: 0,
            log: Vec::new(),
            accepted: Vec::new(),
        };
        sim.drain();
        sim
    }

    fn push(preference: Preference, standby: bool) -> Sim {
        let mut config = SelectorConfig::new(Delivery::Push, 1, usize::from(standby));
        config.preference = preference;
        Sim::new(config)
    }

    fn drain(&mut self) {
        while let Some(d) = self.sel.poll_decision() {
            self.log.push((self.now, d));
        }
    }

    /// Runs until `until` (exclusive): at every multiple of 40 ms each input in `feeding`
    /// delivers a frame, in that order; then a tick, every 10 ms.
    fn run(&mut self, until: u64, feeding: &[InputId]) {
        while self.now < until {
            let now = Millis(self.now);
            if self.now.is_multiple_of(FRAME_MS) {
                let mut to_output = 0;
                for &id in feeding {
                    let accepted = self.sel.frame(id, now);
                    assert_eq!(
                        accepted,
                        self.sel.accepts(id),
                        "frame() agrees with accepts()"
                    );
                    if accepted {
                        to_output += 1;
                        self.accepted.push((self.now, id));
                    }
                }
                assert!(
                    to_output <= 1,
                    "two inputs reached the output at {}",
                    self.now
                );
            }
            self.sel.tick(now);
            self.drain();
            self.now += TICK_MS;
        }
    }

    fn disconnected(&mut self, id: InputId) {
        self.sel.disconnected(id, Millis(self.now));
        self.drain();
    }

    fn connected(&mut self, id: InputId) {
        self.sel.connected(id, Millis(self.now));
        self.drain();
    }

    fn switches(&self) -> Vec<Switch> {
        self.log
            .iter()
            .filter_map(|(_, d)| match d {
                Decision::Switch(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    fn completions(&self) -> Vec<(Switch, Duration)> {
        self.log
            .iter()
            .filter_map(|(_, d)| match d {
                Decision::SwitchCompleted {
                    switch,
                    switch_time,
                } => Some((*switch, *switch_time)),
                _ => None,
            })
            .collect()
    }

    fn connection_requests(&self) -> Vec<(u64, Decision)> {
        self.log
            .iter()
            .filter(|(_, d)| matches!(d, Decision::Connect(_) | Decision::Disconnect(_)))
            .copied()
            .collect()
    }

    fn first_accepted_from(&self, id: InputId, after: u64) -> Option<u64> {
        self.accepted
            .iter()
            .find(|&&(t, i)| i == id && t >= after)
            .map(|&(t, _)| t)
    }

    /// Both inputs until 4 s, then the primary stops (last frame at 3960 ms) and the
    /// selector moves to the standby at 5960 ms; runs until 8 s.
    fn primary_lost_at_5960(&mut self) {
        self.run(4_000, &[P, S]);
        self.run(8_000, &[S]);
        assert_eq!(self.sel.active(), Some(S));
    }
}

#[test]
fn primary_loss_switches_exactly_at_threshold_and_measures_switch_time() {
    let mut sim = Sim::push(Preference::Equal, true);
    sim.run(4_000, &[P, S]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
    assert_eq!(
        sim.switches(),
        vec![Switch {
            from: None,
            to: P,
            cause: SwitchCause::FirstInput,
            at: Millis(0),
        }]
    );
    assert_eq!(
        sim.sel.stats().switches,
        0,
        "the first selection is no switch"
    );
    assert_eq!(sim.sel.next_deadline(), Some(Millis(3_960 + 2_000)));

    // 1990 ms after the primary's last frame: still on the primary, the standby is dropped.
    sim.run(5_960, &[S]);
    assert_eq!(sim.sel.active(), Some(P));
    assert!(sim.accepted.iter().all(|&(_, id)| id == P));

    sim.run(8_000, &[S]);
    let expected = Switch {
        from: Some(P),
        to: S,
        cause: SwitchCause::InputLoss {
            silent_for: ms(2_000),
        },
        at: Millis(5_960),
    };
    assert_eq!(sim.switches()[1..], [expected]);
    assert_eq!(sim.first_accepted_from(S, 0), Some(5_960));
    assert_eq!(sim.completions()[1..], [(expected, ms(2_000))]);
    let stats = sim.sel.stats();
    assert_eq!(stats.switches, 1);
    assert_eq!(stats.input_loss_switches, 1);
    assert_eq!(stats.last_switch_time, Some(ms(2_000)));
}

#[test]
fn loss_is_detected_by_a_tick_between_frames() {
    let mut config = SelectorConfig::new(Delivery::Push, 1, 1);
    config.loss_threshold = SelectorConfig::loss_threshold_from_msec(Some(2_010));
    let mut sim = Sim::new(config);
    sim.run(4_000, &[P, S]);
    assert_eq!(sim.sel.next_deadline(), Some(Millis(3_960 + 2_010)));
    sim.run(8_000, &[S]);
    let switch = sim.switches()[1];
    assert_eq!(
        switch.at,
        Millis(5_970),
        "the tick at the threshold switches"
    );
    // The standby's next frame comes 30 ms later.
    assert_eq!(sim.completions()[1], (switch, ms(2_040)));
}

#[test]
fn default_threshold_is_two_seconds() {
    assert_eq!(SelectorConfig::loss_threshold_from_msec(None), ms(2_000));
    assert_eq!(
        SelectorConfig::new(Delivery::Push, 1, 1).loss_threshold,
        ms(2_000)
    );
}

#[test]
fn primary_preference_returns_after_steady_frames() {
    let mut sim = Sim::push(Preference::Primary, true);
    sim.primary_lost_at_5960();
    // The primary returns at 8000 ms; return_after is 10 s.
    sim.run(18_000, &[P, S]);
    assert_eq!(sim.sel.active(), Some(S));
    sim.run(20_000, &[P, S]);
    let back = Switch {
        from: Some(S),
        to: P,
        cause: SwitchCause::PrimaryRecovered,
        at: Millis(18_000),
    };
    assert_eq!(sim.switches().last(), Some(&back));
    // Last standby frame at 17960 ms, first primary frame at 18000 ms.
    assert_eq!(sim.completions().last(), Some(&(back, ms(40))));
    let stats = sim.sel.stats();
    assert_eq!(stats.switches, 2);
    assert_eq!(stats.primary_recovered_switches, 1);
}

#[test]
fn equal_preference_stays_on_standby_until_it_fails() {
    let mut sim = Sim::push(Preference::Equal, true);
    sim.primary_lost_at_5960();
    sim.run(40_000, &[P, S]);
    assert_eq!(
        sim.sel.active(),
        Some(S),
        "EQUAL never returns while the standby lives"
    );
    assert_eq!(sim.sel.stats().switches, 1);

    // Standby's last frame at 39960 ms.
    sim.run(43_000, &[P]);
    assert_eq!(
        sim.switches().last(),
        Some(&Switch {
            from: Some(S),
            to: P,
            cause: SwitchCause::InputLoss {
                silent_for: ms(2_000)
            },
            at: Millis(41_960),
        })
    );
    assert_eq!(sim.sel.stats().switches, 2);
}

#[test]
fn flapping_primary_never_takes_over_and_causes_no_switch_storm() {
    let mut sim = Sim::push(Preference::Primary, true);
    sim.primary_lost_at_5960();
    // Six times: 8 s of primary frames, then 2.5 s of silence (a gap above the threshold).
    for _ in 0..6 {
        let on_until = sim.now + 8_000;
        sim.run(on_until, &[P, S]);
        let off_until = sim.now + 2_500;
        sim.run(off_until, &[S]);
    }
    assert_eq!(sim.sel.active(), Some(S));
    let stats = sim.sel.stats();
    assert_eq!(stats.switches, 1, "only the first loss switched");
    assert_eq!(stats.primary_recovered_switches, 0);

    // Then the primary stays: it takes over 10 s after its run started.
    let start = sim.now;
    sim.run(start + 12_000, &[P, S]);
    let back = *sim.switches().last().expect("a switch back");
    assert_eq!(back.cause, SwitchCause::PrimaryRecovered);
    assert_eq!(back.at, Millis(start + 10_000));
    assert_eq!(sim.sel.stats().switches, 2);
}

#[test]
fn gaps_below_the_threshold_do_not_restart_the_return_timer() {
    let mut sim = Sim::push(Preference::Primary, true);
    sim.primary_lost_at_5960();
    // The primary returns at 8000 ms with 1.5 s pauses (gaps of 1.56 s < 2 s).
    sim.run(11_000, &[P, S]);
    sim.run(12_500, &[S]);
    sim.run(15_500, &[P, S]);
    sim.run(17_000, &[S]);
    sim.run(20_000, &[P, S]);
    let back = *sim.switches().last().expect("a switch back");
    assert_eq!(back.cause, SwitchCause::PrimaryRecovered);
    assert_eq!(back.at, Millis(18_000));
}

#[test]
fn both_lost_then_whichever_returns_first_is_taken() {
    let mut sim = Sim::push(Preference::Equal, true);
    sim.run(4_000, &[P, S]);
    sim.run(5_960, &[]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
    sim.run(9_000, &[]);
    assert_eq!(sim.sel.state(), SelectorState::Lost(P));
    let lost: Vec<_> = sim
        .log
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Lost { .. }))
        .collect();
    assert_eq!(
        lost,
        [&(
            5_960,
            Decision::Lost {
                input: P,
                cause: SwitchCause::InputLoss {
                    silent_for: ms(2_000)
                },
                at: Millis(5_960),
            }
        )]
    );
    assert_eq!(sim.switches().len(), 1, "no switch while nothing is alive");

    // The standby returns first, at 9000 ms.
    sim.run(10_000, &[S]);
    let switch = Switch {
        from: Some(P),
        to: S,
        cause: SwitchCause::InputLoss {
            silent_for: ms(9_000 - 3_960),
        },
        at: Millis(9_000),
    };
    assert_eq!(sim.switches().last(), Some(&switch));
    assert_eq!(sim.completions().last(), Some(&(switch, ms(5_040))));
    sim.run(12_000, &[P, S]);
    assert_eq!(sim.sel.state(), SelectorState::Active(S));
    let stats = sim.sel.stats();
    assert_eq!((stats.losses, stats.switches, stats.resumes), (1, 1, 0));
}

#[test]
fn both_lost_then_the_lost_input_returning_first_resumes() {
    let mut sim = Sim::push(Preference::Equal, true);
    sim.run(4_000, &[P, S]);
    sim.run(9_000, &[]);
    sim.run(10_000, &[P]);
    sim.run(12_000, &[P, S]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
    assert!(sim.log.contains(&(
        9_000,
        Decision::Resumed {
            input: P,
            outage: ms(5_040),
            at: Millis(9_000),
        }
    )));
    let stats = sim.sel.stats();
    assert_eq!((stats.losses, stats.switches, stats.resumes), (1, 0, 1));
}

#[test]
fn no_standby_reports_lost_and_recovers_on_the_same_input() {
    let mut sim = Sim::push(Preference::Primary, false);
    sim.run(4_000, &[P]);
    sim.run(7_000, &[]);
    assert_eq!(sim.sel.state(), SelectorState::Lost(P));
    // Frames of an input that is not configured are dropped.
    assert!(!sim.sel.frame(S, Millis(7_000)));
    sim.run(8_000, &[P]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
    assert_eq!(sim.first_accepted_from(P, 4_000), Some(7_000));
    let stats = sim.sel.stats();
    assert_eq!((stats.losses, stats.switches, stats.resumes), (1, 0, 1));
}

#[test]
fn push_disconnect_switches_at_once() {
    let mut sim = Sim::push(Preference::Equal, true);
    sim.run(4_010, &[P, S]);
    sim.disconnected(P);
    let switch = Switch {
        from: Some(P),
        to: S,
        cause: SwitchCause::Disconnected,
        at: Millis(4_010),
    };
    assert_eq!(sim.switches().last(), Some(&switch));
    sim.run(5_000, &[S]);
    // Last primary frame at 4000 ms, first standby frame accepted at 4040 ms.
    assert_eq!(sim.completions().last(), Some(&(switch, ms(40))));
    assert_eq!(sim.sel.stats().disconnect_switches, 1);

    // The publisher comes back: EQUAL stays on the standby.
    sim.connected(P);
    sim.run(20_000, &[P, S]);
    assert_eq!(sim.sel.active(), Some(S));
}

#[test]
fn push_disconnect_without_standby_is_lost_at_once() {
    let mut sim = Sim::push(Preference::Equal, false);
    sim.run(1_000, &[P]);
    sim.disconnected(P);
    assert_eq!(sim.sel.state(), SelectorState::Lost(P));
    assert_eq!(
        sim.log.last(),
        Some(&(
            1_000,
            Decision::Lost {
                input: P,
                cause: SwitchCause::Disconnected,
                at: Millis(1_000),
            }
        ))
    );
    sim.connected(P);
    sim.run(2_000, &[P]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
}

#[test]
fn pull_tries_backup_urls_in_order_and_wraps() {
    let mut sim = Sim::new(SelectorConfig::new(Delivery::Pull, 3, 1));
    assert_eq!(
        sim.connection_requests(),
        [(0, Decision::Connect(P)), (0, Decision::Connect(S))]
    );
    sim.connected(P);
    sim.connected(S);
    sim.run(4_000, &[P, S]);
    assert_eq!(sim.sel.active(), Some(P));

    // The primary url goes silent: switch, then give it up for backup_urls[0].
    sim.run(6_000, &[S]);
    let at_loss: Vec<_> = sim
        .log
        .iter()
        .filter(|(t, _)| *t == 5_960)
        .map(|(_, d)| *d)
        .collect();
    assert!(matches!(at_loss[0], Decision::Switch(Switch { to: S, .. })));
    assert_eq!(
        at_loss[1..3],
        [
            Decision::Disconnect(P),
            Decision::Connect(primary_candidate(1))
        ]
    );

    // backup_urls[0] refuses: backup_urls[1] at once.
    sim.disconnected(primary_candidate(1));
    // backup_urls[1] connects but never delivers: after connect_grace, back to the url.
    sim.connected(primary_candidate(2));
    sim.run(12_000, &[S]);
    assert_eq!(
        sim.connection_requests(),
        [
            (0, Decision::Connect(P)),
            (0, Decision::Connect(S)),
            (5_960, Decision::Disconnect(P)),
            (5_960, Decision::Connect(primary_candidate(1))),
            (6_000, Decision::Connect(primary_candidate(2))),
            (11_000, Decision::Disconnect(primary_candidate(2))),
            (11_000, Decision::Connect(P)),
        ]
    );
    // A late frame of a candidate given up is dropped and changes nothing.
    assert!(!sim.sel.frame(primary_candidate(1), Millis(12_000)));
    assert_eq!(sim.sel.active(), Some(S));
    assert_eq!(sim.sel.stats().connect_requests, 5);
}

#[test]
fn pull_retries_a_single_url_at_most_once_per_reconnect_interval() {
    let mut sim = Sim::new(SelectorConfig::new(Delivery::Pull, 1, 0));
    sim.run(100, &[]);
    sim.disconnected(P);
    assert_eq!(sim.sel.next_deadline(), Some(Millis(1_000)));
    sim.run(1_000, &[]);
    assert_eq!(sim.connection_requests(), [(0, Decision::Connect(P))]);
    sim.run(1_010, &[]);
    assert_eq!(
        sim.connection_requests(),
        [(0, Decision::Connect(P)), (1_000, Decision::Connect(P))]
    );
    // Refused again at 1010 ms: the next request is due 1 s after the last one.
    sim.disconnected(P);
    assert_eq!(sim.sel.next_deadline(), Some(Millis(2_000)));
}

#[test]
fn pull_without_standby_resumes_after_reconnect() {
    let mut sim = Sim::new(SelectorConfig::new(Delivery::Pull, 1, 0));
    sim.connected(P);
    sim.run(4_000, &[P]);
    sim.run(6_000, &[]);
    assert_eq!(sim.sel.state(), SelectorState::Lost(P));
    assert_eq!(
        sim.connection_requests()[1..],
        [
            (5_960, Decision::Disconnect(P)),
            (5_960, Decision::Connect(P))
        ]
    );
    sim.connected(P);
    sim.run(7_000, &[P]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
    assert_eq!(sim.sel.stats().resumes, 1);
}

#[test]
fn input_ids_name_their_url() {
    assert_eq!(P.to_string(), "primary");
    assert_eq!(
        InputId::new(Role::Secondary, 2).to_string(),
        "secondary backup_urls[1]"
    );
}

#[test]
fn a_reconnected_input_is_alive_only_once_it_delivers_again() {
    // Pull with one URL: its connection ends and it is requested again at once. Frames of the
    // old connection are recent, but they must not make the new one count as alive.
    let config = SelectorConfig::new(Delivery::Pull, 1, 0);
    let mut sim = Sim::new(config);
    sim.run(400, &[P]);
    sim.sel.disconnected(P, Millis(sim.now));
    sim.drain();
    assert_eq!(sim.sel.state(), SelectorState::Lost(P));
    assert!(
        !sim.log
            .iter()
            .any(|(_, d)| matches!(d, Decision::Resumed { .. })),
        "{:?}",
        sim.log
    );
    // The same for a push publisher that reconnects.
    let mut sim = Sim::push(Preference::Equal, false);
    sim.run(400, &[P]);
    sim.sel.disconnected(P, Millis(sim.now));
    sim.sel.connected(P, Millis(sim.now));
    sim.drain();
    assert_eq!(sim.sel.state(), SelectorState::Lost(P));
    sim.run(sim.now + 80, &[P]);
    assert!(sim
        .log
        .iter()
        .any(|(_, d)| matches!(d, Decision::Resumed { .. })));
}

#[test]
fn at_start_a_standby_that_delivers_first_waits_for_the_primary() {
    // The standby's first frame comes 200 ms before the primary's: the primary is taken.
    let mut sim = Sim::push(Preference::Equal, true);
    sim.run(200, &[S]);
    assert_eq!(sim.sel.state(), SelectorState::Waiting);
    sim.run(600, &[S, P]);
    assert_eq!(sim.sel.state(), SelectorState::Active(P));
    // Without a primary the standby is taken once it has delivered for the threshold.
    let mut sim = Sim::push(Preference::Equal, true);
    sim.run(1_990, &[S]);
    assert_eq!(sim.sel.state(), SelectorState::Waiting);
    sim.run(2_100, &[S]);
    assert_eq!(sim.sel.state(), SelectorState::Active(S));
}
