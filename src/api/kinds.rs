//! `GET /kinds`, `PUT /kinds/{kind}`, `DELETE /kinds/{kind}`: the kinds a client may
//! submit, each with its payload's JSON Schema, and the declaration of external kinds
//! (run by workers in any language through the lease API). Declarations live in Redis and
//! every process sees a change within a second (`sync`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::auth::Caller;
use super::openapi::{self, examples};
use super::{ApiError, ApiJson, AppState};
use crate::kinds::{ExternalKind, KindSpec, json_schema};
use crate::task::{FieldError, Kind};

/// Most external kinds a deployment may declare.
pub const MAX_EXTERNAL_KINDS: u64 = 1000;

/// One kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(examples(examples::external_kind_view))]
pub struct KindView {
    /// The kind's name, as `kind` in a task request.
    pub name: String,
    /// `embedded` (compiled into ttp, run by its workers) or `external` (run by workers
    /// in any language through the lease API).
    #[schema(pattern = "^(embedded|external)$")]
    pub source: &'static str,
    /// The queue an external kind's tasks go to; `null` for embedded kinds (any queue).
    pub queue: Option<String>,
    /// What it does.
    pub description: String,
    /// JSON Schema of its payloads.
    #[schema(schema_with = json_schema)]
    pub payload_schema: Value,
    /// Whether a payload must be given (`null` is refused).
    pub payload_required: bool,
}

/// `GET /kinds` body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(examples(examples::kind_list))]
pub struct KindList {
    /// Every kind, by name.
    pub kinds: Vec<KindView>,
}

impl KindView {
    fn external(kind: &ExternalKind) -> Self {
        Self {
            name: kind.name.as_str().to_owned(),
            source: "external",
            queue: Some(kind.queue.to_string()),
            description: kind.spec.description.clone(),
            payload_required: false,
            payload_schema: kind.spec.payload_schema.clone(),
        }
    }
}

/// List kinds
///
/// Every kind a task may have: the embedded ones and the declared external ones (only
/// those of the queues the caller's key may use), each with its payload's JSON Schema.
#[utoipa::path(
    get,
    path = "/kinds",
    operation_id = "listKinds",
    tag = "kinds",
    responses(
        (status = 200, description = "Every kind, by name.", body = KindList,
         example = json!(examples::kind_list())),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Json<KindList> {
    let embedded = state.catalog.embedded();
    let mut kinds: Vec<KindView> = embedded
        .kinds()
        .into_iter()
        .filter_map(|name| {
            let schema = embedded.get(name)?.payload_schema();
            let description =
                schema.schema.get("description").and_then(Value::as_str).unwrap_or_default();
            Some(KindView {
                name: name.to_owned(),
                source: "embedded",
                queue: None,
                description: description.to_owned(),
                payload_required: !schema.optional,
                payload_schema: schema.schema,
            })
        })
        .collect();
    let visible =
        state.catalog.externals().into_iter().filter(|k| caller.principal.may_touch(&k.queue));
    kinds.extend(visible.map(|k| KindView::external(&k)));
    kinds.sort_by(|a, b| a.name.cmp(&b.name));
    Json(KindList { kinds })
}

fn kind_name(name: &str) -> Result<Kind, ApiError> {
    Kind::parse(name).map_err(|e| ApiError::NotFound(format!("no kind {name:?}: {}", e.message)))
}

/// Declare an external kind
///
/// Declares (201) or updates (200) a kind run by external workers: its queue, a
/// description and the JSON Schema its payloads must satisfy (checked at submission:
/// 422 naming the field). Every ttp process sees it within a second. An embedded kind's
/// name is a 409; an invalid schema a 422.
#[utoipa::path(
    put,
    path = "/kinds/{kind}",
    operation_id = "putKind",
    tag = "kinds",
    params(("kind" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The kind's name.")),
    request_body(content = KindSpec, content_type = "application/json",
                 example = json!(examples::kind_spec())),
    responses(
        (status = 200, description = "Updated.", body = KindView,
         example = json!(examples::external_kind_view())),
        (status = 201, description = "Declared.", body = KindView,
         example = json!(examples::external_kind_view())),
        (status = 400, response = openapi::BadRequest),
        (status = 404, response = openapi::NotFound),
        (status = 408, response = openapi::BodyTimeout),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::TooLarge),
        (status = 415, response = openapi::NotJson),
        (status = 422, response = openapi::Invalid),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(spec): ApiJson<KindSpec>,
) -> Result<Response, ApiError> {
    let name = kind_name(&name)?;
    if state.catalog.embedded().get(name.as_str()).is_some() {
        return Err(ApiError::Conflict(format!(
            "{} is an embedded kind; choose another name",
            name.as_str()
        )));
    }
    let kind = ExternalKind::new(name, spec)?;
    caller.require_queue(&kind.queue)?;
    let known = state.catalog.lookup(kind.name.as_str()).is_some();
    if !known && state.queue.count_kinds().await? >= MAX_EXTERNAL_KINDS {
        let message = format!("the deployment declares {MAX_EXTERNAL_KINDS} kinds already");
        return Err(FieldError::new("kind", message).into());
    }
    state.queue.register_queue(&kind.queue).await?;
    let declaration =
        serde_json::to_string(&kind.spec).map_err(|e| ApiError::Internal(e.to_string()))?;
    let created = state.queue.put_kind(kind.name.as_str(), &declaration).await?;
    super::kinds_sync::refresh(&state.queue, &state.catalog).await;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(KindView::external(&kind))).into_response())
}

/// Remove an external kind
///
/// Removes an external kind's declaration (204); tasks already stored stay. Embedded
/// kinds cannot be removed (409).
#[utoipa::path(
    delete,
    path = "/kinds/{kind}",
    operation_id = "deleteKind",
    tag = "kinds",
    params(("kind" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "The kind's name.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 500, response = openapi::Internal),
        (status = 503, response = openapi::Unavailable),
        (status = 504, response = openapi::OutcomeUnknown),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = kind_name(&name)?;
    if state.catalog.embedded().get(name.as_str()).is_some() {
        return Err(ApiError::Conflict(format!("{} is an embedded kind", name.as_str())));
    }
    if let Some(crate::kinds::KindRef::External(kind)) = state.catalog.lookup(name.as_str()) {
        caller.require_queue(&kind.queue)?;
    }
    if !state.queue.delete_kind(name.as_str()).await? {
        return Err(ApiError::NotFound(format!("no external kind {}", name.as_str())));
    }
    super::kinds_sync::refresh(&state.queue, &state.catalog).await;
    Ok(StatusCode::NO_CONTENT)
}
