//! `aisle-serde`: values of Aisle's topics as Confluent-framed Avro, through a schema registry.
//!
//! Every component reads and writes its topics through these two types, so a value written by
//! any Confluent client (or by an older Aisle, with an older schema version) reads the same
//! everywhere:
//!
//! * [`Serializer<T>`]: registers `T`'s schema under a subject once, then frames each value with
//!   the id the registry gave (magic byte, 4-byte id, Avro binary; [`aisle_events::wire`]).
//! * [`Deserializer<T>`]: a plan per schema id, asked of the registry the first time the id is
//!   seen and cached for the life of the deserializer. The writer schema that is `T`'s own
//!   decodes on the fast path; any other version is resolved to `T` by Avro's rules. Asking
//!   the registry is the only part that waits, so it is split out: [`Deserializer::prepare`]
//!   (async, before a batch) and [`Deserializer::decode`] (sync, per record).
//!   [`Deserializer::decode_blocking`] is the one bridge for synchronous callers (a table
//!   decoder called inside the streams loop).
//! * [`DecodeError`]: `Bad` (framing, an id the registry does not have, Avro that does not
//!   decode: the record goes to the dead-letter topic, [`aisle_events::dead_letter`]) or
//!   `Unavailable` (the registry could not be asked: retry, the record is not bad).
//!
//! ```
//! # async fn demo(registry: std::sync::Arc<dyn aisle_registry::SchemaRegistry>) -> Result<(), Box<dyn std::error::Error>> {
//! use aisle_events::SalesRecord;
//! use aisle_serde::{Deserializer, Serializer};
//!
//! let ser = Serializer::<SalesRecord>::register(&*registry, "sales-value").await?;
//! let row = SalesRecord { item_id: "FOODS_3_090".into(), dept_id: "FOODS_3".into(), cat_id: "FOODS".into(),
//!     store_id: "CA_1".into(), state_id: "CA".into(), day: 1914, sold: 3, sell_price: Some(1.25) };
//! let bytes = ser.serialize(&row)?;
//!
//! let de = Deserializer::<SalesRecord>::new(registry);
//! de.prepare(&bytes).await?;
//! assert_eq!(de.decode(&bytes)?, row);
//! # Ok(()) }
//! ```

use aisle_events::{Event, wire};
use aisle_registry::{RegistryError, SchemaRegistry};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// Why a value could not be decoded (or encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The record itself is bad (framing, a schema id the registry does not have, Avro): send
    /// it to the dead-letter topic.
    #[error("{0}")]
    Bad(String),
    /// The registry could not be asked: try again later, the record may be fine.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
}

/// Why a value could not be framed, or its schema registered.
#[derive(Debug, thiserror::Error)]
pub enum SerializeError {
    /// The registry refused or could not be reached.
    #[error("registering {subject}: {source}")]
    Register {
        /// The subject.
        subject: String,
        /// What the registry said.
        source: RegistryError,
    },
    /// The value does not fit its schema.
    #[error(transparent)]
    Encode(#[from] aisle_events::CodecError),
}

/// Frames values of `T` with the id of `T`'s schema. Cheap to copy (it is the id).
#[derive(Debug)]
pub struct Serializer<T> {
    id: u32,
    _t: PhantomData<fn(&T)>,
}

// By hand: derived impls would ask `T: Clone`/`T: Copy`, and values need neither.
impl<T> Clone for Serializer<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Serializer<T> {}

impl<T: Event> Serializer<T> {
    /// Registers `T`'s schema under `subject` (a no-op for the registry if it is there) and
    /// returns a serializer framing with its id.
    pub async fn register(
        registry: &dyn SchemaRegistry,
        subject: &str,
    ) -> Result<Self, SerializeError> {
        let id = registry
            .register(subject, T::SCHEMA_JSON)
            .await
            .map_err(|source| SerializeError::Register {
                subject: subject.to_owned(),
                source,
            })?;
        Ok(Self::with_id(id))
    }

    /// A serializer framing with an id registered elsewhere (benchmarks, tests).
    pub fn with_id(id: u32) -> Self {
        Serializer {
            id,
            _t: PhantomData,
        }
    }

    /// The schema id values are framed with.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// `value`, framed.
    pub fn serialize(&self, value: &T) -> Result<Vec<u8>, SerializeError> {
        let mut out = Vec::with_capacity(128);
        self.serialize_into(value, &mut out)?;
        Ok(out)
    }

    /// Appends `value`, framed, to `out` (left as it was on error).
    pub fn serialize_into(&self, value: &T, out: &mut Vec<u8>) -> Result<(), SerializeError> {
        let start = out.len();
        wire::write_header(out, self.id);
        value.encode(out).inspect_err(|_| out.truncate(start))?;
        Ok(())
    }
}

/// How to decode values carrying one schema id.
#[derive(Clone, Debug)]
enum Plan {
    /// The writer schema is the type's own: the fast decoder.
    Own,
    /// Another version: resolve from this writer schema.
    Resolve(Arc<str>),
    /// The registry did not have the id when last asked: values with it are bad.
    Unknown,
}

/// Decodes framed values of `T`, asking the registry for each writer schema id once.
///
/// Shared freely (`&self` everywhere; clones share the cache).
#[derive(Clone)]
pub struct Deserializer<T> {
    registry: Arc<dyn SchemaRegistry>,
    plans: Arc<RwLock<HashMap<u32, Plan>>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Deserializer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deserializer")
            .field("ids", &self.plans.read().len())
            .finish()
    }
}

impl<T: Event> Deserializer<T> {
    /// A deserializer asking `registry` for ids it has not seen.
    pub fn new(registry: Arc<dyn SchemaRegistry>) -> Self {
        Deserializer {
            registry,
            plans: Arc::default(),
            _t: PhantomData,
        }
    }

    /// Makes sure the schema id of `value` is known: the only part that waits. Values that are
    /// not framed are left for [`Deserializer::decode`] to call bad.
    pub async fn prepare(&self, value: &[u8]) -> Result<(), DecodeError> {
        let Ok((id, _)) = wire::split(value) else {
            return Ok(());
        };
        if matches!(
            self.plans.read().get(&id),
            Some(Plan::Own | Plan::Resolve(_))
        ) {
            return Ok(());
        }
        // Unknown ids are asked again: a schema may be registered after its first record.
        let plan = self.plan_for(id).await?;
        self.plans.write().insert(id, plan);
        Ok(())
    }

    /// [`Deserializer::prepare`] for every value of a batch.
    pub async fn prepare_all<'a>(
        &self,
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), DecodeError> {
        for v in values {
            self.prepare(v).await?;
        }
        Ok(())
    }

    async fn plan_for(&self, id: u32) -> Result<Plan, DecodeError> {
        let schema = match self.registry.schema_by_id(id).await {
            Ok(s) => s,
            Err(RegistryError::UnknownSchemaId(_)) => return Ok(Plan::Unknown),
            Err(e) => return Err(DecodeError::Unavailable(format!("schema id {id}: {e}"))),
        };
        let own = T::compiled()
            .map(|c| *c.schema() == schema.parsed)
            .unwrap_or(false);
        Ok(if own {
            Plan::Own
        } else {
            Plan::Resolve(Arc::from(schema.schema_json.as_str()))
        })
    }

    /// Decodes a framed value whose id [`Deserializer::prepare`] has seen; an id not prepared
    /// is [`DecodeError::Unavailable`] (a caller's mistake that a retry after `prepare` fixes).
    pub fn decode(&self, value: &[u8]) -> Result<T, DecodeError> {
        let (id, datum) =
            wire::split(value).map_err(|e| DecodeError::Bad(format!("not Confluent Avro: {e}")))?;
        let plan = self.plans.read().get(&id).cloned();
        match plan {
            None => Err(DecodeError::Unavailable(format!(
                "schema id {id} was not looked up before decoding"
            ))),
            Some(Plan::Unknown) => Err(DecodeError::Bad(format!(
                "schema id {id} is not in the registry"
            ))),
            Some(Plan::Own) => T::decode(datum).map_err(|e| DecodeError::Bad(e.to_string())),
            Some(Plan::Resolve(writer)) => T::decode_resolving(&writer, datum)
                .map_err(|e| DecodeError::Bad(format!("schema id {id}: {e}"))),
        }
    }

    /// [`Deserializer::prepare`] then [`Deserializer::decode`] for a synchronous caller inside a
    /// multi-threaded tokio runtime: the first value with a new id blocks this worker on the
    /// registry (`block_in_place`); every later one decodes without waiting.
    pub fn decode_blocking(&self, value: &[u8]) -> Result<T, DecodeError> {
        if let Ok((id, _)) = wire::split(value)
            && !self.plans.read().contains_key(&id)
        {
            let handle = tokio::runtime::Handle::try_current().map_err(|_| {
                DecodeError::Unavailable(format!("schema id {id}: no tokio runtime to ask in"))
            })?;
            tokio::task::block_in_place(|| handle.block_on(self.prepare(value)))?;
        }
        self.decode(value)
    }

    /// The schema ids seen so far.
    pub fn known_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.plans.read().keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests;
