//! Helpers shared by the unit tests that run real tools.

use std::io::Write;
use std::process::Command;

/// Whether `tool` runs. When it does not, the test named `what` is skipped loudly, or fails
/// when the `CI` environment variable is set.
pub(crate) fn tool_installed(tool: &str, what: &str) -> bool {
    let found = Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed and CI is set: the {what} test must run"
        );
        // Straight to the process's stderr, past the test harness's output capture.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: {tool} not installed; {what} test did not run ***\n"
        );
    }
    found
}
