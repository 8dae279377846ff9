//! The conformance suite on a real Kafka broker, named by `AISLE_TEST_KAFKA` (bootstrap servers).
//!
//! Without it every case prints `skipped: set AISLE_TEST_KAFKA` and passes, unless
//! `AISLE_REQUIRE_KAFKA=1` (CI), where a missing broker fails every case.

aisle_testkit::conformance_suite!(aisle_testkit::KafkaFixture::from_env());
