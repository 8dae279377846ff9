//! Compatibility levels and the check Confluent applies before registering a new version.

use apache_avro::Schema;
use apache_avro::schema_compatibility::SchemaCompatibility;
use std::fmt;
use std::str::FromStr;

use crate::error::RegistryError;

/// Confluent's compatibility levels.
///
/// *Backward*: consumers using the new schema can read data written with the old one (so
/// consumers upgrade first). *Forward*: consumers on the old schema can read data written with
/// the new one. *Full*: both. *Transitive* checks every live version, not just the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Compatibility {
    /// No check.
    None,
    /// New reads latest (the default, as in Confluent).
    #[default]
    Backward,
    /// New reads every live version.
    BackwardTransitive,
    /// Latest reads new.
    Forward,
    /// Every live version reads new.
    ForwardTransitive,
    /// Backward and forward against the latest.
    Full,
    /// Backward and forward against every live version.
    FullTransitive,
}

impl Compatibility {
    /// Every level, in Confluent's order.
    pub const ALL: [Compatibility; 7] = [
        Compatibility::None,
        Compatibility::Backward,
        Compatibility::BackwardTransitive,
        Compatibility::Forward,
        Compatibility::ForwardTransitive,
        Compatibility::Full,
        Compatibility::FullTransitive,
    ];

    /// The name Confluent uses (`BACKWARD_TRANSITIVE`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Compatibility::None => "NONE",
            Compatibility::Backward => "BACKWARD",
            Compatibility::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Compatibility::Forward => "FORWARD",
            Compatibility::ForwardTransitive => "FORWARD_TRANSITIVE",
            Compatibility::Full => "FULL",
            Compatibility::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn transitive(&self) -> bool {
        matches!(
            self,
            Compatibility::BackwardTransitive
                | Compatibility::ForwardTransitive
                | Compatibility::FullTransitive
        )
    }

    fn backward(&self) -> bool {
        matches!(
            self,
            Compatibility::Backward
                | Compatibility::BackwardTransitive
                | Compatibility::Full
                | Compatibility::FullTransitive
        )
    }

    fn forward(&self) -> bool {
        matches!(
            self,
            Compatibility::Forward
                | Compatibility::ForwardTransitive
                | Compatibility::Full
                | Compatibility::FullTransitive
        )
    }

    /// Checks `new` against the subject's live versions, oldest first.
    ///
    /// Returns every problem found (empty means compatible), each naming the version it
    /// conflicts with. Non-transitive levels look at the latest version only.
    pub fn check(&self, new: &Schema, existing: &[(u32, &Schema)]) -> Vec<String> {
        let against: &[(u32, &Schema)] = if self.transitive() {
            existing
        } else {
            existing.last().map(std::slice::from_ref).unwrap_or(&[])
        };
        let mut problems = Vec::new();
        // Newest first, so the first message is about the version a user most likely meant.
        for (version, old) in against.iter().rev() {
            if self.backward() {
                // The new schema (reader) must read data written with the old one.
                if let Err(e) = SchemaCompatibility::can_read(old, new) {
                    problems.push(format!(
                        "{}: new schema cannot read data written with version {version}: {e}",
                        self.as_str()
                    ));
                }
            }
            if self.forward() {
                // The old schema (reader) must read data written with the new one.
                if let Err(e) = SchemaCompatibility::can_read(new, old) {
                    problems.push(format!(
                        "{}: version {version} cannot read data written with the new schema: {e}",
                        self.as_str()
                    ));
                }
            }
        }
        problems
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Compatibility {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compatibility::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| RegistryError::InvalidCompatibility(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"R","fields":[{fields}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn names_round_trip() {
        for c in Compatibility::ALL {
            assert_eq!(c.as_str().parse::<Compatibility>().unwrap(), c);
        }
        assert_eq!(
            "full_transitive".parse::<Compatibility>().unwrap(),
            Compatibility::FullTransitive
        );
        assert!("SIDEWAYS".parse::<Compatibility>().is_err());
    }

    #[test]
    fn backward_vs_forward_on_added_field() {
        let v1 = s(r#"{"name":"a","type":"int"}"#);
        let with_default =
            s(r#"{"name":"a","type":"int"},{"name":"b","type":"string","default":""}"#);
        let no_default = s(r#"{"name":"a","type":"int"},{"name":"b","type":"string"}"#);
        let old = [(1, &v1)];
        assert!(
            Compatibility::Backward
                .check(&with_default, &old)
                .is_empty()
        );
        let problems = Compatibility::Backward.check(&no_default, &old);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("version 1"), "{problems:?}");
        // Old readers ignore the extra field: forward compatible either way.
        assert!(Compatibility::Forward.check(&no_default, &old).is_empty());
        assert!(!Compatibility::Full.check(&no_default, &old).is_empty());
        assert!(Compatibility::Full.check(&with_default, &old).is_empty());
        assert!(
            Compatibility::None
                .check(&s(r#"{"name":"z","type":"bytes"}"#), &old)
                .is_empty()
        );
    }

    #[test]
    fn transitive_looks_at_every_version() {
        let v1 = s(r#"{"name":"a","type":"int"}"#);
        let v2 = s(r#"{"name":"a","type":"int"},{"name":"b","type":"int","default":0}"#);
        // v3 requires `b` with no default: v2 data has it, v1 data does not.
        let v3 = s(r#"{"name":"a","type":"int"},{"name":"b","type":"int"}"#);
        let old = [(1, &v1), (2, &v2)];
        assert!(Compatibility::Backward.check(&v3, &old).is_empty());
        let problems = Compatibility::BackwardTransitive.check(&v3, &old);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("version 1"), "{problems:?}");
    }
}
