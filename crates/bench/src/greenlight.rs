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
// The inventory the bench joins against: `aisle inventory init`'s seed rows.
use aisle_inventory::SEED_ROWS;
use anyhow::Context;
use std::time::Duration;

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
}

/// Items every store of `--stores` has its own row for: cup and fork, which are also the upsell
/// items of bowl and spoon.
pub const STORE_ROW_ITEMS: [&str; 2] = ["cup", "fork"];

/// Where the cart objects come from, and whether each store has its own rows.
#[derive(Clone, Debug)]
struct Chain {
    stores: Vec<String>,
    own_rows: bool,
}

impl Chain {
    fn new(stores: Option<usize>) -> Self {
        match stores {
            None => Chain {
                stores: aisle_events::topics::M5_STORES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                own_rows: false,
            },
            Some(n) => Chain {
                stores: aisle_events::topics::chain_stores(n),
                own_rows: true,
            },
        }
    }

    /// The store of object `i`. Without store rows: `i mod 10`, as before `--stores` (10 and the
    /// 7 items share no factor, so every store sees every item). With them: runs of seven
    /// objects (every item once) per store in turn, so every store sees every item whatever N
    /// is (with `i mod N`, a multiple of 7 would give each store a single item).
    fn store_of(&self, i: u64) -> &str {
        let n = self.stores.len() as u64;
        let slot = if self.own_rows { i / 7 % n } else { i % n };
        &self.stores[slot as usize]
    }

    /// The table at `modified`: the seed rows (chain-wide), then each store's own rows.
    fn inventory(&self, modified: i64) -> Vec<aisle_events::Inventory> {
        let row = |id: usize, store: Option<&str>, (name, upsell, count): (&str, &str, i32)| {
            aisle_events::Inventory {
                id: id as i32,
                name: Some(name.into()),
                upsell_item: Some(upsell.into()),
                count: Some(count),
                modified,
                store_id: store.map(Into::into),
            }
        };
        let mut rows: Vec<_> = SEED_ROWS
            .iter()
            .enumerate()
            .map(|(i, r)| row(i + 1, None, *r))
            .collect();
        if !self.own_rows {
            return rows;
        }
        for (s, store) in self.stores.iter().enumerate() {
            for (k, item) in STORE_ROW_ITEMS.iter().enumerate() {
                let Some((name, upsell, _)) = SEED_ROWS.iter().find(|r| r.0 == *item) else {
                    continue;
                };
                // A count of the store's own (1..=97, never the seed's), so a join that read the
                // chain-wide row instead would show in the outputs.
                let count = 1 + ((s * STORE_ROW_ITEMS.len() + k) % 97) as i32;
                let id = SEED_ROWS.len() + 1 + s * STORE_ROW_ITEMS.len() + k;
                rows.push(row(id, Some(store), (name, upsell, count)));
            }
        }
        rows
    }
}

fn bench_cart(i: u64, ts: i64, chain: &Chain) -> aisle_events::ShoppingCartObject {
    let item = SEED_ROWS[(i % 7) as usize].0;
    aisle_events::ShoppingCartObject {
        timestamp: ts,
        image_name: format!("bench_{i}.jpg"),
        class_id: (i % 7) as i32,
        class_name: item.into(),
        score: 0.9,
        box_x: 1,
        box_y: 2,
        box_w: 3,
        box_h: 4,
        store_id: Some(chain.store_of(i).to_owned()),
        cart_id: None,
        camera_id: None,
    }
}

/// Creates `input` (1 partition) and `inventory` and writes the chain's rows and `n` cart
/// objects.
async fn bench_input(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    registry: &std::sync::Arc<dyn aisle_registry::SchemaRegistry>,
    (input, inventory): (&str, &str),
    chain: &Chain,
    n: u64,
    base: i64,
) -> anyhow::Result<()> {
    use aisle_events::{Event, schemas, wire};
    use aisle_log::{CleanupPolicy, ProduceRecord, ProducerConfig, TopicSpec};
    log.create_topic(&TopicSpec::new(input, 1)).await?;
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

/// Runs the processor on pre-produced input until its group has committed all of it (input and
/// repartition topic); returns (records, seconds from the first record handed to the processor).
async fn bench_throughput(
    log: &std::sync::Arc<dyn aisle_log::Log>,
    registry: &std::sync::Arc<dyn aisle_registry::SchemaRegistry>,
    cfg: GreenlightConfig,
    n: u64,
) -> anyhow::Result<(u64, f64)> {
    use aisle_log::{ConsumerConfig, TopicPartition};
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(aisle_greenlight::run(
        log.clone(),
        registry.clone(),
        cfg.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let watcher = log.consumer(&ConsumerConfig::group(cfg.application_id.clone()))?;
    let input = TopicPartition::new(cfg.input.clone(), 0);
    let bar = indicatif::ProgressBar::new(n).with_message("greenlight");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    let done_at = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if task.is_finished() {
            break None;
        }
        let c = watcher.committed(std::slice::from_ref(&input)).await?[0].unwrap_or(0);
        bar.set_position(c as u64);
        if c as u64 >= n {
            // Stage 1 is all committed: the repartition topic is complete; wait for stage 2.
            let info = log.describe_topic(&cfg.repartition_topic()).await?;
            let mut all = true;
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
                all &= high == 0 || got >= end;
            }
            if all {
                break Some(tokio::time::Instant::now().into_std());
            }
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "bench did not finish in 30 min"
        );
    };
    bar.finish_and_clear();
    let _ = stop_tx.send(());
    let stats = task.await??;
    let done_at = done_at.context("the processor stopped before the end of its input")?;
    let first = stats.first_record.context("no record processed")?;
    Ok((n, done_at.duration_since(first).as_secs_f64()))
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
    let topics = (cfg.input.as_str(), cfg.inventory.as_str());
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
    let stores = match args.stores {
        Some(n) => format!(", {n} stores with their own rows"),
        None => String::new(),
    };
    eprintln!(
        "producing {} cart objects into {input} ({} runtime{stores})...",
        args.records,
        log.runtime()
    );
    let topics = (input.as_str(), inventory.as_str());
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
    eprintln!("running aisle greenlight (exactly-once) on it...");
    let (n, secs) = bench_throughput(&log, &registry, cfg.clone(), args.records).await?;
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
        "  {:<34} {:>12} {:>10} {:>14}",
        "", "records", "seconds", "records/s"
    );
    println!(
        "  {:<34} {:>12} {:>10.3} {:>14.0}",
        "aisle greenlight (exactly-once)", n, secs, aisle_rate
    );
    if let Some(r) = &reference {
        let rate = r["records_per_sec"].as_f64().unwrap_or(f64::NAN);
        println!(
            "  {:<34} {:>12} {:>10.3} {:>14.0}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn default_chain_is_todays_bench() {
        let chain = Chain::new(None);
        assert_eq!(chain.stores, aisle_events::topics::M5_STORES);
        let rows = chain.inventory(5);
        let keys: Vec<_> = rows.iter().map(|r| r.key().unwrap()).collect();
        let seed: Vec<_> = SEED_ROWS.iter().map(|r| r.0.to_string()).collect();
        assert_eq!(keys, seed);
        assert!(rows.iter().all(|r| r.store_id.is_none() && r.modified == 5));
        for i in 0..20 {
            let c = bench_cart(i, 0, &chain);
            let want = aisle_events::topics::M5_STORES[(i % 10) as usize];
            assert_eq!(c.store_id.as_deref(), Some(want));
            assert_eq!(c.class_name, SEED_ROWS[(i % 7) as usize].0);
        }
    }

    #[test]
    fn stores_get_their_own_rows_and_the_join_takes_them() {
        let n = 14;
        let chain = Chain::new(Some(n));
        let stores = aisle_events::topics::chain_stores(n);
        assert_eq!(chain.stores, stores);
        let rows = chain.inventory(0);
        assert_eq!(rows.len(), SEED_ROWS.len() + n * STORE_ROW_ITEMS.len());
        let table: HashMap<String, aisle_events::Inventory> =
            rows.iter().map(|r| (r.key().unwrap(), r.clone())).collect();
        assert_eq!(table.len(), rows.len(), "keys are unique");
        let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), rows.len(), "ids are unique");
        // Every store carts every item within the first 7 N objects (14 is a multiple of 7: a
        // plain `i mod N` would give each store one item).
        let seen: std::collections::BTreeSet<_> = (0..n as u64 * 7)
            .map(|i| {
                let c = bench_cart(i, 0, &chain);
                (c.store_id.unwrap(), c.class_name)
            })
            .collect();
        assert_eq!(seen.len(), n * SEED_ROWS.len());
        // What the processor's rule joins for each store and item: the store's own cup and fork
        // (a count unlike the chain's), the chain-wide row for the rest.
        let mut lookup = aisle_greenlight::StoreRows::new();
        let mut counts = std::collections::BTreeSet::new();
        for store in &stores {
            for (name, upsell, chain_count) in SEED_ROWS {
                let r = lookup
                    .find(Some(store), name, |k| table.get(k))
                    .unwrap_or_else(|| panic!("{store} {name}: no row"));
                assert_eq!(r.upsell_item.as_deref(), Some(upsell));
                if STORE_ROW_ITEMS.contains(&name) {
                    assert_eq!(r.store_id.as_deref(), Some(store.as_str()), "{name}");
                    let c = r.count.unwrap();
                    assert!(c > 0 && c != chain_count, "{store} {name}: {c}");
                    counts.insert(c);
                } else {
                    assert_eq!(r.store_id, None, "{store} {name}");
                }
            }
        }
        assert!(counts.len() > 1, "store counts differ between stores");
    }
}
