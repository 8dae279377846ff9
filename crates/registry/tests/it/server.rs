//! The REST server end to end: a real socket, a real `Log` (the in-memory double), and both raw
//! HTTP and the `HttpRegistry` client.

use crate::support;

use std::sync::Arc;

use aisle_registry::{HttpRegistry, RegistryError, SchemaRegistry, SchemaStore, serve};
use serde_json::{Value, json};
use support::MemLogHandle;
use tokio::sync::oneshot;

struct Running {
    url: String,
    store: Arc<SchemaStore>,
    mem: MemLogHandle,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<aisle_registry::Result<()>>,
}

async fn start() -> Running {
    let mem = MemLogHandle::new();
    let store = SchemaStore::open(mem.log()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(store.clone(), listener, async move {
        let _ = stopped.await;
    }));
    Running {
        url,
        store,
        mem,
        stop: Some(stop),
        task,
    }
}

/// One request; returns (status, content type, JSON body).
async fn call(method: &str, url: &str, body: Option<Value>) -> (u16, String, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ctype, value)
}

const V1: &str = r#"{"type":"record","name":"Sale","namespace":"io.aisle","fields":[{"name":"item","type":"string"}]}"#;
const V2: &str = r#"{"type":"record","name":"Sale","namespace":"io.aisle","fields":[{"name":"item","type":"string"},{"name":"qty","type":"int","default":1}]}"#;
const BAD: &str = r#"{"type":"record","name":"Sale","namespace":"io.aisle","fields":[{"name":"item","type":"string"},{"name":"qty","type":"int"}]}"#;

#[tokio::test]
async fn confluent_endpoints() {
    let r = start().await;
    let u = &r.url;
    assert_eq!(call("GET", &format!("{u}/"), None).await.2, json!({}));
    let (st, ctype, types) = call("GET", &format!("{u}/schemas/types"), None).await;
    assert_eq!(
        (st, ctype.as_str(), types),
        (
            200,
            "application/vnd.schemaregistry.v1+json",
            json!(["AVRO"])
        )
    );
    assert_eq!(
        call("GET", &format!("{u}/subjects"), None).await.2,
        json!([])
    );

    // Register (unknown query params are ignored).
    let (st, _, body) = call(
        "POST",
        &format!("{u}/subjects/sales-value/versions?normalize=false"),
        Some(json!({"schema": V1})),
    )
    .await;
    assert_eq!((st, body), (200, json!({"id": 1})));
    let (_, _, body) = call(
        "POST",
        &format!("{u}/subjects/sales-value/versions"),
        Some(json!({"schema": V2, "schemaType": "AVRO", "references": []})),
    )
    .await;
    assert_eq!(body, json!({"id": 2}));
    assert_eq!(
        call("GET", &format!("{u}/subjects"), None).await.2,
        json!(["sales-value"])
    );
    assert_eq!(
        call("GET", &format!("{u}/subjects/sales-value/versions"), None)
            .await
            .2,
        json!([1, 2])
    );
    for v in ["latest", "-1", "2"] {
        let (st, _, body) = call(
            "GET",
            &format!("{u}/subjects/sales-value/versions/{v}?deleted=false"),
            None,
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(
            body,
            json!({"subject":"sales-value","version":2,"id":2,"schema":V2}),
            "version {v}"
        );
    }
    let (_, _, raw) = call(
        "GET",
        &format!("{u}/subjects/sales-value/versions/1/schema"),
        None,
    )
    .await;
    assert_eq!(raw, serde_json::from_str::<Value>(V1).unwrap());
    let (_, _, by_id) = call(
        "GET",
        &format!("{u}/schemas/ids/1?subject=sales-value&format=x"),
        None,
    )
    .await;
    assert_eq!(by_id, json!({"schema": V1}));
    let (_, _, vers) = call("GET", &format!("{u}/schemas/ids/2/versions"), None).await;
    assert_eq!(vers, json!([{"subject":"sales-value","version":2}]));
    let (_, _, subs) = call("GET", &format!("{u}/schemas/ids/2/subjects"), None).await;
    assert_eq!(subs, json!(["sales-value"]));
    // Lookup by schema under a subject.
    let (st, _, found) = call(
        "POST",
        &format!("{u}/subjects/sales-value?normalize=true&deleted=false"),
        Some(json!({"schema": V1})),
    )
    .await;
    assert_eq!(
        (st, found),
        (
            200,
            json!({"subject":"sales-value","version":1,"id":1,"schema":V1})
        )
    );

    // Compatibility tests.
    // BAD needs `qty`: v1 data lacks it, v2 data has it.
    let (_, _, c) = call(
        "POST",
        &format!("{u}/compatibility/subjects/sales-value/versions/1"),
        Some(json!({"schema": BAD})),
    )
    .await;
    assert_eq!(c, json!({"is_compatible": false}));
    let (_, _, c) = call(
        "POST",
        &format!("{u}/compatibility/subjects/sales-value/versions/latest"),
        Some(json!({"schema": BAD})),
    )
    .await;
    assert_eq!(c, json!({"is_compatible": true}));
    let (_, _, c) = call(
        "POST",
        &format!("{u}/compatibility/subjects/sales-value/versions/latest?verbose=true"),
        Some(json!({"schema": V2})),
    )
    .await;
    assert_eq!(c, json!({"is_compatible": true, "messages": []}));
    // "All versions" follows the level: BACKWARD looks at the latest only, the transitive form at all.
    let (_, _, c) = call(
        "POST",
        &format!("{u}/compatibility/subjects/sales-value/versions"),
        Some(json!({"schema": BAD})),
    )
    .await;
    assert_eq!(c["is_compatible"], json!(true));
    r.store
        .set_compatibility(
            Some("sales-value"),
            aisle_registry::Compatibility::BackwardTransitive,
        )
        .await
        .unwrap();
    let (_, _, c) = call(
        "POST",
        &format!("{u}/compatibility/subjects/sales-value/versions?verbose=true"),
        Some(json!({"schema": BAD})),
    )
    .await;
    assert_eq!(c["is_compatible"], json!(false));
    assert!(
        c["messages"][0].as_str().unwrap().contains("version 1"),
        "{c}"
    );

    // Config, global and per subject.
    assert_eq!(
        call("GET", &format!("{u}/config"), None).await.2,
        json!({"compatibilityLevel":"BACKWARD"})
    );
    let (st, _, body) = call(
        "PUT",
        &format!("{u}/config/sales-value"),
        Some(json!({"compatibility":"none"})),
    )
    .await;
    assert_eq!((st, body), (200, json!({"compatibility":"NONE"})));
    assert_eq!(
        call("GET", &format!("{u}/config/sales-value"), None)
            .await
            .2,
        json!({"compatibilityLevel":"NONE"})
    );
    let (st, _, body) = call("GET", &format!("{u}/config/other"), None).await;
    assert_eq!((st, body["error_code"].clone()), (404, json!(40408)));
    let (_, _, body) = call(
        "GET",
        &format!("{u}/config/other?defaultToGlobal=true"),
        None,
    )
    .await;
    assert_eq!(body, json!({"compatibilityLevel":"BACKWARD"}));
    let (st, _, body) = call(
        "PUT",
        &format!("{u}/config"),
        Some(json!({"compatibilityLevel":"FULL"})),
    )
    .await;
    assert_eq!((st, body), (200, json!({"compatibility":"FULL"})));
    assert_eq!(
        r.store.global_compatibility(),
        aisle_registry::Compatibility::Full
    );
    let (st, _, body) = call(
        "PUT",
        &format!("{u}/config"),
        Some(json!({"compatibility":"SIDEWAYS"})),
    )
    .await;
    assert_eq!((st, body["error_code"].clone()), (422, json!(42203)));
    // Under the subject's NONE, the incompatible schema now registers.
    let (st, _, body) = call(
        "POST",
        &format!("{u}/subjects/sales-value/versions"),
        Some(json!({"schema": BAD})),
    )
    .await;
    assert_eq!((st, body), (200, json!({"id": 3})));
    let (st, _, body) = call("DELETE", &format!("{u}/config/sales-value"), None).await;
    assert_eq!((st, body), (200, json!({"compatibilityLevel":"NONE"})));

    // Deletes.
    let (st, _, body) = call(
        "DELETE",
        &format!("{u}/subjects/sales-value/versions/3"),
        None,
    )
    .await;
    assert_eq!((st, body), (200, json!(3)));
    let (st, _, body) = call(
        "DELETE",
        &format!("{u}/subjects/sales-value/versions/1?permanent=true"),
        None,
    )
    .await;
    assert_eq!((st, body["error_code"].clone()), (404, json!(40407)));
    let (st, _, body) = call("DELETE", &format!("{u}/subjects/sales-value"), None).await;
    assert_eq!((st, body), (200, json!([1, 2])));
    let (st, _, body) = call(
        "DELETE",
        &format!("{u}/subjects/sales-value?permanent=true"),
        None,
    )
    .await;
    assert_eq!((st, body), (200, json!([1, 2, 3])));
    assert_eq!(
        call("GET", &format!("{u}/subjects"), None).await.2,
        json!([])
    );
    assert_eq!(
        r.mem.0.records("_schemas", 0).len(),
        13,
        "every change is one _schemas record"
    );
    stop(r).await;
}

#[tokio::test]
async fn confluent_errors() {
    let r = start().await;
    let u = &r.url;
    let expect = |st: u16, code: i64, (got_st, _, body): (u16, String, Value)| {
        assert_eq!(
            (got_st, body["error_code"].as_i64()),
            (st, Some(code)),
            "{body}"
        );
        body["message"].as_str().unwrap().to_owned()
    };
    let msg = expect(
        404,
        40401,
        call("GET", &format!("{u}/subjects/x/versions"), None).await,
    );
    assert_eq!(msg, "Subject 'x' not found.");
    expect(
        404,
        40403,
        call("GET", &format!("{u}/schemas/ids/7"), None).await,
    );
    call(
        "POST",
        &format!("{u}/subjects/s/versions"),
        Some(json!({"schema": V1})),
    )
    .await;
    let msg = expect(
        404,
        40402,
        call("GET", &format!("{u}/subjects/s/versions/9"), None).await,
    );
    assert_eq!(msg, "Version 9 not found.");
    expect(
        422,
        42202,
        call("GET", &format!("{u}/subjects/s/versions/zero"), None).await,
    );
    expect(
        404,
        40403,
        call(
            "POST",
            &format!("{u}/subjects/s"),
            Some(json!({"schema": V2})),
        )
        .await,
    );
    let msg = expect(
        409,
        409,
        call(
            "POST",
            &format!("{u}/subjects/s/versions"),
            Some(json!({"schema": BAD})),
        )
        .await,
    );
    assert!(msg.contains("'s'") && msg.contains("qty"), "{msg}");
    let msg = expect(
        422,
        42201,
        call(
            "POST",
            &format!("{u}/subjects/s/versions"),
            Some(json!({"schema": "{}", "schemaType": "PROTOBUF"})),
        )
        .await,
    );
    assert!(msg.contains("PROTOBUF") && msg.contains("AVRO"), "{msg}");
    expect(
        422,
        42201,
        call(
            "POST",
            &format!("{u}/subjects/s/versions"),
            Some(json!({"schema": "{nope"})),
        )
        .await,
    );
    let refs = json!({"schema": V1, "references": [{"name":"x","subject":"y","version":1}]});
    expect(
        422,
        42201,
        call("POST", &format!("{u}/subjects/s/versions"), Some(refs)).await,
    );
    expect(
        422,
        422,
        call(
            "POST",
            &format!("{u}/subjects/s/versions"),
            Some(json!([1])),
        )
        .await,
    );
    // Plain JSON and no content type at all are accepted.
    let resp = reqwest::Client::new()
        .post(format!("{u}/subjects/s/versions"))
        .body(json!({"schema": V1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    stop(r).await;
}

#[tokio::test]
async fn http_client_and_its_caches() {
    let r = start().await;
    let client = HttpRegistry::new(&format!("{}/", r.url)).unwrap();
    // A subject that needs percent-encoding stays one path segment.
    let subject = "odd subject/value";
    let id = client.register(subject, V1).await.unwrap();
    assert_eq!(id, 1);
    assert_eq!(r.store.subjects(), vec![subject.to_string()]);
    let s = client.schema_by_id(id).await.unwrap();
    assert_eq!(s.id, 1);
    let latest = client.latest(subject).await.unwrap();
    assert_eq!((latest.version, latest.schema.id), (1, 1));
    match client.register(subject, BAD).await {
        Err(RegistryError::Incompatible { subject: s, reason }) => {
            assert_eq!(s, subject);
            assert!(reason.contains("qty"), "{reason}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert!(matches!(
        client.schema_by_id(77).await,
        Err(RegistryError::UnknownSchemaId(77))
    ));
    assert!(
        matches!(client.latest("none").await, Err(RegistryError::UnknownSubject(s)) if s == "none")
    );
    assert!(matches!(
        client.register(subject, "{").await,
        Err(RegistryError::InvalidSchema { .. })
    ));

    // Stop the server: cached answers still come back, uncached ones are retriable errors.
    let url = r.url.clone();
    stop(r).await;
    assert_eq!(client.register(subject, V1).await.unwrap(), 1);
    assert_eq!(client.schema_by_id(1).await.unwrap().schema_json, V1);
    let err = client.latest(subject).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn http_client_rejects_bad_urls() {
    assert!(HttpRegistry::new("not a url").is_err());
    assert!(HttpRegistry::new("mailto:x@y").is_err());
}

async fn stop(mut r: Running) {
    r.stop.take().unwrap().send(()).unwrap();
    r.task.await.unwrap().unwrap();
}
