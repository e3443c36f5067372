//! Stream selection: which renditions a manifest request sees.
//!
//! A package's `stream_selection` items each keep only the renditions whose bitrate lies in
//! `[min_bandwidth, max_bandwidth]` (a missing bound is open). An item without `key` applies
//! to every request. An item with a `key` applies when the request's query carries it as the
//! key is written: a key `name=value` needs that exact parameter (`?name=value`); a bare key
//! `name` needs a parameter of that name, with or without a value (`?name`, `?name=1`). Every
//! applying item filters in turn, so their ranges intersect. Query parameters are compared
//! after percent-decoding.

use model::StreamSelectionItem;

/// Whether `item` applies to a request with this query string (without the `?`).
pub fn applies(item: &StreamSelectionItem, query: Option<&str>) -> bool {
    let Some(key) = item.key.as_deref().filter(|k| !k.is_empty()) else {
        return true;
    };
    let Some(query) = query else {
        return false;
    };
    let (want_name, want_value) = match key.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (key, None),
    };
    query.split('&').filter(|p| !p.is_empty()).any(|pair| {
        let (name, value) = match pair.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (pair, None),
        };
        if model::request_args::percent_decode(name) != want_name {
            return false;
        }
        match want_value {
            None => true,
            Some(want) => value.is_some_and(|v| model::request_args::percent_decode(v) == want),
        }
    })
}

/// Whether a rendition of `bitrate` passes every item that applies to the request.
pub fn keeps(items: &[StreamSelectionItem], query: Option<&str>, bitrate: u64) -> bool {
    items.iter().filter(|i| applies(i, query)).all(|i| {
        i.min_bandwidth.is_none_or(|min| bitrate >= min)
            && i.max_bandwidth.is_none_or(|max| bitrate <= max)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: Option<&str>, min: Option<u64>, max: Option<u64>) -> StreamSelectionItem {
        StreamSelectionItem {
            key: key.map(str::to_owned),
            min_bandwidth: min,
            max_bandwidth: max,
        }
    }

    #[test]
    fn keyless_items_apply_to_every_request() {
        let items = [item(None, Some(1_000_000), None)];
        assert!(keeps(&items, None, 2_500_000));
        assert!(!keeps(&items, None, 800_000));
        assert!(!keeps(&items, Some("x=1"), 800_000));
    }

    #[test]
    fn keyed_items_apply_only_when_the_query_carries_the_key() {
        let items = [item(
            Some("bitrate=900000-1800000"),
            Some(900_000),
            Some(1_800_000),
        )];
        assert!(keeps(&items, None, 2_500_000));
        assert!(keeps(&items, Some("bitrate=other"), 2_500_000));
        assert!(!keeps(&items, Some("bitrate=900000-1800000"), 2_500_000));
        assert!(keeps(&items, Some("a=b&bitrate=900000-1800000"), 1_000_000));
        // An encoded `=` is part of the name, so this parameter is not the key.
        assert!(keeps(&items, Some("bitrate%3D900000-1800000"), 2_500_000));
        assert!(!keeps(&items, Some("bitrate=900000%2D1800000"), 2_500_000));
    }

    #[test]
    fn bare_keys_match_a_parameter_name_with_or_without_value() {
        let items = [item(Some("low"), None, Some(1_000_000))];
        assert!(!keeps(&items, Some("low"), 2_500_000));
        assert!(!keeps(&items, Some("low=1"), 2_500_000));
        assert!(keeps(&items, Some("lower"), 2_500_000));
        assert!(keeps(&items, Some("low"), 800_000));
    }

    #[test]
    fn applying_items_intersect() {
        let items = [
            item(None, Some(500_000), None),
            item(Some("hd"), Some(2_000_000), None),
        ];
        assert!(keeps(&items, None, 800_000));
        assert!(!keeps(&items, Some("hd"), 800_000));
        assert!(keeps(&items, Some("hd"), 2_500_000));
        assert!(!keeps(&items, Some("hd"), 400_000));
    }

    #[test]
    fn keys_are_percent_decoded_like_time_parameters() {
        let items = [item(Some("bit rate=lo w"), None, Some(500_000))];
        assert!(!keeps(&items, Some("bit%20rate=lo+w"), 800_000));
        // A malformed escape stays as written; `%+1` is not a byte.
        assert!(keeps(&items, Some("bit%2rate=lo+w"), 800_000));
        assert!(keeps(&items, Some("bit%+1rate=lo+w"), 800_000));
    }
}
