//! `aisle demo` with the real detector over the shared sample photos
//! (`../shared/vision/images`, `deimv2_hgnetv2_femto_coco.onnx`): the camera's detections are
//! stamped with their EXIF capture time, else the time the camera saw the file (not the files'
//! old mtimes), so they join the inventory rows the demo seeds, and a Green Light Special is
//! announced for a window that counts them.
//!
//! The camera writes to a store of its own (`[camera] store_id`, set through
//! `AISLE_CAMERA__STORE_ID`) that the simulator never uses (it picks M5 stores), so every
//! windowed item of that store comes from camera detections.
//!
//! Needs ONNX Runtime (`AISLE_TEST_ORT_LIB`, else `.onnxruntime/libonnxruntime.so`, from
//! `scripts/install-onnxruntime`) and `../shared/vision`; skips with a message when either is
//! missing, unless `AISLE_REQUIRE_ORT=1` / `AISLE_REQUIRE_DATA=1`.

use crate::support::vision;
use aisle_events::{Event, GreenLightSpecial, ShoppingCartObject, WindowedItem, topics, wire};
use aisle_log::Log;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// The camera's store: not an M5 store, so the simulator never writes to it.
const STORE: &str = "CAMERA_TEST";
/// `[camera] camera_id` of the default configuration.
const CAMERA_ID: &str = "camera-1";
/// How long the demo runs: model load, six photos, then the camera store's idle close (5 s).
const DEMO_SECS: &str = "30";

fn decode<T: Event>(r: &aisle_log::Record) -> T {
    let (_, datum) = wire::split(r.value.as_ref().expect("a value")).unwrap();
    T::decode(datum).unwrap()
}

async fn records(log: &Arc<dyn Log>, topic: &str) -> Vec<aisle_log::Record> {
    aisle_testkit::read_all(&**log, topic).await.unwrap()
}

fn demo(data: &Path, lib: &Path, vision: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("--data-dir")
        .arg(data)
        .args([
            "demo",
            "--duration",
            DEMO_SECS,
            "--registry-listen",
            "",
            "--no-serve",
        ])
        .arg("--images")
        .arg(vision.join("images"))
        .arg("--model")
        .arg(vision.join("deimv2_hgnetv2_femto_coco.onnx"))
        .env("AISLE_CAMERA__ORT_LIB", lib)
        .env("AISLE_CAMERA__STORE_ID", STORE)
        .env_remove("AISLE_KAFKA")
        .env_remove("AISLE_REGISTRY")
        .env_remove("AISLE_MODEL")
        .env_remove("AISLE_DEMO_IMAGES")
        .env_remove("AISLE_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn demo_camera_detections_join_inventory_and_make_a_special() {
    let Some((lib, vision)) = vision(true) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started_ms = aisle_log::now_ms();
    let out = demo(&data, &lib, &vision);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(out.status.success(), "demo failed\n{shown}");
    assert!(
        stdout.contains("detections from the sample images"),
        "the real detector did not run\n{shown}"
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let log: Arc<dyn Log> =
            Arc::new(EmbeddedLog::open(&data, EmbeddedConfig::default()).unwrap());

        // The camera's detections: its camera id and store, real file names.
        let images: Vec<String> = std::fs::read_dir(vision.join("images"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let cam: Vec<ShoppingCartObject> = records(&log, topics::SHOPPING_CART_OBJECTS)
            .await
            .iter()
            .map(decode::<ShoppingCartObject>)
            .filter(|o| o.store_id.as_deref() == Some(STORE))
            .collect();
        assert!(!cam.is_empty(), "no camera detections\n{shown}");
        for o in &cam {
            assert_eq!(o.camera_id.as_deref(), Some(CAMERA_ID), "{o:?}");
            assert!(images.contains(&o.image_name), "{o:?}");
        }
        // Stamped when the camera saw the files, not with their (old) mtimes; photos with an
        // EXIF capture time would keep it, and none of the joined ones below may be older.
        let arrived: Vec<&ShoppingCartObject> =
            cam.iter().filter(|o| o.timestamp >= started_ms).collect();
        assert!(
            !arrived.is_empty(),
            "every camera detection is older than the demo: {:?}",
            cam.iter()
                .map(|o| (&o.image_name, o.timestamp))
                .collect::<Vec<_>>()
        );

        // Windows of the camera's store: every count there is a camera detection.
        let windowed: Vec<WindowedItem> = records(&log, topics::WINDOWED_ITEMS)
            .await
            .iter()
            .map(decode::<WindowedItem>)
            .filter(|w| w.store_id == STORE)
            .collect();
        let matched: Vec<&WindowedItem> = windowed.iter().filter(|w| w.matched).collect();
        assert!(
            !matched.is_empty(),
            "no camera detection matched the inventory: {windowed:?}\n{shown}"
        );
        for w in &matched {
            let n = cam
                .iter()
                .filter(|o| {
                    o.class_name == w.item
                        && (w.window_start..w.window_end).contains(&o.timestamp)
                })
                .count();
            assert_eq!(n as i64, w.count, "{w:?} is not the camera's detections");
        }

        let specials: Vec<GreenLightSpecial> = records(&log, topics::GREEN_LIGHT_SPECIALS)
            .await
            .iter()
            .map(decode::<GreenLightSpecial>)
            .filter(|s| s.store_id == STORE)
            .collect();
        let special = specials
            .iter()
            .find(|s| {
                matched.iter().any(|w| {
                    (w.window_start, w.window_end) == (s.window_start, s.window_end)
                        && w.item == s.item
                })
            })
            .unwrap_or_else(|| {
                panic!("no special of a window with matched camera detections: {specials:?}\n{matched:?}\n{shown}")
            });
        assert!(
            stdout.contains(&format!("GREEN LIGHT SPECIAL {STORE}: {}", special.item)),
            "the demo did not announce {special:?}\n{shown}"
        );
        println!("camera special: {special:?}");
    });
}
