//! `aisle-registry`: Aisle's schema registry, a Confluent-compatible server that keeps its state
//! in the `_schemas` topic of whichever log runs, and the caching client every producer and
//! consumer uses.
//!
//! Values on Aisle topics use Confluent's wire format (magic byte, 4-byte schema id, Avro), so
//! the id must mean the same schema to Aisle, to Confluent's serializers and to ksqlDB. This
//! crate provides that id space:
//!
//! * [`SchemaStore`]: subjects, versions, global ids and compatibility levels, rebuilt at start by
//!   reading `_schemas` through the [`aisle_log::Log`] trait (it asks only `runtime()`, to pick
//!   its writer) and written back in Confluent's own record format. On Kafka every writing process
//!   shares one transactional id, so one of them at a time can commit and ids never collide
//!   (see `writer.rs`); embedded has one writer process.
//! * [`serve`] / [`router`]: the REST endpoints Confluent's clients and tools use (axum).
//! * [`SchemaRegistry`]: what components call: [`HttpRegistry`] (reqwest, caches) for the Kafka
//!   runtime, [`LocalRegistry`] (in-process) for the embedded one.
//! * [`Compatibility`]: NONE, BACKWARD (default), FORWARD, FULL and their transitive forms,
//!   checked with `apache_avro::schema_compatibility`.
//!
//! # Example
//!
//! ```
//! use aisle_registry::{Compatibility, VersionSel};
//! use apache_avro::Schema;
//!
//! let v1 = Schema::parse_str(r#"{"type":"record","name":"Sale","fields":[
//!     {"name":"item","type":"string"}]}"#).unwrap();
//! // A new field with a default: readers on v2 can still read v1 data.
//! let v2 = Schema::parse_str(r#"{"type":"record","name":"Sale","fields":[
//!     {"name":"item","type":"string"},{"name":"qty","type":"int","default":1}]}"#).unwrap();
//! assert!(Compatibility::Backward.check(&v2, &[(1, &v1)]).is_empty());
//! // Without the default, v2 cannot read v1 data: the registry would refuse it.
//! let bad = Schema::parse_str(r#"{"type":"record","name":"Sale","fields":[
//!     {"name":"item","type":"string"},{"name":"qty","type":"int"}]}"#).unwrap();
//! assert!(!Compatibility::Backward.check(&bad, &[(1, &v1)]).is_empty());
//! assert_eq!(VersionSel::parse("latest").unwrap(), VersionSel::Latest);
//! ```
//!
//! Serving over any log (not run here: it binds a port):
//!
//! ```no_run
//! # async fn run(log: std::sync::Arc<dyn aisle_log::Log>) -> Result<(), aisle_registry::RegistryError> {
//! use aisle_registry::{HttpRegistry, SchemaRegistry, SchemaStore, serve};
//! let store = SchemaStore::open(log).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! tokio::spawn(serve(store, listener, std::future::pending()));
//! let client = HttpRegistry::new("http://127.0.0.1:8081")?;
//! let id = client.register("sales-value", r#""string""#).await?;
//! assert_eq!(client.schema_by_id(id).await?.schema_json, r#""string""#);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! * `error.rs`: [`RegistryError`] and Confluent's error codes.
//! * `schema.rs`: parsing, schema identity, [`RegisteredSchema`], [`SubjectVersion`].
//! * `compat.rs`: [`Compatibility`] levels and the check.
//! * `records.rs`: the `_schemas` record format (Confluent's).
//! * `state.rs`: the in-memory fold of those records, queries, the registration plan.
//! * `store.rs`: [`SchemaStore`]: reading and writing `_schemas` through the log.
//! * `server.rs`: the REST API.
//! * `client.rs`: [`SchemaRegistry`], [`HttpRegistry`], [`LocalRegistry`].

mod client;
mod compat;
mod error;
mod records;
mod schema;
mod server;
mod state;
mod store;
mod writer;

pub use client::{HttpRegistry, LocalRegistry, SchemaRegistry};
pub use compat::Compatibility;
pub use error::{RegistryError, Result};
pub use schema::{RegisteredSchema, SubjectVersion};
pub use server::{CONTENT_TYPE, router, serve};
pub use state::VersionSel;
pub use store::{Registered, SchemaStore, StoreConfig, transactional_id};
