//! `aisle demo`: the whole pipeline on embedded defaults, until Ctrl-C or `--duration`.
//!
//! Today it sets up the ground every component stands on: the standard topics, every contract
//! schema registered in the in-process schema registry (served over HTTP for Confluent tools),
//! and a status line per topic. Each component issue adds its part here (cameras, inventory,
//! Green Light Special, sales replay, forecasts).

use crate::cli::DemoArgs;
use crate::commands::registry::shutdown_signal;
use crate::config::Config;
use crate::runtime;
use aisle_events::topics;
use aisle_log::{Log, TopicPartition};
use aisle_registry::{LocalRegistry, SchemaRegistry};
use std::time::Duration;

pub async fn run(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    println!("aisle demo: {} runtime", log.runtime());
    for spec in topics::default_specs() {
        log.create_topic(&spec.replication(config.kafka.replication))
            .await?;
    }
    let store = runtime::local_store(&log).await?;
    let registry = LocalRegistry::new(store.clone());
    for (topic, schema) in topics::value_schemas() {
        let id = registry
            .register(&topics::value_subject(topic), schema)
            .await?;
        tracing::debug!(topic, id, "schema registered");
    }
    println!("topics created and schemas registered");
    let replay = replay_sales(config, &log, &registry).await?;

    let server = if args.registry_listen.is_empty() {
        None
    } else {
        let listener = tokio::net::TcpListener::bind(&args.registry_listen).await;
        match listener {
            Ok(l) => {
                println!("schema registry: http://{}", l.local_addr()?);
                let store = store.clone();
                Some(tokio::spawn(async move {
                    aisle_registry::serve(store, l, std::future::pending::<()>()).await
                }))
            }
            Err(e) => {
                tracing::warn!(addr = %args.registry_listen, error = %e, "registry not served");
                None
            }
        }
    };

    let until = async {
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => shutdown_signal().await,
        }
    };
    tokio::pin!(until);
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = &mut until => break,
            _ = tick.tick() => status(log.as_ref()).await?,
        }
    }
    if let Some(s) = server {
        s.abort();
    }
    replay.abort();
    status(log.as_ref()).await?;
    println!("aisle demo: stopped");
    Ok(())
}

/// One line: records per standard topic.
async fn status(log: &dyn Log) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for spec in topics::default_specs() {
        let mut n = 0;
        for p in 0..spec.partitions {
            let (low, high) = log
                .watermarks(&TopicPartition::new(spec.name.clone(), p))
                .await?;
            n += high - low;
        }
        parts.push(format!("{}={n}", spec.name));
    }
    println!("status: {}", parts.join(" "));
    Ok(())
}

/// The M5 sales replay, synthetic, one day per second per store (a live-looking stream); a
/// restarted demo resumes it where it stopped.
async fn replay_sales(
    config: &Config,
    log: &std::sync::Arc<dyn Log>,
    registry: &LocalRegistry,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use crate::commands::replay::{Quiet, SalesArgs, sales_on};
    use aisle_events::Event;
    let schema_id = registry
        .register(
            &topics::value_subject(topics::SALES),
            aisle_events::SalesRecord::SCHEMA_JSON,
        )
        .await?;
    let args = SalesArgs {
        data: None,
        synthetic: true,
        days: Some("1..1941".into()),
        stores: Vec::new(),
        speed: "1".into(),
        topic: topics::SALES.into(),
    };
    let (config, log) = (config.clone(), log.clone());
    println!("sales replay: synthetic M5, 1 day/s per store");
    Ok(tokio::spawn(async move {
        if let Err(e) = sales_on(log, schema_id, &config, &args, std::sync::Arc::new(Quiet)).await {
            tracing::warn!(error = %format!("{e:#}"), "sales replay stopped");
        }
    }))
}
