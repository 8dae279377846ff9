//! Parsed writer schemas, cached by their text.
//!
//! Consumers see the same few writer schemas (one per registry id) millions of times; parsing one
//! costs microseconds, so each distinct text is parsed once. The cache is bounded because the texts
//! come from outside (a registry, a dump of someone else's topic): past [`MAX_ENTRIES`] it is
//! emptied and refilled, which only costs re-parsing.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use apache_avro::Schema;

use crate::CodecError;

/// Distinct schema texts kept before the cache is emptied.
pub const MAX_ENTRIES: usize = 1024;

/// A writer schema, parsed, with what decoding needs beside it.
#[derive(Debug)]
pub struct WriterSchema {
    /// The parsed schema.
    pub schema: Schema,
    /// Avro Parsing Canonical Form: two schemas with equal forms have identical binary encodings.
    pub canonical: String,
    /// Named types (records, enums, fixed) by full name, to follow `Schema::Ref`.
    pub names: HashMap<String, Schema>,
}

/// Parses `text`, or returns the copy parsed before.
pub fn writer_schema(text: &str) -> Result<Arc<WriterSchema>, CodecError> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<WriterSchema>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
    if let Some(hit) = cache.read().unwrap_or_else(|e| e.into_inner()).get(text) {
        return Ok(hit.clone());
    }
    let parsed = Arc::new(parse(text)?);
    let mut map = cache.write().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(text.to_owned(), parsed.clone());
    Ok(parsed)
}

/// Parses a schema text into a [`WriterSchema`] (uncached).
pub fn parse(text: &str) -> Result<WriterSchema, CodecError> {
    let schema = Schema::parse_str(text).map_err(|e| CodecError::Schema {
        schema: label(text),
        detail: e.to_string(),
    })?;
    let mut names = HashMap::new();
    collect_names(&schema, &mut names);
    Ok(WriterSchema {
        canonical: schema.canonical_form(),
        schema,
        names,
    })
}

/// A short name for a schema text in error messages: its `name`, else its first characters.
pub fn label(text: &str) -> String {
    if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(serde_json::Value::String(name)) = obj.get("name")
    {
        return match obj.get("namespace") {
            Some(serde_json::Value::String(ns)) if !name.contains('.') => format!("{ns}.{name}"),
            _ => name.clone(),
        };
    }
    let short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        format!("`{short}...`")
    } else {
        format!("`{short}`")
    }
}

fn collect_names(schema: &Schema, names: &mut HashMap<String, Schema>) {
    match schema {
        Schema::Record(r) => {
            names.insert(r.name.fullname(None), schema.clone());
            for f in &r.fields {
                collect_names(&f.schema, names);
            }
        }
        Schema::Enum(e) => {
            names.insert(e.name.fullname(None), schema.clone());
        }
        Schema::Fixed(f) => {
            names.insert(f.name.fullname(None), schema.clone());
        }
        Schema::Decimal(d) => collect_names(&d.inner, names),
        Schema::Array(a) => collect_names(&a.items, names),
        Schema::Map(m) => collect_names(&m.types, names),
        Schema::Union(u) => {
            for v in u.variants() {
                collect_names(v, names);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_by_text_and_labels_bad_schemas() {
        let a = writer_schema(crate::schemas::SALES_RECORD).unwrap();
        let b = writer_schema(crate::schemas::SALES_RECORD).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.names.contains_key("m5.forecasting.avro.SalesRecord"));
        let err =
            writer_schema(r#"{"type":"record","name":"x.Y","fields":[{"name":"a"}]}"#).unwrap_err();
        assert!(
            matches!(err, CodecError::Schema { ref schema, .. } if schema == "x.Y"),
            "{err}"
        );
        let err = writer_schema("not json at all").unwrap_err();
        assert!(err.to_string().contains("`not json at all`"), "{err}");
    }
}
