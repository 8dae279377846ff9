//! `aisle camera fetch-model`: downloading a published detector and checking its sha256.
//!
//! For users with internet access only; nothing else in Aisle downloads at run time, and the tests
//! use the models already in `../shared/vision`.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{CameraError, Result};

/// A published model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelRelease {
    /// Short name for `--name`.
    pub name: &'static str,
    /// File name it is saved as.
    pub file: &'static str,
    /// Where it is published (pinned commit).
    pub url: &'static str,
    /// Its sha256, hex.
    pub sha256: &'static str,
    /// Its size, bytes.
    pub bytes: u64,
}

/// The supported detectors (all Apache-2.0). The first is the default.
pub const RELEASES: [ModelRelease; 3] = [
    ModelRelease {
        name: "deimv2-femto",
        file: "deimv2_hgnetv2_femto_coco.onnx",
        url: "https://github.com/Kazuhito00/DEIMv2-ONNX-Sample/raw/f88d438/model/deimv2_hgnetv2_femto_coco.onnx",
        sha256: "c6ad358f750132b891165e034c2ba507abefc5ebe1c1d2732a0acbcacc47e52c",
        bytes: 4_116_144,
    },
    ModelRelease {
        name: "deimv2-atto",
        file: "deimv2_hgnetv2_atto_coco.onnx",
        url: "https://github.com/Kazuhito00/DEIMv2-ONNX-Sample/raw/f88d438/model/deimv2_hgnetv2_atto_coco.onnx",
        sha256: "b114aa6610ac7c2bd9b3186ffb001afa872430db957407ef2473f7148d00646e",
        bytes: 2_248_408,
    },
    ModelRelease {
        name: "yolox-nano",
        file: "yolox_nano.onnx",
        url: "https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/3d4f111/model/yolox_nano.onnx",
        sha256: "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14",
        bytes: 3_660_092,
    },
];

/// The release named `name`.
pub fn release(name: &str) -> Option<&'static ModelRelease> {
    RELEASES.iter().find(|r| r.name == name || r.file == name)
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `bytes` against `rel`'s size and sha256.
pub fn verify(rel: &ModelRelease, bytes: &[u8]) -> std::result::Result<(), String> {
    let got = sha256_hex(bytes);
    if bytes.len() as u64 != rel.bytes || got != rel.sha256 {
        return Err(format!(
            "expected {} bytes with sha256 {}, got {} bytes with sha256 {got}",
            rel.bytes,
            rel.sha256,
            bytes.len()
        ));
    }
    Ok(())
}

/// Downloads `rel` into `dir` (blocking), verifies it, and returns the saved path. A file already
/// there with the right checksum is kept without downloading.
pub fn fetch(rel: &ModelRelease, dir: &Path) -> Result<PathBuf> {
    let target = dir.join(rel.file);
    if let Ok(bytes) = std::fs::read(&target)
        && verify(rel, &bytes).is_ok()
    {
        return Ok(target);
    }
    let err = |reason: String| CameraError::Fetch {
        url: rel.url.to_string(),
        reason,
    };
    let mut resp = ureq::get(rel.url).call().map_err(|e| err(e.to_string()))?;
    let mut bytes = Vec::with_capacity(rel.bytes as usize);
    resp.body_mut()
        .as_reader()
        .take(rel.bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    verify(rel, &bytes).map_err(err)?;
    std::fs::create_dir_all(dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
    let tmp = target.with_extension("onnx.part");
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, &target))
        .map_err(|e| err(format!("writing {}: {e}", target.display())))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_rejects_wrong_bytes() {
        let r = release("deimv2-femto").unwrap();
        assert!(verify(r, b"not a model").unwrap_err().contains(r.sha256));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
