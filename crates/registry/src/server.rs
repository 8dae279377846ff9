//! The Confluent-compatible REST API over a [`SchemaStore`] (axum).
//!
//! Bodies are read as bytes and parsed here, so any content type is accepted
//! (`application/vnd.schemaregistry.v1+json`, `application/json`, or none, as curl sends);
//! answers carry `application/vnd.schemaregistry.v1+json`. Unknown query parameters
//! (`normalize`, `format`, `subject`, ...) are ignored; `deleted` is ignored too (deleted
//! versions are never listed), while `permanent`, `verbose` and `defaultToGlobal` are honoured.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::compat::Compatibility;
use crate::error::{RegistryError, Result};
use crate::schema::SubjectVersion;
use crate::state::VersionSel;
use crate::store::SchemaStore;

/// Confluent's content type.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type Shared = State<Arc<SchemaStore>>;
type Params = Query<HashMap<String, String>>;

/// Serves the registry API on `listener` until `shutdown` resolves.
///
/// The caller binds (so it can use port 0 and read the address) and decides when to stop.
pub async fn serve(
    store: Arc<SchemaStore>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// The API as an axum router, to mount or test without a socket.
pub fn router(store: Arc<SchemaStore>) -> Router {
    Router::new()
        .route("/", get(|| async { ok(json!({})) }))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(get_version_schema),
        )
        .route("/schemas/types", get(|| async { ok(json!(["AVRO"])) }))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compat_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compat_version),
        )
        .route("/config", get(get_global_config).put(put_global_config))
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .with_state(store)
}

/// A JSON answer with Confluent's content type.
fn ok(body: Value) -> Response {
    with_type(StatusCode::OK, body.to_string())
}

fn with_type(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// An error answer: `{"error_code": N, "message": "..."}` with Confluent's wording.
enum ApiError {
    /// What the store or the request's content said.
    Registry(RegistryError),
    /// A body that is not the JSON the endpoint expects: 422, as Confluent answers
    /// unprocessable entities.
    BadBody(serde_json::Error),
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        ApiError::Registry(e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::BadBody(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self {
            ApiError::Registry(e) => e,
            ApiError::BadBody(e) => {
                let message = format!("Invalid request body: {e}");
                let body = json!({"error_code": 422, "message": message});
                return with_type(StatusCode::UNPROCESSABLE_ENTITY, body.to_string());
            }
        };
        let message = match &e {
            RegistryError::UnknownSubject(s) => format!("Subject '{s}' not found."),
            RegistryError::UnknownVersion { version, .. } if *version > 0 => {
                format!("Version {version} not found.")
            }
            RegistryError::UnknownVersion { .. } => "Version not found.".to_owned(),
            RegistryError::UnknownSchemaId(id) => format!("Schema {id} not found"),
            RegistryError::SchemaNotFound { .. } => "Schema not found".to_owned(),
            other => other.to_string(),
        };
        if e.http_status() >= 500 {
            tracing::error!("registry request failed: {e}");
        }
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error_code": e.error_code(), "message": message});
        with_type(status, body.to_string())
    }
}

type Answer = std::result::Result<Response, ApiError>;

/// The body of register, lookup and compatibility requests.
#[derive(Deserialize)]
struct SchemaRequest {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<Value>>,
}

fn parse_schema_request(
    subject: &str,
    body: &[u8],
) -> std::result::Result<SchemaRequest, ApiError> {
    let req: SchemaRequest = serde_json::from_slice(body)?;
    crate::schema::check_schema_type(subject, req.schema_type.as_deref())?;
    if req.references.as_ref().is_some_and(|r| !r.is_empty()) {
        let e = RegistryError::InvalidSchema {
            subject: Some(subject.to_owned()),
            reason: "schema references are not supported: inline the referenced types".into(),
        };
        return Err(e.into());
    }
    Ok(req)
}

fn version_json(sv: &SubjectVersion) -> Value {
    json!({
        "subject": sv.subject,
        "version": sv.version,
        "id": sv.schema.id,
        "schema": sv.schema.schema_json,
    })
}

fn flag(params: &HashMap<String, String>, name: &str) -> bool {
    params
        .get(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn parse_id(id: &str) -> Result<u32> {
    // An id that is not a number cannot name a schema: "not found", as Confluent answers.
    id.parse().map_err(|_| RegistryError::UnknownSchemaId(0))
}

async fn list_subjects(State(store): Shared) -> Answer {
    Ok(ok(json!(store.subjects())))
}

async fn list_versions(State(store): Shared, Path(subject): Path<String>) -> Answer {
    Ok(ok(json!(store.versions(&subject)?)))
}

async fn register(State(store): Shared, Path(subject): Path<String>, body: Bytes) -> Answer {
    let req = parse_schema_request(&subject, &body)?;
    let reg = store
        .register_typed(&subject, &req.schema, req.schema_type.as_deref())
        .await?;
    Ok(ok(json!({"id": reg.id})))
}

async fn lookup(State(store): Shared, Path(subject): Path<String>, body: Bytes) -> Answer {
    let req = parse_schema_request(&subject, &body)?;
    Ok(ok(version_json(&store.lookup(&subject, &req.schema)?)))
}

async fn get_version(
    State(store): Shared,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let sv = store.version(&subject, VersionSel::parse(&version)?)?;
    Ok(ok(version_json(&sv)))
}

async fn get_version_schema(
    State(store): Shared,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let sv = store.version(&subject, VersionSel::parse(&version)?)?;
    Ok(with_type(StatusCode::OK, sv.schema.schema_json.clone()))
}

async fn schema_by_id(State(store): Shared, Path(id): Path<String>) -> Answer {
    let schema = store.fetch_schema(parse_id(&id)?).await?;
    Ok(ok(json!({"schema": schema.schema_json})))
}

async fn raw_schema_by_id(State(store): Shared, Path(id): Path<String>) -> Answer {
    let schema = store.fetch_schema(parse_id(&id)?).await?;
    Ok(with_type(StatusCode::OK, schema.schema_json.clone()))
}

async fn id_versions(State(store): Shared, Path(id): Path<String>) -> Answer {
    let pairs = store.id_versions(parse_id(&id)?)?;
    let body: Vec<Value> = pairs
        .iter()
        .map(|(s, v)| json!({"subject": s, "version": v}))
        .collect();
    Ok(ok(json!(body)))
}

async fn id_subjects(State(store): Shared, Path(id): Path<String>) -> Answer {
    let mut subjects: Vec<String> = store
        .id_versions(parse_id(&id)?)?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    Ok(ok(json!(subjects)))
}

fn compat_answer(problems: Vec<String>, params: &HashMap<String, String>) -> Response {
    let mut body = json!({"is_compatible": problems.is_empty()});
    if flag(params, "verbose") {
        body["messages"] = json!(problems);
    }
    ok(body)
}

async fn compat_version(
    State(store): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
    body: Bytes,
) -> Answer {
    let sel = VersionSel::parse(&version)?;
    let req = parse_schema_request(&subject, &body)?;
    let problems = store.test_compatibility(&subject, &req.schema, Some(sel))?;
    Ok(compat_answer(problems, &params))
}

async fn compat_all(
    State(store): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Answer {
    let req = parse_schema_request(&subject, &body)?;
    let problems = store.test_compatibility(&subject, &req.schema, None)?;
    Ok(compat_answer(problems, &params))
}

async fn delete_subject(
    State(store): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
) -> Answer {
    let versions = store
        .delete_subject(&subject, flag(&params, "permanent"))
        .await?;
    Ok(ok(json!(versions)))
}

async fn delete_version(
    State(store): Shared,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Params,
) -> Answer {
    let sel = VersionSel::parse(&version)?;
    let v = store
        .delete_version(&subject, sel, flag(&params, "permanent"))
        .await?;
    Ok(ok(json!(v)))
}

/// `PUT /config` bodies: Confluent's own clients send `compatibility`; some tools send
/// `compatibilityLevel`. Other fields (metadata, rule sets) are not supported and ignored.
#[derive(Deserialize)]
struct ConfigRequest {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

fn parse_config(body: &[u8]) -> std::result::Result<Compatibility, ApiError> {
    let req: ConfigRequest = serde_json::from_slice(body)?;
    match req.compatibility.or(req.compatibility_level) {
        Some(level) => Ok(level.parse()?),
        None => Err(RegistryError::InvalidCompatibility(String::new()).into()),
    }
}

async fn get_global_config(State(store): Shared) -> Answer {
    Ok(ok(
        json!({"compatibilityLevel": store.global_compatibility().as_str()}),
    ))
}

async fn put_global_config(State(store): Shared, body: Bytes) -> Answer {
    let level = parse_config(&body)?;
    store.set_compatibility(None, level).await?;
    Ok(ok(json!({"compatibility": level.as_str()})))
}

async fn get_subject_config(
    State(store): Shared,
    Path(subject): Path<String>,
    Query(params): Params,
) -> Answer {
    let level = match store.subject_compatibility(&subject) {
        Some(level) => level,
        None if flag(&params, "defaultToGlobal") => store.global_compatibility(),
        None => return Err(RegistryError::SubjectConfigNotFound(subject).into()),
    };
    Ok(ok(json!({"compatibilityLevel": level.as_str()})))
}

async fn put_subject_config(
    State(store): Shared,
    Path(subject): Path<String>,
    body: Bytes,
) -> Answer {
    let level = parse_config(&body)?;
    store.set_compatibility(Some(&subject), level).await?;
    Ok(ok(json!({"compatibility": level.as_str()})))
}

async fn delete_subject_config(State(store): Shared, Path(subject): Path<String>) -> Answer {
    let old = store.delete_subject_compatibility(&subject).await?;
    Ok(ok(json!({"compatibilityLevel": old.as_str()})))
}
