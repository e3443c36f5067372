//! Rules for `input`: sources per protocol, standby pairing, failover, SCTE-35 and the IP whitelist.

use std::collections::HashMap;
use std::fmt::Display;

use super::{audio, Problems};
use crate::channel::ChannelConfig;
use crate::input::{InputProtocol, Scte35Source};
use crate::limits::{MAX_BITRATE, MAX_HEIGHT, MAX_INPUT_LOSS_THRESHOLD_MSEC, MAX_WIDTH};
use crate::url::{check_ip_or_cidr, parse_absolute_url};

pub(super) fn check(problems: &mut Problems, channel: &ChannelConfig) {
    let input = &channel.input;
    let protocol = input.input_protocol;
    let primaries = input.primary_sources();

    if primaries.is_empty() && !protocol.is_push() {
        problems.push(
            "input.sources",
            format!("must list at least one source for {protocol}"),
        );
    }
    let mut bitrate_owner: HashMap<u64, usize> = HashMap::new();
    for (i, source) in primaries.iter().enumerate() {
        let path = format!("input.sources[{i}]");
        check_stream(problems, &path, source.bitrate, source.width, source.height);
        check_urls(
            problems,
            &path,
            protocol,
            source.url.as_deref(),
            source.backup_urls.as_deref(),
        );
        check_passphrase(problems, &path, protocol, source.passphrase.as_deref());
        if protocol.is_push() {
            match source.bitrate {
                None => problems.push(
                    format!("{path}.bitrate"),
                    format!(
                        "is required for {protocol} (it names the ingest stream {{id}}_{{bitrate}})"
                    ),
                ),
                Some(bitrate) => match bitrate_owner.get(&bitrate) {
                    Some(first) => problems.push(
                        format!("{path}.bitrate"),
                        format!(
                            "duplicates input.sources[{first}].bitrate ({bitrate}); \
                             ingest stream names must be unique"
                        ),
                    ),
                    None => {
                        bitrate_owner.insert(bitrate, i);
                    }
                },
            }
        }
    }

    let standbys = input.standby_sources();
    if !standbys.is_empty() && standbys.len() != primaries.len() {
        problems.push(
            "input.secondary_sources",
            format!(
                "must have as many entries as input.sources ({}), got {}",
                primaries.len(),
                standbys.len()
            ),
        );
    }
    for (i, standby) in standbys.iter().enumerate() {
        let path = format!("input.secondary_sources[{i}]");
        check_stream(
            problems,
            &path,
            standby.bitrate,
            standby.width,
            standby.height,
        );
        check_urls(
            problems,
            &path,
            protocol,
            standby.url.as_deref(),
            standby.backup_urls.as_deref(),
        );
        check_passphrase(problems, &path, protocol, standby.passphrase.as_deref());
        if let Some(primary) = primaries.get(i) {
            let primary_path = format!("input.sources[{i}]");
            let pairs = [
                ("bitrate", primary.bitrate, standby.bitrate),
                (
                    "width",
                    primary.width.map(u64::from),
                    standby.width.map(u64::from),
                ),
                (
                    "height",
                    primary.height.map(u64::from),
                    standby.height.map(u64::from),
                ),
            ];
            for (field, want, got) in pairs {
                if want != got {
                    problems.push(
                        format!("{path}.{field}"),
                        format!(
                            "must match {primary_path}.{field} ({}), got {}",
                            show(want),
                            show(got)
                        ),
                    );
                }
            }
        }
    }

    if let Some(failover) = &input.failover_conditions {
        problems.opt_range(
            "input.failover_conditions.input_loss_threshold_msec",
            failover.input_loss_threshold_msec,
            0..=MAX_INPUT_LOSS_THRESHOLD_MSEC,
        );
    }

    if input.ip_port_mode == Some(true) {
        if protocol != InputProtocol::SrtPush {
            problems.push(
                "input.ip_port_mode",
                format!("is only used with SRT_PUSH, not {protocol}"),
            );
        } else {
            match crate::url::parse_host_port(&channel.domain) {
                Ok((_, Some(port))) => {
                    let last = usize::from(port) + primaries.len().saturating_sub(1);
                    if port == 0 || last > usize::from(u16::MAX) {
                        problems.push(
                            "domain",
                            format!(
                                "with ip_port_mode, port {port} and one more per source must be 1..=65535"
                            ),
                        );
                    }
                }
                Ok((_, None)) => problems.push(
                    "domain",
                    "with ip_port_mode, must carry the channel's SRT port (host:port); source i listens on port + i",
                ),
                Err(_) => {}
            }
        }
    }

    if let Some(whitelist) = &input.ip_whitelist {
        for (n, entry) in whitelist.split(',').enumerate() {
            let entry = entry.trim();
            let reason = if entry.is_empty() {
                Err("is empty".to_owned())
            } else {
                check_ip_or_cidr(entry)
            };
            if let Err(reason) = reason {
                problems.push(
                    "input.ip_whitelist",
                    format!(
                        "entry {} {entry:?} is not an IPv4/IPv6 address or CIDR: {reason}",
                        n + 1
                    ),
                );
            }
        }
    }

    if let Some(Scte35Source::Segments) = input.scte35_source {
        if protocol != InputProtocol::HlsPull {
            problems.push(
                "input.scte35_source",
                format!("is only allowed with input_protocol HLS_PULL, got {protocol}"),
            );
        }
    }

    audio::check_selectors(problems, input.audio_selector_list());
}

/// Ranges of a source's declared bitrate and resolution.
fn check_stream(
    problems: &mut Problems,
    path: &str,
    bitrate: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
) {
    problems.opt_range(format!("{path}.bitrate"), bitrate, 1..=MAX_BITRATE);
    problems.opt_range(format!("{path}.width"), width, 0..=MAX_WIDTH);
    problems.opt_range(format!("{path}.height"), height, 0..=MAX_HEIGHT);
}

/// Pull protocols need a `url`, and it and every backup URL must use the protocol's scheme; push
/// protocols do not use source URLs, so they are not checked.
/// SRT takes a passphrase of 10 to 79 characters (SRTO_PASSPHRASE); other protocols none.
fn check_passphrase(
    problems: &mut Problems,
    path: &str,
    protocol: InputProtocol,
    passphrase: Option<&str>,
) {
    let Some(passphrase) = passphrase else {
        return;
    };
    if !matches!(protocol, InputProtocol::SrtPush | InputProtocol::SrtPull) {
        problems.push(
            format!("{path}.passphrase"),
            format!("is only used with SRT_PUSH and SRT_PULL, not {protocol}"),
        );
    } else if !(10..=79).contains(&passphrase.chars().count()) {
        problems.push(
            format!("{path}.passphrase"),
            format!(
                "must be 10 to 79 characters (SRT), got {}",
                passphrase.chars().count()
            ),
        );
    }
}

fn check_urls(
    problems: &mut Problems,
    path: &str,
    protocol: InputProtocol,
    url: Option<&str>,
    backup_urls: Option<&[String]>,
) {
    if protocol.is_push() {
        return;
    }
    match url {
        None => problems.push(format!("{path}.url"), format!("is required for {protocol}")),
        Some(url) => check_source_url(problems, format!("{path}.url"), protocol, url),
    }
    for (j, backup) in backup_urls.unwrap_or_default().iter().enumerate() {
        check_source_url(
            problems,
            format!("{path}.backup_urls[{j}]"),
            protocol,
            backup,
        );
    }
}

fn check_source_url(problems: &mut Problems, path: String, protocol: InputProtocol, url: &str) {
    let schemes = protocol.source_url_schemes();
    let result = parse_absolute_url(url).and_then(|parsed| {
        if !schemes
            .iter()
            .any(|s| parsed.scheme.eq_ignore_ascii_case(s))
        {
            return Err(format!(
                "scheme must be {} for {protocol}, got {:?}",
                schemes.join(" or "),
                parsed.scheme
            ));
        }
        // SRT has no default port.
        if protocol == InputProtocol::SrtPull && parsed.port.is_none() {
            return Err("must have a port (srt://host:port)".to_owned());
        }
        Ok(())
    });
    if let Err(reason) = result {
        problems.push(path, format!("is not a valid source URL: {reason}"));
    }
}

fn show<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}
