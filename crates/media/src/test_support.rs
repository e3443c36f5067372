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

/// Bytes from a hex string (test constants).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// The `hvcC` payload ffmpeg 5.1 writes (`-c copy -tag:v hvc1` to MP4) for the x265 3.5
/// parameter sets of `fixtures/ffmpeg-5.1_hevc-aac_320x240_25fps_4s_2s-gop.ts` (Main profile,
/// level 2 (60), 320x240, 25 fps).
pub(crate) const FFMPEG_HVCC: &str = "0101600000009000000000003cf000fcfdf8f800000f03a00001001840010c01ffff01600000030090000003000003003c959009a10001002a42010101600000030090000003000003003ca00a080f16595924932bc05a020000030002000003003210a2000100074401c172b46240";
