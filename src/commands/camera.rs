//! `aisle camera ...` (library: `aisle-camera`); `aisle bench camera` is in `aisle-bench`.

use crate::config::Config;
use crate::exit;
use crate::runtime;
use crate::signal::shutdown_signal;
use aisle_camera::decode::{ImageLimits, prepare_with};
use aisle_camera::model::one_label_per_box;
use aisle_camera::{CameraConfig, Detector, RuntimeOptions, SimOptions, fetch, run};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use tokio::time::Instant;

#[derive(Debug, Subcommand)]
pub enum CameraCmd {
    /// Detect objects in image files and print them (label, COCO id, score, pixel box). Writes
    /// nothing to the log.
    Detect(DetectArgs),
    /// Detect every image in a directory (recursively), with --watch also images arriving later,
    /// into `shopping_cart_objects`: one record per detection at or above the threshold, key =
    /// item name, timestamp = capture time. Each image is processed once, also across restarts
    /// and crashes; bad files go to `shopping_cart_objects.dlq` and the camera goes on.
    Run(RunArgs),
    /// Write realistic detection events without a model (items of the seed inventory, keyed by
    /// item name) until Ctrl-C or --count.
    Simulate(SimulateArgs),
    /// Download a published detector model and verify its sha256 (needs internet access).
    FetchModel(FetchArgs),
}

/// Where the model and ONNX Runtime come from.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// ONNX model file (DEIMv2 or YOLOX). Default: $AISLE_MODEL, then [camera] models_dir.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// ONNX Runtime library (libonnxruntime.so; install with scripts/install-onnxruntime).
    /// Default: [camera] ort_lib, then $ORT_DYLIB_PATH, then .onnxruntime/libonnxruntime.so.
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Minimum score (default: [camera] score_threshold, 0.5).
    #[arg(long, value_name = "SCORE")]
    pub threshold: Option<f32>,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Image files (JPEG or PNG).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print JSON (one object per file) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep every label of a box (DEIMv2 may give one box two labels); default: the best one.
    #[arg(long)]
    pub all_labels: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Directory of photos.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    /// Keep running and detect photos that arrive later (until Ctrl-C).
    #[arg(long)]
    pub watch: bool,
    /// Store id for the records (default: [camera] store_id).
    #[arg(long, value_name = "ID")]
    pub store: Option<String>,
    /// Cart id for the records (default: [camera] cart_id).
    #[arg(long, value_name = "ID")]
    pub cart: Option<String>,
    /// Camera id (default: [camera] camera_id, "camera-1"); one camera id per directory.
    #[arg(long, value_name = "ID")]
    pub camera: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Stop after this many images (the rest are done by the next run).
    #[arg(long, value_name = "N")]
    pub max_images: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Events per second.
    #[arg(long, default_value_t = 5.0, value_name = "N")]
    pub rate: f64,
    /// Store id of every event (default: each cart's store, see --stores).
    #[arg(long, value_name = "ID")]
    pub store: Option<String>,
    /// Spread the carts over the first N stores of the chain (default 10: M5's CA_1..WI_3; then
    /// CA_5, TX_4, WI_4, CA_6, ..., the ids `aisle replay sales --synthetic --chain-stores N`
    /// writes), four carts per store.
    #[arg(long, value_name = "N", conflicts_with = "store",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub stores: Option<u32>,
    /// Stop after this many events (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Random seed, for repeatable streams.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Model: deimv2-femto (default, recommended), deimv2-atto or yolox-nano.
    #[arg(long, default_value = "deimv2-femto")]
    pub name: String,
    /// Directory to save it in (default: [camera] models_dir, else ./models).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub async fn run(config: &Config, cmd: CameraCmd) -> anyhow::Result<()> {
    match cmd {
        CameraCmd::Detect(args) => detect(&config.camera, args).await,
        CameraCmd::Run(args) => camera_run(config, args).await,
        CameraCmd::Simulate(args) => simulate(config, args).await,
        CameraCmd::FetchModel(args) => fetch_model(&config.camera, args).await,
    }
}

pub(crate) fn runtime_options(cam: &CameraConfig, ort_lib: Option<&Path>) -> RuntimeOptions {
    RuntimeOptions {
        library: cam.ort_lib_path(ort_lib),
        threads: cam.threads,
    }
}

/// Loads the detector named by flags/env/config; a missing model or runtime is a config error.
async fn load_detector(cam: &CameraConfig, args: &ModelArgs) -> anyhow::Result<Detector> {
    let Some(model) = cam.model_path(args.model.as_deref()) else {
        return Err(exit::fail(
            exit::CONFIG,
            "no model: pass --model PATH, set AISLE_MODEL, or set [camera] models_dir \
             (download one with `aisle camera fetch-model`)",
        ));
    };
    let rt = runtime_options(cam, args.ort_lib.as_deref());
    tokio::task::spawn_blocking(move || Detector::load(&model, &rt))
        .await?
        .map_err(|e| exit::fail(exit::CONFIG, e.to_string()))
}

async fn detect(cam: &CameraConfig, args: DetectArgs) -> anyhow::Result<()> {
    let mut detector = load_detector(cam, &args.model).await?;
    let threshold = args.model.threshold.unwrap_or(cam.score_threshold);
    let limits = ImageLimits {
        max_bytes: cam.max_image_bytes,
        max_side: cam.max_image_side,
    };
    let kind = detector.kind();
    let mut failed = 0;
    // A photo without EXIF capture time is stamped when it is read (the command's clock).
    let clock = aisle_log::clock::system();
    for file in &args.files {
        let result = prepare_with(file, kind, limits, &clock).and_then(|img| {
            let d = detector.detect(&img, threshold)?;
            Ok(if args.all_labels {
                d
            } else {
                one_label_per_box(d)
            })
        });
        match result {
            Ok(dets) if args.json => println!(
                "{}",
                serde_json::json!({ "file": file.display().to_string(), "detections": dets })
            ),
            Ok(dets) => {
                println!("{} ({} detections)", file.display(), dets.len());
                println!(
                    "  {:<16} {:>7} {:>6}  {:>5} {:>5} {:>5} {:>5}",
                    "label", "coco_id", "score", "x", "y", "w", "h"
                );
                for d in dets {
                    let [x, y, w, h] = d.xywh();
                    println!(
                        "  {:<16} {:>7} {:>6.3}  {x:>5} {y:>5} {w:>5} {h:>5}",
                        d.label, d.coco_id, d.score
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("warning: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(exit::fail(
            exit::DATA_ERR,
            format!("{failed} of {} files could not be read", args.files.len()),
        ));
    }
    Ok(())
}

async fn camera_run(config: &Config, args: RunArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM while the camera starts still stops it cleanly.
    let shutdown = shutdown_signal();
    let cam = &config.camera;
    let detector = load_detector(cam, &args.model).await?;
    let mut opts = cam.run_options(&args.images);
    opts.watch = args.watch;
    opts.max_images = args.max_images;
    if let Some(t) = args.model.threshold {
        opts.threshold = t;
    }
    if let Some(s) = args.store {
        opts.store_id = Some(s);
    }
    if let Some(c) = args.cart {
        opts.cart_id = Some(c);
    }
    if let Some(c) = args.camera {
        opts.camera_id = c;
    }
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    let registry = runtime::registry(config, &log).await?;
    eprintln!(
        "camera {}: {} over {}{} → {} (runtime {})",
        opts.camera_id,
        detector.path().display(),
        opts.images.display(),
        if opts.watch { " (watching)" } else { "" },
        opts.topic,
        log.runtime()
    );
    let started = Instant::now();
    let s = run::run(log, registry, detector, opts, shutdown).await?;
    println!(
        "camera: {} images in {:.1} s, {} detections written, {} dead letters, {} already done by an earlier run",
        s.images,
        started.elapsed().as_secs_f64(),
        s.detections,
        s.dead_letters,
        s.already_done
    );
    Ok(())
}

async fn simulate(config: &Config, args: SimulateArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM while the camera starts still stops it cleanly.
    let shutdown = shutdown_signal();
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(exit::fail(
            exit::CONFIG,
            format!("--rate {}: expected a positive number", args.rate),
        ));
    }
    let opts = SimOptions {
        rate: args.rate,
        // --stores spreads the carts: the configured single store does not apply.
        store_id: match args.stores {
            Some(_) => None,
            None => args.store.or_else(|| config.camera.store_id.clone()),
        },
        stores: args
            .stores
            .map_or(SimOptions::default().stores, |n| n as usize),
        topic: config.camera.topic.clone(),
        count: args.count,
        seed: args.seed,
        labels: aisle_camera::LabelMap::new(config.camera.labels.clone()),
    };
    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    let registry = runtime::registry(config, &log).await?;
    eprintln!(
        "camera simulator: {} events/s → {} (no model; simulated detections)",
        opts.rate, opts.topic
    );
    let n = aisle_camera::simulate::simulate(log, registry, opts, shutdown).await?;
    println!("camera simulator: {n} events written");
    Ok(())
}

async fn fetch_model(cam: &CameraConfig, args: FetchArgs) -> anyhow::Result<()> {
    let Some(rel) = fetch::release(&args.name) else {
        let names: Vec<_> = fetch::RELEASES.iter().map(|r| r.name).collect();
        return Err(exit::fail(
            exit::CONFIG,
            format!("unknown model `{}`; one of {names:?}", args.name),
        ));
    };
    let dir = args
        .dir
        .or_else(|| cam.models_dir.clone())
        .unwrap_or_else(|| PathBuf::from("models"));
    eprintln!(
        "downloading {} ({} bytes) from {}",
        rel.file, rel.bytes, rel.url
    );
    let path = tokio::task::spawn_blocking(move || fetch::fetch(rel, &dir))
        .await?
        .map_err(|e| exit::fail(exit::UNAVAILABLE, e.to_string()))?;
    println!("{} (sha256 {} verified)", path.display(), rel.sha256);
    Ok(())
}
