//! `aisle-greenlight`: the Green Light Special — "what is in everyone's cart right now, and which
//! upsell should an associate announce?" — built on [`aisle_streams`], so it runs unchanged on
//! the embedded runtime and on Kafka.
//!
//! Cart objects (`shopping_cart_objects`, any partition count, records of the 2019 producers
//! included) are joined with the `inventory_rekeyed` table as of their event time (the store's
//! own row first, see below), counted per store in event-time windows (tumbling or hopping, with grace), and each closed window yields
//! one `WindowedItem` per item (`windowed_items`) and its `GreenLightSpecial`
//! (`green_light_specials`). Windows close when the store's event time passes end + grace, or
//! when the store goes quiet (wall-clock idle timeout). Late records go to
//! `shopping_cart_objects.late` with the windows they missed; unreadable ones to
//! `shopping_cart_objects.dlq`. Everything is exactly-once: outputs, window state (changelog)
//! and input offsets commit in one transaction. Processes with the same `application_id` split
//! the partitions.
//!
//! # Stores and the chain
//! The table holds chain-wide rows, keyed by item name (`cup`: the seed table's rows), and a
//! store's own rows, keyed `{store}/{name}` (`CA_1/cup`: [`aisle_events::types::inventory_key`]). A
//! cart object from store S for item `cup` joins the row `S/cup` if one is in force at the
//! record's event time, otherwise the chain-wide `cup`; so a store row shadows the chain-wide
//! row for that store only, every other store still sees the chain's, and once the store row is
//! deleted (a tombstone) the store sees the chain's again. A cart object without a `store_id` is
//! counted in the `default_store`'s windows and joins chain-wide rows only. The special's
//! upsell stock follows the same rule for the window's store (for the default store's windows:
//! the default store's own rows, if any, else the chain's). A table with no store rows gives
//! exactly the outputs it gave before stores had rows. [`StoreRows`] is the rule.
//!
//! Main items:
//! * [`run`]: prepare topics and schemas, restore the table, run until a shutdown future resolves;
//! * [`GreenlightConfig`]: the settings (`[greenlight]` in Aisle's config);
//! * [`special::pick`] and [`special::Rule`]: the documented rule for the winner;
//! * [`Greenlight`]: the [`aisle_streams::Processor`].
//!
//! ```no_run
//! # async fn demo(log: std::sync::Arc<dyn aisle_log::Log>,
//! #               registry: std::sync::Arc<dyn aisle_registry::SchemaRegistry>) -> Result<(), aisle_greenlight::GreenlightError> {
//! let config = aisle_greenlight::GreenlightConfig { window_ms: 10_000, idle_timeout_ms: 5_000, ..Default::default() };
//! let stop = tokio::signal::ctrl_c();
//! let stats = aisle_greenlight::run(log, registry, config, async { let _ = stop.await; }).await?;
//! println!("{} records in", stats.records_in);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! * `config.rs`: [`GreenlightConfig`].
//! * `window_state.rs`: the join result carried between the stages, the window aggregate.
//! * `special.rs`: the winning rule.
//! * `store_rows.rs`: [`StoreRows`], which row a store sees (its own, else the chain's).
//! * `windows.rs`: [`Windows`] and what a closed window writes.
//! * `processor.rs`: [`Greenlight`], the composition (join → repartition → windows).

mod config;
mod processor;
pub mod special;
mod store_rows;
pub mod window_state;
mod windows;

pub use config::GreenlightConfig;
pub use processor::{Greenlight, Timing, Topics};
pub use store_rows::StoreRows;
pub use windows::{Outputs, Windows};

/// Component name in metrics and logs.
const COMPONENT: &str = "greenlight";

use aisle_events::{Inventory, topics};
use aisle_log::{CleanupPolicy, Log, LogError, TopicSpec};
use aisle_registry::SchemaRegistry;
use aisle_serde::{Deserializer, Serializer};
use aisle_streams::{
    StreamsError, TableFeed, TableJoin, TaskConfig, TaskStats, VersionedTable, WindowSpec,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What can stop the processor.
#[derive(Debug, thiserror::Error)]
pub enum GreenlightError {
    /// A bad setting or a missing input topic (the user's to fix).
    #[error("greenlight: {0}")]
    Config(String),
    /// The schema registry failed.
    #[error("greenlight: schema registry: {0}")]
    Registry(#[from] aisle_registry::RegistryError),
    /// An output schema could not be registered.
    #[error("greenlight: {0}")]
    Serialize(#[from] aisle_serde::SerializeError),
    /// The stream task failed.
    #[error("greenlight: {0}")]
    Streams(#[from] StreamsError),
}

/// Creates the topics the processor writes (if missing) and returns the repartition/changelog
/// partition count and the input's.
async fn prepare_topics(
    log: &dyn Log,
    cfg: &GreenlightConfig,
) -> Result<(i32, i32), GreenlightError> {
    let input = match log.describe_topic(&cfg.input).await {
        Ok(info) => info,
        Err(LogError::UnknownTopic(_)) => {
            return Err(GreenlightError::Config(format!(
                "input topic `{}` does not exist (create it, e.g. `aisle topic create --standard`)",
                cfg.input
            )));
        }
        Err(e) => return Err(StreamsError::log(format!("describing {}", cfg.input))(e).into()),
    };
    let n = cfg.partitions.unwrap_or(input.partitions);
    let mut specs = vec![
        TopicSpec::new(cfg.repartition_topic(), n),
        TopicSpec::new(cfg.changelog_topic(), n).cleanup(CleanupPolicy::Compact),
        TopicSpec::new(cfg.late_topic(), 1),
        TopicSpec::new(cfg.dlq_topic(), 1),
    ];
    for t in [&cfg.inventory, &cfg.windowed_items, &cfg.specials] {
        let spec = topics::default_spec(t).unwrap_or_else(|| {
            let mut s = TopicSpec::new(t.clone(), 1);
            if *t == cfg.inventory {
                // Versions stay uncompacted for the table history (see `table_history_ms`).
                s.configs.insert(
                    "min.compaction.lag.ms".into(),
                    cfg.table_history_ms.to_string(),
                );
                s.cleanup(CleanupPolicy::Compact)
            } else {
                s
            }
        });
        specs.push(spec);
    }
    for spec in specs {
        log.create_topic(&spec)
            .await
            .map_err(StreamsError::log(format!("creating {}", spec.name)))?;
    }
    let rep = log
        .describe_topic(&cfg.repartition_topic())
        .await
        .map_err(StreamsError::log("describing the repartition topic"))?;
    let cl = log
        .describe_topic(&cfg.changelog_topic())
        .await
        .map_err(StreamsError::log("describing the changelog topic"))?;
    if rep.partitions != cl.partitions {
        return Err(GreenlightError::Config(format!(
            "`{}` has {} partitions but `{}` has {}; they must match",
            rep.name, rep.partitions, cl.name, cl.partitions
        )));
    }
    Ok((rep.partitions, input.partitions))
}

fn decode_inventory(
    registry: Arc<dyn SchemaRegistry>,
) -> Arc<aisle_streams::TableDecoder<Inventory>> {
    // Table records are decoded on the loop's thread without awaiting: a schema id not seen
    // before is looked up through `decode_blocking`'s bridge, once.
    let rows = Deserializer::<Inventory>::new(registry);
    Arc::new(move |rec: &aisle_log::Record| {
        let key = rec
            .key
            .as_ref()
            .and_then(|k| std::str::from_utf8(k).ok())
            .ok_or("no UTF-8 key")?
            .to_owned();
        let Some(value) = &rec.value else {
            return Ok(Some((key, None)));
        };
        let row = rows.decode_blocking(value).map_err(|e| e.to_string())?;
        Ok(Some((key, Some(row))))
    })
}

/// Runs the Green Light Special until `shutdown` resolves: creates missing topics, registers the
/// output schemas, restores the inventory table, then joins, windows and emits exactly once.
///
/// Needs a multi-threaded tokio runtime. Several calls (in several processes on Kafka, or tasks
/// in one process on either runtime) with the same `application_id` and different
/// `instance_id`s share the partitions.
pub async fn run(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    cfg: GreenlightConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<TaskStats, GreenlightError> {
    run_with_clock(log, registry, cfg, aisle_log::clock::system(), shutdown).await
}

/// [`run`] with the clock every wall-clock decision reads (idle close, silent partitions, the
/// join's wait for its table): [`aisle_log::clock::TokioClock`] under paused time in tests.
pub async fn run_with_clock(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    cfg: GreenlightConfig,
    clock: aisle_log::SharedClock,
    shutdown: impl Future<Output = ()>,
) -> Result<TaskStats, GreenlightError> {
    cfg.validate().map_err(GreenlightError::Config)?;
    let spec = match cfg.advance_ms {
        Some(a) => WindowSpec::hopping(cfg.window_ms as i64, a as i64, cfg.grace_ms as i64),
        None => WindowSpec::tumbling(cfg.window_ms as i64, cfg.grace_ms as i64),
    }?;
    let (partitions, input_partitions) = prepare_topics(&*log, &cfg).await?;
    let single_input = input_partitions == 1;
    // With one input partition every store's records are already together: no repartition hop
    // (state then lives in changelog partition 0, as in the repartitioned layout with one
    // partition, so switching is only possible on a fresh application id).
    let direct = single_input && partitions == 1;
    let windowed_item =
        Serializer::register(&*registry, &topics::value_subject(&cfg.windowed_items)).await?;
    let special = Serializer::register(&*registry, &topics::value_subject(&cfg.specials)).await?;
    let mut table = VersionedTable::new(cfg.table_history_ms as i64);
    let feed = TableFeed::restore(
        &*log,
        &cfg.inventory,
        COMPONENT,
        decode_inventory(registry.clone()),
        &mut table,
        &clock,
    )
    .await?;
    let table = TableJoin::new(
        table,
        feed,
        Duration::from_millis(cfg.table_wait_ms),
        clock.clone(),
        COMPONENT,
    );
    let topics = Topics {
        input: cfg.input.clone(),
        input_partitions,
        repartition: cfg.repartition_topic(),
        repartition_partitions: partitions,
        changelog: cfg.changelog_topic(),
        dlq: cfg.dlq_topic(),
        outputs: Outputs {
            windowed_items: cfg.windowed_items.clone(),
            specials: cfg.specials.clone(),
            late: cfg.late_topic(),
            windowed_item,
            special,
        },
    };
    let timing = Timing {
        spec,
        idle: (cfg.idle_timeout_ms > 0).then(|| Duration::from_millis(cfg.idle_timeout_ms)),
        max_idle: Duration::from_millis(cfg.max_idle_ms),
        clock: clock.clone(),
    };
    let mut processor = Greenlight::new(
        topics,
        timing,
        special::Rule {
            min_count: cfg.min_count,
            require_stock: cfg.require_stock,
        },
        cfg.default_store.clone(),
        table,
        Deserializer::new(registry),
    )
    .direct(direct);
    let instance = cfg.instance_id.clone().unwrap_or_else(random_instance);
    let task = TaskConfig {
        component: "greenlight",
        group_id: cfg.application_id.clone(),
        transactional_id: format!("{}-{instance}", cfg.application_id),
        topics: if direct {
            vec![cfg.input.clone()]
        } else {
            vec![cfg.input.clone(), cfg.repartition_topic()]
        },
        poll_timeout: Duration::from_millis(cfg.poll_ms),
        consumer_properties: BTreeMap::from([
            (
                "session.timeout.ms".to_string(),
                cfg.session_timeout_ms.to_string(),
            ),
            (
                "heartbeat.interval.ms".to_string(),
                (cfg.session_timeout_ms / 4).max(100).to_string(),
            ),
            // Fewer, larger fetches: on one core the fetcher competes with processing.
            (
                "max.partition.fetch.bytes".to_string(),
                (16 << 20).to_string(),
            ),
            ("queued.min.messages".to_string(), "500000".to_string()),
        ]),
        producer_properties: BTreeMap::from([
            (
                "transaction.timeout.ms".to_string(),
                cfg.transaction_timeout_ms.to_string(),
            ),
            // Right after a commit the coordinator still writes its markers and answers the
            // next transaction's first request with CONCURRENT_TRANSACTIONS; librdkafka retries
            // after retry.backoff.ms (default 100 ms), which would cap turns at ~10/s.
            ("retry.backoff.ms".to_string(), "5".to_string()),
        ]),
        retry_backoff: Duration::from_secs(1),
        commit_interval: Duration::from_millis(cfg.commit_interval_ms),
        max_batch: 250_000,
        clock,
    };
    tracing::info!(
        runtime = log.runtime(),
        input = %cfg.input,
        partitions,
        direct,
        window_ms = cfg.window_ms,
        advance_ms = ?cfg.advance_ms,
        grace_ms = cfg.grace_ms,
        instance = %instance,
        "greenlight started"
    );
    Ok(aisle_streams::run_task(&*log, &task, &mut processor, shutdown).await?)
}

fn random_instance() -> String {
    #[expect(
        clippy::disallowed_methods,
        reason = "seeds a unique name; nothing is decided by the time"
    )]
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}
