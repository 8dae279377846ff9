//! `aisle bench camera`: the camera's per-image time beside Python ONNX Runtime's, pass by pass.
//!
//! This VM's speed drifts by up to 2x within seconds (ONNX Runtime's two threads run at full
//! speed or at half, whichever process it is), so two runs one after the other compare the
//! machine more than the code. The bench therefore keeps the Python reference
//! (`benches/reference/camera_onnxruntime.py --serve`) alive beside it and alternates: one pass
//! of Aisle over the images, one pass of Python over the same images, and so on. Each side is
//! idle while the other runs, and each pair of passes meets the same machine. Besides both
//! sides' percentiles, it prints the median of the per-pass ratios.

use crate::{BenchError, Target};
use aisle_camera::decode::prepare;
use aisle_camera::model::one_label_per_box;
use aisle_camera::{CameraConfig, Detector, RunOptions, RuntimeOptions, run};
use aisle_log::{Log, Producer};
use aisle_registry::SchemaRegistry;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
// tokio's clock (the workspace's rule: paused-time tests control it); unpaused it is std's.
use tokio::time::Instant;

/// What `aisle bench camera` runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Directory of test images (`--images`).
    pub images: PathBuf,
    /// Models to measure (`--model`); empty: every `.onnx` in the images' parent directory,
    /// the configured default model ([`CameraConfig::model_file`]) first.
    pub models: Vec<PathBuf>,
    /// ONNX Runtime library and threads, as `aisle camera run` resolves them.
    pub runtime: RuntimeOptions,
    /// Passes over the images per model (`--rounds`), after one warm-up pass.
    pub rounds: usize,
    /// Run the Python ONNX Runtime reference beside (`--no-python` turns it off).
    pub python: bool,
    /// The `[camera]` section: threshold, threads, limits and the default model's file name.
    pub camera: CameraConfig,
}

/// A bench with its images and models found: [`Plan::new`] looks before anything is opened.
#[derive(Debug)]
pub struct Plan {
    opts: Options,
    files: Vec<PathBuf>,
    models: Vec<PathBuf>,
}

impl Plan {
    /// Lists the images and (without [`Options::models`]) the models; none of either, or a
    /// directory that cannot be read, is a [`BenchError::Setup`].
    pub fn new(opts: Options) -> Result<Plan, BenchError> {
        let mut models = opts.models.clone();
        if models.is_empty() {
            let dir = opts.images.parent().unwrap_or(Path::new(".")).to_path_buf();
            models = list(&dir, &["onnx"])?;
            // The default model first.
            models.sort_by_key(|m| !m.ends_with(&opts.camera.model_file));
        }
        let files = list(&opts.images, &["jpg", "jpeg", "png"])?;
        if files.is_empty() || models.is_empty() {
            return Err(BenchError::Setup(format!(
                "no images or models under {}",
                opts.images.display()
            )));
        }
        Ok(Plan {
            opts,
            files,
            models,
        })
    }
}

/// Where the reference lives, relative to the repository root (the bench's working directory).
const REFERENCE: &str = "benches/reference/camera_onnxruntime.py";

/// The pause before each pass. ONNX Runtime's threads spin for a while after a run, and a
/// spinning thread of one side slows the other side's pass by up to a quarter on two cores.
const SETTLE: Duration = Duration::from_millis(100);

/// Per-image timings of one side, in ms.
#[derive(Default)]
struct Timings {
    total: Vec<f64>,
    prep: Vec<f64>,
    detect: Vec<f64>,
    produce: Vec<f64>,
}

impl Timings {
    /// Adds `other`'s images to these.
    fn append(&mut self, other: Timings) {
        self.total.extend(other.total);
        self.prep.extend(other.prep);
        self.detect.extend(other.detect);
        self.produce.extend(other.produce);
    }
}

/// `aisle bench camera`: per model, one-at-a-time passes of Aisle (read + decode + resize,
/// inference + output decoding, producing the records durably) alternating with passes of the
/// Python reference, then Aisle's pipelined rate (`camera run` over `rounds` copies).
pub async fn run(target: &Target, plan: Plan) -> Result<(), BenchError> {
    Ok(bench(target, plan).await?)
}

async fn bench(target: &Target, plan: Plan) -> anyhow::Result<()> {
    let Plan {
        opts: args,
        files,
        models,
    } = plan;
    let cam = &args.camera;
    let log = target.log.clone();
    let topic = format!(
        "aisle-bench-camera-{}-{}",
        std::process::id(),
        aisle_log::now_ms()
    );
    log.create_topic(&aisle_log::TopicSpec::new(&topic, 1))
        .await?;
    let registry = target.registry.clone();
    let sid = run::register(registry.as_ref(), &topic).await?;
    let producer = log.producer(&aisle_log::ProducerConfig::default())?;
    let rt = args.runtime.clone();
    let mut python = if args.python {
        match Reference::start(&args.images, &models, cam.threads, cam.score_threshold) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!(
                    "python reference not run (pip install -r benches/reference/requirements-camera.txt): {e}"
                );
                None
            }
        }
    } else {
        None
    };
    println!(
        "runtime={} images={} x {} rounds, threshold {}, {} cores{}",
        log.runtime(),
        files.len(),
        args.rounds,
        cam.score_threshold,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        python.as_ref().map_or(String::new(), |p| format!(
            ", python onnxruntime {} in turn (one pass each)",
            p.version
        ))
    );
    for (index, model) in models.iter().enumerate() {
        let name = file_name(model);
        let (m, r) = (model.clone(), rt.clone());
        let mut det = tokio::task::spawn_blocking(move || Detector::load(&m, &r))
            .await?
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let mut opts = cam.run_options(&args.images);
        opts.topic = topic.clone();
        let (mut ours, mut theirs) = (Timings::default(), Timings::default());
        // Per pass, Aisle's time over Python's: whole, and without the produce Python has not.
        let (mut ratios, mut compute_ratios) = (vec![], vec![]);
        // Round 0 warms both sides up.
        for round in 0..=args.rounds {
            tokio::time::sleep(SETTLE).await;
            let pass = aisle_pass(&mut det, &files, &opts, sid, producer.as_ref()).await?;
            tokio::time::sleep(SETTLE).await;
            let reference = python.as_mut().map(|p| p.pass(index)).transpose()?;
            if round == 0 {
                continue;
            }
            if let Some(r) = reference {
                let theirs_sum = r.total.iter().sum::<f64>();
                ratios.push(pass.total.iter().sum::<f64>() / theirs_sum);
                let compute = pass.prep.iter().chain(&pass.detect).sum::<f64>();
                compute_ratios.push(compute / theirs_sum);
                theirs.append(r);
            }
            ours.append(pass);
        }
        drop(det);
        let (images, detections, pipe_rate) =
            pipelined(&log, &registry, model, &rt, &files, &args, cam, &topic).await?;
        println!(
            "camera  aisle   {name:<34} {pipe_rate:>6.1} img/s pipelined ({images} images, {detections} detections)  {:>6.1} img/s one at a time  p50 {:>6.1} ms  p99 {:>6.1} ms  (p50 decode {:.1} + detect {:.1} + produce {:.1} ms)",
            rate(&ours.total),
            quantile(&mut ours.total, 0.5),
            quantile(&mut ours.total, 0.99),
            quantile(&mut ours.prep, 0.5),
            quantile(&mut ours.detect, 0.5),
            quantile(&mut ours.produce, 0.5),
        );
        if !theirs.total.is_empty() {
            println!(
                "camera  python  {name:<34} {:>6.1} img/s one at a time  p50 {:>6.1} ms  p99 {:>6.1} ms  (p50 decode {:.1} ms)",
                rate(&theirs.total),
                quantile(&mut theirs.total, 0.5),
                quantile(&mut theirs.total, 0.99),
                quantile(&mut theirs.prep, 0.5),
            );
            for (what, r) in [
                ("decode+detect+produce", &mut ratios),
                ("decode+detect", &mut compute_ratios),
            ] {
                let below = r.iter().filter(|r| **r < 1.0).count();
                println!(
                    "camera  paired  {name:<34} aisle/python per pass, {what:<21}: median {:.2} (p10 {:.2}, p90 {:.2}); aisle faster in {below} of {} passes",
                    quantile(r, 0.5),
                    quantile(r, 0.1),
                    quantile(r, 0.9),
                    r.len()
                );
            }
        }
    }
    Ok(())
}

/// One pass of Aisle over `files`, one image at a time, each image's records durable before the
/// next image starts.
async fn aisle_pass(
    det: &mut Detector,
    files: &[PathBuf],
    opts: &RunOptions,
    sid: run::Schema,
    producer: &dyn Producer,
) -> anyhow::Result<Timings> {
    let mut t = Timings::default();
    for f in files {
        let t0 = Instant::now();
        let img = prepare(f, det.kind(), opts.limits)?;
        let t1 = Instant::now();
        let dets = one_label_per_box(det.detect(&img, opts.threshold)?);
        let t2 = Instant::now();
        let name = file_name(f);
        let mut pending = Vec::with_capacity(dets.len());
        for d in &dets {
            let rec = run::detection_record(sid, opts, &name, img.captured_ms, d)?;
            pending.push(producer.send(rec).await?);
        }
        for p in pending {
            p.await?;
        }
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| 1000.0 * (b - a).as_secs_f64();
        t.total.push(ms(t0, t3));
        t.prep.push(ms(t0, t1));
        t.detect.push(ms(t1, t2));
        t.produce.push(ms(t2, t3));
    }
    Ok(t)
}

/// The real `camera run` over `rounds` symlinked copies of the images: (images, detections,
/// images/s).
#[allow(clippy::too_many_arguments)]
async fn pipelined(
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    model: &Path,
    rt: &RuntimeOptions,
    files: &[PathBuf],
    args: &Options,
    cam: &CameraConfig,
    topic: &str,
) -> anyhow::Result<(u64, u64, f64)> {
    let copies = std::env::temp_dir().join(format!("aisle-bench-camera-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copies);
    std::fs::create_dir_all(&copies)?;
    for r in 0..args.rounds {
        for f in files {
            std::os::unix::fs::symlink(
                std::fs::canonicalize(f)?,
                copies.join(format!("r{r:03}_{}", file_name(f))),
            )?;
        }
    }
    let mut ropts = cam.run_options(&copies);
    ropts.topic = topic.to_string();
    ropts.offsets_topic = format!("{topic}-offsets");
    ropts.camera_id = format!(
        "bench-{}",
        model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let (m, r) = (model.to_path_buf(), rt.clone());
    let det = tokio::task::spawn_blocking(move || Detector::load(&m, &r)).await??;
    let t0 = Instant::now();
    let s = run::run(
        log.clone(),
        registry.clone(),
        det,
        ropts,
        std::future::pending::<()>(),
    )
    .await?;
    let rate = s.images as f64 / t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&copies);
    Ok((s.images, s.detections, rate))
}

/// The Python reference in `--serve` mode: models loaded, answering one pass per request.
struct Reference {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    version: String,
}

#[derive(serde::Deserialize)]
struct Ready {
    onnxruntime: String,
}

#[derive(serde::Deserialize)]
struct Pass {
    total_ms: Vec<f64>,
    prep_ms: Vec<f64>,
}

impl Reference {
    fn start(
        images: &Path,
        models: &[PathBuf],
        threads: usize,
        threshold: f32,
    ) -> anyhow::Result<Reference> {
        let mut cmd = Command::new("python3");
        cmd.arg(REFERENCE)
            .arg("--serve")
            .arg("--images")
            .arg(images)
            .arg("--threshold")
            .arg(threshold.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if threads > 0 {
            cmd.arg("--threads").arg(threads.to_string());
        }
        for m in models {
            cmd.arg("--model").arg(m);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start python3 {REFERENCE}: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let ready: Ready = read_json(&mut stdout)?;
        Ok(Reference {
            child,
            stdin,
            stdout,
            version: ready.onnxruntime,
        })
    }

    /// One pass over the images with model `index`.
    fn pass(&mut self, index: usize) -> anyhow::Result<Timings> {
        writeln!(self.stdin, "{index}")?;
        self.stdin.flush()?;
        let p: Pass = read_json(&mut self.stdout)?;
        Ok(Timings {
            total: p.total_ms,
            prep: p.prep_ms,
            ..Timings::default()
        })
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_json<T: serde::de::DeserializeOwned>(r: &mut impl BufRead) -> anyhow::Result<T> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        anyhow::bail!("{REFERENCE} exited (its error is above)");
    }
    serde_json::from_str(&line)
        .map_err(|e| anyhow::anyhow!("{REFERENCE} answered {:?}: {e}", line.trim()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Images per second of one-at-a-time times in ms.
fn rate(ms: &[f64]) -> f64 {
    1000.0 * ms.len() as f64 / ms.iter().sum::<f64>()
}

/// The `q` quantile of `v` (sorted in place).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// Files in `dir` with one of `exts`, sorted; a directory that cannot be read is the setup's
/// fault.
fn list(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, BenchError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| BenchError::Setup(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    out.sort();
    Ok(out)
}
