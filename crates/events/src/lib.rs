//! `aisle-events`: Aisle's event contracts.
//!
//! What travels on Aisle's topics, in one place: the Avro schemas (`schemas/*.avsc`, compiled in),
//! a Rust type per schema, the Avro codec, Confluent's wire framing, the default topic names and
//! their specs, and a generic Avro → JSON decoder for `aisle topic dump`.
//!
//! Main items:
//! * [`Event`]: implemented by every value type ([`ShoppingCartObject`], [`SalesRecord`],
//!   [`Inventory`], [`WindowedItem`], [`GreenLightSpecial`], [`SalesForecast`]): `encode`,
//!   `decode`, and `decode_resolving` for data written with another (older or newer) schema;
//! * [`datum_to_json`]: any datum with its writer schema, as `kafka-avro-console-consumer` prints it;
//! * [`wire`]: the 5-byte Confluent header; [`topics`]: names, specs, subjects, store partitions;
//! * [`CodecError`]: what failed, where in the datum, and why;
//! * [`dead_letter`]: the headers every component puts on records it cannot use, and their builder.
//!
//! The codec uses `serde_avro_fast` when the writer schema is the type's own (the hot path) and
//! `apache-avro` to resolve other writer schemas; `benches/codec.rs` measured both (see
//! [`codec`] for the numbers and reasoning).
//!
//! ```
//! use aisle_events::{Event, SalesRecord, topics, wire};
//!
//! let sale = SalesRecord {
//!     item_id: "FOODS_3_090".into(), dept_id: "FOODS_3".into(), cat_id: "FOODS".into(),
//!     store_id: "CA_1".into(), state_id: "CA".into(), day: 1914, sold: 3, sell_price: Some(1.25),
//! };
//! // A framed value for schema id 7, ready for the `sales` topic.
//! let mut value = Vec::new();
//! wire::write_header(&mut value, 7);
//! sale.encode(&mut value)?;
//! assert_eq!(topics::store_partition(&sale.store_id), Some(0));
//!
//! let (id, datum) = wire::split(&value).unwrap();
//! assert_eq!((id, SalesRecord::decode(datum)?), (7, sale.clone()));
//! let json = aisle_events::datum_to_json(SalesRecord::SCHEMA_JSON, datum)?;
//! assert_eq!(json["sell_price"], serde_json::json!({"float": 1.25}));
//! # Ok::<(), aisle_events::CodecError>(())
//! ```
//!
//! # Layout
//! * `schemas`: the `.avsc` texts (current and seed) as constants.
//! * `types`: the Rust value types and their record keys.
//! * `codec`: the [`Event`] trait, parsed-schema caching, fast path vs. resolution.
//! * `json`: [`datum_to_json`], a bounds-checked decoder for untrusted datums.
//! * `json_in`: [`json_to_datum`], Avro JSON encoding to binary (`aisle topic produce`).
//! * `cache`: writer schemas parsed once per distinct text.
//! * `error`: [`CodecError`].
//! * `dead_letter`: the dead-letter header vocabulary and [`dead_letter::DeadLetter`], its builder.
//! * `topics`: default topic names, [`aisle_log::TopicSpec`]s, subjects, M5 store partitions.
//! * `wire`: Confluent's wire format (magic byte 0, 4-byte big-endian schema id, Avro binary).

pub mod cache;
pub mod codec;
pub mod dead_letter;
mod error;
pub mod json;
pub mod json_in;
pub mod schemas;
pub mod topics;
pub mod types;
pub mod wire;

pub use codec::{CompiledSchema, Event};
pub use error::CodecError;
pub use json::datum_to_json;
pub use json_in::json_to_datum;
pub use types::{
    GreenLightSpecial, Inventory, SalesForecast, SalesRecord, ShoppingCartObject, WindowedItem,
    series_id,
};
