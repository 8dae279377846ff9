//! The API against its contract: `openapi.yaml` parses as OpenAPI 3, documents exactly the
//! routes the router serves (all GET), and the main endpoints' responses — from a real server
//! over a real embedded log with records written through the log interface — match the
//! documented schemas. Also: the server picks up records written while it runs, tombstones
//! delete inventory rows, and the event stream opens with every view.

use crate::common;

use aisle_log::Log;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_serve::{OPENAPI_YAML, ROUTES, Topics};
use openapiv3::{OpenAPI, ReferenceOr};
use std::collections::BTreeSet;
use std::sync::Arc;

fn spec() -> OpenAPI {
    serde_norway::from_str(OPENAPI_YAML).expect("openapi.yaml is OpenAPI 3.0")
}

#[test]
fn every_route_is_documented_and_every_documented_path_is_served() {
    let spec = spec();
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    let documented: BTreeSet<&str> = spec.paths.paths.keys().map(String::as_str).collect();
    let served: BTreeSet<&str> = ROUTES.into_iter().collect();
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "documented but not served"
    );
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "served but not documented"
    );
    for (path, item) in &spec.paths.paths {
        let ReferenceOr::Item(item) = item else {
            panic!("{path}: $ref path items are not used");
        };
        assert!(item.get.is_some(), "{path}: no GET");
        let others = [&item.put, &item.post, &item.delete, &item.patch];
        assert!(others.iter().all(|o| o.is_none()), "{path}: only GET");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_responses_match_the_documented_shapes_and_follow_the_topics() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default())?);
    let (world, registry) = common::World::new(log, Topics::default(), "_schemas").await?;
    common::scenario(world, registry, common::recorder()).await
}
