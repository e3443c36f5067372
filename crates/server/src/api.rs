//! The control-plane REST API: channels of a project, as the OTT channel API shapes them.
//!
//! Every answer is JSON in the spec's `result_code`/`result_msg` shape, errors included: a
//! malformed body, an unknown route or a bad query is a 4xx naming the problem, never a 500
//! (a 500 means the store failed). `X-Auth-Token` must be a token configured for the path's
//! project.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use model::{
    result_codes, ChannelConfig, ChannelListResponse, ChannelStateRequest, CreateChannelResponse,
    ErrorResponse, ModelError,
};
use serde::Deserialize;

use crate::manager::{ChannelManager, ListFilter, ManageError};
use crate::registry::RegistryError;

/// Largest request body accepted (a channel document is a few KiB).
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Channels per page when `limit` is not given, and the most a page holds.
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;

/// Tokens accepted per project.
#[derive(Debug, Clone, Default)]
pub struct ApiTokens {
    by_project: HashMap<String, Vec<String>>,
}

impl ApiTokens {
    /// Parses `project:token` pairs; the token may itself contain `:`.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<ApiTokens, String> {
        let mut tokens = ApiTokens::default();
        for pair in pairs {
            let pair = pair.trim();
            if pair.is_empty() || pair.starts_with('#') {
                continue;
            }
            let Some((project, token)) = pair.split_once(':') else {
                return Err(format!("{pair:?} is not project_id:token"));
            };
            if project.is_empty() || token.is_empty() {
                return Err(format!("{pair:?}: project_id and token must not be empty"));
            }
            tokens.add(project, token);
        }
        Ok(tokens)
    }

    pub fn add(&mut self, project: &str, token: &str) {
        self.by_project
            .entry(project.to_string())
            .or_default()
            .push(token.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.by_project.is_empty()
    }

    pub fn projects(&self) -> impl Iterator<Item = &str> {
        self.by_project.keys().map(String::as_str)
    }

    /// Whether `token` is one of `project`'s (compared in constant time per token).
    fn allows(&self, project: &str, token: &str) -> bool {
        self.by_project
            .get(project)
            .is_some_and(|tokens| tokens.iter().any(|t| constant_time_eq(t, token)))
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the API handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub manager: Arc<ChannelManager>,
    pub tokens: Arc<ApiTokens>,
    /// The SRT ingest port named in SRT_PUSH ingest URLs.
    pub srt_port: u16,
}

/// The API router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/v1/{project_id}/ott/channels",
            get(list_channels).post(create_channel),
        )
        .route(
            "/v1/{project_id}/ott/channels/{id}",
            get(get_channel).put(update_channel).delete(delete_channel),
        )
        .route(
            "/v1/{project_id}/ott/channels/{id}/state",
            axum::routing::put(set_state),
        )
        .route("/openapi.json", get(openapi))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                ErrorResponse::new(result_codes::INVALID_REQUEST, "no such API route"),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::document_bytes(),
    )
        .into_response()
}

/// An error answer: status and body (boxed: errors are rare, results stay small).
struct ApiError(Box<(StatusCode, ErrorResponse)>);

fn api_error(status: StatusCode, body: ErrorResponse) -> ApiError {
    ApiError(Box::new((status, body)))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = *self.0;
        error(status, body)
    }
}

fn error(status: StatusCode, body: ErrorResponse) -> Response {
    json(status, &body)
}

fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    api_error(
        StatusCode::BAD_REQUEST,
        ErrorResponse::new(result_codes::INVALID_REQUEST, message),
    )
}

fn path_error(rejection: PathRejection) -> ApiError {
    bad_request(format!("bad path: {}", rejection.body_text()))
}

/// Checks the path's project and `X-Auth-Token`.
fn authorize(state: &ApiState, headers: &HeaderMap, project: &str) -> Result<(), ApiError> {
    if !valid_project(project) {
        return Err(bad_request(format!(
            "project_id must be 1 to 64 letters, digits, '-' or '_', got {project:?}"
        )));
    }
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token.is_empty() {
        return Err(api_error(
            StatusCode::UNAUTHORIZED,
            ErrorResponse::new(result_codes::UNAUTHORIZED, "X-Auth-Token is missing"),
        ));
    }
    if !state.tokens.allows(project, token) {
        return Err(api_error(
            StatusCode::UNAUTHORIZED,
            ErrorResponse::new(
                result_codes::UNAUTHORIZED,
                format!("X-Auth-Token is not valid for project {project}"),
            ),
        ));
    }
    Ok(())
}

/// Project ids appear in directory names: letters, digits, `-`, `_`.
fn valid_project(project: &str) -> bool {
    (1..=64).contains(&project.len())
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Reads a channel document; every problem of a parsed but invalid one is named with its path.
fn parse_body(body: &[u8]) -> Result<ChannelConfig, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| bad_request("body is not UTF-8"))?;
    match model::parse_channel(text) {
        Ok(config) => Ok(config),
        Err(ModelError::Json { path, message }) => Err(bad_request(format!("{path}: {message}"))),
        Err(e) => Err(bad_request(e.to_string())),
    }
}

/// Maps a refused change to its answer.
fn refused(config: Option<&ChannelConfig>, e: ManageError) -> ApiError {
    let with_channel = |code: &str, msg: String| match config {
        Some(c) => ErrorResponse::for_channel(c, code, msg),
        None => ErrorResponse::new(code, msg),
    };
    match e {
        ManageError::Invalid(_) | ManageError::IdMismatch { .. } => api_error(
            StatusCode::BAD_REQUEST,
            with_channel(result_codes::INVALID_REQUEST, e.to_string()),
        ),
        ManageError::Conflict(RegistryError::PathInUse { url, .. }) => api_error(
            StatusCode::BAD_REQUEST,
            with_channel(
                result_codes::OUTPUT_URL_EXISTS,
                format!("output url {url} is exist"),
            ),
        ),
        ManageError::Conflict(
            c @ (RegistryError::StreamInUse { .. } | RegistryError::PortInUse { .. }),
        ) => api_error(
            StatusCode::BAD_REQUEST,
            with_channel(result_codes::INGEST_STREAM_EXISTS, c.to_string()),
        ),
        ManageError::Exists(_) => api_error(
            StatusCode::BAD_REQUEST,
            with_channel(result_codes::CHANNEL_EXISTS, e.to_string()),
        ),
        ManageError::NotFound(_) => api_error(
            StatusCode::NOT_FOUND,
            with_channel(result_codes::CHANNEL_NOT_FOUND, e.to_string()),
        ),
        ManageError::Storage(_) => {
            tracing::error!(error = %e, "channel change not stored");
            api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                with_channel(result_codes::INTERNAL_ERROR, e.to_string()),
            )
        }
    }
}

fn success(config: &ChannelConfig) -> ErrorResponse {
    ErrorResponse::for_channel(config, result_codes::SUCCESS, "SUCCESS")
}

async fn create_channel(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path(project) = path.map_err(path_error)?;
    authorize(&state, &headers, &project)?;
    let config = parse_body(&body)?;
    let stored = state
        .manager
        .create(&project, config.clone())
        .await
        .map_err(|e| refused(Some(&config), e))?;
    tracing::info!(project = %project, id = %stored.config.id, "channel created");
    Ok(json(
        StatusCode::CREATED,
        &CreateChannelResponse::success_on(&stored.config, state.srt_port),
    ))
}

/// Query of a channel list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    domain: Option<String>,
    app_name: Option<String>,
    id: Option<String>,
}

async fn list_channels(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ListQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(project) = path.map_err(path_error)?;
    authorize(&state, &headers, &project)?;
    let Query(query) = query.map_err(|e| bad_request(format!("bad query: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_request(format!(
            "limit must be 1..={MAX_LIMIT}, got {limit}"
        )));
    }
    let filter = ListFilter {
        domain: query.domain,
        app_name: query.app_name,
        id: query.id,
    };
    let (total, page) = state
        .manager
        .list(&project, &filter, query.offset.unwrap_or(0), limit)
        .await;
    Ok(json(
        StatusCode::OK,
        &ChannelListResponse {
            total: total as u64,
            channels: page.into_iter().map(|c| c.config).collect(),
        },
    ))
}

async fn get_channel(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((project, id)) = path.map_err(path_error)?;
    authorize(&state, &headers, &project)?;
    match state.manager.get(&project, &id).await {
        Some(stored) => Ok(json(StatusCode::OK, &stored.config)),
        None => Err(refused(None, ManageError::NotFound(id))),
    }
}

async fn update_channel(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path((project, id)) = path.map_err(path_error)?;
    authorize(&state, &headers, &project)?;
    let config = parse_body(&body)?;
    let stored = state
        .manager
        .update(&project, &id, config.clone())
        .await
        .map_err(|e| refused(Some(&config), e))?;
    tracing::info!(project = %project, id = %id, "channel modified");
    Ok(json(
        StatusCode::OK,
        &CreateChannelResponse::success_on(&stored.config, state.srt_port),
    ))
}

async fn delete_channel(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((project, id)) = path.map_err(path_error)?;
    authorize(&state, &headers, &project)?;
    let removed = state
        .manager
        .delete(&project, &id)
        .await
        .map_err(|e| refused(None, e))?;
    tracing::info!(project = %project, id = %id, "channel deleted");
    Ok(json(StatusCode::OK, &success(&removed.config)))
}

async fn set_state(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path((project, id)) = path.map_err(path_error)?;
    authorize(&state, &headers, &project)?;
    let text = std::str::from_utf8(&body).map_err(|_| bad_request("body is not UTF-8"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let request: ChannelStateRequest = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| bad_request(format!("{}: {}", e.path(), e.inner())))?;
    de.end()
        .map_err(|e| bad_request(format!("trailing characters: {e}")))?;
    let stored = state
        .manager
        .set_state(&project, &id, request.state)
        .await
        .map_err(|e| refused(None, e))?;
    tracing::info!(project = %project, id = %id, state = ?request.state, "channel state changed");
    Ok(json(StatusCode::OK, &success(&stored.config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_check() {
        let tokens = ApiTokens::parse(["p1:secret", "p2:a:b", "# comment", ""]).expect("parse");
        assert!(tokens.allows("p1", "secret"));
        assert!(tokens.allows("p2", "a:b"));
        assert!(!tokens.allows("p1", "a:b"));
        assert!(!tokens.allows("p3", "secret"));
        assert!(!tokens.allows("p1", "secre"));
        assert!(ApiTokens::parse(["nocolon"]).is_err());
        assert!(ApiTokens::parse([":token"]).is_err());
        assert!(ApiTokens::parse(["project:"]).is_err());
    }

    #[test]
    fn project_ids_are_path_safe() {
        assert!(valid_project("my-project_1"));
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_project(bad), "{bad:?}");
        }
    }
}
