//! `aisle demo`: the whole pipeline in one process on embedded defaults, until Ctrl-C or
//! `--duration`.
//!
//! What runs, each as a task on the same log:
//! * the standard topics and every contract schema (registry also served over HTTP);
//! * inventory: the seven seed rows in a SQLite `inventory` table in the data dir, captured by the
//!   connector into `mysql_tables_jdbc_inventory` and `inventory_rekeyed`;
//! * cart camera: the real detector over `--images` when a model and ONNX Runtime are found
//!   (`--model`, `AISLE_MODEL`, `[camera] models_dir`), then the simulator keeps carts coming; the
//!   simulator alone otherwise. The demo says which;
//! * Green Light Special with demo-sized windows (10 s, grace 2 s, idle close 5 s), printing each
//!   special as it is announced;
//! * the M5 sales replay (synthetic, one day per second per store);
//! * the dashboard and API (`aisle serve`) at `[serve] listen` (default http://127.0.0.1:8080).

use crate::config::Config;
use crate::runtime;
use crate::signal::shutdown_signal;
use aisle_camera::{CameraSource, RuntimeOptions, SimOptions};
use aisle_events::{Event, GreenLightSpecial, topics, wire};
use aisle_log::{ConsumerConfig, Log, Offset, TopicPartition};
use aisle_registry::{LocalRegistry, SchemaRegistry};
use clap::Args;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Address for the demo's schema registry (empty to disable).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub registry_listen: String,
    /// Sample cart photos for the real detector (e.g. ../shared/vision/images); with a model
    /// (--model, AISLE_MODEL or [camera] models_dir) and ONNX Runtime installed, the demo detects
    /// them first, then the simulator keeps carts coming.
    #[arg(long, env = "AISLE_DEMO_IMAGES", value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Detector model for --images (.onnx; default: AISLE_MODEL, then [camera] models_dir).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Simulated cart detections per second.
    #[arg(long, default_value_t = 5.0, value_name = "N")]
    pub cart_rate: f64,
    /// Don't serve the dashboard ([serve] listen, default http://127.0.0.1:8080).
    #[arg(long)]
    pub no_serve: bool,
}

/// Demo window sizes: short, so specials appear within the first minute.
const WINDOW_MS: u64 = 10_000;
const GRACE_MS: u64 = 2_000;
const IDLE_MS: u64 = 5_000;

pub async fn run(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM while the demo starts its components still stops it cleanly.
    let signal = shutdown_signal();
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    println!("aisle demo: {} runtime", log.runtime());
    for spec in topics::default_specs() {
        log.create_topic(&spec.replication(config.kafka.spec_replication()))
            .await?;
    }
    let store = runtime::local_store(&log).await?;
    let local = LocalRegistry::new(store.clone());
    for (topic, schema) in topics::value_schemas() {
        let id = local
            .register(&topics::value_subject(topic), schema)
            .await?;
        tracing::debug!(topic, id, "schema registered");
    }
    let registry: Arc<dyn SchemaRegistry> = Arc::new(local.clone());
    println!("topics created and schemas registered");

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = || stopped(stop_rx.clone());
    let mut tasks: Vec<(&str, JoinHandle<anyhow::Result<()>>)> = Vec::new();

    if !args.registry_listen.is_empty() {
        match tokio::net::TcpListener::bind(&args.registry_listen).await {
            Ok(l) => {
                println!("schema registry: http://{}", l.local_addr()?);
                let (store, until) = (store.clone(), stop());
                tasks.push((
                    "registry",
                    tokio::spawn(async move {
                        aisle_registry::serve(store, l, until).await?;
                        Ok(())
                    }),
                ));
            }
            Err(e) => {
                tracing::warn!(addr = %args.registry_listen, error = %e, "registry not served")
            }
        }
    }
    tasks.push((
        "inventory",
        inventory(config, &log, &registry, stop()).await?,
    ));
    wait_for_inventory(log.as_ref(), &config.inventory.rekeyed_topic).await;
    tasks.push(("greenlight", greenlight(config, &log, &registry, stop())));
    tasks.push((
        "specials",
        tokio::spawn(print_specials(log.clone(), stop())),
    ));
    tasks.push((
        "camera",
        camera(config, &args, &log, &registry, stop_rx.clone()).await?,
    ));
    tasks.push((
        "sales replay",
        replay_sales(config, &log, &registry, stop()).await?,
    ));
    if !args.no_serve {
        let (section, log, registry, until) =
            (config.serve.clone(), log.clone(), registry.clone(), stop());
        tasks.push((
            "dashboard",
            tokio::spawn(crate::commands::serve::serve_until(
                section, log, registry, until,
            )),
        ));
    }

    let until = async {
        match args.duration {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => signal.await,
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
    let _ = stop_tx.send(true);
    for (name, task) in tasks {
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::warn!(component = name, error = %format!("{e:#}"), "stopped with an error")
            }
            Ok(Err(e)) if e.is_cancelled() => {}
            Ok(Err(e)) => tracing::warn!(component = name, error = %e, "task failed"),
            Err(_) => tracing::warn!(component = name, "did not stop within 10 s"),
        }
    }
    status(log.as_ref()).await?;
    println!("aisle demo: stopped");
    Ok(())
}

/// Resolves once the demo is told to stop.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Seeds the SQLite inventory in the data dir (first run only) and runs the connector.
async fn inventory(
    config: &Config,
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    until: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let mut cfg = config.inventory.clone();
    let url = match cfg.db_url.clone() {
        Some(url) => url,
        None => {
            std::fs::create_dir_all(&config.data_dir)?;
            let (url, init) = aisle_inventory::init_sqlite(&config.data_dir, &cfg.table).await?;
            println!(
                "inventory: SQLite {} ({} seed rows inserted)",
                url.trim_start_matches("sqlite://"),
                init.inserted
            );
            url
        }
    };
    cfg.poll_interval_ms = cfg.poll_interval_ms.min(1_000);
    let (log, registry) = (log.clone(), registry.clone());
    Ok(tokio::spawn(async move {
        aisle_inventory::run(cfg, &url, log, registry, false, until).await?;
        Ok(())
    }))
}

/// Waits (up to 15 s) for the first captured inventory rows, so the first carts already join.
async fn wait_for_inventory(log: &dyn Log, topic: &str) {
    let tp = TopicPartition::new(topic, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if matches!(log.watermarks(&tp).await, Ok((_, high)) if high > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!(
        topic,
        "no inventory captured yet; early carts will be unmatched"
    );
}

/// The Green Light Special with demo-sized windows.
fn greenlight(
    config: &Config,
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    until: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<anyhow::Result<()>> {
    let mut cfg = config.greenlight.clone();
    cfg.window_ms = WINDOW_MS;
    cfg.advance_ms = None;
    cfg.grace_ms = GRACE_MS;
    cfg.idle_timeout_ms = IDLE_MS;
    println!(
        "greenlight: {} s tumbling windows, grace {} s, idle close {} s",
        WINDOW_MS / 1000,
        GRACE_MS / 1000,
        IDLE_MS / 1000
    );
    let (log, registry) = (log.clone(), registry.clone());
    tokio::spawn(async move {
        aisle_greenlight::run(log, registry, cfg, until).await?;
        Ok(())
    })
}

/// The real detector over `--images` (when a model and ONNX Runtime load), then the simulator.
async fn camera(
    config: &Config,
    args: &DemoArgs,
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let cam = config.camera.clone();
    let sim = SimOptions {
        rate: args.cart_rate,
        topic: cam.topic.clone(),
        labels: aisle_camera::LabelMap::new(cam.labels.clone()),
        ..SimOptions::default()
    };
    let model = cam.model_path(args.model.as_deref());
    let runtime = RuntimeOptions {
        library: cam.ort_lib_path(None),
        threads: cam.threads,
    };
    let first = match (&model, &args.images) {
        (Some(model), Some(images)) => {
            let mut run = cam.run_options(images);
            run.store_id
                .get_or_insert_with(|| topics::M5_STORES[0].to_string());
            let (model, sim2) = (model.clone(), sim.clone());
            let (source, why) = tokio::task::spawn_blocking(move || {
                CameraSource::pick(Some(&model), &runtime, run, sim2)
            })
            .await?;
            println!("{why}");
            Some(source)
        }
        (None, _) => {
            println!(
                "camera: simulator, {}/s (synthetic detections; no model configured: --model, AISLE_MODEL or [camera] models_dir)",
                args.cart_rate
            );
            None
        }
        (Some(_), None) => {
            println!(
                "camera: simulator, {}/s (synthetic detections; pass --images DIR to run the detector)",
                args.cart_rate
            );
            None
        }
    };
    let (log, registry) = (log.clone(), registry.clone());
    Ok(tokio::spawn(async move {
        if let Some(source @ CameraSource::Detector(..)) = first {
            let n = aisle_camera::camera_or_simulator(
                log.clone(),
                registry.clone(),
                source,
                stopped(stop.clone()),
            )
            .await?;
            println!("camera: {n} detections from the sample images; the simulator takes over");
        }
        aisle_camera::camera_or_simulator(
            log,
            registry,
            CameraSource::Simulator(sim),
            stopped(stop),
        )
        .await?;
        Ok(())
    }))
}

/// Prints each special as it is announced.
async fn print_specials(
    log: Arc<dyn Log>,
    until: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let mut consumer = log.consumer(&ConsumerConfig::default())?;
    let tp = TopicPartition::new(topics::GREEN_LIGHT_SPECIALS, 0);
    consumer.assign(&[(tp, Offset::End)])?;
    tokio::pin!(until);
    loop {
        let batch = tokio::select! {
            _ = &mut until => return Ok(()),
            b = consumer.poll(Duration::from_millis(500)) => b?,
        };
        for rec in batch {
            let Some((_, datum)) = rec.value.as_deref().and_then(|v| wire::split(v).ok()) else {
                continue;
            };
            match GreenLightSpecial::decode(datum) {
                Ok(s) => println!(
                    "GREEN LIGHT SPECIAL {}: {} (carted {}×) → put {} on special — {}",
                    s.store_id, s.item, s.count, s.upsell_item, s.reason
                ),
                Err(e) => tracing::warn!(error = %e, "undecodable special"),
            }
        }
    }
}

/// The M5 sales replay, synthetic, one day per second per store (a live-looking stream); a
/// restarted demo resumes it where it stopped.
async fn replay_sales(
    config: &Config,
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    until: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    use aisle_sales::{ReplayOptions, Source, Speed};
    // The same library call as `aisle replay sales --synthetic --days 1..1941 --speed 1`.
    let mut opts = ReplayOptions::new(Source::Synthetic);
    opts.days = Some((1, 1941));
    opts.speed = Speed::DaysPerSecond(1.0);
    opts.topic = topics::SALES.into();
    opts.replication = config.kafka.spec_replication();
    let (log, registry) = (log.clone(), registry.clone());
    println!("sales replay: synthetic M5 (labelled stand-in data), 1 day/s per store");
    Ok(tokio::spawn(async move {
        let quiet = Arc::new(aisle_sales::Quiet);
        aisle_sales::replay(log, registry, opts, quiet, until).await?;
        Ok(())
    }))
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
