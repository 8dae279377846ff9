//! `aisle-events`: Aisle's event contracts.
//!
//! # Layout
//! * `wire`: Confluent's wire format (magic byte 0, 4-byte big-endian schema id, Avro binary).

pub mod wire;
