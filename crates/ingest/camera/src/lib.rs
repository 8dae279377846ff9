//! `aisle-camera`: cart photos → COCO object detector → `shopping_cart_objects`.
//!
//! A detector ([`Detector`]: DEIMv2 or YOLOX ONNX models on ONNX Runtime, loaded once through the
//! `ort` crate's `load-dynamic` mode) finds objects in every photo of a directory, and with
//! `watch` in every photo that arrives later. Each detection scoring at least the threshold
//! becomes one [`aisle_events::ShoppingCartObject`] keyed by its item name (COCO label after the
//! [`LabelMap`]), timestamped with the capture time: EXIF DateTimeOriginal, else the time the camera saw the
//! file (its arrival, from the injected [`aisle_log::Clock`]; never the file's mtime, which says when the
//! file was copied, not when the cart was photographed). Each image is processed exactly once, also across crashes: its records, a processed marker in
//! the compacted `_aisle_camera_offsets` topic and the camera's checkpoint (a file-time
//! high-water mark plus the few done images above it, so a restart reads one small record
//! however many photos were ever done) commit in one transaction ([`offsets`], [`progress`]). Bad files
//! (empty, truncated, corrupt, not images, too large) and unreadable directories become dead
//! letters in `shopping_cart_objects.dlq` and the camera goes on. Without a model,
//! [`simulate()`](simulate::simulate) writes realistic events.
//!
//! Main items: [`run::run`] with [`RunOptions`] → [`RunSummary`]; [`Detector`],
//! [`decode::prepare`]; [`simulate::simulate`]; [`CameraConfig`]; [`camera_or_simulator`] for
//! `aisle demo`; [`fetch`] for downloading a published model.
//!
//! ```
//! use aisle_camera::labels::{LabelMap, coco_by_name};
//! let cup = coco_by_name("cup").unwrap();
//! assert_eq!((cup.index, cup.id), (41, 47));
//! let map = LabelMap::new([("sports ball".into(), "soccer ball".into())].into());
//! assert_eq!(map.item("sports ball"), "soccer ball");
//! assert_eq!(map.item("cup"), "cup");
//! ```
//!
//! # Layout
//! * `config.rs`: [`CameraConfig`], the `[camera]` section; model and runtime lookup.
//! * `labels.rs`: the COCO-80 classes; [`LabelMap`].
//! * `decode.rs`: reading, checking and decoding a photo; capture time; the input tensor.
//! * `resample.rs`: Pillow-exact bilinear resize (the reference pre-processing).
//! * `model.rs`: [`Detector`] (the ONNX Runtime session), DEIMv2 and YOLOX output decoding.
//! * `source.rs`: directory listing and file-system notifications; stamps each file's arrival.
//! * `offsets.rs`: the markers and checkpoint topics; reading where a camera resumes.
//! * `progress.rs`: [`progress::Progress`], the bounded done-set and its checkpoint.
//! * `run.rs`: the pipeline (decode threads, detector thread, transactions); dead letters.
//! * `simulate.rs`: the simulator.
//! * `fetch.rs`: published model releases, download and sha256 check.
//! * `error.rs`: [`CameraError`].

pub mod config;
pub mod decode;
pub mod error;
pub mod fetch;
pub mod labels;
pub mod model;
pub mod offsets;
pub mod progress;
mod resample;
pub mod run;
pub mod simulate;
pub mod source;

use std::future::Future;
use std::sync::Arc;

pub use config::CameraConfig;
pub use error::{CameraError, Result};
pub use labels::LabelMap;
pub use model::{Detection, Detector, ModelKind, RuntimeOptions};
pub use run::{RunOptions, RunSummary};
pub use simulate::SimOptions;

/// What [`camera_or_simulator`] runs.
#[derive(Debug)]
pub enum CameraSource {
    /// The real detector over a directory of photos.
    Detector(Box<Detector>, RunOptions),
    /// Simulated detections.
    Simulator(SimOptions),
}

impl CameraSource {
    /// The real detector if `model` and the ONNX Runtime library load, else the simulator; the
    /// string says which and why (for the demo to print).
    pub fn pick(
        model: Option<&std::path::Path>,
        runtime: &RuntimeOptions,
        run: RunOptions,
        sim: SimOptions,
    ) -> (CameraSource, String) {
        let Some(model) = model else {
            return (
                CameraSource::Simulator(sim),
                "camera: simulator (no model configured: --model, AISLE_MODEL or [camera] models_dir)".into(),
            );
        };
        match Detector::load(model, runtime) {
            Ok(d) => {
                let why = format!("camera: {} over {}", model.display(), run.images.display());
                (CameraSource::Detector(Box::new(d), run), why)
            }
            Err(e) => (
                CameraSource::Simulator(sim),
                format!("camera: simulator ({e})"),
            ),
        }
    }
}

/// Runs the camera or the simulator until it is done or `shutdown` resolves; the detection
/// schema is registered in `registry`. Returns how many detection records were written.
pub async fn camera_or_simulator(
    log: Arc<dyn aisle_log::Log>,
    registry: Arc<dyn aisle_registry::SchemaRegistry>,
    source: CameraSource,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<u64> {
    match source {
        CameraSource::Detector(d, opts) => Ok(run::run(log, registry, *d, opts, shutdown)
            .await?
            .detections),
        CameraSource::Simulator(opts) => simulate::simulate(log, registry, opts, shutdown).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// `aisle demo` spawns the camera on tokio: its future must be `Send`.
    #[allow(dead_code, unreachable_code, clippy::diverging_sub_expression)]
    fn camera_future_is_send(
        log: Arc<dyn aisle_log::Log>,
        registry: Arc<dyn aisle_registry::SchemaRegistry>,
        source: CameraSource,
    ) {
        let fut = camera_or_simulator(log, registry, source, std::future::pending());
        assert_send(&fut);
    }
}
