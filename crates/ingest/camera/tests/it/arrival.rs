//! Event time through the whole camera pipeline ([`aisle_camera::run::run`] on an embedded log,
//! the real detector): a photo without EXIF capture time is stamped with the arrival time from
//! the injected clock, never its (old) mtime; a run stopped midway and started again with a
//! later clock leaves the committed image as it was (not re-stamped, not re-sent) and stamps
//! only the rest with the new time.

use std::collections::BTreeMap;
use std::sync::Arc;

use aisle_camera::RunOptions;
use aisle_camera::model::{Detector, RuntimeOptions};
use aisle_events::{Event, ShoppingCartObject, wire};
use aisle_log::Log;
use aisle_log::SharedClock;

const FIRST: i64 = 1_800_000_000_000;
const SECOND: i64 = 1_800_000_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_time_from_the_clock_and_kept_across_restart() {
    let Some((lib, vision)) = aisle_testkit::detector_setup(&[]) else {
        return;
    };
    // Three sample photos, copied with a 2001 mtime.
    let images = tempfile::tempdir().unwrap();
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let mut names: Vec<String> = std::fs::read_dir(vision.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.truncate(3);
    for n in &names {
        let to = images.path().join(n);
        std::fs::copy(vision.join("images").join(n), &to).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&to)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let aisle_testkit::TempEmbeddedLog { log, dir: _data } = tmp;
    let log: Arc<dyn Log> = Arc::new(log);
    let registry: Arc<dyn aisle_registry::SchemaRegistry> =
        Arc::new(aisle_registry::LocalRegistry::new(
            aisle_registry::SchemaStore::open(log.clone())
                .await
                .unwrap(),
        ));
    let rt = RuntimeOptions {
        library: lib,
        threads: 2,
    };
    let model = vision.join("deimv2_hgnetv2_femto_coco.onnx");
    let opts = |clock: SharedClock, max: Option<u64>| {
        let mut o = RunOptions::new(images.path(), "cam-arrival");
        o.clock = clock;
        o.max_images = max;
        o.batch = 1;
        o.threshold = 0.3;
        o
    };
    // Run 1 stops after one committed image ("crash"); run 2, with a later clock, does the rest.
    let det = Detector::load(&model, &rt).unwrap();
    let first = aisle_camera::run::run(
        log.clone(),
        registry.clone(),
        det,
        opts(aisle_log::clock::fixed(FIRST), Some(1)),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(first.images, 1);
    let det = Detector::load(&model, &rt).unwrap();
    let second = aisle_camera::run::run(
        log.clone(),
        registry.clone(),
        det,
        opts(aisle_log::clock::fixed(SECOND), None),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!((second.images, second.already_done), (2, 1));

    // Markers: one per image, with the event time used and where it came from.
    let mut markers = BTreeMap::new();
    for r in aisle_testkit::read_all(&*log, aisle_camera::offsets::OFFSETS_TOPIC)
        .await
        .unwrap()
    {
        let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
        let note: serde_json::Value = serde_json::from_slice(&r.value.unwrap()).unwrap();
        assert!(markers.insert(key.clone(), note).is_none(), "{key} twice");
    }
    assert_eq!(markers.len(), 3, "{markers:?}");
    // Detections: every one of an image carries that image's marker time, each sent once.
    let mut by_image: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in aisle_testkit::read_all(&*log, aisle_events::topics::SHOPPING_CART_OBJECTS)
        .await
        .unwrap()
    {
        let (_, datum) = wire::split(r.value.as_ref().unwrap()).unwrap();
        let o = ShoppingCartObject::decode(datum).unwrap();
        assert_eq!(r.timestamp, o.timestamp);
        by_image.entry(o.image_name).or_default().push(o.timestamp);
    }
    assert!(!by_image.is_empty(), "no detections at all");
    for (i, n) in names.iter().enumerate() {
        let note = &markers[&format!("cam-arrival/{n}")];
        let at = note["captured_ms"].as_i64().unwrap();
        match note["time"].as_str().unwrap() {
            // Sorted listing: run 1 committed the first image with its clock; run 2 stamped the
            // others with the new one and left the first alone.
            "arrival" => assert_eq!(at, if i == 0 { FIRST } else { SECOND }, "{n}: {note}"),
            "exif" => assert!(at != FIRST && at != SECOND, "{n}: {note}"),
            other => panic!("{n}: time {other}"),
        }
        let stamps = by_image.get(n).cloned().unwrap_or_default();
        assert_eq!(
            stamps.len() as u64,
            note["detections"].as_u64().unwrap(),
            "{n}"
        );
        assert!(stamps.iter().all(|t| *t == at), "{n}: {stamps:?} vs {note}");
        // Never the mtime.
        assert!(stamps.iter().all(|t| *t != 1_000_000_000_000), "{n}");
    }
}
