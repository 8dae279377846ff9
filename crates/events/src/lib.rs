//! `aisle-events`: Aisle's event contracts: Rust types for the Avro schemas, the Avro codec, Confluent wire framing, topic names.
