//! Bounded camera offsets (issue 15): one compacted checkpoint per camera instead of a marker set
//! read from the whole topic.
//!
//! * `resume_cost_does_not_grow_with_the_images_done` (no detector): what a restart reads for 10
//!   vs 10,000 images done, next to what the per-image markers would cost; compaction keeps the
//!   checkpoint topic small.
//! * With the detector (ONNX Runtime and `../shared/vision`, else skipped): a restart skips every
//!   image unopened with a small checkpoint; a crash between an image's output and its
//!   checkpoint neither loses nor duplicates it; a file arriving late within the margin is done
//!   once; a camera with only old per-image markers migrates without redoing them.
//!
//! Time: the camera's clock is a manual one set relative to the files' ctimes (the file system's
//! clock), never a sleep.

// Helpers are test code too (clippy's allow-unwrap-in-tests covers only `#[test]` functions).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::time::Duration;

use aisle_camera::model::{Detector, RuntimeOptions};
use aisle_camera::offsets::{self, Checkpoint};
use aisle_camera::progress::{Origin, Progress};
use aisle_camera::{RunOptions, RunSummary};
use aisle_events::{Event, ShoppingCartObject, topics, wire};
use aisle_log::SharedClock;
use aisle_log::{
    Consumer, ConsumerConfig, GroupMetadata, Log, LogError, ProduceRecord, Producer,
    ProducerConfig, Record, TopicInfo, TopicPartition, TopicSpec, TxProducer,
};

fn wall_ms() -> i64 {
    aisle_log::clock::system().wall_ms()
}

/// A clock the test sets.
#[derive(Clone)]
struct Manual(Arc<AtomicI64>);

impl Manual {
    fn at(ms: i64) -> Manual {
        Manual(Arc::new(AtomicI64::new(ms)))
    }
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    fn clock(&self) -> SharedClock {
        let t = self.0.clone();
        aisle_log::clock::from_fn(move || t.load(Ordering::SeqCst))
    }
}

/// One embedded log with a registry, the detector's files, and a camera's options.
struct Bench {
    log: Arc<dyn Log>,
    registry: Arc<dyn aisle_registry::SchemaRegistry>,
    runtime: RuntimeOptions,
    model: PathBuf,
    vision: PathBuf,
    _data: tempfile::TempDir,
}

impl Bench {
    async fn new(lib: PathBuf, vision: PathBuf) -> Bench {
        let aisle_testkit::TempEmbeddedLog { log, dir } =
            aisle_testkit::temp_embedded_log().unwrap();
        let log: Arc<dyn Log> = Arc::new(log);
        let registry = aisle_testkit::local_registry(log.clone()).await.unwrap();
        Bench {
            log,
            registry,
            runtime: RuntimeOptions {
                library: lib,
                threads: 2,
            },
            model: vision.join("deimv2_hgnetv2_femto_coco.onnx"),
            vision,
            _data: dir,
        }
    }

    async fn run_on(
        &self,
        log: Arc<dyn Log>,
        opts: RunOptions,
    ) -> aisle_camera::Result<RunSummary> {
        let det = Detector::load(&self.model, &self.runtime).unwrap();
        aisle_camera::run::run(
            log,
            self.registry.clone(),
            det,
            opts,
            std::future::pending(),
        )
        .await
    }

    async fn run(&self, opts: RunOptions) -> RunSummary {
        self.run_on(self.log.clone(), opts).await.unwrap()
    }

    /// `n` real photos (copies of the sample images) into `dir`.
    fn photos(&self, dir: &Path, n: usize) -> Vec<String> {
        let mut samples: Vec<PathBuf> = std::fs::read_dir(self.vision.join("images"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        samples.sort();
        (0..n)
            .map(|i| {
                let from = &samples[i % samples.len()];
                let name = format!("p{i:03}_{}", from.file_name().unwrap().to_string_lossy());
                std::fs::copy(from, dir.join(&name)).unwrap();
                name
            })
            .collect()
    }

    /// The camera's checkpoints, oldest first (committed ones).
    async fn checkpoints(&self, opts: &RunOptions) -> Vec<(usize, Checkpoint)> {
        let topic = offsets::checkpoint_topic(&opts.offsets_topic);
        aisle_testkit::read_all(&*self.log, &topic)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.key.as_deref() == Some(opts.camera_id.as_bytes()))
            .map(|r| {
                let v = r.value.unwrap();
                (v.len(), serde_json::from_slice(&v).unwrap())
            })
            .collect()
    }

    /// Per image (relative path): markers, dead letters, detection records; each image must be
    /// done exactly once: one marker, and a dead letter or exactly its marker's detections.
    async fn assert_each_once(&self, opts: &RunOptions, dir: &Path, names: &[String]) {
        let mut markers: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        let prefix = format!("{}/", opts.camera_id);
        for r in aisle_testkit::read_all(&*self.log, &opts.offsets_topic)
            .await
            .unwrap()
        {
            let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
            let rel = key.strip_prefix(&prefix).unwrap().to_string();
            let note = serde_json::from_slice(&r.value.unwrap()).unwrap();
            markers.entry(rel).or_default().push(note);
        }
        let mut dead: BTreeMap<String, usize> = BTreeMap::new();
        for r in aisle_testkit::read_all(&*self.log, &topics::dlq(&opts.topic))
            .await
            .unwrap()
        {
            let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
            *dead.entry(key).or_default() += 1;
        }
        let mut dets: BTreeMap<String, u64> = BTreeMap::new();
        for r in aisle_testkit::read_all(&*self.log, &opts.topic)
            .await
            .unwrap()
        {
            let (_, datum) = wire::split(r.value.as_ref().unwrap()).unwrap();
            *dets
                .entry(ShoppingCartObject::decode(datum).unwrap().image_name)
                .or_default() += 1;
        }
        assert_eq!(
            markers.keys().collect::<Vec<_>>(),
            names.iter().collect::<Vec<_>>(),
            "one marker per image"
        );
        for n in names {
            let m = &markers[n];
            assert_eq!(m.len(), 1, "{n}: markers {m:?}");
            let shown = dir.join(n).display().to_string();
            if m[0].get("dead_letter").is_some() {
                assert_eq!(dead.get(&shown), Some(&1), "{n}: one dead letter");
            } else {
                assert_eq!(dead.get(&shown), None, "{n}");
                let want = m[0]["detections"].as_u64().unwrap();
                assert_eq!(dets.get(n).copied().unwrap_or(0), want, "{n}: detections");
            }
        }
    }
}

/// Files that are not images: dead letters, no inference (fast, and just as much an image done).
fn junk(dir: &Path, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let name = format!("{tag}{i:05}.jpg");
            std::fs::write(dir.join(&name), b"not a jpeg").unwrap();
            name
        })
        .collect()
}

fn options(dir: &Path, cam: &str, clock: &Manual) -> RunOptions {
    let mut o = RunOptions::new(dir, cam);
    o.topic = format!("objects-{cam}");
    o.offsets_topic = format!("offsets-{cam}");
    o.clock = clock.clock();
    o.batch = 4;
    o.threshold = 0.3;
    o
}

/// What a restart reads, for a camera that has done `n` images in transactions of 16 (written the
/// way the camera writes them: markers, then the checkpoint, in one transaction), with another
/// camera writing in between. Also what the old per-image markers cost to read.
async fn resume_cost(log: &dyn Log, n: usize) -> (offsets::Resume, u64) {
    let (markers, checkpoints) = (format!("m{n}"), offsets::checkpoint_topic(&format!("m{n}")));
    log.create_topic(&offsets::spec(&markers)).await.unwrap();
    log.create_topic(&offsets::checkpoint_spec(&checkpoints))
        .await
        .unwrap();
    let mut tx = log
        .tx_producer(&format!("t{n}"), &ProducerConfig::default())
        .await
        .unwrap();
    let now = 1_800_000_000_000;
    let mut cams: Vec<Progress> = (0..2)
        .map(|_| Progress::resume(None, HashSet::new(), 10_000))
        .collect();
    let note = serde_json::json!({"detections": 3, "captured_ms": now, "time": "arrival"});
    for start in (0..n).step_by(16) {
        for (c, p) in cams.iter_mut().enumerate() {
            let cam = format!("cam-{c}");
            tx.begin().await.unwrap();
            for i in start..(start + 16).min(n) {
                let rel = format!("2026/12/03/photo-{i:06}.jpg");
                let t = now - 3_600_000 + i as i64 * 100; // one photo every 100 ms
                p.admit(&rel, t, Origin::Scan { start_ms: now });
                p.complete(&rel, t);
                tx.send(offsets::marker(&markers, &cam, &rel, &note))
                    .await
                    .unwrap();
            }
            let cp = p.checkpoint();
            tx.send(offsets::checkpoint_record(&checkpoints, &cam, &cp).unwrap())
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }
    let r = offsets::resume(log, &markers, &checkpoints, "cam-0")
        .await
        .unwrap();
    let old = offsets::load_markers(log, &markers, "cam-0").await.unwrap();
    assert_eq!(old.0.len(), n);
    (r, old.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_cost_does_not_grow_with_the_images_done() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let mut rows = Vec::new();
    // 16 KiB segments instead of the 1 MiB ones, so that compaction has sealed segments to
    // clean in this small topic.
    let small = offsets::checkpoint_spec(&offsets::checkpoint_topic("m10000"))
        .config("segment.bytes", "16384");
    tmp.log.create_topic(&small).await.unwrap();
    for n in [10, 10_000] {
        let (r, old_records) = resume_cost(&tmp.log, n).await;
        let cp = r.checkpoint.clone().unwrap();
        assert!(cp.recent.len() <= 1, "{n}: {cp:?}");
        assert!(!cp.legacy && r.legacy.is_empty() && r.marker_records == 0);
        println!(
            "{n} images: restart reads {} checkpoint records, {} bytes (checkpoint {} B); \
             the per-image markers read was {old_records} records",
            r.checkpoint_records,
            r.checkpoint_bytes,
            serde_json::to_vec(&cp).unwrap().len()
        );
        rows.push((r.checkpoint_records, r.checkpoint_bytes, old_records));
    }
    // The latest checkpoint of cam-0 is one record from the end (cam-1 wrote after it): found
    // in the second window (1, then 4 records), whatever the history.
    assert!(rows.iter().all(|r| r.0 <= 5), "{rows:?}");
    assert!(rows.iter().all(|r| r.1 <= 5 * 160), "{rows:?}"); // ≤ 160 B a checkpoint
    // The markers topic holds both cameras' markers: the old start-up read all of them.
    assert_eq!((rows[0].2, rows[1].2), (20, 20_000));

    // Compaction keeps one checkpoint per camera, plus the active segment.
    let topic = offsets::checkpoint_topic("m10000");
    tmp.log.compact_now(&topic).await.unwrap();
    let left = aisle_testkit::read_all(&tmp.log, &topic).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    let (_, high) = tmp.log.watermarks(&tp).await.unwrap();
    println!(
        "checkpoint topic after compaction: {} of {high} records left",
        left.len()
    );
    assert!(left.len() < 200, "{} of {high}", left.len());
    let r = offsets::resume(&tmp.log, "m10000", &topic, "cam-0")
        .await
        .unwrap();
    assert_eq!(r.checkpoint, rows_last(&tmp.log, &topic, "cam-0").await);
}

/// The last checkpoint of `cam` in `topic`, read the long way.
async fn rows_last(log: &dyn Log, topic: &str, cam: &str) -> Option<Checkpoint> {
    aisle_testkit::read_all(log, topic)
        .await
        .unwrap()
        .into_iter()
        .rfind(|r| r.key.as_deref() == Some(cam.as_bytes()))
        .map(|r| serde_json::from_slice(&r.value.unwrap()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_skips_every_image_unopened_and_the_checkpoint_stays_small() {
    let Some((lib, vision)) = aisle_testkit::detector_setup(&[]) else {
        return;
    };
    let b = Bench::new(lib, vision).await;
    let mut sizes = Vec::new();
    for n in [10usize, 200] {
        let dir = tempfile::tempdir().unwrap();
        let mut names = b.photos(dir.path(), 4);
        names.extend(junk(dir.path(), n - 4, "junk"));
        names.sort();
        // Every file is older than the clock by more than the margin.
        let clock = Manual::at(wall_ms() + 11_000);
        let opts = options(dir.path(), &format!("cam-{n}"), &clock);
        let first = b.run(opts.clone()).await;
        assert_eq!((first.images, first.files_read), (n as u64, n as u64));
        let cps = b.checkpoints(&opts).await;
        let (last_len, last) = cps.last().cloned().unwrap();
        // The last checkpoint (after the listing) covers everything with `through` alone.
        assert!(last.recent.is_empty() && !last.legacy, "{last:?}");
        sizes.push(last_len);

        // Restart: nothing opened, one record read.
        clock.set(wall_ms() + 12_000);
        let again = b.run(opts.clone()).await;
        assert_eq!(
            (again.images, again.files_read, again.already_done),
            (0, 0, n as u64),
            "{again:?}"
        );
        // One record: the latest checkpoint is the last record of its partition.
        assert_eq!(again.resume_checkpoint_records, 1, "{again:?}");
        assert_eq!(again.resume_marker_records, 0);
        assert_eq!(
            again.resume_checkpoint_bytes as usize,
            last_len + opts.camera_id.len()
        );
        b.assert_each_once(&opts, dir.path(), &names).await;
        // In flight a checkpoint lists the done images past the oldest pending one: the
        // pipeline's depth, not `n`.
        assert!(cps.iter().all(|c| c.0 < 1_000), "{cps:?}");
        println!(
            "{n} images: {} checkpoints (largest {} B), the last {last_len} B; restart read {} \
             records, {} B",
            cps.len(),
            cps.iter().map(|c| c.0).max().unwrap(),
            again.resume_checkpoint_records,
            again.resume_checkpoint_bytes
        );
    }
    assert!(
        sizes[1] <= sizes[0] + 8,
        "checkpoint grows with the images: {sizes:?}"
    );
}

/// A log whose transactional producers "crash" (stop dead, leaving the transaction open: no
/// commit, no abort) when transaction number `crash_at` sends its checkpoint record, i.e. after
/// that transaction's detections, dead letters and markers.
struct Crashing {
    inner: Arc<dyn Log>,
    checkpoints: String,
    crash_at: u32,
    txs: Arc<AtomicU32>,
    crashed: Arc<AtomicBool>,
}

struct CrashingTx {
    inner: Box<dyn TxProducer>,
    checkpoints: String,
    crash_at: u32,
    txs: Arc<AtomicU32>,
    crashed: Arc<AtomicBool>,
}

fn crashed() -> LogError {
    LogError::Timeout("simulated crash".into())
}

#[async_trait::async_trait]
impl Log for Crashing {
    fn runtime(&self) -> &'static str {
        self.inner.runtime()
    }
    async fn create_topic(&self, spec: &TopicSpec) -> aisle_log::Result<bool> {
        self.inner.create_topic(spec).await
    }
    async fn list_topics(&self) -> aisle_log::Result<Vec<TopicInfo>> {
        self.inner.list_topics().await
    }
    async fn describe_topic(&self, topic: &str) -> aisle_log::Result<TopicInfo> {
        self.inner.describe_topic(topic).await
    }
    async fn delete_topic(&self, topic: &str) -> aisle_log::Result<()> {
        self.inner.delete_topic(topic).await
    }
    async fn watermarks(&self, tp: &TopicPartition) -> aisle_log::Result<(i64, i64)> {
        self.inner.watermarks(tp).await
    }
    fn producer(&self, config: &ProducerConfig) -> aisle_log::Result<Arc<dyn Producer>> {
        self.inner.producer(config)
    }
    fn consumer(&self, config: &ConsumerConfig) -> aisle_log::Result<Box<dyn Consumer>> {
        self.inner.consumer(config)
    }
    async fn tx_producer(
        &self,
        id: &str,
        config: &ProducerConfig,
    ) -> aisle_log::Result<Box<dyn TxProducer>> {
        Ok(Box::new(CrashingTx {
            inner: self.inner.tx_producer(id, config).await?,
            checkpoints: self.checkpoints.clone(),
            crash_at: self.crash_at,
            txs: self.txs.clone(),
            crashed: self.crashed.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl TxProducer for CrashingTx {
    async fn begin(&mut self) -> aisle_log::Result<()> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(crashed());
        }
        self.txs.fetch_add(1, Ordering::SeqCst);
        self.inner.begin().await
    }
    async fn send(&mut self, record: ProduceRecord) -> aisle_log::Result<()> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(crashed());
        }
        if record.topic == self.checkpoints && self.txs.load(Ordering::SeqCst) == self.crash_at {
            self.crashed.store(true, Ordering::SeqCst);
            return Err(crashed());
        }
        self.inner.send(record).await
    }
    async fn send_offsets(
        &mut self,
        offsets: &[(TopicPartition, i64)],
        group: &GroupMetadata,
    ) -> aisle_log::Result<()> {
        self.inner.send_offsets(offsets, group).await
    }
    async fn commit(&mut self) -> aisle_log::Result<()> {
        if self.crashed.load(Ordering::SeqCst) {
            return Err(crashed());
        }
        self.inner.commit().await
    }
    async fn abort(&mut self) -> aisle_log::Result<()> {
        // A crashed process aborts nothing: the transaction stays open until the restart.
        if self.crashed.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.abort().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_output_and_checkpoint_neither_loses_nor_duplicates() {
    let Some((lib, vision)) = aisle_testkit::detector_setup(&[]) else {
        return;
    };
    let b = Bench::new(lib, vision).await;
    let dir = tempfile::tempdir().unwrap();
    let mut names = b.photos(dir.path(), 6);
    names.extend(junk(dir.path(), 6, "junk"));
    names.sort();
    let clock = Manual::at(wall_ms() + 11_000);
    let opts = options(dir.path(), "cam-crash", &clock);
    for crash_at in [1, 3] {
        let crashing = Crashing {
            inner: b.log.clone(),
            checkpoints: offsets::checkpoint_topic(&opts.offsets_topic),
            crash_at,
            txs: Arc::new(AtomicU32::new(0)),
            crashed: Arc::new(AtomicBool::new(false)),
        };
        let err = b
            .run_on(Arc::new(crashing), opts.clone())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");
    }
    // The restart fences the crashed producer (its open transaction is aborted) and does exactly
    // what was not committed: all but the second attempt's first two transactions.
    clock.set(wall_ms() + 12_000);
    let rest = b.run(opts.clone()).await;
    assert_eq!(rest.already_done + rest.images, 12, "{rest:?}");
    assert!(rest.already_done >= 1 && rest.images >= 1, "{rest:?}");
    b.assert_each_once(&opts, dir.path(), &names).await;
    let again = b.run(opts.clone()).await;
    assert_eq!((again.images, again.files_read), (0, 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_arriving_late_within_the_margin_is_done_exactly_once() {
    let Some((lib, vision)) = aisle_testkit::detector_setup(&[]) else {
        return;
    };
    let b = Bench::new(lib, vision).await;
    let dir = tempfile::tempdir().unwrap();
    let mut names = b.photos(dir.path(), 2);
    names.extend(junk(dir.path(), 3, "early"));
    // The camera's clock runs 30 s ahead of the file system's (the margin is 60 s): a file renamed
    // in after the first run looks up to 30 s old when it arrives.
    let clock = Manual::at(wall_ms() + 30_000);
    let mut opts = options(dir.path(), "cam-late", &clock);
    opts.margin_ms = 60_000;
    let first = b.run(opts.clone()).await;
    assert_eq!(first.images, 5);
    let (_, cp) = b.checkpoints(&opts).await.last().cloned().unwrap();
    // Renamed in, the way uploads arrive.
    let tmp = dir.path().join(".late.jpg.part");
    std::fs::write(&tmp, b"not a jpeg either").unwrap();
    std::fs::rename(&tmp, dir.path().join("late.jpg")).unwrap();
    let late_time = aisle_camera::source::file_time(&dir.path().join("late.jpg")).unwrap();
    assert!(late_time >= cp.through, "{late_time} < {}", cp.through);
    assert!(late_time < clock.clock().wall_ms(), "older than the clock");
    names.push("late.jpg".into());
    names.sort();
    clock.set(wall_ms() + 30_000);
    let second = b.run(opts.clone()).await;
    assert_eq!(
        (second.images, second.files_read, second.already_done),
        (1, 1, 5)
    );
    clock.set(wall_ms() + 30_000);
    let third = b.run(opts.clone()).await;
    assert_eq!(
        (third.images, third.files_read, third.already_done),
        (0, 0, 6)
    );
    b.assert_each_once(&opts, dir.path(), &names).await;

    // Later than the margin allows (the clock 30 s ahead, a 1 s margin): taken for done, unread.
    let mut far = opts.clone();
    far.camera_id = "cam-late-far".into();
    far.margin_ms = 1_000;
    clock.set(wall_ms() + 30_000);
    assert_eq!(b.run(far.clone()).await.images, 6);
    std::fs::write(dir.path().join("too-late.jpg"), b"x").unwrap();
    let skipped = b.run(far).await;
    assert_eq!((skipped.images, skipped.files_read), (0, 0), "{skipped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_with_old_per_image_markers_migrates_without_redoing_them() {
    let Some((lib, vision)) = aisle_testkit::detector_setup(&[]) else {
        return;
    };
    let b = Bench::new(lib, vision).await;
    let dir = tempfile::tempdir().unwrap();
    let mut names = b.photos(dir.path(), 3);
    names.extend(junk(dir.path(), 5, "junk"));
    names.sort();
    let clock = Manual::at(wall_ms() + 11_000);
    let opts = options(dir.path(), "cam-old", &clock);
    // What the camera before checkpoints left: markers for the first four images (one deleted
    // again by a tombstone, so it is to be done), and markers of another camera.
    b.log
        .create_topic(&offsets::spec(&opts.offsets_topic))
        .await
        .unwrap();
    let p = b.log.producer(&ProducerConfig::default()).unwrap();
    let note = serde_json::json!({"dead_letter": "done by the old camera"});
    for n in &names[..4] {
        let m = offsets::marker(&opts.offsets_topic, &opts.camera_id, n, &note);
        p.send(m).await.unwrap().await.unwrap();
    }
    let gone =
        ProduceRecord::new(&opts.offsets_topic).key(offsets::key(&opts.camera_id, &names[3]));
    p.send(gone).await.unwrap().await.unwrap();
    for n in &names {
        let m = offsets::marker(&opts.offsets_topic, "other-cam", n, &note);
        p.send(m).await.unwrap().await.unwrap();
    }
    p.flush(Duration::from_secs(10)).await.unwrap();

    // First run with checkpoints: stopped after one image, so the migration may be unfinished.
    let mut one = opts.clone();
    one.max_images = Some(1);
    one.batch = 1;
    let first = b.run(one).await;
    assert_eq!((first.images, first.resume_marker_records), (1, 4 + 1 + 8));
    let second = b.run(opts.clone()).await;
    assert_eq!(second.images, 4, "{second:?}");
    let (_, cp) = b.checkpoints(&opts).await.last().cloned().unwrap();
    assert!(!cp.legacy && cp.recent.is_empty(), "{cp:?}");
    // Migrated: the markers are not read any more, and nothing is redone.
    let third = b.run(opts.clone()).await;
    assert_eq!(
        (
            third.images,
            third.files_read,
            third.already_done,
            third.resume_marker_records
        ),
        (0, 0, 8, 0),
        "{third:?}"
    );
    // Each image exactly once: the three the old camera did have only its marker, no output.
    let markers: Vec<Record> = aisle_testkit::read_all(&*b.log, &opts.offsets_topic)
        .await
        .unwrap();
    let ours = |r: &&Record| {
        r.key
            .as_deref()
            .is_some_and(|k| k.starts_with(format!("{}/", opts.camera_id).as_bytes()))
            && r.value.is_some()
    };
    let mut keys: Vec<_> = markers
        .iter()
        .filter(ours)
        .map(|r| String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap())
        .collect();
    keys.sort();
    let mut want: Vec<_> = names
        .iter()
        .map(|n| offsets::key(&opts.camera_id, n))
        .chain([offsets::key(&opts.camera_id, &names[3])])
        .collect();
    want.sort();
    assert_eq!(
        keys, want,
        "one marker per image (two for the one re-done after its tombstone)"
    );
    let dlq = aisle_testkit::read_all(&*b.log, &topics::dlq(&opts.topic))
        .await
        .unwrap();
    let redone: HashSet<String> = dlq
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap())
        .collect();
    for n in &names[..3] {
        assert!(
            !redone.contains(&dir.path().join(n).display().to_string()),
            "{n} redone"
        );
    }
}
