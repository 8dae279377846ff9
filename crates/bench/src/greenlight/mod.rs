//! `aisle bench greenlight`: the Green Light Special's throughput with exactly-once on, over
//! pre-produced input (cart objects 1 ms of event time apart, keys among the seven seed
//! inventory items, ten stores), then its end-to-end latency with 1 s windows on objects
//! produced live. On Kafka it can also run the Kafka Streams app of the original topology
//! (`benches/reference/kafka-streams-greenlight/run`) on the same input.
//!
//! The table is the seven chain-wide seed rows. With `--stores N` ([`Options::stores`]) the cart
//! objects come from [`aisle_events::topics::chain_stores`]`(N)` instead of the ten M5 stores,
//! and every store also gets its own rows for [`STORE_ROW_ITEMS`] (`CA_1/cup`, `CA_1/fork`, ...,
//! each with a count of its own), so the join's per-store path is measured: cup and fork
//! objects join their store's row, the others look for one, find none and join the chain-wide
//! row, and the upsells of bowl (cup) and spoon (fork) read the store's stock.

use crate::{BenchError, Kafka, Target};
use aisle_greenlight::GreenlightConfig;
use anyhow::Context;
use chain::{Chain, bench_cart};
use std::time::Duration;

mod chain;
pub use chain::STORE_ROW_ITEMS;

/// What `aisle bench greenlight` runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cart objects in the throughput run (`--records`).
    pub records: u64,
    /// Window length of the throughput run, ms (`--window-ms`; grace 0, as the 2019 topology).
    pub window_ms: u64,
    /// Seconds of the latency run (`--latency-secs`); 0 skips it.
    pub latency_secs: u64,
    /// Cart objects per second in the latency run (`--latency-rate`).
    pub latency_rate: u64,
    /// Also run the Kafka Streams reference on the same input (`--with-reference`; Kafka only).
    pub with_reference: bool,
    /// Stores of a chain with their own inventory rows (`--stores`); `None`: the ten M5 stores
    /// and the chain-wide seed rows only (the figures in BENCHMARKS.md).
    pub stores: Option<usize>,
    /// Partitions of the throughput run's input (`--partitions`; 1 as the 2019 topology). More
    /// than one adds the repartition-by-store hop and lets several instances share the work.
    pub partitions: i32,
    /// Greenlight instances of the throughput run, one consumer group, in this process
    /// (`--instances`).
    pub instances: usize,
}

/// Creates `input` (`partitions`) and `inventory` and writes the chain's rows and `n` cart
/// objects (keyed by item, placed by the key's hash as Kafka's clients do).
async fn bench_input(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    registry: &std::sync::Arc<dyn aisle_registry::SchemaRegistry>,
    (input, inventory, partitions): (&str, &str, i32),
    chain: &Chain,
    n: u64,
    base: i64,
) -> anyhow::Result<()> {
    use aisle_events::{Event, schemas, wire};
    use aisle_log::{CleanupPolicy, ProduceRecord, ProducerConfig, TopicSpec};
    log.create_topic(&TopicSpec::new(input, partitions)).await?;
    log.create_topic(&TopicSpec::new(inventory, 1).cleanup(CleanupPolicy::Compact))
        .await?;
    let cart_id = registry
        .register(&format!("{input}-value"), schemas::SHOPPING_CART_OBJECT)
        .await?;
    let inv_id = registry
        .register(&format!("{inventory}-value"), schemas::INVENTORY)
        .await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let mut rows = Vec::new();
    for row in chain.inventory(base - 60_000) {
        let mut v = Vec::new();
        wire::write_header(&mut v, inv_id);
        row.encode(&mut v)?;
        let key = row.key().context("a bench row without a name")?;
        rows.push(
            ProduceRecord::new(inventory)
                .key(key)
                .value(v)
                .timestamp(base - 60_000),
        );
    }
    producer.send_batch(&rows).await?.await?;
    let bar = indicatif::ProgressBar::new(n).with_message("producing cart objects");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut pending = Vec::new();
    let mut i = 0;
    while i < n {
        let chunk: Vec<_> = (i..(i + 10_000).min(n))
            .map(|j| {
                let obj = bench_cart(j, base + j as i64, chain);
                let mut v = Vec::with_capacity(96);
                wire::write_header(&mut v, cart_id);
                obj.encode(&mut v).expect("encodes");
                ProduceRecord::new(input)
                    .key(obj.class_name.clone())
                    .value(v)
                    .timestamp(obj.timestamp)
            })
            .collect();
        let len = chunk.len() as u64;
        pending.push(producer.send_batch(&chunk).await?);
        i += len;
        bar.inc(len);
        if pending.len() > 20 {
            pending.remove(0).await?;
        }
    }
    for p in pending {
        p.await?;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Runs `instances` processors (one group) on pre-produced input until the group has committed
/// all of it (input and repartition topic); returns (records, seconds from the first record
/// handed to a processor).
async fn bench_throughput(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    registry: &std::sync::Arc<dyn aisle_registry::SchemaRegistry>,
    cfg: GreenlightConfig,
    n: u64,
    instances: usize,
) -> anyhow::Result<(u64, f64)> {
    use aisle_log::{ConsumerConfig, TopicPartition};
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = (0..instances.max(1))
        .map(|i| {
            let cfg = GreenlightConfig {
                instance_id: Some(format!("bench-{i}")),
                ..cfg.clone()
            };
            let mut stop = stop_rx.clone();
            tokio::spawn(aisle_greenlight::run(
                log.clone(),
                registry.clone(),
                cfg,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ))
        })
        .collect();
    let watcher = log.consumer(&ConsumerConfig::group(cfg.application_id.clone()))?;
    let inputs = log.describe_topic(&cfg.input).await?.partitions;
    let mut ends = Vec::new();
    for p in 0..inputs {
        let tp = TopicPartition::new(cfg.input.clone(), p);
        let (_, high) = log.watermarks(&tp).await?;
        ends.push((tp, high));
    }
    let tps: Vec<_> = ends.iter().map(|(tp, _)| tp.clone()).collect();
    let bar = indicatif::ProgressBar::new(n).with_message("greenlight");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    let done_at = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tasks.iter().any(|t| t.is_finished()) {
            break None;
        }
        let committed = watcher.committed(&tps).await?;
        let read: i64 = committed.iter().map(|c| c.unwrap_or(0)).sum();
        bar.set_position(read as u64);
        let stage1 = ends
            .iter()
            .zip(&committed)
            .all(|((_, high), c)| c.unwrap_or(0) >= *high);
        if stage1 && repartition_done(log, &*watcher, &cfg).await? {
            break Some(tokio::time::Instant::now().into_std());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "bench did not finish in 30 min"
        );
    };
    bar.finish_and_clear();
    let _ = stop_tx.send(true);
    let mut first = None;
    for t in tasks {
        let stats = t.await??;
        first = match (first, stats.first_record) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
    }
    let done_at = done_at.context("a processor stopped before the end of its input")?;
    let first = first.context("no record processed")?;
    Ok((n, done_at.duration_since(first).as_secs_f64()))
}

/// Whether the group has committed everything of the repartition topic (stage 2), when the
/// topology has one (more than one input partition).
async fn repartition_done(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    watcher: &dyn aisle_log::Consumer,
    cfg: &GreenlightConfig,
) -> anyhow::Result<bool> {
    use aisle_log::TopicPartition;
    let Ok(info) = log.describe_topic(&cfg.repartition_topic()).await else {
        return Ok(true);
    };
    for p in 0..info.partitions {
        let tp = TopicPartition::new(cfg.repartition_topic(), p);
        let (_, high) = log.watermarks(&tp).await?;
        // Kafka: the commit marker after the last record takes an offset.
        let end = if log.runtime() == "kafka" {
            high - 1
        } else {
            high
        };
        let got = watcher.committed(std::slice::from_ref(&tp)).await?[0].unwrap_or(0);
        if high > 0 && got < end {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Latency: objects produced live (event time = now) for the chain's stores; each window's special is
/// read as soon as it is committed; latency = read time - window end (the first object of the next
/// window, whose event time passes the end, closes it: grace 0).
async fn bench_latency(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    registry: &std::sync::Arc<dyn aisle_registry::SchemaRegistry>,
    mut cfg: GreenlightConfig,
    chain: &Chain,
    (secs, rate): (u64, u64),
) -> anyhow::Result<Vec<f64>> {
    use aisle_events::{Event, wire};
    use aisle_log::{ConsumerConfig, Offset, ProduceRecord, ProducerConfig, TopicPartition};
    let topics = (cfg.input.as_str(), cfg.inventory.as_str(), 1);
    bench_input(log, registry, topics, chain, 0, aisle_log::now_ms()).await?;
    cfg.window_ms = 1_000;
    cfg.grace_ms = 0;
    cfg.idle_timeout_ms = 0;
    cfg.poll_ms = 20;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(aisle_greenlight::run(
        log.clone(),
        registry.clone(),
        cfg.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    // Wait until the processor has joined its group (its repartition topic exists and the
    // group holds the input), so start-up is not counted.
    let mut reader = log.consumer(&ConsumerConfig {
        client_id: "aisle-bench-greenlight-latency".into(),
        ..Default::default()
    })?;
    loop {
        if log.describe_topic(&cfg.specials).await.is_ok()
            && log.describe_topic(&cfg.repartition_topic()).await.is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.assign(&[(
        TopicPartition::new(cfg.specials.clone(), 0),
        Offset::Beginning,
    )])?;
    let cart_id = registry
        .register(
            &format!("{}-value", cfg.input),
            aisle_events::schemas::SHOPPING_CART_OBJECT,
        )
        .await?;
    let producer = log.producer(&ProducerConfig {
        linger: Duration::from_millis(1),
        ..Default::default()
    })?;
    let input = cfg.input.clone();
    let chain = chain.clone();
    let produce = tokio::spawn(async move {
        // Warm-up: a few seconds for the group to form before timing starts.
        let start = tokio::time::Instant::now();
        let total = (secs + 5) * rate;
        for i in 0..total {
            let due = start + Duration::from_micros(i * 1_000_000 / rate);
            tokio::time::sleep_until(due).await;
            let obj = bench_cart(i, aisle_log::now_ms(), &chain);
            let mut v = Vec::with_capacity(96);
            wire::write_header(&mut v, cart_id);
            obj.encode(&mut v)?;
            let rec = ProduceRecord::new(&input)
                .key(obj.class_name.clone())
                .value(v)
                .timestamp(obj.timestamp);
            drop(producer.send(rec).await?);
        }
        producer.flush(Duration::from_secs(30)).await?;
        anyhow::Ok(())
    });
    let measure_from = aisle_log::now_ms() + 5_000;
    let mut lat = Vec::new();
    while !produce.is_finished() {
        for rec in reader.poll(Duration::from_millis(50)).await? {
            let now = aisle_log::now_ms();
            let Some(v) = rec.value.as_ref() else {
                continue;
            };
            let (_, datum) = wire::split(v)?;
            let s = aisle_events::GreenLightSpecial::decode(datum)?;
            if s.window_start >= measure_from {
                lat.push((now - s.window_end) as f64);
            }
        }
    }
    produce.await??;
    let _ = stop_tx.send(());
    task.await??;
    Ok(lat)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Runs the bench on `target`: progress on stderr, the table on stdout.
pub async fn run(target: &Target, opts: &Options) -> Result<(), BenchError> {
    if opts.stores == Some(0) {
        return Err(BenchError::Options("--stores must be at least 1".into()));
    }
    if opts.partitions < 1 || opts.instances < 1 {
        return Err(BenchError::Options(
            "--partitions and --instances must be at least 1".into(),
        ));
    }
    Ok(bench(target, opts).await?)
}

async fn bench(target: &Target, args: &Options) -> anyhow::Result<()> {
    let log = target.log.clone();
    let registry = target.registry.clone();
    let tag = format!("{:x}", aisle_log::now_ms());
    let input = format!("bench-gl-carts-{tag}");
    let inventory = format!("bench-gl-inventory-{tag}");
    let base = (aisle_log::now_ms() / 60_000 - 120) * 60_000;
    let chain = Chain::new(args.stores);
    // Said after the runtime in the headings, only with --stores (the default's stay as they were).
    let mut stores = match args.stores {
        Some(n) => format!(", {n} stores with their own rows"),
        None => String::new(),
    };
    if args.partitions > 1 || args.instances > 1 {
        stores += &format!(
            ", {} input partitions, {} instance(s)",
            args.partitions, args.instances
        );
    }
    eprintln!(
        "producing {} cart objects into {input} ({} runtime{stores})...",
        args.records,
        log.runtime()
    );
    let topics = (input.as_str(), inventory.as_str(), args.partitions);
    bench_input(&log, &registry, topics, &chain, args.records, base).await?;
    let cfg = GreenlightConfig {
        input: input.clone(),
        inventory: inventory.clone(),
        windowed_items: format!("bench-gl-windowed-{tag}"),
        specials: format!("bench-gl-specials-{tag}"),
        application_id: format!("bench-gl-{tag}"),
        instance_id: Some("bench".into()),
        window_ms: args.window_ms,
        grace_ms: 0,
        idle_timeout_ms: 0,
        ..GreenlightConfig::default()
    };
    eprintln!(
        "running {} aisle greenlight instance(s) (exactly-once) on it, {} input partition(s)...",
        args.instances, args.partitions
    );
    let (n, secs) =
        bench_throughput(&log, &registry, cfg.clone(), args.records, args.instances).await?;
    let aisle_rate = n as f64 / secs;
    let mut reference = None;
    if args.with_reference {
        let script = crate::reference_dir().join("kafka-streams-greenlight/run");
        match (&target.kafka, script.is_file()) {
            (None, _) => eprintln!("--with-reference needs the Kafka runtime (--kafka); skipped"),
            (_, false) => eprintln!("the reference is not there ({}); skipped", script.display()),
            (Some(kafka), true) => {
                eprintln!("running the Kafka Streams reference on the same input...");
                if chain.own_rows {
                    // The 2019 topology joins on the item name alone: `CA_1/cup` keys no cart.
                    eprintln!("(the reference joins chain-wide rows only: it has no store rows)");
                }
                reference = Some(kafka_streams(&script, kafka, &input, &inventory, args).await?);
            }
        }
    }
    let mut lat = if args.latency_secs > 0 {
        let lcfg = GreenlightConfig {
            input: format!("bench-gl-lat-carts-{tag}"),
            inventory: format!("bench-gl-lat-inventory-{tag}"),
            windowed_items: format!("bench-gl-lat-windowed-{tag}"),
            specials: format!("bench-gl-lat-specials-{tag}"),
            application_id: format!("bench-gl-lat-{tag}"),
            ..cfg.clone()
        };
        eprintln!(
            "latency: {} objects/s for {} s, 1 s windows...",
            args.latency_rate, args.latency_secs
        );
        let run = (args.latency_secs, args.latency_rate);
        bench_latency(&log, &registry, lcfg, &chain, run).await?
    } else {
        Vec::new()
    };
    lat.sort_by(f64::total_cmp);
    println!("aisle bench greenlight ({} runtime{stores})", log.runtime());
    println!(
        "  {:<44} {:>12} {:>10} {:>14}",
        "", "records", "seconds", "records/s"
    );
    println!(
        "  {:<44} {:>12} {:>10.3} {:>14.0}",
        format!(
            "aisle greenlight (exactly-once){}",
            match args.instances {
                1 => String::new(),
                i => format!(", {i} inst."),
            }
        ),
        n,
        secs,
        aisle_rate
    );
    if let Some(r) = &reference {
        let rate = r["records_per_sec"].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {:<44} {:>12} {:>10.3} {:>14.0}",
            "kafka streams reference (eos v2)",
            r["records"],
            r["seconds"].as_f64().unwrap_or(f64::NAN),
            rate
        );
        println!("  aisle / kafka streams: {:.2}x", aisle_rate / rate);
    } else if args.with_reference {
        println!("  (no reference figures: see above)");
    }
    if !lat.is_empty() {
        println!(
            "  latency, object produced -> special readable (1 s windows, {} windows): p50 {:.0} ms, p99 {:.0} ms",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}

/// Runs the Kafka Streams reference `script` on the input the throughput run read; returns the
/// JSON line it prints (`records`, `seconds`, `records_per_sec`).
async fn kafka_streams(
    script: &std::path::Path,
    kafka: &Kafka,
    input: &str,
    inventory: &str,
    args: &Options,
) -> anyhow::Result<serde_json::Value> {
    let out = tokio::process::Command::new(script)
        .args(["--bootstrap", &kafka.bootstrap, "--input", input])
        .args(["--inventory", inventory])
        .args(["--records", &args.records.to_string()])
        .args(["--window-ms", &args.window_ms.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "the reference failed ({})",
        out.status
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).with_context(|| format!("reference output `{}`", line.trim()))
}
