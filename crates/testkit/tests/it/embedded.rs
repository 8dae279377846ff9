//! The conformance suite on the embedded runtime: a fresh temporary data directory per case.

aisle_testkit::conformance_suite!(Some(aisle_testkit::EmbeddedFixture::new()));
