//! Reading and writing Confluent-framed Avro: values written with any registered schema version
//! (the 2019 seed schema included) are resolved to Aisle's types; outputs are framed with the
//! ids of their registered schemas.

use aisle_events::{Event, wire};
use aisle_registry::{RegistryError, SchemaRegistry};
use aisle_streams::StreamsError;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// How to decode values carrying one schema id.
#[derive(Clone, Debug)]
enum Plan {
    /// The writer schema is the type's own: the fast decoder.
    Own,
    /// Another version: resolve from this writer schema.
    Resolve(Arc<str>),
}

/// Decodes framed values of `T`, fetching and caching writer schemas by id.
pub struct Decoder<T> {
    registry: Arc<dyn SchemaRegistry>,
    plans: HashMap<u32, Plan>,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Decoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("ids", &self.plans.len())
            .finish()
    }
}

/// Why a value could not be decoded: `Bad` goes to a dead-letter topic, `Unavailable` stops the
/// turn (the registry may come back).
#[derive(Debug)]
pub enum DecodeError {
    /// The record itself is bad (framing, unknown schema id, Avro).
    Bad(String),
    /// The registry could not be asked.
    Unavailable(String),
}

impl From<DecodeError> for StreamsError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Bad(r) => StreamsError::Processor(r),
            DecodeError::Unavailable(r) => StreamsError::Unavailable(r),
        }
    }
}

impl<T: Event> Decoder<T> {
    /// A decoder asking `registry` for unknown ids.
    pub fn new(registry: Arc<dyn SchemaRegistry>) -> Self {
        Decoder {
            registry,
            plans: HashMap::new(),
            _t: PhantomData,
        }
    }

    /// Makes sure the schema id of `value` is known (the only part that may wait).
    pub async fn prepare(&mut self, value: &[u8]) -> Result<(), DecodeError> {
        let Ok((id, _)) = wire::split(value) else {
            return Ok(()); // decode reports it
        };
        if self.plans.contains_key(&id) {
            return Ok(());
        }
        let schema = match self.registry.schema_by_id(id).await {
            Ok(s) => s,
            Err(RegistryError::UnknownSchemaId(_)) => return Ok(()), // decode reports it
            Err(e) => return Err(DecodeError::Unavailable(format!("schema id {id}: {e}"))),
        };
        let own = T::compiled()
            .map(|c| *c.schema() == schema.parsed)
            .unwrap_or(false);
        let plan = if own {
            Plan::Own
        } else {
            Plan::Resolve(Arc::from(schema.schema_json.as_str()))
        };
        self.plans.insert(id, plan);
        Ok(())
    }

    /// Decodes a framed value whose id [`Decoder::prepare`] has seen.
    pub fn decode(&self, value: &[u8]) -> Result<T, DecodeError> {
        let (id, datum) =
            wire::split(value).map_err(|e| DecodeError::Bad(format!("not Confluent Avro: {e}")))?;
        match self.plans.get(&id) {
            None => Err(DecodeError::Bad(format!(
                "schema id {id} is not in the registry"
            ))),
            Some(Plan::Own) => T::decode(datum).map_err(|e| DecodeError::Bad(e.to_string())),
            Some(Plan::Resolve(writer)) => T::decode_resolving(writer, datum)
                .map_err(|e| DecodeError::Bad(format!("schema id {id}: {e}"))),
        }
    }
}

/// Encodes `value` framed with `schema_id`.
pub fn encode<T: Event>(schema_id: u32, value: &T) -> Result<Vec<u8>, StreamsError> {
    let mut out = Vec::with_capacity(128);
    wire::write_header(&mut out, schema_id);
    value
        .encode(&mut out)
        .map_err(|e| StreamsError::Processor(format!("encoding {}: {e}", T::FULL_NAME)))?;
    Ok(out)
}
