//! `aisle-registry`: Schema registry: a caching client and a Confluent-compatible server that stores schemas in the _schemas topic.
