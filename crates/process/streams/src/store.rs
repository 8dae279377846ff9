//! [`ChangelogStore`]: a key-value state store for one task (one input partition), backed by a
//! partition of a compacted changelog topic.
//!
//! Writes go to memory and mark the key dirty; [`ChangelogStore::drain_changes`] turns the dirty
//! keys into changelog records (the value as JSON, or a tombstone), which the exactly-once loop
//! sends in the same transaction as the task's outputs and input offsets. So the changelog always
//! matches the committed input position, and [`ChangelogStore::restore`] (reading the changelog
//! partition to its end, committed records only) rebuilds exactly the state at the last commit.

use crate::error::{Result, StreamsError};
use aisle_log::{Log, ProduceRecord, TopicPartition};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};

/// One task's state with its changelog partition.
#[derive(Debug)]
pub struct ChangelogStore<V> {
    changelog: TopicPartition,
    entries: BTreeMap<String, V>,
    dirty: BTreeSet<String>,
}

impl<V: Serialize + DeserializeOwned> ChangelogStore<V> {
    /// An empty store writing to `changelog`.
    pub fn new(changelog: TopicPartition) -> Self {
        ChangelogStore {
            changelog,
            entries: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// The store as of the last committed transaction: its changelog partition read to the end.
    pub async fn restore(log: &dyn Log, changelog: TopicPartition) -> Result<Self> {
        let mut store = Self::new(changelog.clone());
        let name = changelog.to_string();
        let mut bad = None;
        let n = crate::read::read_to_end(
            log,
            std::slice::from_ref(&changelog),
            "aisle-streams-restore",
            |rec| {
                let Some(key) = rec.key.as_ref().and_then(|k| std::str::from_utf8(k).ok()) else {
                    bad = Some(format!("record at offset {} has no UTF-8 key", rec.offset));
                    return Ok(());
                };
                match &rec.value {
                    None => {
                        store.entries.remove(key);
                    }
                    Some(v) => match serde_json::from_slice(v) {
                        Ok(v) => {
                            store.entries.insert(key.to_owned(), v);
                        }
                        Err(e) => bad = Some(format!("offset {}: {e}", rec.offset)),
                    },
                }
                Ok(())
            },
        )
        .await?;
        if let Some(reason) = bad {
            return Err(StreamsError::State {
                store: name,
                reason,
            });
        }
        tracing::debug!(changelog = %name, records = n, keys = store.entries.len(), "state restored");
        Ok(store)
    }

    /// The changelog partition.
    pub fn changelog(&self) -> &TopicPartition {
        &self.changelog
    }

    /// A value.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key)
    }

    /// A value to change in place (marks the key dirty).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let v = self.entries.get_mut(key)?;
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_owned());
        }
        Some(v)
    }

    /// The value of `key`, inserted with `make` if missing (marks the key dirty).
    pub fn entry(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_owned());
        }
        // Not `entries.entry(key.to_owned())`: that allocates the key on every call.
        if !self.entries.contains_key(key) {
            self.entries.insert(key.to_owned(), make());
        }
        self.entries
            .get_mut(key)
            .expect("the key was present or just inserted")
    }

    /// Sets a value.
    pub fn put(&mut self, key: &str, value: V) {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_owned());
        }
        match self.entries.get_mut(key) {
            Some(v) => *v = value,
            None => {
                self.entries.insert(key.to_owned(), value);
            }
        }
    }

    /// Removes a value (a tombstone in the changelog).
    pub fn delete(&mut self, key: &str) -> Option<V> {
        self.dirty.insert(key.to_owned());
        self.entries.remove(key)
    }

    /// Every entry, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.entries.iter()
    }

    /// Entries whose key starts with `prefix`, by key.
    pub fn range_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a V)> {
        self.entries
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The changelog records for every key changed since the last call, then forgets them.
    pub fn drain_changes(&mut self) -> Result<Vec<ProduceRecord>> {
        let mut out = Vec::with_capacity(self.dirty.len());
        for key in std::mem::take(&mut self.dirty) {
            let mut rec = ProduceRecord::new(self.changelog.topic.clone())
                .partition(self.changelog.partition)
                .key(key.clone().into_bytes());
            if let Some(v) = self.entries.get(&key) {
                let json = serde_json::to_vec(v).map_err(|e| StreamsError::State {
                    store: self.changelog.to_string(),
                    reason: format!("cannot serialise `{key}`: {e}"),
                })?;
                rec = rec.value(json);
            }
            out.push(rec);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_become_records_and_tombstones() {
        let mut s: ChangelogStore<u32> = ChangelogStore::new(TopicPartition::new("cl", 3));
        s.put("a", 1);
        *s.entry("b", || 0) += 2;
        s.put("c", 3);
        s.delete("c");
        let recs = s.drain_changes().unwrap();
        assert_eq!(recs.len(), 3);
        assert!(recs.iter().all(|r| r.partition == Some(3)));
        assert_eq!(recs[1].value.as_deref(), Some(&b"2"[..]));
        assert_eq!(recs[2].value, None);
        assert!(s.drain_changes().unwrap().is_empty());
        assert_eq!(s.range_prefix("a").count(), 1);
    }
}
