//! [`CameraError`]: what can go wrong, and whose fault it is.

use std::path::PathBuf;

/// Errors of the camera. Image problems ([`CameraError::BadImage`]) are the input's fault and never
/// stop a running camera: they become dead letters. The others stop it.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The ONNX Runtime library could not be loaded (user set-up: see `scripts/install-onnxruntime`).
    #[error("cannot load the ONNX Runtime library {path}: {reason}")]
    Runtime {
        /// Library path tried.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The model file is missing, unreadable or not a supported detector (user input).
    #[error("model {path}: {reason}")]
    Model {
        /// Model file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Inference failed on a decoded image (a runtime or model bug; retrying will not help).
    #[error("inference failed: {0}")]
    Inference(String),
    /// An image could not be used (user input; the camera writes a dead letter and goes on).
    #[error("{path}: {reason}")]
    BadImage {
        /// Image file.
        path: PathBuf,
        /// Why, e.g. "truncated or corrupt JPEG: ...".
        reason: String,
    },
    /// The image directory cannot be read or watched (user set-up).
    #[error("image directory {path}: {reason}")]
    Directory {
        /// Directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The log failed (external system; a restart resumes without loss or duplicates).
    #[error("log: {0}")]
    Log(#[from] aisle_log::LogError),
    /// The camera's checkpoint record cannot be read (written by something else, or corrupt;
    /// retrying will not help: delete it with a tombstone to start the camera afresh).
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// Encoding an event failed (internal bug).
    #[error("encoding: {0}")]
    Encode(String),
    /// The detection schema could not be registered (the registry is unreachable or refuses it).
    #[error("schema registry: {0}")]
    Registry(String),
    /// Downloading a model failed (network or a checksum mismatch).
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Result with [`CameraError`].
pub type Result<T, E = CameraError> = std::result::Result<T, E>;
