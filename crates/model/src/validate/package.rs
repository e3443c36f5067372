//! Rules for output packages (HLS, DASH, MSS), their stream selection and DRM encryption.

use super::Problems;
use crate::encryption::{Encryption, RequestMode, SystemId};
use crate::endpoint::{
    parse_hls_version, DashPackageItem, EndpointItem, HlsPackageItem, PackageKind, PackageRef,
    PackageRequestArgs,
};
use crate::limits::{
    DASH_AD_MARKER, DASH_TIMING_SECONDS, HLS_AD_MARKER, HLS_VERSIONS, MAX_BITRATE,
    MAX_DRM_HTTP_HEADERS, MAX_PLAYLIST_WINDOW_SECONDS, MAX_SEGMENT_DURATION_SECONDS,
    MIN_PLAYLIST_SEGMENTS, MIN_SEGMENT_DURATION_SECONDS,
};
use crate::request_args::{
    check_record_format, name_or, parse_record_unit, parse_shift_unit, DEFAULT_BACK_PARAM,
    DEFAULT_DELAY_PARAM, DEFAULT_END_PARAM, DEFAULT_START_PARAM, FORMAT_RULE,
};
use crate::url::{parse_absolute_url, parse_package_url};

pub(super) fn check_endpoint(problems: &mut Problems, e: usize, endpoint: &EndpointItem) {
    for package in endpoint.packages(e) {
        check_common(problems, &package);
    }
    for (i, hls) in endpoint.hls_package.iter().flatten().enumerate() {
        check_hls(problems, &format!("endpoints[{e}].hls_package[{i}]"), hls);
    }
    for (i, dash) in endpoint.dash_package.iter().flatten().enumerate() {
        check_dash(problems, &format!("endpoints[{e}].dash_package[{i}]"), dash);
    }
}

/// Rules shared by every package kind.
fn check_common(problems: &mut Problems, package: &PackageRef<'_>) {
    let path = package.path();
    if let Err(reason) = parse_package_url(package.url) {
        problems.push(
            format!("{path}.url"),
            format!("is not a valid package URL (host/path or http(s)://host/path): {reason}"),
        );
    }
    let segment = package.segment_duration_seconds;
    problems.range(
        format!("{path}.segment_duration_seconds"),
        segment,
        MIN_SEGMENT_DURATION_SECONDS..=MAX_SEGMENT_DURATION_SECONDS,
    );
    if let Some(window) = package.playlist_window_seconds {
        let window_path = format!("{path}.playlist_window_seconds");
        let min_window = u64::from(MIN_PLAYLIST_SEGMENTS) * u64::from(segment);
        if window > MAX_PLAYLIST_WINDOW_SECONDS {
            problems.range(window_path, window, 0..=MAX_PLAYLIST_WINDOW_SECONDS);
        } else if window != 0 && u64::from(window) < min_window {
            problems.push(
                window_path,
                format!(
                    "must be 0 or hold at least {MIN_PLAYLIST_SEGMENTS} segments \
                     (>= {min_window} s for {segment} s segments), got {window}"
                ),
            );
        }
    }
    for (i, selection) in package.stream_selection.iter().enumerate() {
        let item = format!("{path}.stream_selection[{i}]");
        problems.opt_range(
            format!("{item}.max_bandwidth"),
            selection.max_bandwidth,
            0..=MAX_BITRATE,
        );
        problems.opt_range(
            format!("{item}.min_bandwidth"),
            selection.min_bandwidth,
            0..=MAX_BITRATE,
        );
        if let (Some(min), Some(max)) = (selection.min_bandwidth, selection.max_bandwidth) {
            if min > max {
                problems.push(
                    format!("{item}.min_bandwidth"),
                    format!("must be <= max_bandwidth ({max}), got {min}"),
                );
            }
        }
    }
    if let Some(encryption) = package.encryption {
        check_encryption(
            problems,
            &format!("{path}.encryption"),
            package.kind,
            encryption,
        );
    }
    if let Some(args) = package.request_args {
        check_request_args(problems, &format!("{path}.request_args"), args);
    }
}

/// One use of a query parameter name by `request_args`.
struct NameUse<'a> {
    name: &'a str,
    /// What the name stands for, e.g. `record start_time`.
    role: &'static str,
    /// JSON path of the field that sets it; `None` for a default.
    path: Option<String>,
}

impl<'a> NameUse<'a> {
    /// The name a field sets, or its default when the field is missing (or empty, which is
    /// reported), as the resolver reads it.
    fn field(
        problems: &mut Problems,
        path: String,
        name: Option<&'a str>,
        default: &'static str,
        role: &'static str,
    ) -> NameUse<'a> {
        if name == Some("") {
            problems.push(path.clone(), "must not be empty");
        }
        NameUse {
            name: name_or(name, default),
            role,
            path: name.is_some_and(|n| !n.is_empty()).then_some(path),
        }
    }

    /// The default name of a role whose list is missing or empty.
    fn default(name: &'static str, role: &'static str) -> NameUse<'a> {
        NameUse {
            name,
            role,
            path: None,
        }
    }
}

/// A `timeshift` or `live` list: entries of a name and a unit.
struct ShiftList {
    list: &'static str,
    field: &'static str,
    default: &'static str,
    role: &'static str,
}

impl ShiftList {
    /// Checks the entries (name, unit) and records the names they use.
    fn check<'a>(
        &self,
        problems: &mut Problems,
        uses: &mut Vec<NameUse<'a>>,
        path: &str,
        entries: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
    ) {
        let before = uses.len();
        for (i, (name, unit)) in entries.enumerate() {
            let item = format!("{path}.{}[{i}]", self.list);
            let name_path = format!("{item}.{}", self.field);
            uses.push(NameUse::field(
                problems,
                name_path,
                name,
                self.default,
                self.role,
            ));
            if let Some(Err(reason)) = unit.map(parse_shift_unit) {
                problems.push(format!("{item}.unit"), reason);
            }
        }
        if uses.len() == before {
            uses.push(NameUse::default(self.default, self.role));
        }
    }
}

/// `request_args`: formats and units the resolver understands, non-empty names, and no name
/// serving two roles (a request carrying it would ask for two things). Missing names and
/// missing or empty lists take the defaults, as in the resolver, and count as uses.
fn check_request_args(problems: &mut Problems, path: &str, args: &PackageRequestArgs) {
    const START: &str = "record start_time";
    const END: &str = "record end_time";
    let mut uses: Vec<NameUse<'_>> = Vec::new();
    let records = args.record.as_deref().unwrap_or_default();
    if records.is_empty() {
        uses.push(NameUse::default(DEFAULT_START_PARAM, START));
        uses.push(NameUse::default(DEFAULT_END_PARAM, END));
    }
    for (i, entry) in records.iter().enumerate() {
        let item = format!("{path}.record[{i}]");
        let (start, end) = (entry.start_time.as_deref(), entry.end_time.as_deref());
        let start_path = format!("{item}.start_time");
        uses.push(NameUse::field(
            problems,
            start_path,
            start,
            DEFAULT_START_PARAM,
            START,
        ));
        let end_path = format!("{item}.end_time");
        uses.push(NameUse::field(
            problems,
            end_path,
            end,
            DEFAULT_END_PARAM,
            END,
        ));
        if let Some(format) = entry.format.as_deref() {
            if let Err(reason) = check_record_format(format) {
                problems.push(
                    format!("{item}.format"),
                    format!("{FORMAT_RULE}, got {format:?}: {reason}"),
                );
            }
        }
        if let Some(Err(reason)) = entry.unit.as_deref().map(parse_record_unit) {
            problems.push(format!("{item}.unit"), reason);
        }
    }
    let timeshift = args.timeshift.iter().flatten();
    let timeshift = timeshift.map(|e| (e.back_time.as_deref(), e.unit.as_deref()));
    let live = args.live.iter().flatten();
    let live = live.map(|e| (e.delay.as_deref(), e.unit.as_deref()));
    let timeshift_list = ShiftList {
        list: "timeshift",
        field: "back_time",
        default: DEFAULT_BACK_PARAM,
        role: "timeshift back_time",
    };
    let live_list = ShiftList {
        list: "live",
        field: "delay",
        default: DEFAULT_DELAY_PARAM,
        role: "live delay",
    };
    timeshift_list.check(problems, &mut uses, path, timeshift);
    live_list.check(problems, &mut uses, path, live);
    for (i, here) in uses.iter().enumerate() {
        let Some(first) = uses[..i]
            .iter()
            .find(|u| u.name == here.name && u.role != here.role)
        else {
            continue;
        };
        // Reported at a field that sets the name (two defaults never clash), naming the other use.
        let (at, other) = match (&here.path, &first.path) {
            (Some(at), _) => (at, first),
            (None, Some(at)) => (at, here),
            (None, None) => continue,
        };
        let other_where = match &other.path {
            Some(path) => format!("at {path}"),
            None => "by default".to_owned(),
        };
        problems.push(
            at.clone(),
            format!(
                "{:?} is also the {} parameter ({other_where}); one name cannot serve two roles",
                here.name, other.role
            ),
        );
    }
}

fn check_hls(problems: &mut Problems, path: &str, hls: &HlsPackageItem) {
    if let Some(version) = &hls.hls_version {
        if parse_hls_version(version).is_none() {
            problems.push(
                format!("{path}.hls_version"),
                format!(
                    "must be an integer {}..={} written as digits, got {version:?}",
                    HLS_VERSIONS.start(),
                    HLS_VERSIONS.end()
                ),
            );
        }
    }
    if let Some(marker) = &hls.ad_marker {
        if marker.len() != 1 || marker[0] != HLS_AD_MARKER {
            problems.push(
                format!("{path}.ad_marker"),
                format!("must be [{HLS_AD_MARKER:?}], got {marker:?}"),
            );
        }
    }
}

fn check_dash(problems: &mut Problems, path: &str, dash: &DashPackageItem) {
    let timings = [
        (
            "suggested_presentation_delay",
            dash.suggested_presentation_delay,
        ),
        ("minimum_update_period", dash.minimum_update_period),
        ("min_buffer_time", dash.min_buffer_time),
    ];
    for (field, value) in timings {
        problems.opt_range(format!("{path}.{field}"), value, DASH_TIMING_SECONDS);
    }
    if let Some(marker) = &dash.ad_marker {
        if marker != DASH_AD_MARKER {
            problems.push(
                format!("{path}.ad_marker"),
                format!("must be {DASH_AD_MARKER:?}, got {marker:?}"),
            );
        }
    }
}

/// DRM systems each package kind can carry.
fn allowed_systems(kind: PackageKind) -> &'static [SystemId] {
    match kind {
        PackageKind::Hls => &[SystemId::FairPlay],
        PackageKind::Dash => &[SystemId::Widevine, SystemId::PlayReady],
        PackageKind::Mss => &[SystemId::PlayReady],
    }
}

fn check_encryption(problems: &mut Problems, path: &str, kind: PackageKind, enc: &Encryption) {
    if enc.resource_id.is_empty() {
        problems.push(format!("{path}.resource_id"), "must not be empty");
    }
    if enc.system_ids.is_empty() {
        problems.push(format!("{path}.system_ids"), "must not be empty");
    }
    let allowed = allowed_systems(kind);
    for (i, system) in enc.system_ids.iter().enumerate() {
        if !allowed.contains(system) {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            problems.push(
                format!("{path}.system_ids[{i}]"),
                format!(
                    "{system} is not supported for {} (allowed: {})",
                    kind.field_name(),
                    names.join(", ")
                ),
            );
        }
    }
    let url_ok = parse_absolute_url(&enc.url).and_then(|url| {
        if url.scheme.eq_ignore_ascii_case("http") || url.scheme.eq_ignore_ascii_case("https") {
            Ok(())
        } else {
            Err(format!(
                "scheme must be http or https, got {:?}",
                url.scheme
            ))
        }
    });
    if let Err(reason) = url_ok {
        problems.push(
            format!("{path}.url"),
            format!("is not a valid key server URL: {reason}"),
        );
    }

    let direct = enc.request_mode == RequestMode::DirectHttp;
    if let Some(headers) = &enc.http_headers {
        if !direct {
            problems.push(
                format!("{path}.http_headers"),
                "is only allowed with request_mode direct_http",
            );
        }
        if headers.len() > MAX_DRM_HTTP_HEADERS {
            problems.push(
                format!("{path}.http_headers"),
                format!(
                    "must have at most {MAX_DRM_HTTP_HEADERS} entries, got {}",
                    headers.len()
                ),
            );
        }
        for (i, header) in headers.iter().enumerate() {
            if !is_header_name(&header.key) {
                problems.push(
                    format!("{path}.http_headers[{i}].key"),
                    format!(
                        "must be an HTTP header name (token characters), got {:?}",
                        header.key
                    ),
                );
            }
            // CR or LF would let a value inject headers into the key request.
            if header.value.chars().any(|c| c.is_control() && c != '\t') {
                problems.push(
                    format!("{path}.http_headers[{i}].value"),
                    "must not contain control characters such as CR or LF",
                );
            }
        }
    }
    match (&enc.urn, direct) {
        (Some(_), true) => problems.push(
            format!("{path}.urn"),
            "is only allowed with request_mode functiongraph_proxy",
        ),
        (None, false) => problems.push(
            format!("{path}.urn"),
            "is required with request_mode functiongraph_proxy",
        ),
        (Some(urn), false) if urn.is_empty() => problems.push(
            format!("{path}.urn"),
            "must not be empty with request_mode functiongraph_proxy",
        ),
        _ => {}
    }
}

/// An RFC 9110 token: the characters allowed in a header field name.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
