//! The detector: one ONNX Runtime session, loaded once, and the decoding of each model's outputs.
//!
//! Two output conventions are supported, recognised from the model's inputs:
//! * DEIMv2 (two inputs `images`, `orig_target_sizes`): end to end; outputs `labels`, `boxes`
//!   (x1, y1, x2, y2 in original pixels) and `scores` for 300 (query, class) pairs.
//! * YOLOX (one input): the raw head `[1, anchors, 85]`, decoded here on the strides 8/16/32 grids,
//!   then class-wise non-maximum suppression.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorRef, ValueType};

use crate::decode::Prepared;
use crate::error::{CameraError, Result};
use crate::labels::{CocoClass, coco_class};

/// Which output convention a model follows, with its square input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// DEIMv2: stretch-resized RGB in 0..1, end-to-end outputs.
    Deimv2 {
        /// Input side, pixels.
        size: u32,
    },
    /// YOLOX: letterboxed BGR in 0..255, raw head needing decode + NMS.
    Yolox {
        /// Input side, pixels.
        size: u32,
    },
}

/// One detected object.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Detection {
    /// Its COCO class.
    #[serde(skip)]
    pub class: CocoClass,
    /// COCO label, e.g. `"cup"`.
    pub label: &'static str,
    /// COCO category id.
    pub coco_id: i32,
    /// Confidence in [0, 1].
    pub score: f32,
    /// Box x1, y1, x2, y2 in original-image pixels.
    pub box_xyxy: [f32; 4],
}

impl Detection {
    /// The box as integer pixel x, y, width, height (rounded, clamped at 0).
    pub fn xywh(&self) -> [i32; 4] {
        let [x1, y1, x2, y2] = self.box_xyxy;
        let x = x1.max(0.0).round();
        let y = y1.max(0.0).round();
        [
            x as i32,
            y as i32,
            (x2.round() - x).max(0.0) as i32,
            (y2.round() - y).max(0.0) as i32,
        ]
    }
}

/// Where the ONNX Runtime shared library is and how many threads inference may use.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Path of `libonnxruntime.so` (see `scripts/install-onnxruntime`).
    pub library: PathBuf,
    /// Intra-op threads (0: ONNX Runtime's default, one per core).
    pub threads: usize,
}

static LOADED: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// Loads the ONNX Runtime library and creates its environment, once per process. Later calls
/// with another path keep the first.
pub fn load_runtime(library: &Path) -> Result<&'static ort::environment::Environment> {
    let r = LOADED.get_or_init(|| {
        if !library.exists() {
            return Err(
                "no such file (install it with scripts/install-onnxruntime, then pass \
                 --ort-lib, ORT_DYLIB_PATH or [camera] ort_lib)"
                    .to_string(),
            );
        }
        ort::init_from(library)
            .map_err(|e| e.to_string())?
            .with_name("aisle-camera")
            .build()
            .map_err(|e| e.to_string())
    });
    r.as_ref().map_err(|reason| CameraError::Runtime {
        path: library.to_path_buf(),
        reason: reason.clone(),
    })
}

/// A loaded detector model.
pub struct Detector {
    session: Session,
    kind: ModelKind,
    path: PathBuf,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("kind", &self.kind)
            .field("path", &self.path)
            .finish()
    }
}

fn model_err(path: &Path, reason: impl ToString) -> CameraError {
    CameraError::Model {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Detector {
    /// Loads `model` with the runtime in `rt` (loading the runtime library first if needed).
    pub fn load(model: &Path, rt: &RuntimeOptions) -> Result<Detector> {
        let env = load_runtime(&rt.library)?;
        if !model.is_file() {
            return Err(model_err(model, "no such file"));
        }
        let mut builder = Session::builder(env)
            .map_err(|e| model_err(model, e))?
            // ORT_ENABLE_ALL, Python's default (ort's `Level3` is the lower ORT_ENABLE_LAYOUT).
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| model_err(model, e))?;
        if rt.threads > 0 {
            builder = builder
                .with_intra_threads(rt.threads)
                .map_err(|e| model_err(model, e))?;
        }
        let session = builder
            .commit_from_file(model)
            .map_err(|e| model_err(model, format!("not a loadable ONNX model: {e}")))?;
        let kind = kind_of(&session).map_err(|r| model_err(model, r))?;
        Ok(Detector {
            session,
            kind,
            path: model.to_path_buf(),
        })
    }

    /// The model's convention and input size.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the model on a prepared image; every detection scoring at least `threshold`, best
    /// first. DEIMv2 may report one box twice with two labels: see [`one_label_per_box`].
    pub fn detect(&mut self, img: &Prepared, threshold: f32) -> Result<Vec<Detection>> {
        let inf = |e: ort::Error| CameraError::Inference(e.to_string());
        let mut dets = match self.kind {
            ModelKind::Deimv2 { size } => {
                let s = size as usize;
                // Views, not copies: the 2 MB input goes to ONNX Runtime in place.
                let images = TensorRef::from_array_view(([1usize, 3, s, s], &img.tensor[..]))
                    .map_err(inf)?;
                let dims = [i64::from(img.width), i64::from(img.height)];
                let sizes = TensorRef::from_array_view(([1usize, 2], &dims[..])).map_err(inf)?;
                let out = self.session.run(ort::inputs![images, sizes]).map_err(inf)?;
                let (_, labels) = out["labels"].try_extract_tensor::<i64>().map_err(inf)?;
                let (_, boxes) = out["boxes"].try_extract_tensor::<f32>().map_err(inf)?;
                let (_, scores) = out["scores"].try_extract_tensor::<f32>().map_err(inf)?;
                decode_deimv2(labels, boxes, scores, threshold)
            }
            ModelKind::Yolox { size } => {
                let s = size as usize;
                let images = TensorRef::from_array_view(([1usize, 3, s, s], &img.tensor[..]))
                    .map_err(inf)?;
                let out = self.session.run(ort::inputs![images]).map_err(inf)?;
                let (shape, rows) = out[0].try_extract_tensor::<f32>().map_err(inf)?;
                let width = shape.last().copied().unwrap_or(85) as usize;
                decode_yolox(rows, width, size, img.scale, threshold)
            }
        };
        dets.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(dets)
    }
}

/// Recognises the model's convention and input size from its inputs and outputs.
fn kind_of(session: &Session) -> std::result::Result<ModelKind, String> {
    let inputs = session.inputs();
    let first = inputs.first().ok_or("the model has no inputs")?;
    let size = match first.dtype() {
        ValueType::Tensor { shape, .. }
            if shape.len() == 4 && shape[2] > 0 && shape[2] == shape[3] =>
        {
            shape[2] as u32
        }
        other => {
            return Err(format!(
                "expected a square [N,3,S,S] image input, found {other}"
            ));
        }
    };
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if inputs.len() == 2
        && ["labels", "boxes", "scores"]
            .iter()
            .all(|n| outputs.contains(n))
    {
        Ok(ModelKind::Deimv2 { size })
    } else if inputs.len() == 1 && outputs.len() == 1 {
        Ok(ModelKind::Yolox { size })
    } else {
        Err(format!(
            "unsupported detector: inputs {:?}, outputs {outputs:?} (expected DEIMv2 or YOLOX)",
            inputs.iter().map(|i| i.name()).collect::<Vec<_>>()
        ))
    }
}

fn detection(index: usize, score: f32, b: [f32; 4]) -> Option<Detection> {
    let class = coco_class(index)?;
    Some(Detection {
        class,
        label: class.name,
        coco_id: class.id,
        score,
        box_xyxy: b,
    })
}

/// DEIMv2 outputs → detections at or above `threshold`.
pub fn decode_deimv2(
    labels: &[i64],
    boxes: &[f32],
    scores: &[f32],
    threshold: f32,
) -> Vec<Detection> {
    let mut out = Vec::new();
    for (i, (&label, &score)) in labels.iter().zip(scores).enumerate() {
        if score < threshold || label < 0 {
            continue;
        }
        let Some(b) = boxes.get(i * 4..i * 4 + 4) else {
            break;
        };
        if let Some(d) = detection(label as usize, score, [b[0], b[1], b[2], b[3]]) {
            out.push(d);
        }
    }
    out
}

/// YOLOX raw head (`rows` of `width` = 5 + classes) → detections after class-wise NMS (IoU 0.45).
pub fn decode_yolox(
    rows: &[f32],
    width: usize,
    size: u32,
    scale: f32,
    threshold: f32,
) -> Vec<Detection> {
    let mut cands = Vec::new();
    let mut row = 0usize;
    for stride in [8u32, 16, 32] {
        let g = size / stride;
        for gy in 0..g {
            for gx in 0..g {
                let Some(r) = rows.get(row * width..(row + 1) * width) else {
                    return nms(cands, 0.45);
                };
                row += 1;
                let (cls, p) = r[5..]
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::MIN),
                        |best, (i, &p)| if p > best.1 { (i, p) } else { best },
                    );
                let score = r[4] * p;
                if score < threshold {
                    continue;
                }
                let s = stride as f32;
                let cx = (r[0] + gx as f32) * s;
                let cy = (r[1] + gy as f32) * s;
                let w = r[2].exp() * s;
                let h = r[3].exp() * s;
                let b = [
                    (cx - w / 2.0) / scale,
                    (cy - h / 2.0) / scale,
                    (cx + w / 2.0) / scale,
                    (cy + h / 2.0) / scale,
                ];
                cands.extend(detection(cls, score, b));
            }
        }
    }
    nms(cands, 0.45)
}

/// Intersection over union of two x1,y1,x2,y2 boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

/// Greedy class-wise non-maximum suppression.
fn nms(mut cands: Vec<Detection>, max_iou: f32) -> Vec<Detection> {
    cands.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in cands {
        if !kept
            .iter()
            .any(|k| k.coco_id == c.coco_id && iou(&k.box_xyxy, &c.box_xyxy) > max_iou)
        {
            kept.push(c);
        }
    }
    kept
}

/// Keeps only the best label of boxes reported more than once (IoU ≥ 0.9 with a better one).
pub fn one_label_per_box(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in dets {
        if !kept.iter().any(|k| iou(&k.box_xyxy, &d.box_xyxy) >= 0.9) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deimv2_threshold_and_dedupe() {
        let labels = [46, 47, 41, 0];
        let boxes = [
            10.0, 10.0, 50.0, 50.0, 10.2, 10.0, 50.0, 50.1, 100.0, 100.0, 140.0, 160.0, 0.0, 0.0,
            1.0, 1.0,
        ];
        let scores = [0.55, 0.51, 0.9, 0.1];
        let d = decode_deimv2(&labels, &boxes, &scores, 0.4);
        assert_eq!(d.len(), 3);
        let one = one_label_per_box(d);
        let names: Vec<_> = one.iter().map(|d| d.label).collect();
        assert_eq!(names, ["cup", "banana"]);
        assert_eq!(one[0].xywh(), [100, 100, 40, 60]);
    }

    #[test]
    fn yolox_decodes_grid_and_suppresses() {
        let size = 32; // grids 4x4, 2x2, 1x1 = 21 rows
        let width = 85;
        let mut rows = vec![0f32; 21 * width];
        // row 5 = stride 8, gx 1, gy 1; cup (class 41) at objectness 0.9 * 0.8
        let r = &mut rows[5 * width..6 * width];
        r[..5].copy_from_slice(&[0.5, 0.5, 0.0, 0.0, 0.9]);
        r[5 + 41] = 0.8;
        // row 6 = same place, slightly lower: suppressed
        let r = &mut rows[6 * width..7 * width];
        r[..5].copy_from_slice(&[-0.5, 0.5, 0.0, 0.0, 0.8]);
        r[5 + 41] = 0.8;
        let d = decode_yolox(&rows, width, size, 0.5, 0.3);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].label, "cup");
        assert!((d[0].score - 0.72).abs() < 1e-6);
        assert_eq!(d[0].box_xyxy, [16.0, 16.0, 32.0, 32.0]);
    }
}
