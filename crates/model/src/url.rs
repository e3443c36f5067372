//! Just enough URL parsing to check configured URLs and find the request path of a package, without a
//! URL crate: `scheme://[userinfo@]host[:port][/path][?query][#fragment]`, and package URLs that may
//! leave out the scheme (`host/path`).

use std::net::{IpAddr, Ipv6Addr};

/// An absolute URL split into the parts validation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbsoluteUrl<'a> {
    pub scheme: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    pub path: &'a str,
}

/// The request path a package is served at, e.g. `/ott/demo/index.m3u8` for
/// `pull.example.com/ott/demo/index.m3u8` or `http://pull.example.com/ott/demo/index.m3u8?x=1`.
///
/// `None` when the URL is not a valid package URL: the scheme, if any, must be http or https, and the
/// path must be non-empty, end in a file name, and have no empty, `.` or `..` segments (and no `%` or
/// `\`), so every output has one spelling.
pub fn url_path(package_url: &str) -> Option<String> {
    parse_package_url(package_url)
        .ok()
        .map(|url| url.path.to_owned())
}

/// Parses `scheme://authority/path?query#fragment`, checking the scheme, host and port.
pub(crate) fn parse_absolute_url(text: &str) -> Result<AbsoluteUrl<'_>, String> {
    check_no_blanks(text)?;
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| "has no scheme (expected scheme://host/...)".to_owned())?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(format!("has an invalid scheme {scheme:?}"));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = parse_host_port(host_port)?;
    let before_fragment = tail.split_once('#').map_or(tail, |(t, _)| t);
    let path = before_fragment
        .split_once('?')
        .map_or(before_fragment, |(p, _)| p);
    Ok(AbsoluteUrl {
        scheme,
        host,
        port,
        path,
    })
}

/// Parses a package URL, `host/path` or `http(s)://host/path`, and checks its path.
pub(crate) fn parse_package_url(text: &str) -> Result<AbsoluteUrl<'_>, String> {
    let url = if text.contains("://") {
        let url = parse_absolute_url(text)?;
        if !["http", "https"]
            .iter()
            .any(|s| url.scheme.eq_ignore_ascii_case(s))
        {
            return Err(format!(
                "scheme must be http or https, got {:?}",
                url.scheme
            ));
        }
        url
    } else {
        check_no_blanks(text)?;
        let (host_port, tail) = text
            .find('/')
            .map_or((text, ""), |slash| text.split_at(slash));
        let (host, port) = parse_host_port(host_port)?;
        let path = tail.split(['?', '#']).next().unwrap_or_default();
        AbsoluteUrl {
            scheme: "",
            host,
            port,
            path,
        }
    };
    if text.contains('#') {
        return Err("must not have a #fragment".to_owned());
    }
    check_file_path(url.path)?;
    Ok(url)
}

/// Checks that `path` is `/segment/.../file` with no empty, `.` or `..` segment and no `%` or `\`.
fn check_file_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("has no path (expected host/path/file)".to_owned());
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(format!("path {path:?} must end in a file name"));
    }
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!(
                "path {path:?} must not have empty, '.' or '..' segments"
            ));
        }
    }
    if path.contains(['%', '\\']) {
        return Err(format!("path {path:?} must not contain '%' or '\\'"));
    }
    Ok(())
}

fn check_no_blanks(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".to_owned());
    }
    Ok(())
}

/// Parses `host[:port]` where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
pub(crate) fn parse_host_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("host {text:?} has an unclosed '['"))?;
        inside
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("host {text:?} is not a valid IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(|| {
                format!("host {text:?} has characters after ']' that are not a port")
            })?),
        };
        (&text[..inside.len() + 2], port)
    } else {
        let (host, port) = text
            .split_once(':')
            .map_or((text, None), |(h, p)| (h, Some(p)));
        if !is_dns_name(host) {
            return Err(format!("host {host:?} is not a valid host name"));
        }
        (host, port)
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|n| *n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("port {p:?} is not 1..=65535"))
        })
        .transpose()?;
    Ok((host, port))
}

/// A host name or IPv4 address: dot-separated non-empty labels of letters, digits, `-` and `_`.
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Checks one IP whitelist entry: an IPv4 or IPv6 address, optionally with a `/prefix` in range.
pub(crate) fn check_ip_or_cidr(entry: &str) -> Result<(), String> {
    let (addr, prefix) = entry
        .split_once('/')
        .map_or((entry, None), |(a, p)| (a, Some(p)));
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 or IPv6 address"))?;
    if let Some(prefix) = prefix {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let value = prefix
            .parse::<u8>()
            .ok()
            .filter(|v| *v <= max && prefix.bytes().all(|b| b.is_ascii_digit()));
        if value.is_none() {
            return Err(format!("prefix {prefix:?} must be 0..={max}"));
        }
    }
    Ok(())
}

/// The addresses allowed by an `ip_whitelist`: comma-separated IPv4/IPv6 addresses and CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpWhitelist {
    /// (network, prefix length); an address is a /32 or /128.
    entries: Vec<(IpAddr, u8)>,
}

impl IpWhitelist {
    /// Parses the list as validation accepts it; the error names the first bad entry.
    pub fn parse(list: &str) -> Result<IpWhitelist, String> {
        let mut entries = Vec::new();
        for (n, entry) in list.split(',').enumerate() {
            let entry = entry.trim();
            let bad = |why: String| format!("entry {} {entry:?}: {why}", n + 1);
            if entry.is_empty() {
                return Err(bad("is empty".into()));
            }
            check_ip_or_cidr(entry).map_err(bad)?;
            let (addr, prefix) = entry
                .split_once('/')
                .map_or((entry, None), |(a, p)| (a, Some(p)));
            let addr: IpAddr = addr.parse().map_err(|_| bad("not an address".into()))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p.parse::<u8>().map_err(|_| bad("bad prefix".into()))?,
                None => max,
            };
            entries.push((addr, prefix));
        }
        Ok(IpWhitelist { entries })
    }

    /// Whether `addr` is inside one of the entries. An IPv4 address seen as IPv4-mapped IPv6
    /// (`::ffff:a.b.c.d`, as a dual-stack socket reports it) matches IPv4 entries.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.entries.iter().any(|&(net, prefix)| match (net, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_path_of_package_urls() {
        let cases = [
            (
                "pull.example.com/ott/demo/index.m3u8",
                Some("/ott/demo/index.m3u8"),
            ),
            (
                "http://pull.example.com/ott/demo/index.m3u8",
                Some("/ott/demo/index.m3u8"),
            ),
            (
                "https://pull.example.com:8443/ott/demo/index.mpd?a=b",
                Some("/ott/demo/index.mpd"),
            ),
            (
                "pull.example.com/ott/demo/index.m3u8?token=1",
                Some("/ott/demo/index.m3u8"),
            ),
            (
                "pull.testott.hls.com/ott/channel/manifest",
                Some("/ott/channel/manifest"),
            ),
            ("[::1]:8080/live/a.m3u8", Some("/live/a.m3u8")),
            ("127.0.0.1/live/a.m3u8", Some("/live/a.m3u8")),
            ("pull.example.com", None),
            ("pull.example.com/", None),
            ("pull.example.com/ott/", None),
            ("/ott/demo/index.m3u8", None),
            ("rtmp://pull.example.com/ott/demo/index.m3u8", None),
            ("pull.example.com/ott/../index.m3u8", None),
            ("pull.example.com/ott//index.m3u8", None),
            ("pull.example.com/ott/%2e%2e/index.m3u8", None),
            ("pull.example.com/ott/index.m3u8#x", None),
            ("pull example.com/ott/index.m3u8", None),
            ("pull.example.com:0/ott/index.m3u8", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(url_path(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn absolute_urls() {
        let url = parse_absolute_url("http://user:pw@192.168.0.1:8080/ott/test.flv?vhost=a#f");
        assert_eq!(
            url,
            Ok(AbsoluteUrl {
                scheme: "http",
                host: "192.168.0.1",
                port: Some(8080),
                path: "/ott/test.flv",
            })
        );
        let srt = parse_absolute_url("srt://[2001:db8::1]:9000?streamid=x");
        assert_eq!(
            srt.map(|u| (u.host, u.port)),
            Ok(("[2001:db8::1]", Some(9000)))
        );
        for bad in [
            "example.com/x",
            "://example.com/x",
            "1http://example.com/x",
            "http:///x",
            "http://exa mple.com/x",
            "http://example.com:99999/x",
            "http://example.com:+80/x",
            "http://[::g]/x",
            "http://[::1]x/x",
            "http://a..b/x",
        ] {
            assert!(parse_absolute_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ip_whitelist_matches_addresses_and_networks() {
        let list =
            IpWhitelist::parse("10.0.0.1, 192.168.0.0/16,2001:db8::/32,0.0.0.0/0").expect("valid");
        assert!(list.allows("8.8.8.8".parse().expect("ip")));
        let list = IpWhitelist::parse("10.0.0.1, 192.168.0.0/16,2001:db8::/32").expect("valid");
        assert!(list.allows("10.0.0.1".parse().expect("ip")));
        assert!(!list.allows("10.0.0.2".parse().expect("ip")));
        assert!(list.allows("192.168.44.5".parse().expect("ip")));
        assert!(!list.allows("192.169.0.1".parse().expect("ip")));
        assert!(list.allows("2001:db8:1::5".parse().expect("ip")));
        assert!(!list.allows("2001:db9::1".parse().expect("ip")));
        assert!(list.allows("::ffff:10.0.0.1".parse().expect("ip")));
        assert!(IpWhitelist::parse("10.0.0.1,,x").is_err());
        assert!(IpWhitelist::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn ip_whitelist_entries() {
        for good in [
            "10.0.0.1",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::1",
            "::/128",
        ] {
            assert_eq!(check_ip_or_cidr(good), Ok(()), "{good}");
        }
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0",
            "10.0.0.1/",
            "10.0.0.1/+8",
            "host",
            "10.0.0.1/8/9",
        ] {
            assert!(check_ip_or_cidr(bad).is_err(), "{bad}");
        }
    }
}
