//! `aisle bench camera` pairs its passes with the Python ONNX Runtime reference
//! (`benches/reference/camera_onnxruntime.py --serve`): every round is one Aisle pass and one
//! Python pass over the same images, and both sides report. Needs ONNX Runtime, ../shared/vision
//! and Python's `onnxruntime`, `pillow`, `numpy` (`benches/reference/requirements-camera.txt`); skips
//! without them unless AISLE_REQUIRE_ORT / AISLE_REQUIRE_DATA / AISLE_REQUIRE_PYTHON is 1.

use crate::support::vision;
use std::process::Command;

#[test]
fn bench_pairs_every_round_with_a_python_pass() {
    let Some((lib, vision)) = vision(true) else {
        return;
    };
    let python = Command::new("python3")
        .args(["-c", "import onnxruntime, PIL, numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !python {
        assert!(
            !aisle_testkit::required("AISLE_REQUIRE_PYTHON"),
            "AISLE_REQUIRE_PYTHON=1 but python3 lacks onnxruntime, pillow or numpy"
        );
        println!("skipped: needs python3 with onnxruntime, pillow, numpy");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["bench", "camera", "--rounds", "2", "--images"])
        .arg(vision.join("images"))
        .arg("--model")
        .arg(vision.join("deimv2_hgnetv2_femto_coco.onnx"))
        .arg("--ort-lib")
        .arg(&lib)
        .env_remove("AISLE_KAFKA")
        .env_remove("AISLE_REGISTRY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line =
        |prefix: &str| -> Vec<&str> { stdout.lines().filter(|l| l.starts_with(prefix)).collect() };
    assert!(stdout.contains("python onnxruntime"), "{stdout}");
    let aisle = line("camera  aisle");
    let python = line("camera  python");
    assert_eq!((aisle.len(), python.len()), (1, 1), "{stdout}");
    // 2 rounds x 6 images pipelined through `camera run`.
    assert!(aisle[0].contains("(12 images,"), "{stdout}");
    let rate: f64 = python[0]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!(rate > 0.0, "{stdout}");
    let paired = line("camera  paired");
    assert_eq!(paired.len(), 2, "{stdout}");
    for p in paired {
        assert!(p.ends_with("of 2 passes"), "{p}");
    }
}
