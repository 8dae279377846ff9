//! Parsing Avro schemas and deciding when two are "the same schema".

use crate::error::{RegistryError, Result};
use apache_avro::Schema;
use std::sync::Arc;

/// A schema the registry knows, with its global id.
#[derive(Clone, Debug)]
pub struct RegisteredSchema {
    /// Global id, the one in the Confluent wire header.
    pub id: u32,
    /// The schema text, as first registered.
    pub schema_json: String,
    /// The parsed schema, ready for a codec.
    pub parsed: Schema,
}

/// One version of a subject.
#[derive(Clone, Debug)]
pub struct SubjectVersion {
    /// Subject name.
    pub subject: String,
    /// Version within the subject, from 1.
    pub version: u32,
    /// The schema (and its global id).
    pub schema: Arc<RegisteredSchema>,
}

/// A parsed schema and its identity key.
#[derive(Clone, Debug)]
pub(crate) struct ParsedSchema {
    pub parsed: Schema,
    pub identity: String,
}

/// Parses Avro schema text.
///
/// The identity is the schema re-serialised by `apache-avro` as sorted JSON: whitespace,
/// attribute order and `"type": {"type": "int"}` style spellings disappear, but defaults, docs,
/// aliases and logical types stay. We deliberately do not use the Parsing Canonical Form as the
/// identity: it drops `default`, so "add a default to a field" would be taken for the schema
/// already registered and readers would never get the default.
pub(crate) fn parse(subject: Option<&str>, text: &str) -> Result<ParsedSchema> {
    let invalid = |reason: String| RegistryError::InvalidSchema {
        subject: subject.map(str::to_owned),
        reason,
    };
    let parsed = Schema::parse_str(text).map_err(|e| invalid(e.to_string()))?;
    let value = serde_json::to_value(&parsed).map_err(|e| invalid(e.to_string()))?;
    let identity = sorted_json(&value);
    Ok(ParsedSchema { parsed, identity })
}

/// JSON text with object keys sorted, whatever features `serde_json` was built with.
fn sorted_json(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let body: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), sorted_json(&map[k])))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => {
            let body: Vec<String> = items.iter().map(sorted_json).collect();
            format!("[{}]", body.join(","))
        }
        other => other.to_string(),
    }
}

/// Rejects a `schemaType` other than AVRO (absent means AVRO, as in Confluent).
pub(crate) fn check_schema_type(subject: &str, schema_type: Option<&str>) -> Result<()> {
    match schema_type {
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("AVRO") => Ok(()),
        Some(t) => Err(RegistryError::InvalidSchema {
            subject: Some(subject.to_owned()),
            reason: format!(
                "schemaType '{t}' is not supported: this registry only stores AVRO schemas"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ignores_spelling_but_not_defaults() {
        let a = parse(
            None,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#,
        )
        .unwrap();
        let b = parse(
            None,
            r#"{ "fields" : [ { "type" : {"type":"int"}, "name" : "a" } ], "name" : "R", "type" : "record" }"#,
        )
        .unwrap();
        assert_eq!(a.identity, b.identity);
        let c = parse(
            None,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":0}]}"#,
        )
        .unwrap();
        assert_ne!(a.identity, c.identity);
    }

    #[test]
    fn invalid_schema_names_the_subject() {
        let err = parse(Some("orders-value"), r#"{"type":"record","name":"R"}"#).unwrap_err();
        assert_eq!(err.error_code(), 42201);
        assert!(err.to_string().contains("orders-value"), "{err}");
        let err = parse(None, "not json").unwrap_err();
        assert!(matches!(
            err,
            RegistryError::InvalidSchema { subject: None, .. }
        ));
    }

    #[test]
    fn only_avro_is_accepted() {
        assert!(check_schema_type("s", None).is_ok());
        assert!(check_schema_type("s", Some("AVRO")).is_ok());
        let err = check_schema_type("s", Some("PROTOBUF")).unwrap_err();
        assert!(err.to_string().contains("PROTOBUF"));
        assert_eq!(err.error_code(), 42201);
    }
}
