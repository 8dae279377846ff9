//! `aisle camera` through the binary on the embedded runtime: a run puts exactly what `camera
//! detect` sees on `shopping_cart_objects`; a run stopped midway and run again writes every
//! image's detections once; bad files and directories become dead letters and the camera goes
//! on; `--watch` picks up photos that arrive later; the simulator writes joinable events.

use crate::support::{aisle, vision};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use tokio::time::Instant;

fn model_args(lib: &Path, vision: &Path) -> Vec<String> {
    vec![
        "--ort-lib".into(),
        lib.display().to_string(),
        "--model".into(),
        vision
            .join("deimv2_hgnetv2_femto_coco.onnx")
            .display()
            .to_string(),
    ]
}

fn ok(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dump(data: &Path, topic: &str) -> Vec<serde_json::Value> {
    // Dead letters are JSON, not Avro: read them raw.
    let raw = topic.ends_with(".dlq").then_some("--raw");
    ok(aisle(data)
        .args(["topic", "dump", topic])
        .args(raw)
        .output()
        .unwrap())
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

/// (image, label, x, y, w, h) of every record, sorted.
fn boxes(recs: &[serde_json::Value]) -> Vec<(String, String, i64, i64, i64, i64)> {
    let mut v: Vec<_> = recs
        .iter()
        .map(|r| {
            let v = &r["value"];
            assert_eq!(r["key"], v["class_name"], "key is the item name");
            (
                v["image_name"].as_str().unwrap().to_string(),
                v["class_name"].as_str().unwrap().to_string(),
                v["box_x"].as_i64().unwrap(),
                v["box_y"].as_i64().unwrap(),
                v["box_w"].as_i64().unwrap(),
                v["box_h"].as_i64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// What `camera detect --json` reports for `files`, as (image, label, box).
fn detect(
    lib: &Path,
    vision: &Path,
    files: &[PathBuf],
) -> Vec<(String, String, i64, i64, i64, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(aisle(dir.path())
        .args(["camera", "detect", "--json"])
        .args(model_args(lib, vision))
        .args(files)
        .output()
        .unwrap());
    let mut v = Vec::new();
    for line in out.lines() {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = Path::new(j["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for d in j["detections"].as_array().unwrap() {
            let b: Vec<f64> = d["box_xyxy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let (x, y) = (b[0].max(0.0).round(), b[1].max(0.0).round());
            v.push((
                name.clone(),
                d["label"].as_str().unwrap().to_string(),
                x as i64,
                y as i64,
                (b[2].round() - x) as i64,
                (b[3].round() - y) as i64,
            ));
        }
    }
    v.sort();
    v
}

fn images(vision: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(vision.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn run_writes_what_detect_sees_keyed_by_item_with_ids() {
    let Some((lib, vision)) = vision(false) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let out = ok(aisle(data.path())
        .args(["camera", "run", "--images"])
        .arg(vision.join("images"))
        .args(["--store", "CA_1", "--cart", "cart-7", "--camera", "cam-a"])
        .args(model_args(&lib, &vision))
        .output()
        .unwrap());
    assert!(out.contains("6 images"), "{out}");
    let recs = dump(data.path(), "shopping_cart_objects");
    let want = detect(&lib, &vision, &images(&vision));
    assert!(want.len() >= 15, "{want:?}");
    assert_eq!(boxes(&recs), want);
    for r in &recs {
        let v = &r["value"];
        assert_eq!(v["store_id"]["string"], "CA_1");
        assert_eq!(v["cart_id"]["string"], "cart-7");
        assert_eq!(v["camera_id"]["string"], "cam-a");
        assert!(v["score"].as_f64().unwrap() >= 0.5);
        assert_eq!(r["timestamp"], v["timestamp"]);
    }
    // The coffee photo's cup is there, with COCO id 47.
    assert!(
        recs.iter()
            .any(|r| r["value"]["image_name"] == "skimage_coffee.png"
                && r["key"] == "cup"
                && r["value"]["class_id"] == 47)
    );
}

#[test]
fn stopped_midway_then_rerun_writes_each_image_once() {
    let Some((lib, vision)) = vision(false) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        ok(aisle(data.path())
            .args(["camera", "run", "--images"])
            .arg(vision.join("images"))
            .args(extra)
            .args(model_args(&lib, &vision))
            .output()
            .unwrap())
    };
    let first = run(&["--max-images", "2"]);
    assert!(first.contains("2 images"), "{first}");
    let partial = dump(data.path(), "shopping_cart_objects");
    let second = run(&[]);
    assert!(
        second.contains("4 images") && second.contains("2 already done"),
        "{second}"
    );
    let third = run(&[]);
    assert!(
        third.contains("0 images") && third.contains("6 already done"),
        "{third}"
    );
    let recs = dump(data.path(), "shopping_cart_objects");
    assert!(recs.len() > partial.len());
    assert_eq!(boxes(&recs), detect(&lib, &vision, &images(&vision)));
    // Each image's records come from exactly one run: contiguous in the log.
    let mut seen = BTreeMap::new();
    for (i, r) in recs.iter().enumerate() {
        let name = r["value"]["image_name"].as_str().unwrap().to_string();
        let last = seen.insert(name.clone(), i);
        assert!(last.is_none_or(|l| l + 1 == i), "{name} written twice");
    }
}

#[test]
fn bad_files_and_directories_go_to_the_dlq_and_the_camera_goes_on() {
    let Some((lib, vision)) = vision(false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("photos");
    std::fs::create_dir(&imgs).unwrap();
    let good = std::fs::read(vision.join("images/coco_val2017_000000002592.jpg")).unwrap();
    std::fs::write(imgs.join("a_good.jpg"), &good).unwrap();
    std::fs::write(imgs.join("b_empty.jpg"), b"").unwrap();
    std::fs::write(imgs.join("c_truncated.jpg"), &good[..good.len() / 3]).unwrap();
    // Complete length and markers, but the header tables overwritten.
    let mut corrupt = good.clone();
    for b in corrupt[4..1200].iter_mut() {
        *b = 0x5a;
    }
    std::fs::write(imgs.join("d_corrupt.jpg"), &corrupt).unwrap();
    std::fs::write(imgs.join("e_notes.txt"), b"shopping list: cups, bowls").unwrap();
    // 466,706 bytes: over the 300,000-byte limit set below.
    std::fs::copy(
        vision.join("images/skimage_coffee.png"),
        imgs.join("f_large.png"),
    )
    .unwrap();
    // An entry that cannot be read (a dangling link), and a good image in a sub-directory after it.
    std::os::unix::fs::symlink(dir.path().join("gone"), imgs.join("g_broken")).unwrap();
    std::fs::create_dir(imgs.join("h_more")).unwrap();
    std::fs::write(imgs.join("h_more/z_good.jpg"), &good).unwrap();

    let data = dir.path().join("data");
    let run = || {
        aisle(&data)
            .env("AISLE_CAMERA__MAX_IMAGE_BYTES", "300000")
            .args(["camera", "run", "--images"])
            .arg(&imgs)
            .args(model_args(&lib, &vision))
            .output()
            .unwrap()
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = ok(out);
    assert!(
        stdout.contains("8 images") && stdout.contains("6 dead letters"),
        "{stdout}\n{stderr}"
    );
    for name in [
        "b_empty.jpg",
        "c_truncated.jpg",
        "d_corrupt.jpg",
        "e_notes.txt",
        "f_large.png",
        "g_broken",
    ] {
        assert!(stderr.contains(name), "no warning naming {name}: {stderr}");
    }
    let dlq = dump(&data, "shopping_cart_objects.dlq");
    let reasons: BTreeMap<String, String> = dlq
        .iter()
        .map(|r| {
            let hex = r["value"]["hex"].as_str().unwrap();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let file = v["file"].as_str().unwrap();
            let name = Path::new(file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, v["reason"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:?}");
    assert!(reasons["b_empty.jpg"].contains("empty"), "{reasons:?}");
    assert!(
        reasons["c_truncated.jpg"].contains("truncated or corrupt"),
        "{reasons:?}"
    );
    assert!(reasons["d_corrupt.jpg"].contains("corrupt"), "{reasons:?}");
    assert!(
        reasons["e_notes.txt"].contains("not an image"),
        "{reasons:?}"
    );
    assert!(
        reasons["f_large.png"].contains("466706 bytes") && reasons["f_large.png"].contains("limit"),
        "{reasons:?}"
    );
    assert!(reasons["g_broken"].contains("cannot read"), "{reasons:?}");
    // Both good images were detected, the one after the bad files too.
    let recs = dump(&data, "shopping_cart_objects");
    let mut imgs_seen: Vec<_> = recs
        .iter()
        .map(|r| r["value"]["image_name"].as_str().unwrap().to_string())
        .collect();
    imgs_seen.dedup();
    assert_eq!(imgs_seen, ["a_good.jpg", "z_good.jpg"]);
    // A second run adds nothing: bad entries are remembered like good ones.
    let again = ok(run());
    assert!(
        again.contains("0 images") && again.contains("8 already done"),
        "{again}"
    );
    assert_eq!(dump(&data, "shopping_cart_objects").len(), recs.len());

    // A missing image directory: a warning, a dead letter naming it, exit 0.
    let missing = dir.path().join("no-such-dir");
    let out = aisle(&data)
        .args(["camera", "run", "--images"])
        .arg(&missing)
        .args(model_args(&lib, &vision))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dir"));
    assert!(ok(out).contains("1 dead letters"));
    let dlq = dump(&data, "shopping_cart_objects.dlq");
    assert!(
        dlq.last().unwrap()["key"]
            .as_str()
            .unwrap()
            .contains("no-such-dir"),
        "{dlq:?}"
    );
}

#[test]
fn watch_detects_a_photo_that_arrives_later() {
    let Some((lib, vision)) = vision(false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("incoming");
    std::fs::create_dir(&imgs).unwrap();
    let data = dir.path().join("data");
    let mut child = aisle(&data)
        .args(["camera", "run", "--watch", "--max-images", "1", "--images"])
        .arg(&imgs)
        .args(model_args(&lib, &vision))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    // Written under a hidden name, then renamed in: the usual atomic upload.
    let tmp = imgs.join(".upload.tmp");
    std::fs::copy(vision.join("images/skimage_coffee.png"), &tmp).unwrap();
    std::fs::rename(&tmp, imgs.join("cart-photo.png")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "camera --watch did not pick up the photo"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = ok(child.wait_with_output().unwrap());
    assert!(out.contains("1 images"), "{out}");
    let recs = dump(&data, "shopping_cart_objects");
    assert!(
        recs.iter()
            .any(|r| r["key"] == "cup" && r["value"]["image_name"] == "cart-photo.png"),
        "{recs:?}"
    );
}

#[test]
fn simulator_writes_events_keyed_by_seed_inventory_items() {
    let data = tempfile::tempdir().unwrap();
    let out = ok(aisle(data.path())
        .args([
            "camera", "simulate", "--rate", "500", "--count", "200", "--seed", "3", "--store",
            "TX_2",
        ])
        .output()
        .unwrap());
    assert!(out.contains("200 events"), "{out}");
    let recs = dump(data.path(), "shopping_cart_objects");
    assert_eq!(recs.len(), 200);
    let seed = [
        "cup",
        "bowl",
        "fork",
        "spoon",
        "sports ball",
        "tennis racket",
        "frisbee",
    ];
    let hits = recs
        .iter()
        .filter(|r| seed.contains(&r["key"].as_str().unwrap()))
        .count();
    assert!(hits > 150, "{hits}");
    assert!(
        recs.iter()
            .all(|r| r["value"]["store_id"]["string"] == "TX_2")
    );
}
