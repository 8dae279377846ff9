//! What the integration tests share: the `aisle` command on a data dir, the ONNX Runtime and
//! vision files the camera tests need, runtimes, output helpers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Environment a user's shell may carry that would point the binary elsewhere (another
/// runtime, registry, model, token, metrics port or log filter); removed from every command.
const USER_ENV: [&str; 7] = [
    "AISLE_KAFKA",
    "AISLE_REGISTRY",
    "AISLE_MODEL",
    "AISLE_SERVE__TOKEN",
    "AISLE_METRICS_LISTEN",
    "AISLE_LOG",
    "RUST_LOG",
];

/// The `aisle` binary on the embedded runtime in `data_dir`, without the user's `AISLE_*`
/// overrides.
pub fn aisle(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.arg("--data-dir").arg(data_dir);
    for var in USER_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// The ONNX Runtime library and `../shared/vision` (with its photos and, with `model`, the
/// default detector), or `None`: the test skips, or fails under `AISLE_REQUIRE_ORT` /
/// `AISLE_REQUIRE_DATA` (see `aisle_testkit::detector_setup`).
pub fn vision(model: bool) -> Option<(PathBuf, PathBuf)> {
    let needs: &[&str] = if model {
        &["deimv2_hgnetv2_femto_coco.onnx"]
    } else {
        &[]
    };
    aisle_testkit::detector_setup(needs)
}

/// Stdout and stderr of a finished command, lossily decoded.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A current-thread runtime for a synchronous test's async parts.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
