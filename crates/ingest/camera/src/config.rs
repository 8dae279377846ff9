//! [`CameraConfig`]: the `[camera]` section of Aisle's configuration, and the lookup of the
//! model and the ONNX Runtime library.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decode::ImageLimits;
use crate::labels::LabelMap;
use crate::run::RunOptions;

/// `[camera]`: how cart cameras detect and what they write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CameraConfig {
    /// Directory searched for `model_file` when neither `--model` nor `AISLE_MODEL` is given.
    pub models_dir: Option<PathBuf>,
    /// Model file name inside `models_dir`.
    pub model_file: String,
    /// ONNX Runtime shared library (`libonnxruntime.so`); unset: `ORT_DYLIB_PATH`, then
    /// `.onnxruntime/libonnxruntime.so` (where `scripts/install-onnxruntime` puts it).
    pub ort_lib: Option<PathBuf>,
    /// Inference threads (0: one per core).
    pub threads: usize,
    /// Minimum detector score for a record.
    pub score_threshold: f32,
    /// This camera's id (record field `camera_id`; also keys its processed-image markers).
    pub camera_id: String,
    /// Store id written on every record.
    pub store_id: Option<String>,
    /// Cart id written on every record.
    pub cart_id: Option<String>,
    /// COCO label → inventory item name; labels not listed keep their COCO name.
    pub labels: BTreeMap<String, String>,
    /// Largest image file accepted, bytes.
    pub max_image_bytes: u64,
    /// Largest image width or height accepted, pixels.
    pub max_image_side: u32,
    /// Images per transaction at most.
    pub batch: usize,
    /// Output topic.
    pub topic: String,
    /// Processed-images topic (compacted); checkpoints go to `<offsets_topic>_checkpoints`.
    pub offsets_topic: String,
    /// How much older than the camera's clock a photo's file time may be when it arrives, ms
    /// (see [`RunOptions::margin_ms`]).
    pub offsets_margin_ms: i64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        let limits = ImageLimits::default();
        CameraConfig {
            models_dir: None,
            model_file: default_model_file(),
            ort_lib: None,
            threads: 0,
            score_threshold: 0.5,
            camera_id: "camera-1".into(),
            store_id: None,
            cart_id: None,
            labels: BTreeMap::new(),
            max_image_bytes: limits.max_bytes,
            max_image_side: limits.max_side,
            batch: 16,
            topic: aisle_events::topics::SHOPPING_CART_OBJECTS.into(),
            offsets_topic: crate::offsets::OFFSETS_TOPIC.into(),
            offsets_margin_ms: crate::run::DEFAULT_MARGIN_MS,
        }
    }
}

/// DEIMv2-Femto: the best accuracy of the supported models at ~30 ms an image on a CPU.
fn default_model_file() -> String {
    crate::fetch::RELEASES[0].file.into()
}

impl CameraConfig {
    /// The model: `flag`, else `$AISLE_MODEL`, else `models_dir/model_file`; `None` if none is set.
    pub fn model_path(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| std::env::var_os("AISLE_MODEL").map(PathBuf::from))
            .or_else(|| self.models_dir.as_ref().map(|d| d.join(&self.model_file)))
    }

    /// The ONNX Runtime library: `flag`, else `ort_lib`, else `$ORT_DYLIB_PATH`, else
    /// `.onnxruntime/libonnxruntime.so`.
    pub fn ort_lib_path(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.ort_lib.clone())
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".onnxruntime/libonnxruntime.so"))
    }

    /// Run options for `images` with this section's settings.
    pub fn run_options(&self, images: impl Into<PathBuf>) -> RunOptions {
        let mut o = RunOptions::new(images, self.camera_id.clone());
        o.store_id = self.store_id.clone();
        o.cart_id = self.cart_id.clone();
        o.threshold = self.score_threshold;
        o.labels = LabelMap::new(self.labels.clone());
        o.limits = ImageLimits {
            max_bytes: self.max_image_bytes,
            max_side: self.max_image_side,
        };
        o.batch = self.batch.max(1);
        o.topic = self.topic.clone();
        o.offsets_topic = self.offsets_topic.clone();
        o.margin_ms = self.offsets_margin_ms.max(0);
        o
    }
}
