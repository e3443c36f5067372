//! Reused buffers for segment requests, and a response body that gives its buffer back.
//!
//! A TS segment request reads ~1 MB of payloads and muxes ~1 MB of output. Allocating both per
//! request left glibc's heap fragmented under load (peak RSS grew with the number of requests
//! served, see `docs/benchmarks.md`); a small pool of buffers keeps it flat.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// Bytes sent per body frame.
const CHUNK: usize = 64 * 1024;

/// A bounded stack of spare buffers.
#[derive(Debug)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    max_buffers: usize,
    max_capacity: usize,
}

impl BufferPool {
    /// Keeps at most `max_buffers` spare buffers of at most `max_capacity` bytes each.
    pub fn new(max_buffers: usize, max_capacity: usize) -> BufferPool {
        BufferPool {
            free: Mutex::new(Vec::new()),
            max_buffers,
            max_capacity,
        }
    }

    /// An empty buffer, reused when one is spare.
    pub fn take(&self) -> Vec<u8> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let mut buf = free.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// Returns a buffer; dropped if the pool is full or the buffer too large.
    pub fn give(&self, buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > self.max_capacity {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.max_buffers {
            free.push(buf);
        }
    }

    /// Spare buffers held.
    pub fn spare(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A response body sent from a pooled buffer in 64 KiB frames; the buffer goes back to the pool
/// when the body is dropped (sent, or the client went away).
#[derive(Debug)]
pub struct PooledBody {
    buf: Vec<u8>,
    sent: usize,
    pool: Arc<BufferPool>,
}

impl PooledBody {
    pub fn new(buf: Vec<u8>, pool: Arc<BufferPool>) -> PooledBody {
        PooledBody { buf, sent: 0, pool }
    }
}

impl http_body::Body for PooledBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        let rest = this.buf.get(this.sent..).unwrap_or_default();
        if rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = rest.len().min(CHUNK);
        let chunk = Bytes::copy_from_slice(&rest[..n]);
        this.sent += n;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.buf.len()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.buf.len().saturating_sub(self.sent) as u64)
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn body_sends_everything_and_returns_its_buffer() {
        let pool = Arc::new(BufferPool::new(2, 1 << 20));
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut buf = pool.take();
        buf.extend_from_slice(&data);
        let body = PooledBody::new(buf, pool.clone());
        assert_eq!(body.size_hint().exact(), Some(200_000));
        let collected = body.collect().await.map(|c| c.to_bytes());
        assert_eq!(collected.ok().as_deref(), Some(&data[..]));
        assert_eq!(pool.spare(), 1);
        // Bounded: extra and oversized buffers are dropped.
        pool.give(vec![0; 10]);
        pool.give(vec![0; 10]);
        pool.give(Vec::with_capacity(2 << 20));
        assert_eq!(pool.spare(), 2);
    }
}
