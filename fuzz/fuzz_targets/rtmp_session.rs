//! The sans-IO RTMP publish session: after a real handshake, any chunk stream is handled or
//! refused with an error; nothing panics (rml_rtmp panics are contained), and a publish request
//! is answered.
#![no_main]

use std::net::SocketAddr;

use ingest::rtmp::{Action, RtmpPublishSession};
use ingest::{IngestEvent, IngestSink};
use libfuzzer_sys::fuzz_target;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};

struct Discard;
impl IngestSink for Discard {
    fn on_event(&mut self, _event: IngestEvent) -> Result<(), String> {
        Ok(())
    }
}

fn handshake(session: &mut RtmpPublishSession) -> bool {
    let mut client = Handshake::new(PeerType::Client);
    let Ok(mut to_server) = client.generate_outbound_p0_and_p1() else {
        return false;
    };
    for _ in 0..4 {
        let Ok(actions) = session.handle_bytes(&to_server) else {
            return false;
        };
        let from_server: Vec<u8> = actions
            .into_iter()
            .flat_map(|a| match a {
                Action::Send(b) => b,
                _ => Vec::new(),
            })
            .collect();
        if from_server.is_empty() {
            return true;
        }
        match client.process_bytes(&from_server) {
            Ok(HandshakeProcessResult::InProgress { response_bytes }) => to_server = response_bytes,
            Ok(HandshakeProcessResult::Completed { response_bytes, .. }) => {
                return session.handle_bytes(&response_bytes).is_ok();
            }
            Err(_) => return false,
        }
    }
    false
}

/// rml_rtmp panics on some malformed messages; the session contains those with
/// `catch_unwind` and closes the connection, so only panics elsewhere are findings.
fn install_panic_filter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_rml = std::backtrace::Backtrace::force_capture()
                .to_string()
                .contains("rml_rtmp");
            if !in_rml {
                default(info);
                std::process::abort();
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    install_panic_filter();
    let peer: SocketAddr = "127.0.0.1:1935".parse().expect("literal address");
    let mut session = RtmpPublishSession::new(peer);
    // Half the inputs go straight at the handshake parser, half after a real handshake.
    if data.first().is_some_and(|b| b & 1 == 1) && !handshake(&mut session) {
        return;
    }
    for chunk in data.chunks(97) {
        let Ok(actions) = session.handle_bytes(chunk) else {
            return;
        };
        for action in actions {
            match action {
                Action::Authorize(_) => {
                    if session.accept_publish(Box::new(Discard)).is_err() {
                        return;
                    }
                }
                Action::Close(_) => return,
                Action::Send(_) | Action::PublishEnded(_) => {}
            }
        }
    }
});
