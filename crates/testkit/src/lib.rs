//! `aisle-testkit`: Shared test fixtures and the log conformance suite run against both runtimes.
