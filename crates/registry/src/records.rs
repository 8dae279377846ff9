//! The `_schemas` topic's record format, which is Confluent Schema Registry's own.
//!
//! Keeping Confluent's format means a `_schemas` topic can be read by either registry, and
//! compaction works the same: the key of a schema version or a config is always serialised
//! with the same fields in the same order, so later records replace earlier ones.
//!
//! | key | value |
//! |---|---|
//! | `{"keytype":"SCHEMA","subject":s,"version":v,"magic":1}` | `{"subject","version","id","schema","deleted"}`, or a tombstone (permanent delete) |
//! | `{"keytype":"CONFIG","subject":s\|null,"magic":0}` | `{"compatibilityLevel":"BACKWARD"}`, or a tombstone (config removed) |
//! | `{"keytype":"DELETE_SUBJECT","subject":s,"magic":0}` | `{"subject":s,"version":v}`: versions up to `v` soft-deleted |
//! | `NOOP`, `MODE`, `CLEAR_SUBJECT`, ... | ignored |

use serde::{Deserialize, Serialize};

use crate::compat::Compatibility;

/// Key of a schema version record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct SchemaKey {
    pub keytype: String,
    pub subject: String,
    pub version: u32,
    pub magic: u32,
}

impl SchemaKey {
    pub fn new(subject: &str, version: u32) -> Self {
        SchemaKey {
            keytype: "SCHEMA".into(),
            subject: subject.into(),
            version,
            magic: 1,
        }
    }
}

/// Value of a schema version record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SchemaValue {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
}

/// Key of a compatibility config record; `subject: None` is the global config.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct ConfigKey {
    pub keytype: String,
    pub subject: Option<String>,
    pub magic: u32,
}

impl ConfigKey {
    pub fn new(subject: Option<&str>) -> Self {
        ConfigKey {
            keytype: "CONFIG".into(),
            subject: subject.map(str::to_owned),
            magic: 0,
        }
    }
}

/// Value of a compatibility config record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct ConfigValue {
    #[serde(
        rename = "compatibilityLevel",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub compatibility_level: Option<String>,
}

/// Value of a `DELETE_SUBJECT` record (written by Confluent; we apply it when reading).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub(crate) struct DeleteSubjectValue {
    pub subject: String,
    pub version: u32,
}

/// One `_schemas` record, decoded.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Entry {
    /// A schema version was written, or (value `None`) permanently deleted.
    Schema {
        subject: String,
        version: u32,
        value: Option<SchemaValue>,
    },
    /// A compatibility level was set, or (`None`) removed.
    Config {
        subject: Option<String>,
        level: Option<Compatibility>,
    },
    /// Every version up to `version` of `subject` is soft-deleted.
    DeleteSubject { subject: String, version: u32 },
    /// A record kind this registry does not act on.
    Ignored,
}

#[derive(Deserialize)]
struct AnyKey {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

/// Decodes one record. `Err` carries the reason; the caller adds the topic/partition/offset.
pub(crate) fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Entry, String> {
    let key = key.ok_or("record has no key")?;
    let k: AnyKey = serde_json::from_slice(key).map_err(|e| format!("bad key JSON: {e}"))?;
    match k.keytype.as_str() {
        "SCHEMA" => {
            let subject = k.subject.ok_or("SCHEMA key without subject")?;
            let version = k.version.ok_or("SCHEMA key without version")?;
            let value = match value {
                None => None,
                Some(v) => {
                    let v: SchemaValue = serde_json::from_slice(v)
                        .map_err(|e| format!("bad SCHEMA value JSON: {e}"))?;
                    Some(v)
                }
            };
            Ok(Entry::Schema {
                subject,
                version,
                value,
            })
        }
        "CONFIG" => {
            let level = match value {
                None => None,
                Some(v) => {
                    let v: ConfigValue = serde_json::from_slice(v)
                        .map_err(|e| format!("bad CONFIG value JSON: {e}"))?;
                    match v.compatibility_level {
                        None => None,
                        Some(l) => Some(l.parse::<Compatibility>().map_err(|e| e.to_string())?),
                    }
                }
            };
            Ok(Entry::Config {
                subject: k.subject,
                level,
            })
        }
        "DELETE_SUBJECT" => match value {
            None => Ok(Entry::Ignored),
            Some(v) => {
                let v: DeleteSubjectValue = serde_json::from_slice(v)
                    .map_err(|e| format!("bad DELETE_SUBJECT value JSON: {e}"))?;
                Ok(Entry::DeleteSubject {
                    subject: v.subject,
                    version: v.version,
                })
            }
        },
        _ => Ok(Entry::Ignored),
    }
}

/// JSON bytes of a serialisable record part. Our own structs always serialise.
pub(crate) fn to_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_byte_identical_to_confluent() {
        assert_eq!(
            String::from_utf8(to_bytes(&SchemaKey::new("orders-value", 3))).unwrap(),
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#
        );
        assert_eq!(
            String::from_utf8(to_bytes(&ConfigKey::new(None))).unwrap(),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(
            String::from_utf8(to_bytes(&ConfigKey::new(Some("s")))).unwrap(),
            r#"{"keytype":"CONFIG","subject":"s","magic":0}"#
        );
    }

    #[test]
    fn decodes_every_kind() {
        let key = to_bytes(&SchemaKey::new("s", 1));
        let val = br#"{"subject":"s","version":1,"id":7,"schema":"\"int\"","deleted":false}"#;
        match decode(Some(&key), Some(val)).unwrap() {
            Entry::Schema {
                subject,
                version,
                value: Some(v),
            } => {
                assert_eq!((subject.as_str(), version, v.id), ("s", 1, 7));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            decode(Some(&key), None).unwrap(),
            Entry::Schema { value: None, .. }
        ));
        let ckey = to_bytes(&ConfigKey::new(None));
        assert_eq!(
            decode(Some(&ckey), Some(br#"{"compatibilityLevel":"FULL"}"#)).unwrap(),
            Entry::Config {
                subject: None,
                level: Some(Compatibility::Full)
            }
        );
        assert_eq!(
            decode(Some(br#"{"keytype":"NOOP","magic":0}"#), None).unwrap(),
            Entry::Ignored
        );
        assert_eq!(
            decode(
                Some(br#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#),
                Some(br#"{"subject":"s","version":2}"#)
            )
            .unwrap(),
            Entry::DeleteSubject {
                subject: "s".into(),
                version: 2
            }
        );
    }

    #[test]
    fn bad_records_say_why() {
        assert!(decode(None, None).unwrap_err().contains("no key"));
        assert!(
            decode(Some(b"{"), None)
                .unwrap_err()
                .contains("bad key JSON")
        );
        let key = to_bytes(&SchemaKey::new("s", 1));
        assert!(
            decode(Some(&key), Some(b"[]"))
                .unwrap_err()
                .contains("SCHEMA value")
        );
        let ckey = to_bytes(&ConfigKey::new(None));
        assert!(decode(Some(&ckey), Some(br#"{"compatibilityLevel":"NOPE"}"#)).is_err());
    }
}
