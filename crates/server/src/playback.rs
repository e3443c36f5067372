//! Playback HTTP: routes package URLs to manifests and segments.

use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use packager::{hls, HlsResource, Variant};
use tower_http::cors::{Any, CorsLayer};

use crate::buffers::{BufferPool, PooledBody};
use crate::cache::SegmentCache;
use crate::registry::ChannelRegistry;

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const TS_TYPE: &str = "video/mp2t";
/// Live playlists change every segment: caches may hold them for about half of one.
const LIVE_PLAYLIST_CACHE: &str = "public, max-age=1";
const MULTIVARIANT_CACHE: &str = "public, max-age=2";
/// A segment URL always names the same bytes.
const SEGMENT_CACHE: &str = "public, max-age=31536000, immutable";

/// What the playback routes share.
#[derive(Debug, Clone)]
pub struct PlaybackState {
    pub registry: Arc<RwLock<Arc<ChannelRegistry>>>,
    pub cache: Arc<SegmentCache>,
    pub buffers: Arc<BufferPool>,
}

/// The playback router: package URLs, a health check, CORS for every origin.
pub fn router(state: PlaybackState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(serve_package)
        .with_state(state)
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
                .allow_headers(Any)
                .expose_headers(Any),
        )
}

async fn serve_package(State(state): State<PlaybackState>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
    }
    let registry = state
        .registry
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let path = uri.path();
    let Some((channel, package, resource)) = registry.find_hls(path) else {
        return not_found(path);
    };
    match resource {
        HlsResource::Multivariant => {
            let variants: Vec<Variant> = channel
                .renditions
                .iter()
                .filter_map(|slot| {
                    let r = slot.lock();
                    Variant::from_window(&slot.name, slot.declared_bitrate, &r.window)
                })
                .collect();
            if variants.is_empty() {
                return plain(StatusCode::NOT_FOUND, "channel has no media yet\n");
            }
            let mut body = Vec::with_capacity(256 + 160 * variants.len());
            if hls::write_multivariant(&package.stem, &variants, &package.settings, &mut body)
                .is_err()
            {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "playlist error\n");
            }
            ok(PLAYLIST_TYPE, MULTIVARIANT_CACHE, Bytes::from(body))
        }
        HlsResource::MediaPlaylist { rendition } => {
            let Some(slot) = channel.rendition(&rendition) else {
                return not_found(path);
            };
            let mut body = Vec::with_capacity(4096);
            {
                let r = slot.lock();
                if r.window.segments().is_empty() {
                    return plain(StatusCode::NOT_FOUND, "rendition has no media yet\n");
                }
                if hls::write_media_playlist(&r.window, &package.settings, &mut body).is_err() {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "playlist error\n");
                }
            }
            ok(PLAYLIST_TYPE, LIVE_PLAYLIST_CACHE, Bytes::from(body))
        }
        HlsResource::Segment { rendition, start } => {
            // The cache is off by default: no key is built for it then.
            let key = state
                .cache
                .enabled()
                .then(|| format!("{}\u{0}{path}", channel.config.id));
            if let Some(bytes) = key.as_deref().and_then(|k| state.cache.get(k)) {
                return ok(TS_TYPE, SEGMENT_CACHE, bytes);
            }
            let Some(slot) = channel.rendition(&rendition) else {
                return not_found(path);
            };
            let (segment, reader) = {
                let r = slot.lock();
                let Some(segment) = r.window.find_by_start(start) else {
                    return not_found(path);
                };
                (segment, r.reader())
            };
            let pool = state.buffers.clone();
            let muxed = tokio::task::spawn_blocking(move || {
                let payloads = reader
                    .load_with(&segment, &mut || pool.take())
                    .map_err(|e| e.to_string())?;
                let mut out = pool.take();
                out.reserve(segment.payload_bytes() * 11 / 10 + 4096);
                let muxed = hls::ts_segment(&segment, &payloads, &mut out);
                for buf in payloads.into_buffers() {
                    pool.give(buf);
                }
                match muxed {
                    Ok(()) => Ok(out),
                    Err(e) => {
                        pool.give(out);
                        Err(e.to_string())
                    }
                }
            })
            .await;
            let out = match muxed {
                Ok(Ok(out)) => out,
                Ok(Err(e)) => {
                    tracing::warn!(channel = %channel.config.id, %rendition, start, error = %e, "cannot serve segment");
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read segment\n");
                }
                Err(e) => {
                    tracing::error!(channel = %channel.config.id, %rendition, start, error = %e, "segment task failed");
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read segment\n");
                }
            };
            if let Some(key) = key {
                state.cache.insert(key, Bytes::copy_from_slice(&out));
            }
            respond(
                TS_TYPE,
                SEGMENT_CACHE,
                Body::new(PooledBody::new(out, state.buffers.clone())),
            )
        }
    }
}

fn ok(content_type: &'static str, cache: &'static str, body: Bytes) -> Response {
    respond(content_type, cache, Body::from(body))
}

fn respond(content_type: &'static str, cache: &'static str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        message,
    )
        .into_response()
}

fn not_found(_path: &str) -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}
