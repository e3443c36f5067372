//! Names and URLs of push ingest streams (RTMP_PUSH, SRT_PUSH).

use crate::channel::ChannelConfig;
use crate::input::SourcesInfo;

/// The ingest stream name of one source, `{channel_id}_{bitrate}`.
pub fn ingest_stream_name(channel_id: &str, bitrate: u64) -> String {
    format!("{channel_id}_{bitrate}")
}

/// The suffix of a standby push stream: a second encoder pushes `{id}_{bitrate}_standby`
/// and takes over when the primary `{id}_{bitrate}` stops delivering.
pub const STANDBY_SUFFIX: &str = "_standby";

/// The standby ingest stream name of one source, `{channel_id}_{bitrate}_standby`. It cannot
/// collide with a primary name of any channel, since those end in digits.
pub fn standby_stream_name(channel_id: &str, bitrate: u64) -> String {
    format!("{channel_id}_{bitrate}{STANDBY_SUFFIX}")
}

/// Splits an ingest stream name into channel ID and bitrate at the last `_`, so IDs may contain `_`;
/// `None` when there is no `_` or the bitrate is not plain decimal digits.
pub fn split_ingest_stream_name(name: &str) -> Option<(&str, u64)> {
    let (id, bitrate) = name.rsplit_once('_')?;
    if id.is_empty() || bitrate.is_empty() || !bitrate.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((id, bitrate.parse().ok()?))
}

/// The RTMP URL an encoder pushes this source to, as returned at channel creation:
/// `rtmp://{domain}/{app_name}/{id}_{bitrate}?request_source=ott&channel_id={id}`.
///
/// Meant for validated push channels, where every source has a bitrate; a source without one gets the
/// bare channel ID as stream name.
pub fn rtmp_ingest_url(channel: &ChannelConfig, source: &SourcesInfo) -> String {
    rtmp_url(channel, &stream_of(channel, source, false))
}

/// The RTMP URL a standby encoder pushes this source to (see [`standby_stream_name`]).
pub fn rtmp_standby_url(channel: &ChannelConfig, source: &SourcesInfo) -> String {
    rtmp_url(channel, &stream_of(channel, source, true))
}

fn stream_of(channel: &ChannelConfig, source: &SourcesInfo, standby: bool) -> String {
    match (source.bitrate, standby) {
        (Some(bitrate), false) => ingest_stream_name(&channel.id, bitrate),
        (Some(bitrate), true) => standby_stream_name(&channel.id, bitrate),
        (None, false) => channel.id.clone(),
        (None, true) => format!("{}{STANDBY_SUFFIX}", channel.id),
    }
}

fn rtmp_url(channel: &ChannelConfig, stream: &str) -> String {
    format!(
        "rtmp://{}/{}/{}?request_source=ott&channel_id={}",
        channel.domain, channel.app_name, stream, channel.id
    )
}

/// The UDP port SRT push ingest listens on by default.
pub const SRT_DEFAULT_PORT: u16 = 9000;

/// The SRT URL an encoder pushes this source to, as returned at channel creation:
/// `srt://{host}:{port}?streamid=#!::r={app_name}/{id}_{bitrate},m=publish` (the SRT access
/// control form of the stream id; `host` is the channel's `domain` without any port).
///
/// With `ip_port_mode`, the source's own port and no stream id: `srt://{host}:{port}`.
pub fn srt_ingest_url(channel: &ChannelConfig, source: &SourcesInfo, port: u16) -> String {
    let index = channel
        .input
        .primary_sources()
        .iter()
        .position(|s| s == source)
        .unwrap_or(0);
    if let Some(own) = ip_port_mode_port(channel, index) {
        return format!("srt://{}:{own}", host_of(channel));
    }
    srt_url(channel, &stream_of(channel, source, false), port)
}

fn host_of(channel: &ChannelConfig) -> &str {
    match channel.domain.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => channel.domain.as_str(),
    }
}

/// With `ip_port_mode`, the UDP port of the channel's own SRT listener for source `index`: the
/// port written in its `domain` (`srt.example.com:9101`) plus the source's index, so a
/// channel of three sources takes three consecutive ports. `None` without the mode, without a
/// port in the domain, or past port 65535.
pub fn ip_port_mode_port(channel: &ChannelConfig, index: usize) -> Option<u16> {
    if channel.input.ip_port_mode != Some(true) {
        return None;
    }
    let (_, port) = crate::url::parse_host_port(&channel.domain).ok()?;
    let port = u16::try_from(usize::from(port?).checked_add(index)?).ok()?;
    Some(port)
}

/// The SRT URL a standby encoder pushes this source to (see [`standby_stream_name`]).
pub fn srt_standby_url(channel: &ChannelConfig, source: &SourcesInfo, port: u16) -> String {
    srt_url(channel, &stream_of(channel, source, true), port)
}

fn srt_url(channel: &ChannelConfig, stream: &str, port: u16) -> String {
    let host = host_of(channel);
    format!(
        "srt://{host}:{port}?streamid=#!::r={}/{stream},m=publish",
        channel.app_name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_port_mode_ports_and_urls() {
        let mut channel: ChannelConfig =
            crate::parse_channel(crate::test_fixtures::EXAMPLE_REQUEST)
                .expect("the spec example parses");
        channel.domain = "srt.example.com:9101".into();
        channel.input.input_protocol = crate::InputProtocol::SrtPush;
        channel.input.sources = Some(vec![
            SourcesInfo {
                bitrate: Some(1000),
                ..SourcesInfo::default()
            },
            SourcesInfo {
                bitrate: Some(2000),
                ..SourcesInfo::default()
            },
        ]);
        let sources = channel.input.primary_sources().to_vec();
        assert_eq!(ip_port_mode_port(&channel, 0), None, "only with the mode");
        assert!(srt_ingest_url(&channel, &sources[1], 9000).contains("streamid="));
        channel.input.ip_port_mode = Some(true);
        assert_eq!(ip_port_mode_port(&channel, 0), Some(9101));
        assert_eq!(ip_port_mode_port(&channel, 1), Some(9102));
        assert_eq!(
            srt_ingest_url(&channel, &sources[1], 9000),
            "srt://srt.example.com:9102"
        );
        channel.domain = "srt.example.com".into();
        assert_eq!(
            ip_port_mode_port(&channel, 0),
            None,
            "no port in the domain"
        );
    }

    #[test]
    fn stream_name_splits_at_last_underscore() {
        assert_eq!(ingest_stream_name("my_chan", 1024), "my_chan_1024");
        assert_eq!(
            split_ingest_stream_name("my_chan_1024"),
            Some(("my_chan", 1024))
        );
        assert_eq!(split_ingest_stream_name("test_1024"), Some(("test", 1024)));
        assert_eq!(split_ingest_stream_name("test"), None);
        assert_eq!(split_ingest_stream_name("test_"), None);
        assert_eq!(split_ingest_stream_name("_1024"), None);
        assert_eq!(split_ingest_stream_name("test_+1"), None);
        assert_eq!(
            split_ingest_stream_name("test_99999999999999999999999"),
            None
        );
    }
}
