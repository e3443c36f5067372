//! A small cache of muxed segments for the live edge, bounded in bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

/// Muxed segments by URL path. Segments are immutable, so entries never go stale; the oldest
/// insertions leave first when the byte budget is reached.
#[derive(Debug)]
pub struct SegmentCache {
    max_bytes: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

impl SegmentCache {
    pub fn new(max_bytes: usize) -> SegmentCache {
        SegmentCache {
            max_bytes,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// Whether anything can be cached at all.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.get(key).cloned()
    }

    pub fn insert(&self, key: String, value: Bytes) {
        if value.len() > self.max_bytes {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.map.contains_key(&key) {
            return;
        }
        inner.bytes += value.len();
        inner.order.push_back(key.clone());
        inner.map.insert(key, value);
        while inner.bytes > self.max_bytes {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(v) = inner.map.remove(&old) {
                inner.bytes -= v.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_beyond_budget() {
        let c = SegmentCache::new(10);
        c.insert("a".into(), Bytes::from_static(b"12345"));
        c.insert("b".into(), Bytes::from_static(b"12345"));
        c.insert("c".into(), Bytes::from_static(b"12"));
        assert!(c.get("a").is_none());
        assert!(c.get("b").is_some());
        assert!(c.get("c").is_some());
        c.insert("big".into(), Bytes::from(vec![0; 11]));
        assert!(c.get("big").is_none());
    }
}
