//! The [`Event`] trait: Avro binary encoding and decoding of Aisle's value types.
//!
//! # Two libraries, each where it is best
//! `serde_avro_fast` decodes straight from bytes into Rust structs; `apache-avro` decodes into its
//! generic `Value` tree first (a `String` per field name, a `Vec` per record) and then into the
//! struct. `benches/codec.rs`, release build, 2-core shared VM, 2026-11-22 (ns per record, median;
//! the machine was busy, so +-10%):
//!
//! | record             | encode: apache `Value` | apache direct | serde_avro_fast | decode: apache | serde_avro_fast |
//! |--------------------|-----------------------:|--------------:|----------------:|---------------:|----------------:|
//! | SalesRecord        |                  3,050 |           290 |             225 |          2,050 |             445 |
//! | ShoppingCartObject |                  3,680 |           435 |             397 |          1,930 |             383 |
//!
//! Both libraries write byte-identical datums (tested for every type). Decoding, the consumers'
//! hot path, is 4-5x faster with `serde_avro_fast`; encoding is close to `apache-avro`'s direct
//! serializer and 10x faster than its `Value` path. `serde_avro_fast` cannot resolve a writer
//! schema to a different reader schema, which `apache-avro` can. So:
//! * [`Event::encode`] and [`Event::decode`] use `serde_avro_fast` with the type's own schema;
//! * [`Event::decode_resolving`] takes the same fast path when the writer schema has the same
//!   Parsing Canonical Form as the type's schema (identical binary layout, whatever the docs,
//!   defaults or whitespace), and otherwise uses `apache-avro`'s schema resolution (missing
//!   fields take defaults, promotions, reordered fields): about 3.2 us per seed cart record.
//! * Registry compatibility checks use `apache-avro` ([`CompiledSchema::schema`]).

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CodecError;
use crate::cache::{self, WriterSchema};

/// One value type's schema, parsed once for each library.
#[derive(Debug)]
pub struct CompiledSchema {
    /// For `serde_avro_fast` (the fast path).
    pub fast: serde_avro_fast::Schema,
    /// For `apache-avro` (resolution, compatibility checks) plus its canonical form.
    pub avro: Arc<WriterSchema>,
}

impl CompiledSchema {
    /// Parses `text` with both libraries.
    pub fn parse(text: &str) -> Result<Self, CodecError> {
        let avro = cache::writer_schema(text)?;
        let fast = text
            .parse::<serde_avro_fast::Schema>()
            .map_err(|e| CodecError::Schema {
                schema: cache::label(text),
                detail: e.to_string(),
            })?;
        Ok(CompiledSchema { fast, avro })
    }

    /// The `apache-avro` schema, e.g. for compatibility checks.
    pub fn schema(&self) -> &apache_avro::Schema {
        &self.avro.schema
    }
}

/// A value type of one of Aisle's topics, tied to its `.avsc` schema.
///
/// Implemented by every type in [`crate::types`]. Encodings are Avro binary datums without framing;
/// add the Confluent header with [`crate::wire`].
pub trait Event: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The schema text, exactly the `.avsc` file.
    const SCHEMA_JSON: &'static str;
    /// The record's full name, e.g. `m5.forecasting.avro.SalesRecord`.
    const FULL_NAME: &'static str;

    /// The parsed schema, parsed on first use and cached for the life of the process.
    fn compiled() -> Result<&'static CompiledSchema, CodecError>;

    /// Appends the Avro binary encoding of `self` to `out`. On error `out` is left as it was.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let compiled = Self::compiled()?;
        let start = out.len();
        let mut config = serde_avro_fast::ser::SerializerConfig::new(&compiled.fast);
        let result = serde_avro_fast::to_datum(self, &mut *out, &mut config).map(drop);
        result.map_err(|e| {
            out.truncate(start);
            CodecError::Encode {
                record: Self::FULL_NAME,
                detail: e.to_string(),
            }
        })
    }

    /// The Avro binary encoding of `self` in a new buffer.
    fn to_datum(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes a datum written with [`Self::SCHEMA_JSON`] (or a schema with the same canonical form).
    /// Bytes left over after the value are an error: they mean the datum was written with another
    /// schema.
    fn decode(datum: &[u8]) -> Result<Self, CodecError> {
        let compiled = Self::compiled()?;
        decode_fast(&compiled.fast, Self::FULL_NAME, datum)
    }

    /// Decodes a datum written with `writer_schema_json`, resolving it to this type's schema by
    /// Avro's rules (e.g. a seed `shopping_cart_objects` record, without `store_id`, reads with
    /// `store_id: None`). Writer schemas are parsed once per distinct text.
    fn decode_resolving(writer_schema_json: &str, datum: &[u8]) -> Result<Self, CodecError> {
        let compiled = Self::compiled()?;
        if writer_schema_json == Self::SCHEMA_JSON {
            return decode_fast(&compiled.fast, Self::FULL_NAME, datum);
        }
        let writer = cache::writer_schema(writer_schema_json)?;
        if writer.canonical == compiled.avro.canonical {
            return decode_fast(&compiled.fast, Self::FULL_NAME, datum);
        }
        decode_resolved::<Self>(&writer, compiled, datum)
    }
}

fn decode_fast<T: DeserializeOwned>(
    schema: &serde_avro_fast::Schema,
    record: &str,
    datum: &[u8],
) -> Result<T, CodecError> {
    use std::io::BufRead;
    let mut state = serde_avro_fast::de::DeserializerState::from_slice(datum, schema);
    let value = T::deserialize(state.deserializer()).map_err(|e| CodecError::Decode {
        record: record.to_owned(),
        len: datum.len(),
        detail: e.to_string(),
    })?;
    let mut rest = state.into_reader();
    let trailing = rest.fill_buf().map(|b| b.len()).unwrap_or(0);
    if trailing > 0 {
        return Err(CodecError::TrailingBytes {
            offset: datum.len() - trailing,
            trailing,
        });
    }
    Ok(value)
}

fn decode_resolved<T: Event>(
    writer: &WriterSchema,
    reader: &CompiledSchema,
    datum: &[u8],
) -> Result<T, CodecError> {
    let mut input = datum;
    let decode_err = |detail: String| CodecError::Decode {
        record: writer_name(writer),
        len: datum.len(),
        detail,
    };
    let value = apache_avro::from_avro_datum(&writer.schema, &mut input, None)
        .map_err(|e| decode_err(e.to_string()))?;
    if !input.is_empty() {
        return Err(CodecError::TrailingBytes {
            offset: datum.len() - input.len(),
            trailing: input.len(),
        });
    }
    let resolved = value
        .resolve(reader.schema())
        .map_err(|e| CodecError::Incompatible {
            writer: writer_name(writer),
            record: T::FULL_NAME,
            detail: e.to_string(),
        })?;
    apache_avro::from_value::<T>(&resolved).map_err(|e| CodecError::Decode {
        record: T::FULL_NAME.to_owned(),
        len: datum.len(),
        detail: e.to_string(),
    })
}

fn writer_name(writer: &WriterSchema) -> String {
    match &writer.schema {
        apache_avro::Schema::Record(r) => r.name.fullname(None),
        other => other.canonical_form(),
    }
}

/// Implements [`Event`] for a type with the schema text in `$schema`.
macro_rules! impl_event {
    ($ty:ty, $full_name:literal, $schema:expr) => {
        impl $crate::codec::Event for $ty {
            const SCHEMA_JSON: &'static str = $schema;
            const FULL_NAME: &'static str = $full_name;

            fn compiled() -> Result<&'static $crate::codec::CompiledSchema, $crate::CodecError> {
                static SCHEMA: std::sync::OnceLock<
                    Result<$crate::codec::CompiledSchema, $crate::CodecError>,
                > = std::sync::OnceLock::new();
                SCHEMA
                    .get_or_init(|| $crate::codec::CompiledSchema::parse($schema))
                    .as_ref()
                    .map_err(Clone::clone)
            }
        }
    };
}
pub(crate) use impl_event;
