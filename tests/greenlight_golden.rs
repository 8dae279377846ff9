//! Golden scenarios of the Green Light Special, through the `aisle greenlight` binary, on the
//! embedded runtime and on a real broker (`AISLE_TEST_KAFKA`): each file under
//! `tests/golden/greenlight/` gives inventory changes and timestamped cart objects and the exact
//! `windowed_items`, `green_light_specials` and late records expected. The `crash_*` variants
//! kill -9 the process twice at random points and restart it with the same instance id: the
//! output must be identical — nothing lost, nothing twice.

mod greenlight_support;

use aisle_log::Log;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use greenlight_support::*;
use rand::Rng;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Long enough for the idle timeout (2 s in every scenario) to close the last windows.
const EMBEDDED_RUN_SECS: &str = "5";

fn open_embedded(dir: &Path) -> Arc<dyn Log> {
    Arc::new(EmbeddedLog::open(dir, EmbeddedConfig::default()).unwrap())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn embedded(name: &str, crash: bool) {
    let s = load(name);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = dir.path().join("greenlight.log");
    let names = Names::new("gl");
    let rt = rt();
    rt.block_on(async {
        let log = open_embedded(&data);
        let store = SchemaStore::open(log.clone()).await.unwrap();
        let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(store));
        produce(&log, &registry, &s, &names, 1).await;
    });
    let global = data_dir_args(&data);
    if crash {
        let mut rng = rand::rng();
        for _ in 0..2 {
            let mut child = greenlight_cmd(&global, &s, &names, "a", &stderr)
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rng.random_range(200..2_500)));
            kill9(&mut child);
        }
    }
    let mut cmd = greenlight_cmd(&global, &s, &names, "a", &stderr);
    cmd.args(["--duration", EMBEDDED_RUN_SECS]);
    run_to_end(cmd, &stderr);
    let got = rt.block_on(async {
        let log = open_embedded(&data);
        read_outputs(&log, &names).await
    });
    assert_eq!(got.dlq, 0, "no cart object is bad");
    assert_eq!(
        got,
        Outputs::expected(&s),
        "scenario {name}: {}",
        s.description
    );
}

macro_rules! golden {
    ($($name:ident),*) => {
        mod embedded_golden { $( #[test] fn $name() { super::embedded(stringify!($name), false); } )* }
        mod embedded_crash { $( #[test] fn $name() { super::embedded(stringify!($name), true); } )* }
        mod kafka_golden { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::kafka(stringify!($name), false, 1, &[], 1).await; } )* }
        mod kafka_crash { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::kafka(stringify!($name), true, 1, &[], 1).await; } )* }
    };
}

golden!(
    tumbling,
    hopping,
    grace_late,
    unmatched,
    inventory_update,
    idle_close,
    rule
);

#[test]
fn every_golden_file_has_a_test() {
    assert_eq!(
        all(),
        [
            "grace_late",
            "hopping",
            "idle_close",
            "inventory_update",
            "rule",
            "tumbling",
            "unmatched"
        ]
    );
}
