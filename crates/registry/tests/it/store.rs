//! The schema store over a real `Log` implementation (the in-memory test double).

use crate::support;

use aisle_log::{CleanupPolicy, Log, ProduceRecord};
use aisle_registry::{
    Compatibility, LocalRegistry, RegistryError, SchemaRegistry, SchemaStore, VersionSel,
};
use support::MemLogHandle;

fn record(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"Cart","namespace":"io.aisle","fields":[{fields}]}}"#)
}

const A: &str = r#"{"name":"item","type":"string"}"#;
const B_DEFAULT: &str = r#"{"name":"qty","type":"int","default":1}"#;
const B_NO_DEFAULT: &str = r#"{"name":"qty","type":"int"}"#;

#[tokio::test]
async fn creates_a_compacted_single_partition_topic() {
    let mem = MemLogHandle::new();
    let _store = SchemaStore::open(mem.log()).await.unwrap();
    let info = mem.describe_topic("_schemas").await.unwrap();
    assert_eq!((info.partitions, info.cleanup), (1, CleanupPolicy::Compact));
}

#[tokio::test]
async fn ids_versions_and_reuse() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    let v1 = record(A);
    let r1 = store.register("cart-value", &v1).await.unwrap();
    assert_eq!((r1.id, r1.version, r1.created), (1, 1, true));
    // Same schema, other spelling: the existing version, nothing written.
    let respelled = v1.replace(',', " , ");
    let again = store.register("cart-value", &respelled).await.unwrap();
    assert_eq!((again.id, again.version, again.created), (1, 1, false));
    assert_eq!(mem.0.records("_schemas", 0).len(), 1);
    // Same schema under another subject keeps the global id.
    let other = store.register("other-value", &v1).await.unwrap();
    assert_eq!((other.id, other.version), (1, 1));
    let v2 = store
        .register("cart-value", &record(&format!("{A},{B_DEFAULT}")))
        .await
        .unwrap();
    assert_eq!((v2.id, v2.version), (2, 2));
    assert_eq!(store.subjects(), vec!["cart-value", "other-value"]);
    assert_eq!(store.versions("cart-value").unwrap(), vec![1, 2]);
    let latest = store.version("cart-value", VersionSel::Latest).unwrap();
    assert_eq!((latest.version, latest.schema.id), (2, 2));
    assert_eq!(store.schema_by_id(1).unwrap().schema_json, v1);
    assert_eq!(
        store.id_versions(1).unwrap(),
        vec![
            ("cart-value".to_string(), 1),
            ("other-value".to_string(), 1)
        ]
    );
    let found = store.lookup("cart-value", &respelled).unwrap();
    assert_eq!((found.version, found.schema.id), (1, 1));
    assert!(matches!(
        store.lookup("other-value", &record(B_NO_DEFAULT)),
        Err(RegistryError::SchemaNotFound { .. })
    ));
    assert!(matches!(
        store.schema_by_id(99),
        Err(RegistryError::UnknownSchemaId(99))
    ));
    assert!(matches!(store.versions("nope"), Err(RegistryError::UnknownSubject(s)) if s == "nope"));
}

#[tokio::test]
async fn records_use_confluents_format() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    store.register("s", r#""string""#).await.unwrap();
    store
        .set_compatibility(None, Compatibility::Full)
        .await
        .unwrap();
    let recs = mem.0.records("_schemas", 0);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        std::str::from_utf8(recs[0].key.as_ref().unwrap()).unwrap(),
        r#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#
    );
    let value: serde_json::Value = serde_json::from_slice(recs[0].value.as_ref().unwrap()).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"subject":"s","version":1,"id":1,"schema":"\"string\"","deleted":false})
    );
    assert_eq!(
        std::str::from_utf8(recs[1].key.as_ref().unwrap()).unwrap(),
        r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
    );
    assert_eq!(
        std::str::from_utf8(recs[1].value.as_ref().unwrap()).unwrap(),
        r#"{"compatibilityLevel":"FULL"}"#
    );
}

#[tokio::test]
async fn restart_sees_the_same_state() {
    let mem = MemLogHandle::new();
    {
        let store = SchemaStore::open(mem.log()).await.unwrap();
        store.register("a", &record(A)).await.unwrap();
        store
            .register("a", &record(&format!("{A},{B_DEFAULT}")))
            .await
            .unwrap();
        store.register("b", r#""long""#).await.unwrap();
        store
            .set_compatibility(Some("b"), Compatibility::None)
            .await
            .unwrap();
        store
            .delete_version("a", VersionSel::Number(1), false)
            .await
            .unwrap();
    }
    let store = SchemaStore::open(mem.log()).await.unwrap();
    assert_eq!(store.versions("a").unwrap(), vec![2]);
    assert_eq!(store.version("a", VersionSel::Latest).unwrap().schema.id, 2);
    assert_eq!(
        store.version("b", VersionSel::Number(1)).unwrap().schema.id,
        3
    );
    // The soft-deleted version's id still resolves, as in Confluent.
    assert_eq!(store.schema_by_id(1).unwrap().schema_json, record(A));
    assert_eq!(store.subject_compatibility("b"), Some(Compatibility::None));
    assert_eq!(store.effective_compatibility("a"), Compatibility::Backward);
    // New ids continue after the highest one seen.
    assert_eq!(store.register("c", r#""bytes""#).await.unwrap().id, 4);
}

#[tokio::test]
async fn backward_default_rejects_and_names_the_subject() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    store.register("cart-value", &record(A)).await.unwrap();
    let err = store
        .register("cart-value", &record(&format!("{A},{B_NO_DEFAULT}")))
        .await
        .unwrap_err();
    match &err {
        RegistryError::Incompatible { subject, reason } => {
            assert_eq!(subject, "cart-value");
            assert!(
                reason.contains("BACKWARD") && reason.contains("version 1"),
                "{reason}"
            );
            assert!(
                reason.contains("qty"),
                "reason should name the field: {reason}"
            );
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert_eq!(err.error_code(), 409);
    assert_eq!(
        mem.0.records("_schemas", 0).len(),
        1,
        "a rejected schema writes nothing"
    );
    assert_eq!(store.versions("cart-value").unwrap(), vec![1]);
}

/// (level, v1, v2, candidate v3, accepted?): v1 and v2 are registered under NONE, then the level
/// is set and v3 registered.
#[tokio::test]
async fn compatibility_matrix() {
    let a = record(A);
    let ab_default = record(&format!("{A},{B_DEFAULT}"));
    let ab = record(&format!("{A},{B_NO_DEFAULT}"));
    let b_only = record(B_DEFAULT);
    let a_long = record(r#"{"name":"item","type":"long"}"#);
    let a_int = record(r#"{"name":"item","type":"int"}"#);
    use Compatibility::*;
    let ax = record(r#"{"name":"item","type":"string"},{"name":"x","type":"int","default":0}"#);
    let ix = record(r#"{"name":"item","type":"int"},{"name":"x","type":"int","default":0}"#);
    let cases: &[(Compatibility, &str, &str, &str, bool)] = &[
        // Adding a field: fine with a default, rejected without, under BACKWARD.
        (Backward, &a, &a, &ab_default, true),
        (Backward, &a, &a, &ab, false),
        // Removing a field is backward compatible (new readers ignore it)...
        (Backward, &ab_default, &ab_default, &a, true),
        // ...and forward compatible only if the old readers have a default for it.
        (Forward, &ab_default, &ab_default, &a, true),
        (Forward, &ab, &ab, &a, false),
        (Forward, &a, &a, &ab, true),
        (Full, &a, &a, &ab_default, true),
        (Full, &a, &a, &ab, false),
        // Type promotion int -> long: backward yes (long reads int), forward no.
        (Backward, &a_int, &a_int, &a_long, true),
        (Forward, &a_int, &a_int, &a_long, false),
        // Non-transitive levels only see the latest version; transitive ones see all.
        (Backward, &a, &ab_default, &ab, true),
        (BackwardTransitive, &a, &ab_default, &ab, false),
        (BackwardTransitive, &a, &ab_default, &b_only, true),
        (Forward, &ab, &a, &ax, true),
        (ForwardTransitive, &ab, &a, &ax, false),
        (Full, &a_long, &a_int, &ix, true),
        (FullTransitive, &a_long, &a_int, &ix, false),
        (Full, &ab, &a, &ab_default, true),
        (None, &a, &a, &a_long, true),
    ];
    for (i, (level, v1, v2, v3, ok)) in cases.iter().enumerate() {
        let mem = MemLogHandle::new();
        let store = SchemaStore::open(mem.log()).await.unwrap();
        let subject = format!("case{i}");
        store.set_compatibility(Some(&subject), None).await.unwrap();
        store.register(&subject, v1).await.unwrap();
        store.register(&subject, v2).await.unwrap();
        store
            .set_compatibility(Some(&subject), *level)
            .await
            .unwrap();
        let got = store.register(&subject, v3).await;
        assert_eq!(got.is_ok(), *ok, "case {i} ({level}): {got:?}");
        let problems = store
            .test_compatibility(&subject, v3, Option::None)
            .unwrap();
        assert_eq!(
            problems.is_empty(),
            *ok,
            "case {i} test_compatibility: {problems:?}"
        );
    }
}

#[tokio::test]
async fn subject_level_overrides_global() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    store
        .set_compatibility(None, Compatibility::None)
        .await
        .unwrap();
    store.register("free", &record(A)).await.unwrap();
    store
        .register("free", r#""int""#)
        .await
        .expect("NONE accepts anything");
    store
        .set_compatibility(Some("free"), Compatibility::Backward)
        .await
        .unwrap();
    assert!(store.register("free", r#""string""#).await.is_err());
    assert_eq!(
        store.delete_subject_compatibility("free").await.unwrap(),
        Compatibility::Backward
    );
    assert!(store.register("free", r#""string""#).await.is_ok());
    assert!(matches!(
        store.delete_subject_compatibility("free").await,
        Err(RegistryError::SubjectConfigNotFound(_))
    ));
}

#[tokio::test]
async fn soft_then_permanent_delete() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    store.register("s", &record(A)).await.unwrap();
    store
        .register("s", &record(&format!("{A},{B_DEFAULT}")))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_subject("s", true).await,
        Err(RegistryError::NotSoftDeleted { version: None, .. })
    ));
    assert_eq!(store.delete_subject("s", false).await.unwrap(), vec![1, 2]);
    assert!(store.subjects().is_empty());
    assert!(matches!(
        store.version("s", VersionSel::Latest),
        Err(RegistryError::UnknownSubject(_))
    ));
    assert!(
        store.schema_by_id(2).is_ok(),
        "soft-deleted ids still resolve"
    );
    // Re-registering after a soft delete makes a new version with the same id.
    let again = store.register("s", &record(A)).await.unwrap();
    assert_eq!((again.id, again.version), (1, 3));
    store
        .delete_version("s", VersionSel::Number(3), false)
        .await
        .unwrap();
    assert_eq!(
        store.delete_subject("s", true).await.unwrap(),
        vec![1, 2, 3]
    );
    assert!(matches!(
        store.schema_by_id(1),
        Err(RegistryError::UnknownSchemaId(1))
    ));
    // A restart agrees.
    let reopened = SchemaStore::open(mem.log()).await.unwrap();
    assert!(reopened.subjects().is_empty());
    assert!(reopened.schema_by_id(2).is_err());
}

#[tokio::test]
async fn sees_records_written_by_another_writer_and_skips_bad_ones() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    store.register("mine", r#""int""#).await.unwrap();
    // A garbage record, then a valid one written by someone else (say, a Confluent registry).
    mem.0
        .append(
            ProduceRecord::new("_schemas")
                .partition(0)
                .key("not json")
                .value("x"),
        )
        .unwrap();
    mem.0
        .append(
            ProduceRecord::new("_schemas")
                .partition(0)
                .key(r#"{"keytype":"SCHEMA","subject":"theirs","version":1,"magic":1}"#)
                .value(r#"{"subject":"theirs","version":1,"id":7,"schema":"\"string\"","deleted":false}"#),
        )
        .unwrap();
    store.refresh().await.unwrap();
    assert_eq!(
        store
            .version("theirs", VersionSel::Latest)
            .unwrap()
            .schema
            .id,
        7
    );
    // The next id is allocated after the highest seen.
    assert_eq!(store.register("next", r#""double""#).await.unwrap().id, 8);
}

#[tokio::test]
async fn failed_writes_change_nothing() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    *mem.0.fail_produce.lock().unwrap() = Some("disk full".into());
    let err = store.register("s", r#""int""#).await.unwrap_err();
    assert!(matches!(err, RegistryError::Log(_)), "{err:?}");
    assert_eq!(err.error_code(), 50002);
    assert!(store.subjects().is_empty());
    *mem.0.fail_produce.lock().unwrap() = None;
    assert_eq!(store.register("s", r#""int""#).await.unwrap().id, 1);
}

#[tokio::test]
async fn bad_input_is_an_error_not_a_panic() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    for bad in [
        "",
        "{",
        r#"{"type":"record"}"#,
        r#"{"type":"nope"}"#,
        r#"{"type":"array"}"#,
        r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
    ] {
        let err = store.register("s", bad).await.unwrap_err();
        assert_eq!(err.error_code(), 42201, "{bad:?}: {err}");
    }
    let err = store
        .register_typed("s", r#"{"type":"object"}"#, Some("JSON"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("JSON") && err.to_string().contains("AVRO"),
        "{err}"
    );
}

#[tokio::test]
async fn local_registry_implements_the_client_trait() {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    let reg: Box<dyn SchemaRegistry> = Box::new(LocalRegistry::new(store));
    let id = reg.register("sales-value", &record(A)).await.unwrap();
    assert_eq!(reg.register("sales-value", &record(A)).await.unwrap(), id);
    let s = reg.schema_by_id(id).await.unwrap();
    assert_eq!(
        s.parsed.name().map(|n| n.fullname(None)),
        Some("io.aisle.Cart".to_string())
    );
    let latest = reg.latest("sales-value").await.unwrap();
    assert_eq!((latest.version, latest.schema.id), (1, id));
    assert!(matches!(
        reg.latest("x").await,
        Err(RegistryError::UnknownSubject(_))
    ));
    assert!(matches!(
        reg.schema_by_id(42).await,
        Err(RegistryError::UnknownSchemaId(42))
    ));
}
