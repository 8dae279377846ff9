//! The store and server over the real embedded runtime (`aisle-log-embedded`), including a
//! restart of the whole log from its directory.

use std::sync::Arc;

use aisle_log::{CleanupPolicy, Log};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{
    Compatibility, HttpRegistry, RegistryError, SchemaRegistry, SchemaStore, VersionSel, serve,
};

const V1: &str = r#"{"type":"record","name":"Inventory","namespace":"io.aisle","fields":[{"name":"name","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Inventory","namespace":"io.aisle","fields":[{"name":"name","type":"string"},{"name":"count","type":"long","default":0}]}"#;
const BAD: &str = r#"{"type":"record","name":"Inventory","namespace":"io.aisle","fields":[{"name":"name","type":"long"}]}"#;

fn open(dir: &std::path::Path) -> Arc<dyn Log> {
    Arc::new(EmbeddedLog::open(dir, EmbeddedConfig::default()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_survives_a_restart_of_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open(dir.path());
        let store = SchemaStore::open(log.clone()).await.unwrap();
        let info = log.describe_topic("_schemas").await.unwrap();
        assert_eq!((info.partitions, info.cleanup), (1, CleanupPolicy::Compact));
        assert_eq!(store.register("inventory-value", V1).await.unwrap().id, 1);
        assert_eq!(store.register("inventory-value", V2).await.unwrap().id, 2);
        assert_eq!(store.register("other-value", V1).await.unwrap().id, 1);
        store
            .set_compatibility(Some("other-value"), Compatibility::Full)
            .await
            .unwrap();
        let err = store.register("inventory-value", BAD).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::Incompatible { ref subject, .. } if subject == "inventory-value")
        );
        drop(store);
        drop(log);
    }
    let log = open(dir.path());
    let store = SchemaStore::open(log).await.unwrap();
    assert_eq!(store.subjects(), vec!["inventory-value", "other-value"]);
    assert_eq!(store.versions("inventory-value").unwrap(), vec![1, 2]);
    assert_eq!(
        store
            .version("inventory-value", VersionSel::Latest)
            .unwrap()
            .schema
            .id,
        2
    );
    assert_eq!(store.schema_by_id(1).unwrap().schema_json, V1);
    assert_eq!(
        store.subject_compatibility("other-value"),
        Some(Compatibility::Full)
    );
    // Registering again finds the existing ids; a new schema continues the id sequence.
    assert_eq!(store.register("inventory-value", V2).await.unwrap().id, 2);
    assert_eq!(
        store
            .register("third-value", r#""string""#)
            .await
            .unwrap()
            .id,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_over_the_embedded_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = SchemaStore::open(open(dir.path())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(store.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let client = HttpRegistry::new(&url).unwrap();
    let id = client.register("inventory-value", V1).await.unwrap();
    assert_eq!(client.schema_by_id(id).await.unwrap().schema_json, V1);
    assert_eq!(
        client.register("inventory-value", V2).await.unwrap(),
        id + 1
    );
    assert_eq!(client.latest("inventory-value").await.unwrap().version, 2);
    assert!(matches!(
        client.register("inventory-value", BAD).await,
        Err(RegistryError::Incompatible { .. })
    ));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Several stores one process opens over its embedded log (a component, a test's producer, a
/// registry server) registering different schemas at the same moment never give one id to two
/// schemas: they share the transactional writer, and a fenced one plans again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_over_one_embedded_log_never_share_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(SchemaStore::open(log.clone()).await.unwrap());
    }
    let mut tasks = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        for round in 0..5 {
            let store = store.clone();
            let schema = format!(
                r#"{{"type":"record","name":"S{i}x{round}","fields":[{{"name":"f","type":"long"}}]}}"#
            );
            tasks.push(tokio::spawn(async move {
                let id = store
                    .register(&format!("s{i}x{round}-value"), &schema)
                    .await
                    .unwrap()
                    .id;
                (schema, id)
            }));
        }
    }
    let mut by_id = std::collections::BTreeMap::new();
    for t in tasks {
        let (schema, id) = t.await.unwrap();
        if let Some(other) = by_id.insert(id, schema.clone()) {
            panic!("id {id} given to {other} and to {schema}");
        }
    }
    assert_eq!(by_id.len(), 20);
    // Each store, opened before the others registered, finds their ids: a reader of records
    // asks for an id it has not seen and the store reads the topic again.
    for store in &stores {
        let reader = aisle_registry::LocalRegistry::new(store.clone());
        for (id, schema) in &by_id {
            assert_eq!(&reader.schema_by_id(*id).await.unwrap().schema_json, schema);
        }
    }
    // A store opened afterwards reads the same twenty ids.
    let fresh = SchemaStore::open(log).await.unwrap();
    for (id, schema) in &by_id {
        assert_eq!(&fresh.schema_by_id(*id).unwrap().schema_json, schema);
    }
}
