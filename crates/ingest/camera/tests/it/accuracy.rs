//! The detector against ONNX Runtime's reference detections (../shared/vision), for every model
//! listed in `expected_detections.json`: same labels, scores within 0.02, boxes within 2 px.

use aisle_camera::decode::{ImageLimits, prepare_at};
use aisle_camera::model::{Detector, RuntimeOptions};

#[test]
fn detections_match_onnxruntime_reference() {
    let (Some(lib), Some(dir)) = (
        aisle_testkit::onnx_runtime(),
        aisle_testkit::vision_dir(&["expected_detections.json"]),
    ) else {
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected_detections.json")).unwrap())
            .unwrap();
    let models = expected["models"].as_object().unwrap();
    assert!(models.len() >= 3, "expected at least three models");
    let rt = RuntimeOptions {
        library: lib,
        threads: 2,
    };
    let mut compared = 0;
    for (model, spec) in models {
        let mut det = Detector::load(&dir.join(model), &rt).unwrap();
        let threshold = spec["score_threshold"].as_f64().unwrap() as f32;
        for (image, want) in spec["detections"].as_object().unwrap() {
            let img = prepare_at(
                &dir.join("images").join(image),
                det.kind(),
                ImageLimits::default(),
                0,
            )
            .unwrap();
            let got = det.detect(&img, threshold).unwrap();
            let want = want.as_array().unwrap();
            let ctx = format!("{model} on {image}");
            let mut unmatched: Vec<_> = got.iter().collect();
            for w in want {
                let label = w["class_name"].as_str().unwrap();
                let score = w["score"].as_f64().unwrap() as f32;
                let wb: Vec<f32> = w["box_xyxy"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect();
                let pos = unmatched.iter().position(|d| {
                    d.label == label
                        && d.coco_id == w["coco_category_id"].as_i64().unwrap() as i32
                        && (d.score - score).abs() <= 0.02
                        && d.box_xyxy
                            .iter()
                            .zip(&wb)
                            .all(|(a, b)| (a - b).abs() <= 2.0)
                });
                let Some(pos) = pos else {
                    panic!("{ctx}: no detection matches {w} among {unmatched:?}");
                };
                unmatched.remove(pos);
                compared += 1;
            }
            // Detections the reference does not have are allowed only right at the threshold.
            for d in unmatched {
                assert!(d.score < threshold + 0.02, "{ctx}: extra detection {d:?}");
            }
        }
    }
    assert!(compared > 100, "compared only {compared} detections");
}

/// `aisle camera fetch-model`'s catalog names the same files as ../shared/vision (size + sha256).
#[test]
fn fetch_catalog_matches_the_shared_models() {
    let Some(dir) = aisle_testkit::vision_dir(&["expected_detections.json"]) else {
        return;
    };
    for rel in aisle_camera::fetch::RELEASES {
        let bytes = std::fs::read(dir.join(rel.file)).unwrap();
        aisle_camera::fetch::verify(&rel, &bytes).unwrap();
    }
}
