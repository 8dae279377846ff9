//! The registry's in-memory state: a fold of the `_schemas` records, plus the queries and
//! the registration plan. No I/O here; `store.rs` feeds records in and writes plans out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::compat::Compatibility;
use crate::error::{RegistryError, Result};
use crate::records::{Entry, SchemaValue};
use crate::schema::{self, ParsedSchema, RegisteredSchema, SubjectVersion};

/// Which version of a subject a request means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSel {
    /// The highest live version (`latest` or `-1` in URLs).
    Latest,
    /// An explicit version, from 1.
    Number(u32),
}

impl VersionSel {
    /// Parses a URL version: a positive integer, `latest` or `-1`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "latest" | "-1" => Ok(VersionSel::Latest),
            _ => match s.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(VersionSel::Number(n)),
                _ => Err(RegistryError::InvalidVersion(s.to_owned())),
            },
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct VersionEntry {
    pub id: u32,
    pub deleted: bool,
}

#[derive(Default, Debug)]
pub(crate) struct SubjectState {
    pub versions: BTreeMap<u32, VersionEntry>,
    pub compat: Option<Compatibility>,
}

impl SubjectState {
    fn live(&self) -> impl DoubleEndedIterator<Item = (u32, u32)> + '_ {
        self.versions
            .iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(v, e)| (*v, e.id))
    }
}

#[derive(Debug)]
struct StoredSchema {
    schema: Arc<RegisteredSchema>,
    identity: String,
    /// Every (subject, version) pointing at this id, deleted or not; when the last one is
    /// permanently deleted the id disappears, as it would from a compacted `_schemas`.
    users: BTreeSet<(String, u32)>,
}

/// What registering a schema under a subject has to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Already a live version of the subject.
    Existing { id: u32, version: u32 },
    /// Write a new version.
    New(SchemaValue),
}

#[derive(Default, Debug)]
pub(crate) struct State {
    subjects: BTreeMap<String, SubjectState>,
    schemas: HashMap<u32, StoredSchema>,
    by_identity: HashMap<String, u32>,
    global: Option<Compatibility>,
    max_id: u32,
}

impl State {
    /// Applies one decoded record. Records are idempotent: applying one twice changes nothing,
    /// which lets the writer apply its own record on delivery and again when it reads it back.
    pub fn apply(&mut self, entry: Entry) -> std::result::Result<(), String> {
        match entry {
            Entry::Schema {
                subject,
                version,
                value: None,
            } => {
                if let Some(s) = self.subjects.get_mut(&subject)
                    && let Some(old) = s.versions.remove(&version)
                {
                    self.drop_user(old.id, &subject, version);
                }
            }
            Entry::Schema {
                subject,
                version,
                value: Some(v),
            } => {
                if v.schema_type
                    .as_deref()
                    .is_some_and(|t| !t.eq_ignore_ascii_case("AVRO"))
                {
                    return Err(format!("{subject} v{version}: non-AVRO schema ignored"));
                }
                let parsed = schema::parse(Some(&subject), &v.schema).map_err(|e| e.to_string())?;
                match self.schemas.get_mut(&v.id) {
                    Some(existing) if existing.identity != parsed.identity => {
                        return Err(format!(
                            "{subject} v{version}: id {} already names a different schema",
                            v.id
                        ));
                    }
                    Some(existing) => {
                        existing.users.insert((subject.clone(), version));
                    }
                    None => {
                        self.by_identity.insert(parsed.identity.clone(), v.id);
                        self.schemas.insert(
                            v.id,
                            StoredSchema {
                                schema: Arc::new(RegisteredSchema {
                                    id: v.id,
                                    schema_json: v.schema.clone(),
                                    parsed: parsed.parsed,
                                }),
                                identity: parsed.identity,
                                users: BTreeSet::from([(subject.clone(), version)]),
                            },
                        );
                    }
                }
                self.max_id = self.max_id.max(v.id);
                let entry = VersionEntry {
                    id: v.id,
                    deleted: v.deleted,
                };
                let old = self
                    .subjects
                    .entry(subject.clone())
                    .or_default()
                    .versions
                    .insert(version, entry);
                if let Some(old) = old
                    && old.id != v.id
                {
                    self.drop_user(old.id, &subject, version);
                }
            }
            Entry::Config {
                subject: None,
                level,
            } => self.global = level,
            Entry::Config {
                subject: Some(s),
                level,
            } => {
                self.subjects.entry(s).or_default().compat = level;
            }
            Entry::DeleteSubject { subject, version } => {
                if let Some(s) = self.subjects.get_mut(&subject) {
                    for (_, e) in s.versions.range_mut(..=version) {
                        e.deleted = true;
                    }
                }
            }
            Entry::Ignored => {}
        }
        Ok(())
    }

    fn drop_user(&mut self, id: u32, subject: &str, version: u32) {
        if let Some(s) = self.schemas.get_mut(&id) {
            s.users.remove(&(subject.to_owned(), version));
            if s.users.is_empty()
                && let Some(gone) = self.schemas.remove(&id)
            {
                self.by_identity.remove(&gone.identity);
            }
        }
    }

    /// Subjects with at least one live version, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, s)| s.live().next().is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn live_subject(&self, subject: &str) -> Result<&SubjectState> {
        self.subjects
            .get(subject)
            .filter(|s| s.live().next().is_some())
            .ok_or_else(|| RegistryError::UnknownSubject(subject.to_owned()))
    }

    /// Live versions of a subject, ascending.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>> {
        Ok(self.live_subject(subject)?.live().map(|(v, _)| v).collect())
    }

    /// Every version of a subject, deleted ones included.
    pub fn all_versions(&self, subject: &str) -> Vec<(u32, bool)> {
        self.subjects
            .get(subject)
            .map(|s| s.versions.iter().map(|(v, e)| (*v, e.deleted)).collect())
            .unwrap_or_default()
    }

    /// One live version.
    pub fn version(&self, subject: &str, sel: VersionSel) -> Result<SubjectVersion> {
        let s = self.live_subject(subject)?;
        let (version, id) = match sel {
            VersionSel::Latest => s.live().next_back(),
            VersionSel::Number(n) => s.versions.get(&n).filter(|e| !e.deleted).map(|e| (n, e.id)),
        }
        .ok_or_else(|| RegistryError::UnknownVersion {
            subject: subject.to_owned(),
            version: match sel {
                VersionSel::Number(n) => n,
                VersionSel::Latest => 0,
            },
        })?;
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version,
            schema: self.schema_by_id(id)?,
        })
    }

    /// A schema by global id.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>> {
        self.schemas
            .get(&id)
            .map(|s| s.schema.clone())
            .ok_or(RegistryError::UnknownSchemaId(id))
    }

    /// Live (subject, version) pairs using a schema id.
    pub fn id_versions(&self, id: u32) -> Result<Vec<(String, u32)>> {
        let s = self
            .schemas
            .get(&id)
            .ok_or(RegistryError::UnknownSchemaId(id))?;
        Ok(s.users
            .iter()
            .filter(|(subj, v)| {
                self.subjects
                    .get(subj)
                    .and_then(|s| s.versions.get(v))
                    .is_some_and(|e| !e.deleted)
            })
            .cloned()
            .collect())
    }

    /// The live version of `subject` holding this schema.
    pub fn lookup(&self, subject: &str, parsed: &ParsedSchema) -> Result<SubjectVersion> {
        let s = self.live_subject(subject)?;
        let not_found = || RegistryError::SchemaNotFound {
            subject: subject.to_owned(),
        };
        let id = *self
            .by_identity
            .get(&parsed.identity)
            .ok_or_else(not_found)?;
        let (version, _) = s
            .live()
            .rev()
            .find(|(_, vid)| *vid == id)
            .ok_or_else(not_found)?;
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version,
            schema: self.schema_by_id(id)?,
        })
    }

    /// The global level (BACKWARD unless set).
    pub fn global_compat(&self) -> Compatibility {
        self.global.unwrap_or_default()
    }

    /// The subject's own level, if set.
    pub fn subject_compat(&self, subject: &str) -> Option<Compatibility> {
        self.subjects.get(subject).and_then(|s| s.compat)
    }

    /// The level that applies to `subject`.
    pub fn effective_compat(&self, subject: &str) -> Compatibility {
        self.subject_compat(subject)
            .unwrap_or_else(|| self.global_compat())
    }

    /// Problems registering `new` under `subject` would have against `against`
    /// (`None`: every live version, as the level dictates).
    pub fn compat_problems(
        &self,
        subject: &str,
        new: &ParsedSchema,
        against: Option<VersionSel>,
    ) -> Result<Vec<String>> {
        let live: Vec<(u32, Arc<RegisteredSchema>)> = match against {
            None => match self.subjects.get(subject) {
                None => Vec::new(),
                Some(s) => s
                    .live()
                    .map(|(v, id)| self.schema_by_id(id).map(|s| (v, s)))
                    .collect::<Result<_>>()?,
            },
            Some(VersionSel::Latest) if self.live_subject(subject).is_err() => Vec::new(),
            Some(sel) => {
                let sv = self.version(subject, sel)?;
                vec![(sv.version, sv.schema)]
            }
        };
        let refs: Vec<(u32, &apache_avro::Schema)> =
            live.iter().map(|(v, s)| (*v, &s.parsed)).collect();
        Ok(self.effective_compat(subject).check(&new.parsed, &refs))
    }

    /// Decides what registering `text` (already parsed) under `subject` must write.
    pub fn plan_register(&self, subject: &str, text: &str, parsed: &ParsedSchema) -> Result<Plan> {
        if let Ok(found) = self.lookup(subject, parsed) {
            return Ok(Plan::Existing {
                id: found.schema.id,
                version: found.version,
            });
        }
        let problems = self.compat_problems(subject, parsed, None)?;
        if !problems.is_empty() {
            return Err(RegistryError::Incompatible {
                subject: subject.to_owned(),
                reason: problems.join("; "),
            });
        }
        // The same schema under another subject keeps its global id, as in Confluent; the
        // stored text is the first registration's, so an id always maps to one text.
        let (id, schema_text) = match self.by_identity.get(&parsed.identity) {
            Some(id) => (*id, self.schema_by_id(*id)?.schema_json.clone()),
            None => {
                let id =
                    self.max_id
                        .checked_add(1)
                        .ok_or_else(|| RegistryError::InvalidSchema {
                            subject: Some(subject.to_owned()),
                            reason: "global schema ids exhausted".into(),
                        })?;
                (id, text.trim().to_owned())
            }
        };
        let version = self
            .subjects
            .get(subject)
            .and_then(|s| s.versions.keys().next_back().copied())
            .unwrap_or(0)
            + 1;
        Ok(Plan::New(SchemaValue {
            subject: subject.to_owned(),
            version,
            id,
            schema: schema_text,
            deleted: false,
            schema_type: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;

    fn put(state: &mut State, subject: &str, text: &str) -> Plan {
        let parsed = schema::parse(Some(subject), text).unwrap();
        let plan = state.plan_register(subject, text, &parsed).unwrap();
        if let Plan::New(v) = &plan {
            let entry = Entry::Schema {
                subject: subject.into(),
                version: v.version,
                value: Some(v.clone()),
            };
            state.apply(entry.clone()).unwrap();
            state.apply(entry).unwrap(); // idempotent
        }
        plan
    }

    #[test]
    fn ids_are_global_and_versions_per_subject() {
        let mut st = State::default();
        let Plan::New(a) = put(&mut st, "a", V1) else {
            panic!("expected new")
        };
        assert_eq!((a.id, a.version), (1, 1));
        assert_eq!(put(&mut st, "a", V1), Plan::Existing { id: 1, version: 1 });
        let Plan::New(b) = put(&mut st, "b", &format!("  {V1}\n")) else {
            panic!("expected new")
        };
        assert_eq!((b.id, b.version), (1, 1));
        assert_eq!(b.schema, V1, "reused id keeps the first text");
        assert_eq!(st.subjects(), vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            st.id_versions(1).unwrap(),
            vec![("a".into(), 1), ("b".into(), 1)]
        );
    }

    #[test]
    fn tombstones_remove_versions_and_orphan_ids() {
        let mut st = State::default();
        put(&mut st, "a", V1);
        st.apply(Entry::Schema {
            subject: "a".into(),
            version: 1,
            value: None,
        })
        .unwrap();
        assert!(st.subjects().is_empty());
        assert!(matches!(
            st.schema_by_id(1),
            Err(RegistryError::UnknownSchemaId(1))
        ));
        assert!(matches!(
            st.versions("a"),
            Err(RegistryError::UnknownSubject(_))
        ));
    }

    #[test]
    fn version_selection() {
        assert_eq!(VersionSel::parse("latest").unwrap(), VersionSel::Latest);
        assert_eq!(VersionSel::parse("-1").unwrap(), VersionSel::Latest);
        assert_eq!(VersionSel::parse("3").unwrap(), VersionSel::Number(3));
        for bad in ["0", "-2", "x", ""] {
            assert_eq!(
                VersionSel::parse(bad).unwrap_err().error_code(),
                42202,
                "{bad}"
            );
        }
    }
}
