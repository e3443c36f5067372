//! Runs rml_rtmp code so that a panic on peer input becomes an error instead of a dead task.
//!
//! rml_rtmp 0.8 panics on some inputs a peer fully controls: an AMF0 data message holding only
//! `["@setDataFrame"]` (`sessions/server/mod.rs` indexes `data[0]` after a length check that
//! does nothing), an AMF0 command with fewer than three values (`drain(..3)`), and several
//! unchecked subtractions in the chunk deserializer. Every call into rml_rtmp goes through
//! [`contain`]. This relies on `panic = "unwind"` (the default, and what the workspace uses).
//! The process-wide panic hook is left alone, so the standard panic message still appears once
//! on stderr next to our own log line.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`, turning a panic into `Err` with the panic message.
///
/// The state `f` touched may be half-updated after a panic; callers must not use it again
/// (the session moves to a failed state and the connection is closed).
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_values_and_catches_panics() {
        assert_eq!(contain(|| 7), Ok(7));
        let v: Vec<u8> = Vec::new();
        let err = contain(|| v[3]).expect_err("indexing an empty vec panics");
        assert!(err.contains("index out of bounds"), "{err}");
        let err = contain(|| -> u8 { panic!("boom {}", 1) }).expect_err("panics");
        assert_eq!(err, "boom 1");
    }
}
