//! Compatibility with the system Aisle replaces: cart objects written by the 2019 producers —
//! seed Avro schema registered first, Confluent framing, keys `camera_0` or class names, no
//! store — are resolved with their writer schema and processed correctly
//! (`tests/golden/greenlight/compat/seed_producers.json`), on the embedded runtime and on Kafka.

use crate::greenlight_support::*;
use aisle_log::Log;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use std::sync::Arc;

const SCENARIO: &str = "compat/seed_producers";

#[test]
fn seed_schema_records_on_embedded() {
    let s = load(SCENARIO);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = dir.path().join("greenlight.log");
    let names = Names::new("glc");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let open = || -> Arc<dyn Log> {
        Arc::new(EmbeddedLog::open(&data, EmbeddedConfig::default()).unwrap())
    };
    rt.block_on(async {
        let log = open();
        let store = SchemaStore::open(log.clone()).await.unwrap();
        let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(store.clone()));
        produce_with(&log, &registry, &s, &names, 1, true).await;
        // The subject's first version is the seed schema, as the 2019 producers registered it.
        let first = store
            .version(
                &format!("{}-value", names.input),
                aisle_registry::VersionSel::Number(1),
            )
            .unwrap();
        assert!(!first.schema.schema_json.contains("store_id"));
    });
    let mut cmd = greenlight_cmd(&data_dir_args(&data), &s, &names, "a", &stderr);
    cmd.args(["--duration", "5"]);
    run_to_end(cmd, &stderr);
    let got = rt.block_on(async { read_outputs(&open(), &names).await });
    assert_eq!(got.dlq, 0, "seed records are not bad records");
    assert_eq!(got, Outputs::expected(&s), "{}", s.description);
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_schema_records_on_kafka() {
    kafka_seed(SCENARIO).await;
}
