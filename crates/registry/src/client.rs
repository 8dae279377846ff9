//! The client side: [`SchemaRegistry`], over HTTP ([`HttpRegistry`]) or in-process
//! ([`LocalRegistry`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, Url};
use serde_json::{Value, json};

use crate::error::{RegistryError, Result};
use crate::schema::{self, RegisteredSchema, SubjectVersion};
use crate::server::CONTENT_TYPE;
use crate::state::VersionSel;
use crate::store::SchemaStore;

/// What producers and consumers need from a schema registry.
#[async_trait]
pub trait SchemaRegistry: Send + Sync {
    /// Registers `schema_json` under `subject` (or finds it there) and returns its global id.
    async fn register(&self, subject: &str, schema_json: &str) -> Result<u32>;
    /// The schema with this global id.
    async fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>>;
    /// The latest live version of `subject`.
    async fn latest(&self, subject: &str) -> Result<SubjectVersion>;
}

/// The registry in this process, straight over a [`SchemaStore`] (embedded runtime).
#[derive(Clone, Debug)]
pub struct LocalRegistry {
    store: Arc<SchemaStore>,
}

impl LocalRegistry {
    /// Wraps a store.
    pub fn new(store: Arc<SchemaStore>) -> Self {
        LocalRegistry { store }
    }
    /// The store, e.g. to serve it over HTTP too.
    pub fn store(&self) -> &Arc<SchemaStore> {
        &self.store
    }
}

#[async_trait]
impl SchemaRegistry for LocalRegistry {
    async fn register(&self, subject: &str, schema_json: &str) -> Result<u32> {
        Ok(self.store.register(subject, schema_json).await?.id)
    }
    async fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>> {
        self.store.fetch_schema(id).await
    }
    async fn latest(&self, subject: &str) -> Result<SubjectVersion> {
        self.store.fetch_version(subject, VersionSel::Latest).await
    }
}

/// A Confluent-compatible registry over HTTP, with caches.
///
/// Ids are immutable, so id → schema is cached forever; (subject, schema) → id too, because a
/// registered version never changes its id. `latest` is never cached: it moves.
#[derive(Debug)]
pub struct HttpRegistry {
    base: Url,
    client: reqwest::Client,
    by_id: RwLock<HashMap<u32, Arc<RegisteredSchema>>>,
    by_schema: RwLock<HashMap<(String, String), u32>>,
}

/// Which lookup an HTTP error answered, to turn Confluent codes into precise errors.
enum Ctx<'a> {
    Subject(&'a str),
    Id(u32),
}

impl HttpRegistry {
    /// A client for the registry at `base_url` (e.g. `http://localhost:8081`), 30 s timeout.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_timeout(base_url, Duration::from_secs(30))
    }

    /// [`HttpRegistry::new`] with a per-request timeout.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Result<Self> {
        let bad = |reason: String| RegistryError::Protocol {
            url: base_url.to_owned(),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|e| bad(format!("invalid URL: {e}")))?;
        if base.cannot_be_a_base() {
            return Err(bad("not a base URL".into()));
        }
        // Segments are appended later; a trailing empty segment would double the slash.
        if let Ok(mut segs) = base.path_segments_mut() {
            segs.pop_if_empty();
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| bad(format!("cannot build HTTP client: {e}")))?;
        Ok(HttpRegistry {
            base,
            client,
            by_id: RwLock::new(HashMap::new()),
            by_schema: RwLock::new(HashMap::new()),
        })
    }

    /// The registry URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    fn url_for(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            // Percent-encodes each segment, so subjects with `/` or spaces stay one segment.
            segs.extend(segments);
        }
        url
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Value>,
        ctx: Ctx<'_>,
    ) -> Result<Value> {
        let url = self.url_for(segments);
        let mut req = self
            .client
            .request(method, url.clone())
            .header("Accept", CONTENT_TYPE);
        if let Some(body) = body {
            req = req
                .header("Content-Type", CONTENT_TYPE)
                .body(body.to_string());
        }
        let unavailable = |source| RegistryError::Unavailable {
            url: url.to_string(),
            source,
        };
        let resp = req.send().await.map_err(unavailable)?;
        let status = resp.status();
        let text = resp.text().await.map_err(unavailable)?;
        let parsed: std::result::Result<Value, _> = serde_json::from_str(&text);
        if status.is_success() {
            return parsed.map_err(|e| RegistryError::Protocol {
                url: url.to_string(),
                reason: format!("HTTP {status} with a body that is not JSON ({e}): {text:.200}"),
            });
        }
        let (code, message) = match &parsed {
            Ok(v) => (
                v["error_code"]
                    .as_i64()
                    .unwrap_or(i64::from(status.as_u16())),
                v["message"].as_str().unwrap_or(&text).to_owned(),
            ),
            Err(_) => (i64::from(status.as_u16()), text.clone()),
        };
        Err(match (code, ctx) {
            (40401, Ctx::Subject(s)) => RegistryError::UnknownSubject(s.to_owned()),
            (40403, Ctx::Id(id)) => RegistryError::UnknownSchemaId(id),
            (409, Ctx::Subject(s)) => RegistryError::Incompatible {
                subject: s.to_owned(),
                reason: message,
            },
            (42201, Ctx::Subject(s)) => RegistryError::InvalidSchema {
                subject: Some(s.to_owned()),
                reason: message,
            },
            _ => RegistryError::Http {
                url: url.to_string(),
                status: status.as_u16(),
                error_code: code,
                message,
            },
        })
    }

    fn protocol(&self, segments: &[&str], reason: String) -> RegistryError {
        RegistryError::Protocol {
            url: self.url_for(segments).to_string(),
            reason,
        }
    }

    fn cached(&self, id: u32) -> Option<Arc<RegisteredSchema>> {
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    fn remember(&self, schema: Arc<RegisteredSchema>) -> Arc<RegisteredSchema> {
        let mut map = self.by_id.write().unwrap_or_else(|e| e.into_inner());
        map.entry(schema.id).or_insert(schema).clone()
    }

    /// Parses a schema text the server sent for `id`, caching it.
    fn adopt(&self, id: u32, text: &str) -> Result<Arc<RegisteredSchema>> {
        if let Some(s) = self.cached(id) {
            return Ok(s);
        }
        let parsed = schema::parse(None, text).map_err(|e| RegistryError::Protocol {
            url: self
                .url_for(&["schemas", "ids", &id.to_string()])
                .to_string(),
            reason: format!("schema id {id} from the registry does not parse: {e}"),
        })?;
        Ok(self.remember(Arc::new(RegisteredSchema {
            id,
            schema_json: text.to_owned(),
            parsed: parsed.parsed,
        })))
    }
}

#[async_trait]
impl SchemaRegistry for HttpRegistry {
    async fn register(&self, subject: &str, schema_json: &str) -> Result<u32> {
        // Parsing locally both rejects bad schemas without a round trip and gives the cache key.
        let parsed = schema::parse(Some(subject), schema_json)?;
        let key = (subject.to_owned(), parsed.identity.clone());
        if let Some(id) = self
            .by_schema
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(*id);
        }
        let segments = ["subjects", subject, "versions"];
        let body = json!({"schema": schema_json, "schemaType": "AVRO"});
        let answer = self
            .call(Method::POST, &segments, Some(body), Ctx::Subject(subject))
            .await?;
        let id = answer["id"]
            .as_u64()
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| self.protocol(&segments, format!("no schema id in {answer}")))?;
        self.remember(Arc::new(RegisteredSchema {
            id,
            schema_json: schema_json.to_owned(),
            parsed: parsed.parsed,
        }));
        self.by_schema
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, id);
        Ok(id)
    }

    async fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>> {
        if let Some(s) = self.cached(id) {
            return Ok(s);
        }
        let id_str = id.to_string();
        let segments = ["schemas", "ids", id_str.as_str()];
        let answer = self.call(Method::GET, &segments, None, Ctx::Id(id)).await?;
        if let Some(t) = answer["schemaType"]
            .as_str()
            .filter(|t| !t.eq_ignore_ascii_case("AVRO"))
        {
            return Err(self.protocol(&segments, format!("schema id {id} is {t}, not AVRO")));
        }
        let text = answer["schema"]
            .as_str()
            .ok_or_else(|| self.protocol(&segments, format!("no schema in {answer}")))?;
        self.adopt(id, text)
    }

    async fn latest(&self, subject: &str) -> Result<SubjectVersion> {
        let segments = ["subjects", subject, "versions", "latest"];
        let answer = self
            .call(Method::GET, &segments, None, Ctx::Subject(subject))
            .await?;
        let field = |name: &str| {
            answer[name]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| self.protocol(&segments, format!("no {name} in {answer}")))
        };
        let (id, version) = (field("id")?, field("version")?);
        let text = answer["schema"]
            .as_str()
            .ok_or_else(|| self.protocol(&segments, format!("no schema in {answer}")))?;
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version,
            schema: self.adopt(id, text)?,
        })
    }
}
