//! Playback HTTP: routes package URLs to manifests, segments and fragments.
//!
//! Manifests are rendered from a snapshot of each rendition's segment list (taken under the
//! rendition's lock, rendered without it) and reused until a rendition changes
//! (`manifest_cache.rs`). Segments and fragments are loaded from the store
//! and muxed on the blocking pool into pooled buffers.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use media::{MediaError, TrackKind, WallClock};
use packager::dash::{self, DashResource, InitConfig, MpdContext};
use packager::hls::{self, PlaylistMedia};
use packager::mss::{self, MssResource};
use packager::{cmaf, selection, HlsResource, HlsSettings, RenditionView, Variant};
use segmenter::{Segment, SegmentBytes};
use tower_http::cors::{Any, CorsLayer};

use crate::buffers::{BufferPool, PooledBody};
use crate::cache::SegmentCache;
use crate::catchup::{self, TimeView};
use crate::channel::{ChannelRuntime, Package, PackageFormat, RenditionSlot};
use crate::registry::{ChannelRegistry, Resource};

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
const MPD_TYPE: &str = "application/dash+xml";
const MSS_MANIFEST_TYPE: &str = "application/vnd.ms-sstr+xml";
const TS_TYPE: &str = "video/mp2t";
/// Live manifests change every segment: caches may hold them for about half of one.
const LIVE_MANIFEST_CACHE: &str = "public, max-age=1";
const MULTIVARIANT_CACHE: &str = "public, max-age=2";
/// A segment URL always names the same bytes.
const SEGMENT_CACHE: &str = "public, max-age=31536000, immutable";
/// A DASH init segment URL that names the rendition's current track configuration (which a
/// publisher reconnecting with other settings changes), or that of Period "0" (the oldest held,
/// which changes as the window slides past a configuration change or after a restart).
const MUTABLE_INIT_CACHE: &str = "public, max-age=10";

/// How often a held Smooth fragment request looks for the next fragment.
const EDGE_POLL: Duration = Duration::from_millis(50);

/// The path of the clock DASH players synchronise with (`UTCTiming`, `http-iso`).
pub const TIME_PATH: &str = "/time";

/// What the playback routes share.
#[derive(Debug, Clone)]
pub struct PlaybackState {
    pub registry: Arc<RwLock<Arc<ChannelRegistry>>>,
    pub cache: Arc<SegmentCache>,
    pub buffers: Arc<BufferPool>,
}

/// The playback router: package URLs, the time endpoint, a health check, CORS for every origin.
pub fn router(state: PlaybackState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(TIME_PATH, get(time))
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

/// The server's clock as ISO 8601 UTC with milliseconds (`urn:mpeg:dash:utc:http-iso:2014`).
async fn time() -> Response {
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        now,
    )
        .into_response()
}

/// One request's context.
struct Request<'a> {
    state: &'a PlaybackState,
    channel: Arc<ChannelRuntime>,
    package: Package,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
}

async fn serve_package(
    State(state): State<PlaybackState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
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
    let Some((channel, package, resource)) = registry.find_package(path) else {
        return not_found();
    };
    let req = Request {
        state: &state,
        channel,
        package,
        path,
        query: uri.query(),
        headers: &headers,
    };
    match resource {
        Resource::Hls(r) => serve_hls(&req, r).await,
        Resource::Dash(r) => serve_dash(&req, r).await,
        Resource::Mss(r) => serve_mss(&req, r).await,
    }
}

impl Request<'_> {
    /// Snapshots of the renditions with media that the package's stream selection keeps for
    /// this request, in configuration order.
    fn selected_views(&self) -> Vec<(Arc<RenditionSlot>, RenditionView)> {
        self.channel
            .renditions
            .iter()
            .filter(|slot| {
                slot.declared_bitrate
                    .is_none_or(|b| selection::keeps(&self.package.stream_selection, self.query, b))
            })
            .filter_map(|slot| self.listed_view(slot).map(|v| (slot.clone(), v)))
            .collect()
    }

    /// [`Self::view`] for a manifest: without the segments before the package's
    /// [`Package::list_from`] (segment requests still find them).
    fn listed_view(&self, slot: &RenditionSlot) -> Option<RenditionView> {
        let mut view = self.view(slot)?;
        let from = self.package.list_from;
        if from != i64::MIN {
            view.segments.retain(|s| s.start >= from);
            if view.segments.is_empty() {
                return None;
            }
        }
        Some(view)
    }

    /// The selected renditions' snapshots for a manifest, or the response saying why there
    /// are none.
    fn manifest_views(&self) -> Result<Vec<RenditionView>, Box<Response>> {
        let views: Vec<RenditionView> = self.selected_views().into_iter().map(|(_, v)| v).collect();
        if views.is_empty() {
            return Err(Box::new(self.no_selection()));
        }
        Ok(views)
    }

    /// The channel's window generation: changes whenever any rendition's segments do.
    fn generation(&self) -> u64 {
        self.channel
            .renditions
            .iter()
            .map(|slot| slot.lock().window.generation())
            .fold(0u64, u64::wrapping_add)
    }

    /// A manifest response: the body from the channel's manifest cache while no rendition has
    /// changed since it was rendered, else rendered by `render` and cached. `variant` names
    /// whatever besides the path and query the body depends on (headers). A render error is
    /// answered as it is and not cached.
    fn manifest(
        &self,
        content_type: &'static str,
        cache: &'static str,
        variant: &str,
        render: impl FnOnce() -> Result<Bytes, Box<Response>>,
    ) -> Response {
        let generation = self.generation();
        let key = format!("{}?{}#{variant}", self.path, self.query.unwrap_or(""));
        if let Some(body) = self.channel.manifests.get(&key, generation) {
            return ok(content_type, cache, body);
        }
        match render() {
            Ok(body) => {
                self.channel.manifests.insert(key, generation, body.clone());
                ok(content_type, cache, body)
            }
            Err(response) => *response,
        }
    }

    /// A rendition as this package sees it (its segments grouped to the package's duration).
    fn view(&self, slot: &RenditionSlot) -> Option<RenditionView> {
        let r = slot.lock();
        RenditionView::from_window(
            &slot.name,
            slot.declared_bitrate,
            &r.window,
            self.package.format.segment_duration_secs(),
        )
    }

    /// The package segment of `slot` that starts at `start`.
    fn find_segment(&self, slot: &RenditionSlot, start: i64) -> Option<Arc<Segment>> {
        let duration = self.package.format.segment_duration_secs();
        slot.lock().window.find_package_segment(duration, start)
    }

    /// An absolute URL of `path` on this server, as the client addressed it.
    fn absolute_url(&self, path: &str) -> String {
        let host = self
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("localhost");
        let scheme = match self
            .headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        format!("{scheme}://{host}{path}")
    }

    /// What the request's time parameters (catch-up, timeshift, live delay) ask for, checked
    /// against what the channel holds; the 400 answer when they cannot be served.
    async fn time_view(&self) -> Result<TimeView, Box<Response>> {
        let now_ms = WallClock::now().unix_ms;
        let request = catchup::request(&self.package, self.query, now_ms).map_err(refused)?;
        if request == model::TimeRequest::Live {
            return Ok(TimeView::Live);
        }
        let channel = self.channel.clone();
        match tokio::task::spawn_blocking(move || catchup::plan(&channel, request, now_ms)).await {
            Ok(Ok(view)) => Ok(view),
            Ok(Err(refusal)) => Err(refused(refusal)),
            Err(_) => Err(render_failed("catch-up lookup failed\n")),
        }
    }

    /// The selected renditions (all of them unless `selected`) as `time` shows them, read on
    /// the blocking pool; `time` is not [`TimeView::Live`].
    async fn time_views(
        &self,
        time: TimeView,
        selected: bool,
    ) -> Result<Vec<(Arc<RenditionSlot>, RenditionView)>, Box<Response>> {
        let slots: Vec<Arc<RenditionSlot>> = self
            .channel
            .renditions
            .iter()
            .filter(|slot| {
                !selected
                    || slot.declared_bitrate.is_none_or(|b| {
                        selection::keeps(&self.package.stream_selection, self.query, b)
                    })
            })
            .cloned()
            .collect();
        self.views_of(time, slots).await
    }

    /// `slots` as `time` shows them (those with media in it), in their order. Each rendition
    /// is read on the blocking pool by a task of its own, so a manifest of several renditions
    /// reads their catch-up indexes side by side.
    async fn views_of(
        &self,
        time: TimeView,
        slots: Vec<Arc<RenditionSlot>>,
    ) -> Result<Vec<(Arc<RenditionSlot>, RenditionView)>, Box<Response>> {
        let mut tasks = Vec::with_capacity(slots.len());
        for slot in slots {
            let package = self.package.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                catchup::view(&slot, &package, &time).map(|view| view.map(|v| (slot, v)))
            }));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            match task.await {
                Ok(Ok(Some(view))) => out.push(view),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(channel = %self.channel.config.id, error = %e, "cannot read the catch-up index");
                    return Err(render_failed("cannot read the catch-up index\n"));
                }
                Err(_) => return Err(render_failed("catch-up lookup failed\n")),
            }
        }
        Ok(out)
    }

    /// The views a manifest lists under `time`: the live window's, or those read for a
    /// catch-up, timeshift or delayed request; the answer saying why there are none.
    async fn manifest_views_at(
        &self,
        time: TimeView,
    ) -> Result<Vec<(Arc<RenditionSlot>, RenditionView)>, Box<Response>> {
        let views = if time == TimeView::Live {
            self.selected_views()
        } else {
            self.time_views(time, true).await?
        };
        if views.is_empty() {
            return Err(Box::new(self.no_selection_at(time)));
        }
        Ok(views)
    }

    /// The package segment of `slot` starting at `start`: from the live window, else (a
    /// catch-up or timeshift player) from the store, loaded in full.
    async fn find_any_segment(
        &self,
        slot: &Arc<RenditionSlot>,
        start: i64,
    ) -> Option<Arc<Segment>> {
        if let Some(segment) = self.find_segment(slot, start) {
            return Some(segment);
        }
        let (slot, package) = (slot.clone(), self.package.clone());
        let found =
            tokio::task::spawn_blocking(move || catchup::find_stored(&slot, &package, start)).await;
        self.stored_result(found)
    }

    /// The result of a blocking store lookup, with read errors logged.
    fn stored_result<T>(
        &self,
        found: Result<std::io::Result<Option<T>>, tokio::task::JoinError>,
    ) -> Option<T> {
        match found {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(channel = %self.channel.config.id, error = %e, "cannot read the catch-up index");
                None
            }
            Err(_) => None,
        }
    }

    /// [`Self::no_selection`], or for a time view, that the interval holds no media.
    fn no_selection_at(&self, time: TimeView) -> Response {
        if time == TimeView::Live {
            self.no_selection()
        } else {
            plain(
                StatusCode::NOT_FOUND,
                "no media of the selected renditions in the requested time\n",
            )
        }
    }

    fn no_selection(&self) -> Response {
        if self
            .channel
            .renditions
            .iter()
            .any(|s| !s.lock().window.segments().is_empty())
        {
            plain(
                StatusCode::NOT_FOUND,
                "no rendition matches the package's stream selection for this request\n",
            )
        } else {
            plain(StatusCode::NOT_FOUND, "channel has no media yet\n")
        }
    }
}

async fn serve_hls(req: &Request<'_>, resource: HlsResource) -> Response {
    let PackageFormat::Hls(settings) = &req.package.format else {
        return not_found();
    };
    match resource {
        HlsResource::Multivariant => {
            let time = match req.time_view().await {
                Ok(time) => time,
                Err(response) => return *response,
            };
            let render = |views: &[(Arc<RenditionSlot>, RenditionView)]| {
                let variants: Vec<Variant> = views.iter().map(|(_, v)| v.variant.clone()).collect();
                let audio = views
                    .iter()
                    .find(|(_, v)| v.track(TrackKind::Audio).is_some())
                    .map(|(_, v)| v.variant.name.as_str());
                // A time request's parameters go on to the media playlists.
                let query = (time != TimeView::Live).then_some(req.query).flatten();
                let mut body = Vec::with_capacity(256 + 200 * variants.len());
                hls::write_multivariant(
                    &req.package.stem,
                    &variants,
                    audio,
                    settings,
                    query,
                    &mut body,
                )
                .map_err(|_| render_failed("playlist error\n"))?;
                Ok(Bytes::from(body))
            };
            if time == TimeView::Live {
                return req.manifest(PLAYLIST_TYPE, MULTIVARIANT_CACHE, "", || {
                    let views = req.selected_views();
                    if views.is_empty() {
                        return Err(Box::new(req.no_selection()));
                    }
                    render(&views)
                });
            }
            match req.manifest_views_at(time).await.and_then(|v| render(&v)) {
                Ok(body) => ok(PLAYLIST_TYPE, time_cache(time), body),
                Err(response) => *response,
            }
        }
        HlsResource::MediaPlaylist { rendition } => {
            let media = if settings.fmp4() {
                PlaylistMedia::Fmp4(TrackKind::Video)
            } else {
                PlaylistMedia::MuxedTs
            };
            media_playlist(req, settings, &rendition, media).await
        }
        HlsResource::AudioPlaylist { rendition } if settings.fmp4() => {
            media_playlist(
                req,
                settings,
                &rendition,
                PlaylistMedia::Fmp4(TrackKind::Audio),
            )
            .await
        }
        HlsResource::AudioPlaylist { .. } => not_found(),
        HlsResource::Segment { rendition, start } if !settings.fmp4() => {
            let Some(slot) = req.channel.rendition(&rendition) else {
                return not_found();
            };
            let Some(segment) = req.find_any_segment(slot, start).await else {
                return not_found();
            };
            let cache_key = req
                .state
                .cache
                .enabled()
                .then(|| format!("{}\u{0}{}", req.channel.config.id, req.path));
            if let Some(bytes) = cache_key.as_deref().and_then(|k| req.state.cache.get(k)) {
                return ok(TS_TYPE, SEGMENT_CACHE, bytes);
            }
            let reserve = segment.payload_bytes() * 11 / 10 + 4096;
            build_segment(
                req,
                slot.clone(),
                segment,
                TS_TYPE,
                reserve,
                cache_key,
                hls::ts_segment,
            )
            .await
        }
        HlsResource::Segment { .. } => not_found(),
        HlsResource::Init {
            rendition,
            kind,
            id,
        } if settings.fmp4() => {
            let Some(slot) = req.channel.rendition(&rendition).cloned() else {
                return not_found();
            };
            let live = req.view(&slot).and_then(|view| {
                view.segments.iter().rev().find_map(|s| {
                    cmaf::track_samples(s, kind)
                        .map(|t| t.track.clone())
                        .filter(|t| hls::init_id(t) == id)
                })
            });
            // A catch-up may list media recorded in a configuration the live window no
            // longer holds.
            match live.or_else(|| catchup::stored_track_by(&slot, kind, |t| hls::init_id(t) == id))
            {
                Some(track) => init_response(&track, kind, SEGMENT_CACHE),
                None => not_found(),
            }
        }
        HlsResource::Fragment {
            rendition,
            kind,
            start,
        } if settings.fmp4() => {
            let Some(slot) = req.channel.rendition(&rendition) else {
                return not_found();
            };
            let segment = req.find_any_segment(slot, start).await;
            let Some(segment) = segment.filter(|s| cmaf::track_samples(s, kind).is_some()) else {
                return not_found();
            };
            fragment_response(req, slot.clone(), segment, kind).await
        }
        HlsResource::Init { .. } | HlsResource::Fragment { .. } => not_found(),
    }
}

async fn media_playlist(
    req: &Request<'_>,
    settings: &HlsSettings,
    rendition: &str,
    media: PlaylistMedia,
) -> Response {
    let time = match req.time_view().await {
        Ok(time) => time,
        Err(response) => return *response,
    };
    if time != TimeView::Live {
        let Some(slot) = req.channel.rendition(rendition).cloned() else {
            return not_found();
        };
        let views = match req.views_of(time, vec![slot]).await {
            Ok(views) => views,
            Err(response) => return *response,
        };
        let Some((_, view)) = views.first() else {
            return req.no_selection_at(time);
        };
        let mut body = Vec::new();
        hls::write_media_playlist(view, settings, media, &mut body);
        return ok(PLAYLIST_TYPE, time_cache(time), Bytes::from(body));
    }
    req.manifest(PLAYLIST_TYPE, LIVE_MANIFEST_CACHE, "", || {
        let view = req
            .channel
            .rendition(rendition)
            .and_then(|slot| req.listed_view(slot));
        let Some(view) = view else {
            return Err(Box::new(plain(
                StatusCode::NOT_FOUND,
                "rendition has no media yet\n",
            )));
        };
        let mut body = Vec::new();
        hls::write_media_playlist(&view, settings, media, &mut body);
        Ok(Bytes::from(body))
    })
}

async fn serve_dash(req: &Request<'_>, resource: DashResource) -> Response {
    let PackageFormat::Dash(settings) = &req.package.format else {
        return not_found();
    };
    match resource {
        DashResource::Manifest => {
            let time = match req.time_view().await {
                Ok(time) => time,
                Err(response) => return *response,
            };
            let utc = req.absolute_url(TIME_PATH);
            let user_agent = req.headers.get(header::USER_AGENT);
            let timeline_anchor =
                dash::needs_timeline_anchor(user_agent.and_then(|v| v.to_str().ok()));
            // The MPD names the time URL (from Host) and differs for GStreamer. Its
            // publishTime is when it was rendered, so a cached MPD keeps the time its
            // content last changed.
            let variant = format!("{}{utc}", u8::from(timeline_anchor));
            let render = |views: &[RenditionView]| {
                let ctx = MpdContext {
                    id: &req.channel.config.id,
                    publish_time: WallClock::now(),
                    utc_timing_url: &utc,
                    base: &req.package.stem,
                    timeline_anchor,
                };
                let mut body = String::with_capacity(4096);
                dash::write_mpd(views, settings, &ctx, &mut body)
                    .map_err(|_| render_failed("manifest error\n"))?;
                Ok(Bytes::from(body))
            };
            let mut response = if time == TimeView::Live {
                req.manifest(MPD_TYPE, LIVE_MANIFEST_CACHE, &variant, || {
                    render(&req.manifest_views()?)
                })
            } else {
                match req.manifest_views_at(time).await.and_then(|views| {
                    render(&views.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
                }) {
                    Ok(body) => ok(MPD_TYPE, time_cache(time), body),
                    Err(response) => *response,
                }
            };
            // GStreamer gets another MPD (`dash::needs_timeline_anchor`).
            response
                .headers_mut()
                .append(header::VARY, HeaderValue::from_static("user-agent"));
            response
        }
        DashResource::Init {
            representation,
            kind,
            config,
        } => {
            let Some(slot) = req.channel.rendition(&representation).cloned() else {
                return not_found();
            };
            // A Period `p{t}` never changes configuration.
            let cache = match config {
                InitConfig::PeriodFrom(_) => SEGMENT_CACHE,
                InitConfig::Newest | InitConfig::FirstPeriod => MUTABLE_INIT_CACHE,
            };
            // A Period starting before the live window (a catch-up or time shift) takes its
            // configuration from the store's history, which the window may not hold.
            let stored = match config {
                InitConfig::PeriodFrom(t) => catchup::stored_track_at(&slot, kind, t),
                InitConfig::Newest | InitConfig::FirstPeriod => None,
            };
            let track = stored.or_else(|| {
                req.view(&slot)
                    .and_then(|view| dash::init_track(&view, kind, config).cloned())
            });
            match track {
                Some(track) => init_response(&track, kind, cache),
                None => not_found(),
            }
        }
        DashResource::Segment {
            representation,
            kind,
            time,
        } => {
            let Some(slot) = req.channel.rendition(&representation).cloned() else {
                return not_found();
            };
            let live = req
                .view(&slot)
                .and_then(|view| dash::find_segment(&view, kind, time).cloned());
            let segment = match live {
                Some(segment) => Some(segment),
                None => {
                    let (slot, package) = (slot.clone(), req.package.clone());
                    let found = tokio::task::spawn_blocking(move || {
                        catchup::find_stored_dash(&slot, &package, kind, time)
                    })
                    .await;
                    req.stored_result(found)
                }
            };
            let Some(segment) = segment else {
                return not_found();
            };
            fragment_response(req, slot, segment, kind).await
        }
    }
}

async fn serve_mss(req: &Request<'_>, resource: MssResource) -> Response {
    let PackageFormat::Mss(settings) = &req.package.format else {
        return not_found();
    };
    match resource {
        MssResource::Manifest => {
            let time = match req.time_view().await {
                Ok(time) => time,
                Err(response) => return *response,
            };
            let render = |views: &[RenditionView]| {
                let mut body = String::with_capacity(8192);
                mss::write_manifest(views, settings, &mut body)
                    .map_err(|_| render_failed("manifest error\n"))?;
                Ok(Bytes::from(body))
            };
            if time == TimeView::Live {
                return req.manifest(MSS_MANIFEST_TYPE, LIVE_MANIFEST_CACHE, "", || {
                    render(&req.manifest_views()?)
                });
            }
            match req
                .manifest_views_at(time)
                .await
                .and_then(|views| render(&views.into_iter().map(|(_, v)| v).collect::<Vec<_>>()))
            {
                Ok(body) => ok(MSS_MANIFEST_TYPE, time_cache(time), body),
                Err(response) => *response,
            }
        }
        MssResource::Fragment {
            bitrate,
            kind,
            time,
        } => {
            // A fragment at the live edge is held until the next one is sealed, so its `tfrf`
            // announces it: Smooth players (dash.js) extend their timeline only from `tfrf`,
            // and a fragment without a look-ahead entry ends the stream for them.
            let hold_until = tokio::time::Instant::now()
                + Duration::from_secs(u64::from(settings.segment_duration_secs.max(1)) * 2 + 1);
            let (slot, segment, following) = loop {
                // Every rendition, not only the selected ones: a player may hold an older
                // manifest, and fragment URLs carry no query.
                let (slots, views): (Vec<Arc<RenditionSlot>>, Vec<RenditionView>) = req
                    .channel
                    .renditions
                    .iter()
                    .filter_map(|slot| req.view(slot).map(|v| (slot.clone(), v)))
                    .unzip();
                let Some((view, segment)) = mss::find_fragment(&views, bitrate, kind, time) else {
                    // Not in the live window: a catch-up or timeshift player.
                    let (slots, package) = (req.channel.renditions.clone(), req.package.clone());
                    let found = tokio::task::spawn_blocking(move || {
                        catchup::find_stored_mss(&slots, &package, bitrate, kind, time)
                    })
                    .await;
                    let Some((slot, segment, following)) = req.stored_result(found) else {
                        return not_found();
                    };
                    break (slot, segment, following);
                };
                let Some(slot) = slots.iter().find(|s| s.name == view.variant.name).cloned() else {
                    return not_found();
                };
                // The look-ahead stops at the manifest's (delayed) live edge.
                let following: Vec<Arc<Segment>> =
                    mss::available_segments(&view.segments, settings)
                        .iter()
                        .filter(|s| s.start > segment.start)
                        .take(mss::LOOKAHEAD_FRAGMENT_COUNT)
                        .cloned()
                        .collect();
                let wait = following.is_empty()
                    && slot.is_publishing()
                    && tokio::time::Instant::now() < hold_until;
                if !wait {
                    break (slot, segment.clone(), following);
                }
                tokio::time::sleep(EDGE_POLL).await;
            };
            let reserve = segment.payload_bytes() + 4096;
            build_segment(
                req,
                slot,
                segment,
                content_type(kind),
                reserve,
                None,
                move |s, b, out| mss::write_fragment(s, kind, b, &following, out),
            )
            .await
        }
    }
}

/// How long caches may keep a manifest of a time view: a shifted live window moves like the
/// live one; a finished interval changes only as retention removes its oldest media.
fn time_cache(time: TimeView) -> &'static str {
    match time {
        TimeView::Recorded { .. } => MULTIVARIANT_CACHE,
        TimeView::Live | TimeView::Shifted { .. } => LIVE_MANIFEST_CACHE,
    }
}

/// The answer to time parameters that cannot be served.
fn refused(refusal: catchup::Refusal) -> Box<Response> {
    Box::new(
        (
            refusal.status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            refusal.message,
        )
            .into_response(),
    )
}

/// The 500 answered when a manifest writer fails.
fn render_failed(message: &'static str) -> Box<Response> {
    Box::new(plain(StatusCode::INTERNAL_SERVER_ERROR, message))
}

fn content_type(kind: TrackKind) -> &'static str {
    match kind {
        TrackKind::Video => "video/mp4",
        TrackKind::Audio => "audio/mp4",
    }
}

fn init_response(track: &media::TrackInfo, kind: TrackKind, cache: &'static str) -> Response {
    let mut out = Vec::with_capacity(1024);
    match cmaf::init_segment(track, &mut out) {
        Ok(()) => ok(content_type(kind), cache, Bytes::from(out)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot write init segment");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot write init segment\n",
            )
        }
    }
}

async fn fragment_response(
    req: &Request<'_>,
    slot: Arc<RenditionSlot>,
    segment: Arc<Segment>,
    kind: TrackKind,
) -> Response {
    let reserve = segment.payload_bytes() + 4096;
    build_segment(
        req,
        slot,
        segment,
        content_type(kind),
        reserve,
        None,
        move |s, b, out| cmaf::fragment(s, kind, b, out),
    )
    .await
}

/// Loads `segment`'s payloads and builds a response body with `build` on the blocking pool,
/// into a pooled buffer that the body hands back when sent.
async fn build_segment<F>(
    req: &Request<'_>,
    slot: Arc<RenditionSlot>,
    segment: Arc<Segment>,
    content_type: &'static str,
    reserve: usize,
    cache_key: Option<String>,
    build: F,
) -> Response
where
    F: FnOnce(&Segment, &SegmentBytes, &mut Vec<u8>) -> Result<(), MediaError> + Send + 'static,
{
    if segment.is_summary_only() {
        // Only its summary was read (a manifest's view); serving needs the full record.
        tracing::warn!(channel = %req.channel.config.id, start = segment.start, "segment not loaded in full");
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read segment\n");
    }
    let reader = slot.lock().reader();
    let pool = req.state.buffers.clone();
    let start = segment.start;
    let built = tokio::task::spawn_blocking(move || {
        let payloads = reader
            .load_with(&segment, &mut || pool.take())
            .map_err(|e| e.to_string())?;
        let mut out = pool.take();
        out.reserve(reserve);
        let result = build(&segment, &payloads, &mut out);
        for buf in payloads.into_buffers() {
            pool.give(buf);
        }
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                pool.give(out);
                Err(e.to_string())
            }
        }
    })
    .await;
    let channel = &req.channel.config.id;
    let rendition = &slot.name;
    let out = match built {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            tracing::warn!(%channel, %rendition, start, error = %e, "cannot serve segment");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read segment\n");
        }
        Err(e) => {
            tracing::error!(%channel, %rendition, start, error = %e, "segment task failed");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read segment\n");
        }
    };
    if let Some(key) = cache_key {
        req.state.cache.insert(key, Bytes::copy_from_slice(&out));
    }
    respond(
        content_type,
        SEGMENT_CACHE,
        Body::new(PooledBody::new(out, req.state.buffers.clone())),
    )
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

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}
