//! Interop: Confluent's Python client (`confluent-kafka` 2.x, `SchemaRegistryClient`,
//! `AvroSerializer`, `AvroDeserializer`) against our server, and payloads crossing both ways.
//!
//! Skips with a message when python3 or its modules are missing, unless
//! `AISLE_REQUIRE_PYTHON=1` (CI sets it), in which case that is a failure.

use crate::support;

use std::path::PathBuf;
use std::process::Stdio;

use aisle_registry::{HttpRegistry, SchemaRegistry, SchemaStore, serve};
use apache_avro::types::Value as Avro;
use support::MemLogHandle;

const SALE: &str = r#"{"type":"record","name":"Sale","namespace":"io.aisle.interop","fields":[
    {"name":"item","type":"string"},{"name":"qty","type":"int","default":1}]}"#;

fn python_ready() -> Result<(), String> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import confluent_kafka, fastavro"])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "python3 lacks confluent_kafka/fastavro: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Confluent framing: magic 0, big-endian id, Avro datum.
fn frame(id: u32, datum: Vec<u8>) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend(datum);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_python_client_speaks_to_the_server() {
    if let Err(why) = python_ready() {
        if std::env::var("AISLE_REQUIRE_PYTHON").as_deref() == Ok("1") {
            panic!("AISLE_REQUIRE_PYTHON=1 but {why}");
        }
        eprintln!("SKIPPED confluent_python_client_speaks_to_the_server: {why}");
        return;
    }
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(store.clone(), listener, async move {
        let _ = stopped.await;
    }));

    // Aisle writes a record the Python deserializer must read.
    let client = HttpRegistry::new(&url).unwrap();
    let subject = "rust-interop-value";
    let id = client.register(subject, SALE).await.unwrap();
    let schema = client.schema_by_id(id).await.unwrap();
    let record = Avro::Record(vec![
        ("item".into(), Avro::String("cup".into())),
        ("qty".into(), Avro::Int(3)),
    ]);
    let payload = frame(
        id,
        apache_avro::to_avro_datum(&schema.parsed, record).unwrap(),
    );

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/registry_client_check.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .args([url.as_str(), subject, &hex(&payload)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python check failed ({}):\n{stdout}\n{stderr}",
        out.status
    );

    // And Aisle reads what the Python serializer wrote.
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let bytes = unhex(summary["payload_hex"].as_str().unwrap());
    assert_eq!(bytes[0], 0);
    let py_id = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
    assert_eq!(u64::from(py_id), summary["schema_id"].as_u64().unwrap());
    let py_schema = client.schema_by_id(py_id).await.unwrap();
    let value = apache_avro::from_avro_datum(&py_schema.parsed, &mut &bytes[5..], None).unwrap();
    assert_eq!(
        value,
        Avro::Record(vec![
            ("item".into(), Avro::String("sports ball".into())),
            ("qty".into(), Avro::Int(2))
        ])
    );
    // Python's registrations landed in the store, with the levels it set.
    let py_subject = summary["subject"].as_str().unwrap();
    assert_eq!(store.versions(py_subject).unwrap(), vec![1, 2]);
    assert_eq!(
        store.subject_compatibility(py_subject),
        Some(aisle_registry::Compatibility::Full)
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
