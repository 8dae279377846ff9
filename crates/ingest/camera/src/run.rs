//! `aisle camera run`: the pipeline from image files to committed detections.
//!
//! Threads: the directory listing / watcher feeds a **decoder** thread, which reads, decodes and
//! resizes chunks of images in parallel on rayon; a **detector** thread owns the ONNX session and
//! runs one prepared image after another, so decoding the next images overlaps inference. The
//! async side collects outcomes and writes them in transactions: per image, its detections (or
//! its dead letter) and its processed marker, and per transaction the camera's checkpoint (see
//! [`crate::offsets`] and [`crate::progress`]), commit together.
//!
//! Start-up: the transactional producer is created first (it fences a previous instance of the
//! camera and aborts what that left open), then the latest checkpoint is read. The decoder thread
//! asks the shared [`Progress`] about each listed file before opening it: done files are skipped
//! unread, new ones are in flight until their transaction commits.
//!
//! Event time: each file is stamped with [`RunOptions::clock`]'s now when the listing or the
//! watcher sees it; a detection's timestamp is the photo's EXIF DateTimeOriginal, else that
//! arrival time (not the file's mtime). An image whose marker is committed is skipped before it
//! is read, so a restart never re-stamps or re-sends it; an image that was seen but not committed
//! before a crash is processed again on restart and gets the new arrival time.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use aisle_events::dead_letter::DeadLetter;
use aisle_events::{ShoppingCartObject, topics};
use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_registry::SchemaRegistry;
use aisle_serde::Serializer;
use rayon::prelude::*;
use tokio::sync::mpsc as amp;
use tokio::time::Instant;

use crate::decode::{ImageLimits, prepare_at};
use crate::error::{CameraError, Result};
use crate::labels::LabelMap;
use crate::model::{Detection, Detector, one_label_per_box};
use crate::offsets;
use crate::progress::{Admit, Origin, Progress};
use crate::source::{self, Job};
use aisle_log::SharedClock;

/// What a camera does; [`RunOptions::new`] has the defaults.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Directory of photos (read recursively).
    pub images: PathBuf,
    /// Keep watching for new photos until shutdown.
    pub watch: bool,
    /// Output topic (default `shopping_cart_objects`); dead letters go to `<topic>.dlq`.
    pub topic: String,
    /// Processed-images topic (default `_aisle_camera_offsets`).
    pub offsets_topic: String,
    /// This camera's id: the record's `camera_id` and the key prefix of its markers.
    pub camera_id: String,
    /// Store id for the records.
    pub store_id: Option<String>,
    /// Cart id for the records.
    pub cart_id: Option<String>,
    /// Minimum score of a detection that becomes a record (default 0.5).
    pub threshold: f32,
    /// COCO label → inventory name.
    pub labels: LabelMap,
    /// File size / dimension limits.
    pub limits: ImageLimits,
    /// Images per transaction at most (default 16); fewer when no more are ready.
    pub batch: usize,
    /// Stop after this many images (tests and "process N then stop").
    pub max_images: Option<u64>,
    /// Where arrival times come from (the event time of photos without EXIF capture time) and
    /// what the listing's and the watcher's horizons are measured with ([`crate::progress`]);
    /// the system clock by default.
    pub clock: SharedClock,
    /// How much older than the camera's clock a file's time may be when it arrives, ms (default
    /// [`DEFAULT_MARGIN_MS`]): covers a file system whose clock lags the camera's, coarse kernel
    /// timestamps and notification delays. Files arriving later than that are taken for done
    /// (with a warning); a larger margin keeps more recent images in each checkpoint.
    pub margin_ms: i64,
}

/// Default [`RunOptions::margin_ms`]: 10 s.
pub const DEFAULT_MARGIN_MS: i64 = 10_000;

impl RunOptions {
    /// Defaults for camera `camera_id` over `images`.
    pub fn new(images: impl Into<PathBuf>, camera_id: impl Into<String>) -> Self {
        RunOptions {
            images: images.into(),
            watch: false,
            topic: topics::SHOPPING_CART_OBJECTS.into(),
            offsets_topic: offsets::OFFSETS_TOPIC.into(),
            camera_id: camera_id.into(),
            store_id: None,
            cart_id: None,
            threshold: 0.5,
            labels: LabelMap::default(),
            limits: ImageLimits::default(),
            batch: 16,
            max_images: None,
            clock: aisle_log::clock::system(),
            margin_ms: DEFAULT_MARGIN_MS,
        }
    }
}

/// What a run did (committed work only).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    /// Images processed (detected or dead-lettered) in this run.
    pub images: u64,
    /// Detection records written.
    pub detections: u64,
    /// Dead letters written (bad images and unreadable directories).
    pub dead_letters: u64,
    /// Images skipped because an earlier run had committed them.
    pub already_done: u64,
    /// Image files opened and read in this run (skipped ones are never opened).
    pub files_read: u64,
    /// Records read from the checkpoint topic at start.
    pub resume_checkpoint_records: u64,
    /// Bytes (keys and values) of those records.
    pub resume_checkpoint_bytes: u64,
    /// Records read from the markers topic at start (0 once the camera has a checkpoint).
    pub resume_marker_records: u64,
}

enum Outcome {
    Detected {
        rel: String,
        time: i64,
        file_name: String,
        captured_ms: i64,
        from_exif: bool,
        dets: Vec<Detection>,
        started: Instant,
    },
    Bad {
        /// Relative path and file time of an image; `None` for a directory.
        rel: Option<(String, i64)>,
        path: PathBuf,
        reason: String,
    },
    /// The listing is complete: write a checkpoint even if no image follows (it moves `through`
    /// up and ends a migration).
    Flush,
}

/// What the decoder hands the detector.
enum Prepared {
    Image(String, i64, Instant, Result<crate::decode::Prepared>),
    Flush,
}

/// Runs the camera until the directory is done (or, with `watch`, until `shutdown` resolves).
/// Registers the detection schema under the topic's `-value` subject in `registry` and frames
/// values with its id.
pub async fn run(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    detector: Detector,
    opts: RunOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<RunSummary> {
    let dlq = topics::dlq(&opts.topic);
    let checkpoints = offsets::checkpoint_topic(&opts.offsets_topic);
    for spec in [
        topics::default_spec(&opts.topic).unwrap_or_else(|| TopicSpec::new(&opts.topic, 1)),
        topics::default_spec(&dlq).unwrap_or_else(|| TopicSpec::new(&dlq, 1)),
        offsets::spec(&opts.offsets_topic),
        offsets::checkpoint_spec(&checkpoints),
    ] {
        log.create_topic(&spec).await?;
    }
    let schema = register(registry.as_ref(), &opts.topic).await?;
    // The producer first: it fences an earlier instance and aborts its open transaction, which
    // would otherwise hold the read_committed read of the checkpoint.
    let mut tx = log
        .tx_producer(
            &format!("aisle-camera-{}", opts.camera_id),
            &ProducerConfig {
                client_id: format!("aisle-camera-{}", opts.camera_id),
                ..Default::default()
            },
        )
        .await?;
    let resume = offsets::resume(
        log.as_ref(),
        &opts.offsets_topic,
        &checkpoints,
        &opts.camera_id,
    )
    .await?;
    let mut summary = RunSummary {
        resume_checkpoint_records: resume.checkpoint_records,
        resume_checkpoint_bytes: resume.checkpoint_bytes,
        resume_marker_records: resume.marker_records,
        ..Default::default()
    };
    tracing::info!(
        camera = %opts.camera_id,
        checkpoint_records = resume.checkpoint_records,
        marker_records = resume.marker_records,
        "camera resumes"
    );
    let progress = Arc::new(Mutex::new(Progress::resume(
        resume.checkpoint,
        resume.legacy,
        opts.margin_ms,
    )));

    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let _watcher = if opts.watch {
        match source::watch(&opts.images, jobs_tx.clone(), opts.clock.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                // The scan below dead-letters an unreadable directory; without a watcher the
                // camera does what is there and stops instead of failing.
                let err = CameraError::Directory {
                    path: opts.images.clone(),
                    reason: format!("cannot watch ({e}); processing only what is there now"),
                };
                tracing::warn!("{err}");
                None
            }
        }
    } else {
        None
    };
    let (root, clock) = (opts.images.clone(), opts.clock.clone());
    std::thread::spawn(move || source::scan(&root, &jobs_tx, &clock));

    let (out_tx, mut out_rx) = amp::channel::<Outcome>(opts.batch.max(1) * 2);
    let counters = spawn_pipeline(detector, &opts, progress.clone(), jobs_rx, out_tx);

    let mut shutdown = std::pin::pin!(shutdown);
    let mut pending: Vec<Outcome> = Vec::new();
    let mut finished = false;
    while !finished {
        tokio::select! {
            biased;
            _ = &mut shutdown, if pending.is_empty() => break,
            next = out_rx.recv() => match next {
                Some(o) => pending.push(o),
                None => finished = true,
            },
        }
        // Take whatever else is ready now, up to a batch.
        while pending.len() < opts.batch.max(1) {
            match out_rx.try_recv() {
                Ok(o) => pending.push(o),
                Err(_) => break,
            }
        }
        if let Some(max) = opts.max_images {
            let room = max.saturating_sub(summary.images) as usize;
            pending.truncate(room);
        }
        if !pending.is_empty() {
            let to = Target {
                schema,
                opts: &opts,
                dlq: &dlq,
                checkpoints: &checkpoints,
                progress: &progress,
            };
            commit(tx.as_mut(), to, &mut pending, &mut summary).await?;
        }
        if opts.max_images.is_some_and(|m| summary.images >= m) {
            break;
        }
    }
    summary.already_done = counters.skipped.load(Ordering::Relaxed);
    summary.files_read = counters.read.load(Ordering::Relaxed);
    Ok(summary)
}

/// What the decoder thread counts.
#[derive(Default)]
struct Counters {
    /// Images skipped as done.
    skipped: AtomicU64,
    /// Image files opened.
    read: AtomicU64,
}

/// Starts the decoder and detector threads; returns what the decoder counts.
fn spawn_pipeline(
    mut detector: Detector,
    opts: &RunOptions,
    progress: Arc<Mutex<Progress>>,
    jobs: mpsc::Receiver<Job>,
    out: amp::Sender<Outcome>,
) -> Arc<Counters> {
    let counters = Arc::new(Counters::default());
    let kind = detector.kind();
    let limits = opts.limits;
    let chunk = opts.batch.clamp(1, 8);
    let margin_ms = opts.margin_ms;
    let (prep_tx, prep_rx) = mpsc::sync_channel(chunk * 2);
    let counter = counters.clone();
    let bad_out = out.clone();
    // Decoder: chunks of jobs decoded in parallel, handed on in order.
    std::thread::spawn(move || {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            while batch.len() < chunk {
                match jobs.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let mut images = Vec::new();
            let mut flush = false;
            for job in batch {
                match job {
                    Job::Image {
                        path,
                        rel,
                        seen_ms,
                        time_ms,
                        origin,
                    } => {
                        // Done (committed, in flight, or an old marker): skipped before it is
                        // read, so it is neither re-stamped nor re-sent.
                        let verdict = lock(&progress).admit(&rel, time_ms, origin);
                        match verdict {
                            Admit::New => images.push((path, rel, seen_ms, time_ms)),
                            Admit::Done => {
                                counter.skipped.fetch_add(1, Ordering::Relaxed);
                            }
                            Admit::Late => {
                                counter.skipped.fetch_add(1, Ordering::Relaxed);
                                late(&path, time_ms, origin, margin_ms);
                            }
                        }
                    }
                    Job::Listed { start_ms } => {
                        lock(&progress).listed(start_ms);
                        flush = true;
                    }
                    Job::Unreadable { path, reason } => {
                        let bad = Outcome::Bad {
                            rel: None,
                            path,
                            reason,
                        };
                        if bad_out.blocking_send(bad).is_err() {
                            return;
                        }
                    }
                }
            }
            counter
                .read
                .fetch_add(images.len() as u64, Ordering::Relaxed);
            let prepared: Vec<_> = images
                .into_par_iter()
                .map(|(path, rel, seen_ms, time_ms)| {
                    let started = Instant::now();
                    let p = prepare_at(&path, kind, limits, seen_ms);
                    Prepared::Image(rel, time_ms, started, p)
                })
                .collect();
            for p in prepared.into_iter().chain(flush.then_some(Prepared::Flush)) {
                if prep_tx.send(p).is_err() {
                    return;
                }
            }
        }
    });
    // Detector: owns the session.
    let threshold = opts.threshold;
    std::thread::spawn(move || {
        while let Ok(p) = prep_rx.recv() {
            let outcome = match p {
                Prepared::Flush => Outcome::Flush,
                Prepared::Image(rel, time, started, prepared) => {
                    detect_one(&mut detector, threshold, rel, time, started, prepared)
                }
            };
            if out.blocking_send(outcome).is_err() {
                return;
            }
        }
    });
    counters
}

/// Locks the progress; a panic elsewhere while holding it is a bug, not a reason to stop.
fn lock(p: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Warns about a notified file that arrived with a file time below the checkpoint's `through`.
fn late(path: &std::path::Path, time_ms: i64, origin: Origin, margin_ms: i64) {
    let seen = match origin {
        Origin::Watch { seen_ms } | Origin::Scan { start_ms: seen_ms } => seen_ms,
    };
    tracing::warn!(
        file = %path.display(),
        "camera takes it for done: its file time is {} ms before it was seen, later than the \
         margin ({margin_ms} ms) allows; raise offsets_margin_ms if files arrive this late",
        seen - time_ms
    );
    metrics::counter!("aisle_camera_late_total", "component" => "camera").increment(1);
}

/// Runs the detector on one prepared image.
fn detect_one(
    detector: &mut Detector,
    threshold: f32,
    rel: String,
    time: i64,
    started: Instant,
    prepared: Result<crate::decode::Prepared>,
) -> Outcome {
    match prepared {
        Ok(img) => match detector.detect(&img, threshold) {
            Ok(dets) => Outcome::Detected {
                file_name: img
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| rel.clone()),
                rel,
                time,
                captured_ms: img.captured_ms,
                from_exif: img.from_exif,
                dets: one_label_per_box(dets),
                started,
            },
            Err(e) => Outcome::Bad {
                rel: Some((rel, time)),
                path: img.path,
                reason: e.to_string(),
            },
        },
        Err(CameraError::BadImage { path, reason }) => Outcome::Bad {
            rel: Some((rel, time)),
            path,
            reason,
        },
        Err(e) => Outcome::Bad {
            path: PathBuf::from(&rel),
            rel: Some((rel, time)),
            reason: e.to_string(),
        },
    }
}

/// Where a transaction's records go.
#[derive(Clone, Copy)]
struct Target<'a> {
    schema: Schema,
    opts: &'a RunOptions,
    dlq: &'a str,
    checkpoints: &'a str,
    progress: &'a Mutex<Progress>,
}

/// One transaction: every pending outcome's records and markers, and the checkpoint that counts
/// them as done.
async fn commit(
    tx: &mut dyn aisle_log::TxProducer,
    to: Target<'_>,
    pending: &mut Vec<Outcome>,
    summary: &mut RunSummary,
) -> Result<()> {
    let Target {
        schema, opts, dlq, ..
    } = to;
    let mut records = Vec::new();
    let mut done = Vec::new();
    let (mut images, mut dets_n, mut bad_n) = (0u64, 0u64, 0u64);
    let mut timings = Vec::new();
    for o in pending.drain(..) {
        match o {
            Outcome::Detected {
                rel,
                time,
                file_name,
                captured_ms,
                from_exif,
                dets,
                started,
            } => {
                for d in &dets {
                    records.push(detection_record(schema, opts, &file_name, captured_ms, d)?);
                }
                dets_n += dets.len() as u64;
                let source = if from_exif { "exif" } else { "arrival" };
                let note = serde_json::json!({
                    "detections": dets.len(), "captured_ms": captured_ms, "time": source,
                });
                records.push(offsets::marker(
                    &opts.offsets_topic,
                    &opts.camera_id,
                    &rel,
                    &note,
                ));
                done.push((rel, time));
                images += 1;
                timings.push(started);
            }
            Outcome::Bad { rel, path, reason } => {
                tracing::warn!(file = %path.display(), "camera skips it: {reason}");
                let shown = path.display().to_string();
                let body = serde_json::json!({
                    "file": shown, "reason": reason, "camera_id": opts.camera_id,
                });
                records.push(
                    DeadLetter::new(dlq, &reason)
                        .file(&shown)
                        .key(shown.clone())
                        .value(body.to_string())
                        .build(),
                );
                if let Some((rel, time)) = rel {
                    let note = serde_json::json!({ "dead_letter": reason });
                    records.push(offsets::marker(
                        &opts.offsets_topic,
                        &opts.camera_id,
                        &rel,
                        &note,
                    ));
                    done.push((rel, time));
                    images += 1;
                }
                bad_n += 1;
            }
            Outcome::Flush => {}
        }
    }
    // Last in the transaction: the checkpoint counting this transaction's images as done. If
    // the transaction does not commit, neither the images' records nor it are visible, and the
    // images are still in flight for the next checkpoint (or a restart does them again).
    let checkpoint = {
        let mut p = lock(to.progress);
        for (rel, time) in &done {
            p.complete(rel, *time);
        }
        p.changed().then(|| p.checkpoint())
    };
    if let Some(cp) = &checkpoint {
        records.push(offsets::checkpoint_record(
            to.checkpoints,
            &opts.camera_id,
            cp,
        )?);
    }
    if records.is_empty() {
        return Ok(());
    }
    tx.begin().await?;
    for r in records {
        if let Err(e) = tx.send(r).await {
            let _ = tx.abort().await;
            return Err(e.into());
        }
    }
    tx.commit().await?;
    summary.images += images;
    summary.detections += dets_n;
    summary.dead_letters += bad_n;
    let c = "camera";
    metrics::counter!("aisle_records_out_total", "component" => c, "topic" => opts.topic.clone())
        .increment(dets_n);
    metrics::counter!("aisle_dlq_total", "component" => c, "topic" => dlq.to_string())
        .increment(bad_n);
    metrics::counter!("aisle_records_in_total", "component" => c, "topic" => "images")
        .increment(images);
    for t in timings {
        metrics::histogram!("aisle_processing_seconds", "component" => c)
            .record(t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The `shopping_cart_objects` record of one detection, keyed by the mapped item name.
pub fn detection_record(
    schema: Schema,
    opts: &RunOptions,
    file_name: &str,
    captured_ms: i64,
    d: &Detection,
) -> Result<ProduceRecord> {
    let item = opts.labels.item(d.label).to_string();
    let [x, y, w, h] = d.xywh();
    let event = ShoppingCartObject {
        timestamp: captured_ms,
        image_name: file_name.to_string(),
        class_id: d.coco_id,
        class_name: item.clone(),
        score: d.score,
        box_x: x,
        box_y: y,
        box_w: w,
        box_h: h,
        store_id: opts.store_id.clone(),
        cart_id: opts.cart_id.clone(),
        camera_id: Some(opts.camera_id.clone()),
    };
    Ok(ProduceRecord::new(&opts.topic)
        .key(item)
        .value(encode(schema, &event)?)
        .timestamp(captured_ms))
}

/// How detections are framed: the registry id of the topic's value schema.
pub type Schema = Serializer<ShoppingCartObject>;

/// Registers the detection schema under `topic`'s `-value` subject.
pub async fn register(registry: &dyn SchemaRegistry, topic: &str) -> Result<Schema> {
    Serializer::register(registry, &topics::value_subject(topic))
        .await
        .map_err(|e| CameraError::Registry(e.to_string()))
}

/// Confluent-framed Avro of `event`.
pub fn encode(schema: Schema, event: &ShoppingCartObject) -> Result<Vec<u8>> {
    schema
        .serialize(event)
        .map_err(|e| CameraError::Encode(e.to_string()))
}
