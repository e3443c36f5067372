//! Rendered manifests of one channel, reused until one of its renditions changes.
//!
//! A live manifest changes once per segment (every few seconds) but is asked for by every
//! player every few seconds, so most requests can be answered with the bytes rendered for the
//! previous one. An entry is tagged with the channel's window generation (the sum of its
//! renditions' [`LiveWindow::generation`](segmenter::LiveWindow::generation), which only grow)
//! and is served only while that sum is unchanged.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

/// Entries kept per channel; when full, the cache starts over (keys vary only with the query
/// string and a few headers, so a full cache means someone is varying them on purpose).
const MAX_ENTRIES: usize = 64;
/// Requests whose key is longer than this are rendered but not cached.
const MAX_KEY_BYTES: usize = 512;

#[derive(Debug, Default)]
pub struct ManifestCache {
    entries: Mutex<HashMap<String, (u64, Bytes)>>,
}

impl ManifestCache {
    /// The body cached under `key` if it was rendered at `generation`.
    pub fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, body)| body.clone())
    }

    /// Keeps `body`, rendered at `generation`, under `key`.
    pub fn insert(&self, key: String, generation: u64, body: Bytes) {
        if key.len() > MAX_KEY_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (generation, body));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_generation_it_was_rendered_at() {
        let cache = ManifestCache::default();
        cache.insert("/a.m3u8?".into(), 7, Bytes::from_static(b"one"));
        assert_eq!(cache.get("/a.m3u8?", 7).as_deref(), Some(&b"one"[..]));
        assert_eq!(cache.get("/a.m3u8?", 8), None);
        assert_eq!(cache.get("/a.m3u8?x", 7), None);
        cache.insert("/a.m3u8?".into(), 8, Bytes::from_static(b"two"));
        assert_eq!(cache.get("/a.m3u8?", 8).as_deref(), Some(&b"two"[..]));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn stays_bounded() {
        let cache = ManifestCache::default();
        for i in 0..10 * MAX_ENTRIES {
            cache.insert(format!("/a.m3u8?k={i}"), 1, Bytes::new());
            assert!(cache.len() <= MAX_ENTRIES);
        }
        cache.insert("x".repeat(MAX_KEY_BYTES + 1), 1, Bytes::new());
        assert_eq!(cache.get(&"x".repeat(MAX_KEY_BYTES + 1), 1), None);
    }
}
