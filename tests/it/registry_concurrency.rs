//! Two OS processes register different schemas on one `_schemas` topic of a real Kafka broker
//! at the same moment, round after round, each through its own long-lived [`SchemaStore`] (as
//! two `aisle` processes started without `--registry` do). Afterwards a fresh store must map
//! every returned id to exactly the schema it was returned for: no id handed out twice.
//!
//! The processes are this test binary run again with `AISLE_REGCONC_CHILD` set (the
//! `child` test does the work only then). They are started together by a start line on their
//! stdin per round, sent once both reported the previous round: no sleeps.
//! Skips without AISLE_TEST_KAFKA (fails with AISLE_REQUIRE_KAFKA=1).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use aisle_log::Log;
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use aisle_registry::{SchemaStore, StoreConfig};
use aisle_testkit::{KafkaFixture, rand_topic};

const ROUNDS: usize = 20;
const CHILDREN: usize = 2;
const CHILD_ENV: &str = "AISLE_REGCONC_CHILD";

fn subject(child: usize, round: usize) -> String {
    format!("conc-{child}-{round}-value")
}

fn schema(child: usize, round: usize) -> String {
    format!(
        r#"{{"type":"record","name":"C{child}R{round}","fields":[{{"name":"f","type":"string"}}]}}"#
    )
}

async fn kafka(bootstrap: &str) -> Arc<dyn Log> {
    Arc::new(
        KafkaLog::connect(KafkaConfig::new(bootstrap))
            .await
            .unwrap_or_else(|e| panic!("connecting to Kafka at {bootstrap}: {e}")),
    )
}

async fn open(bootstrap: &str, topic: &str) -> Arc<SchemaStore> {
    let config = StoreConfig {
        topic: topic.to_owned(),
        ..Default::default()
    };
    SchemaStore::open_with(kafka(bootstrap).await, config)
        .await
        .unwrap_or_else(|e| panic!("opening the store on {topic}: {e}"))
}

/// The child role: `READY` once its store is open, then per `go <round>` line one
/// registration, answered `ID <round> <id>` (or `ERR <round> <error>`).
#[tokio::test]
async fn child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ' ');
    let (Some(me), Some(bootstrap), Some(topic)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("{CHILD_ENV}={spec:?}: expected `<child> <bootstrap> <topic>`");
    };
    let me: usize = me.parse().expect("child number");
    let store = open(bootstrap, topic).await;
    println!("READY");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("reading stdin");
        let Some(round) = line.strip_prefix("go ") else {
            break;
        };
        let round: usize = round.parse().expect("round number");
        match store
            .register(&subject(me, round), &schema(me, round))
            .await
        {
            Ok(r) => println!("ID {round} {}", r.id),
            Err(e) => println!("ERR {round} {e}"),
        }
    }
}

struct Proc {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Proc {
    fn spawn(me: usize, bootstrap: &str, topic: &str) -> Proc {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "registry_concurrency::child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{me} {bootstrap} {topic}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawning a child process");
        let stdin = child.stdin.take().expect("child stdin");
        let lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
        Proc {
            child,
            stdin,
            lines,
        }
    }

    /// The next protocol line (the test harness prints its own text around ours).
    fn next(&mut self, what: &str) -> String {
        for line in self.lines.by_ref() {
            let line = line.expect("reading a child's stdout");
            // The harness's `test child ... ` may precede our first line.
            let at = ["READY", "ID ", "ERR "].iter().find_map(|t| line.find(t));
            if let Some(at) = at {
                return line[at..].to_owned();
            }
        }
        panic!("child exited before {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_from_two_processes_get_distinct_ids() {
    let Some(_fixture) = KafkaFixture::from_env() else {
        return;
    };
    let bootstrap = aisle_testkit::kafka_bootstrap().expect("bootstrap");
    let topic = rand_topic("_schemas-conc");
    // Create the topic first so the children do not race to create it.
    drop(open(&bootstrap, &topic).await);

    let mut procs: Vec<Proc> = (0..CHILDREN)
        .map(|me| Proc::spawn(me, &bootstrap, &topic))
        .collect();
    for (me, p) in procs.iter_mut().enumerate() {
        let line = p.next("READY");
        assert_eq!(line, "READY", "child {me}");
    }
    // (child, round) -> id handed out
    let mut got: BTreeMap<(usize, usize), u32> = BTreeMap::new();
    for round in 0..ROUNDS {
        for p in procs.iter_mut() {
            writeln!(p.stdin, "go {round}").expect("starting a round");
            p.stdin.flush().expect("starting a round");
        }
        for (me, p) in procs.iter_mut().enumerate() {
            let line = p.next(&format!("round {round}"));
            let id = line
                .strip_prefix(&format!("ID {round} "))
                .unwrap_or_else(|| panic!("child {me}, round {round}: {line}"));
            got.insert((me, round), id.parse().expect("an id"));
        }
    }
    for mut p in procs {
        drop(p.stdin);
        let status = p.child.wait().expect("waiting for a child");
        assert!(status.success(), "child exited with {status}");
    }

    let fresh = open(&bootstrap, &topic).await;
    let mut owners: BTreeMap<u32, Vec<(usize, usize)>> = BTreeMap::new();
    for (&(me, round), &id) in &got {
        owners.entry(id).or_default().push((me, round));
    }
    let shared: Vec<_> = owners.iter().filter(|(_, o)| o.len() > 1).collect();
    assert!(
        shared.is_empty(),
        "ids handed out for more than one schema: {shared:?}"
    );
    let mut wrong = BTreeSet::new();
    for (&(me, round), &id) in &got {
        let stored = fresh.schema_by_id(id).map(|s| s.schema_json.clone());
        let found = fresh.lookup(&subject(me, round), &schema(me, round));
        let ok = stored.as_deref().ok() == Some(schema(me, round).as_str())
            && found.as_ref().is_ok_and(|v| v.schema.id == id);
        if !ok {
            wrong.insert(format!(
                "{} got id {id}: _schemas has {stored:?} for it, subject lookup {:?}",
                subject(me, round),
                found.map(|v| v.schema.id)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "registrations read back wrong: {wrong:#?}"
    );
    assert_eq!(got.len(), ROUNDS * CHILDREN);
    kafka(&bootstrap)
        .await
        .delete_topic(&topic)
        .await
        .unwrap_or_else(|e| panic!("deleting {topic}: {e}"));
}
