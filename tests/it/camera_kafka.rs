//! `aisle camera run` on a real Kafka broker, killed with SIGKILL after its first transaction
//! commits, then run again: every image's detections are on the topic exactly once.
//! Skips without AISLE_TEST_KAFKA (fails with AISLE_REQUIRE_KAFKA=1).

use crate::support::vision;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use aisle_testkit::{Fixture, KafkaFixture, kafka_bootstrap, rand_topic};

/// Copies of the six test images.
const COPIES: usize = 8;

fn camera(
    bootstrap: &str,
    cam: &str,
    topic: &str,
    offsets: &str,
    imgs: &Path,
    lib: &Path,
    vision: &Path,
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.args(["--kafka", bootstrap])
        .env_remove("AISLE_REGISTRY")
        .env("AISLE_CAMERA__TOPIC", topic)
        .env("AISLE_CAMERA__OFFSETS_TOPIC", offsets)
        .env("AISLE_CAMERA__BATCH", "2")
        .args(["camera", "run", "--camera", cam, "--images"])
        .arg(imgs)
        .arg("--ort-lib")
        .arg(lib)
        .arg("--model")
        .arg(vision.join("deimv2_hgnetv2_femto_coco.onnx"));
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_midway_and_rerun_writes_each_image_once() {
    let Some(kafka) = KafkaFixture::from_env() else {
        return;
    };
    let Some((lib, vision)) = vision(false) else {
        return;
    };
    let log: Arc<dyn aisle_log::Log> = kafka.log().await.unwrap();
    // 48 photos (8 copies of the six test images) so the kill lands midway.
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for copy in 0..COPIES {
        for e in std::fs::read_dir(vision.join("images")).unwrap() {
            let p = e.unwrap().path();
            let name = format!("c{copy}_{}", p.file_name().unwrap().to_string_lossy());
            std::fs::copy(&p, dir.path().join(&name)).unwrap();
            names.push(name);
        }
    }
    let topic = rand_topic("camera-kill");
    let offsets = rand_topic("camera-kill-offsets");
    let bootstrap = kafka_bootstrap().unwrap();
    let cam = rand_topic("cam");
    let mut cmd = camera(
        &bootstrap,
        &cam,
        &topic,
        &offsets,
        dir.path(),
        &lib,
        &vision,
    );
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the first images are being committed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The watermark moves with the first transaction's writes (committed or not yet).
        if let Ok((_, high)) = log
            .watermarks(&aisle_log::TopicPartition::new(&offsets, 0))
            .await
            && high > 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "no image committed in 120 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = aisle_testkit::read_all(log.as_ref(), &offsets)
        .await
        .unwrap()
        .len();
    assert!(
        before < names.len(),
        "killed too late: {before} images done"
    );

    let out = camera(
        &bootstrap,
        &cam,
        &topic,
        &offsets,
        dir.path(),
        &lib,
        &vision,
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("already done"), "{stdout}");

    let recs = aisle_testkit::read_all(log.as_ref(), &topic).await.unwrap();
    let markers = aisle_testkit::read_all(log.as_ref(), &offsets)
        .await
        .unwrap();
    assert_eq!(markers.len(), names.len(), "one marker per image");
    // Every copy of an image has the same detections as every other copy: exactly once each.
    let mut per_image = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in &recs {
        let v = aisle_events::wire::split(r.value.as_deref().unwrap())
            .unwrap()
            .1;
        let ev = <aisle_events::ShoppingCartObject as aisle_events::Event>::decode(v).unwrap();
        let (copy, orig) = ev.image_name.split_once('_').unwrap();
        assert!(copy.starts_with('c'));
        per_image.entry(orig.to_string()).or_default().push(format!(
            "{copy} {} {} {} {} {}",
            ev.class_name, ev.box_x, ev.box_y, ev.box_w, ev.box_h
        ));
    }
    assert_eq!(per_image.len(), 6, "{per_image:?}");
    for (img, dets) in per_image {
        let mut by_copy = std::collections::BTreeMap::<&str, Vec<&str>>::new();
        for d in &dets {
            let (c, rest) = d.split_once(' ').unwrap();
            by_copy.entry(c).or_default().push(rest);
        }
        assert_eq!(by_copy.len(), COPIES, "{img}: {by_copy:?}");
        let first = by_copy.values().next().unwrap().clone();
        for (c, d) in &by_copy {
            assert_eq!(
                d, &first,
                "{img} copy {c} differs (duplicated or missing records)"
            );
        }
    }
}
