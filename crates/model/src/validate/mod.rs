//! Validation of a parsed channel against the spec's value ranges and cross-field rules, reporting
//! every problem with its JSON path rather than stopping at the first.

mod audio;
mod input;
mod package;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt::{self, Display};
use std::ops::RangeInclusive;

use crate::channel::ChannelConfig;
use crate::limits::MAX_ROLLINGBUFFER_DURATION;
use crate::url::parse_host_port;

/// One broken rule: where (a JSON path such as `endpoints[0].hls_package[0].segment_duration_seconds`)
/// and what (`must be 1..=10, got 12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationProblem {
    /// JSON path of the offending value.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl Display for ValidationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ValidationProblem {}

impl ChannelConfig {
    /// Checks every rule of the spec that the types cannot express (ranges, charsets, cross-field
    /// and per-protocol rules) and returns all problems found, in document order.
    pub fn validate(&self) -> Result<(), Vec<ValidationProblem>> {
        let mut problems = Problems::default();
        check_url_token(&mut problems, "id", &self.id);
        check_url_token(&mut problems, "app_name", &self.app_name);
        if self.domain.is_empty() {
            problems.push("domain", "must not be empty");
        } else if let Err(reason) = parse_host_port(&self.domain) {
            problems.push("domain", format!("is not a valid host name: {reason}"));
        }
        input::check(&mut problems, self);
        problems.range(
            "record_settings.rollingbuffer_duration",
            self.record_settings.rollingbuffer_duration,
            0..=MAX_ROLLINGBUFFER_DURATION,
        );
        check_endpoints(&mut problems, self);
        audio::check_descriptions(&mut problems, self);
        problems.finish()
    }
}

fn check_endpoints(problems: &mut Problems, channel: &ChannelConfig) {
    if channel.packages().next().is_none() {
        problems.push(
            "endpoints",
            "must contain at least one hls_package, dash_package or mss_package",
        );
    }
    for (e, endpoint) in channel.endpoints.iter().enumerate() {
        package::check_endpoint(problems, e, endpoint);
    }
    // Players address a package by its path alone, so two packages must not share one.
    let mut first_use: HashMap<String, String> = HashMap::new();
    for package in channel.packages() {
        let Some(path) = package.url_path() else {
            continue;
        };
        let here = format!("{}.url", package.path());
        match first_use.get(&path) {
            Some(first) => problems.push(here, format!("path {path} is already used by {first}")),
            None => {
                first_use.insert(path, here);
            }
        }
    }
}

/// `id` and `app_name` appear in URLs and RTMP stream names: letters, digits, `-`, `_`, `.`, and not
/// `.` or `..`.
fn check_url_token(problems: &mut Problems, path: &str, value: &str) {
    if value.is_empty() {
        problems.push(path, "must not be empty");
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        problems.push(
            path,
            format!("must contain only letters, digits, '-', '_' and '.', got {value:?}"),
        );
    } else if value == "." || value == ".." {
        problems.push(path, format!("must not be {value:?}"));
    }
}

/// Names of audio selectors and audio outputs: non-empty letters, digits, `-` and `_`.
fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A language code of 2 or 3 lowercase letters.
fn check_language_code(problems: &mut Problems, path: String, code: &str) {
    if !(2..=3).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_lowercase()) {
        problems.push(
            path,
            format!("must be 2 or 3 lowercase letters, got {code:?}"),
        );
    }
}

/// Collects problems while the checks walk the channel.
#[derive(Debug, Default)]
struct Problems(Vec<ValidationProblem>);

impl Problems {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ValidationProblem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Reports `value` when it is outside `range`, as `must be 1..=10, got 12`.
    fn range<T: PartialOrd + Display>(
        &mut self,
        path: impl Into<String>,
        value: T,
        range: RangeInclusive<T>,
    ) {
        if !range.contains(&value) {
            self.push(
                path,
                format!("must be {}..={}, got {value}", range.start(), range.end()),
            );
        }
    }

    /// Like [`Problems::range`] for an optional value; absent is fine.
    fn opt_range<T: PartialOrd + Display + Copy>(
        &mut self,
        path: impl Into<String>,
        value: Option<T>,
        range: RangeInclusive<T>,
    ) {
        if let Some(value) = value {
            self.range(path, value, range);
        }
    }

    fn finish(self) -> Result<(), Vec<ValidationProblem>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}
