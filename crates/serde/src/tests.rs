//! Round trips through Aisle's own registry over an embedded log, and a failing registry for
//! the `Unavailable` path.

use super::*;
use aisle_events::SalesRecord;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, RegisteredSchema, SchemaStore, SubjectVersion};
use apache_avro::types::Value;

fn sale(day: i32) -> SalesRecord {
    SalesRecord {
        item_id: "FOODS_3_090".into(),
        dept_id: "FOODS_3".into(),
        cat_id: "FOODS".into(),
        store_id: "CA_1".into(),
        state_id: "CA".into(),
        day,
        sold: 3,
        sell_price: Some(1.25),
    }
}

async fn registry(dir: &std::path::Path) -> Arc<dyn SchemaRegistry> {
    let log = Arc::new(EmbeddedLog::open(dir, EmbeddedConfig::default()).unwrap());
    Arc::new(LocalRegistry::new(SchemaStore::open(log).await.unwrap()))
}

/// A later version of the `SalesRecord` schema, with a field Aisle's type does not have.
fn newer_schema() -> String {
    aisle_events::schemas::SEED_SALES_RECORD.replace(
        r#"{"name": "sold", "type": "int"},"#,
        r#"{"name": "sold", "type": "int"}, {"name": "promo", "type": "string", "default": ""},"#,
    )
}

fn newer_datum(writer: &str, day: i32) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(writer).unwrap();
    let s = |v: &str| Value::String(v.into());
    let value = Value::Record(vec![
        ("item_id".into(), s("FOODS_3_090")),
        ("dept_id".into(), s("FOODS_3")),
        ("cat_id".into(), s("FOODS")),
        ("store_id".into(), s("CA_1")),
        ("state_id".into(), s("CA")),
        ("day".into(), Value::Int(day)),
        ("sold".into(), Value::Int(3)),
        ("promo".into(), s("2-for-1")),
        (
            "sell_price".into(),
            Value::Union(1, Box::new(Value::Float(1.25))),
        ),
    ]);
    apache_avro::to_avro_datum(&schema, value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_and_other_schema_versions_decode_to_the_same_value() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path()).await;
    let ser = Serializer::<SalesRecord>::register(&*reg, "sales-value")
        .await
        .unwrap();
    let own = ser.serialize(&sale(7)).unwrap();
    assert_eq!(wire::split(&own).unwrap().0, ser.id());

    let writer = newer_schema();
    let other_id = reg.register("sales-other-value", &writer).await.unwrap();
    assert_ne!(other_id, ser.id());
    let mut other = Vec::new();
    wire::write_header(&mut other, other_id);
    other.extend(newer_datum(&writer, 8));

    let de = Deserializer::<SalesRecord>::new(reg);
    de.prepare_all([own.as_slice(), other.as_slice()])
        .await
        .unwrap();
    assert_eq!(de.decode(&own).unwrap(), sale(7));
    assert_eq!(de.decode(&other).unwrap(), sale(8));
    assert_eq!(de.known_ids(), {
        let mut v = vec![ser.id(), other_id];
        v.sort();
        v
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_records_are_bad_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path()).await;
    let ser = Serializer::<SalesRecord>::register(&*reg, "sales-value")
        .await
        .unwrap();
    let de = Deserializer::<SalesRecord>::new(reg);

    let not_framed = b"{\"day\": 1}".to_vec();
    de.prepare(&not_framed).await.unwrap();
    let e = de.decode(&not_framed).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Bad(r) if r.contains("not Confluent Avro")),
        "{e}"
    );

    let mut unknown = Vec::new();
    wire::write_header(&mut unknown, 4242);
    unknown.extend([0u8; 4]);
    de.prepare(&unknown).await.unwrap();
    let e = de.decode(&unknown).unwrap_err();
    assert!(
        matches!(&e, DecodeError::Bad(r) if r.contains("4242")),
        "{e}"
    );

    let mut truncated = ser.serialize(&sale(1)).unwrap();
    truncated.truncate(truncated.len() - 3);
    de.prepare(&truncated).await.unwrap();
    assert!(matches!(de.decode(&truncated), Err(DecodeError::Bad(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_blocking_asks_the_registry_once_from_sync_code() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path()).await;
    let ser = Serializer::<SalesRecord>::register(&*reg, "sales-value")
        .await
        .unwrap();
    let de = Deserializer::<SalesRecord>::new(reg);
    let v = ser.serialize(&sale(3)).unwrap();
    // Not prepared: `decode` refuses (not a bad record), `decode_blocking` looks it up.
    assert!(matches!(de.decode(&v), Err(DecodeError::Unavailable(_))));
    let shared = de.clone();
    let got = tokio::spawn(async move { shared.decode_blocking(&v) })
        .await
        .unwrap();
    assert_eq!(got.unwrap(), sale(3));
    assert_eq!(de.known_ids(), vec![ser.id()], "clones share the cache");
}

/// A registry that cannot be reached (mock beside the real registry tests above).
struct Down;

#[async_trait::async_trait]
impl SchemaRegistry for Down {
    async fn register(&self, _: &str, _: &str) -> aisle_registry::Result<u32> {
        Err(RegistryError::Log(aisle_log::LogError::Closed))
    }
    async fn schema_by_id(&self, _: u32) -> aisle_registry::Result<Arc<RegisteredSchema>> {
        Err(RegistryError::Log(aisle_log::LogError::Closed))
    }
    async fn latest(&self, _: &str) -> aisle_registry::Result<SubjectVersion> {
        Err(RegistryError::Log(aisle_log::LogError::Closed))
    }
}

#[tokio::test]
async fn an_unreachable_registry_is_unavailable_not_bad() {
    let de = Deserializer::<SalesRecord>::new(Arc::new(Down));
    let v = Serializer::<SalesRecord>::with_id(1)
        .serialize(&sale(1))
        .unwrap();
    let e = de.prepare(&v).await.unwrap_err();
    assert!(matches!(e, DecodeError::Unavailable(_)), "{e}");
    let e = Serializer::<SalesRecord>::register(&Down, "sales-value")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("sales-value"), "{e}");
}
