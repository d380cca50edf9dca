//! The one error type of the workspace. Every message is a single line a user can act on.

use std::path::PathBuf;

/// Errors from loading, validating and running a model on any backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model file (config, safetensors, index) is malformed or incomplete.
    #[error("{}: {msg}", path.display())]
    Model { path: PathBuf, msg: String },
    /// The user's input is out of range (token id, empty prompt, context limit, options).
    #[error("{0}")]
    InvalidInput(String),
    /// An op got tensors whose sizes do not fit its parameters.
    #[error("{op}: {msg}")]
    Shape { op: &'static str, msg: String },
    /// The backend cannot do this (dtype, device capability, missing driver).
    #[error("{0}")]
    Unsupported(String),
    /// The device has too little memory for a request.
    #[error("out of device memory: {what} needs {requested} bytes, {available} available")]
    OutOfMemory {
        what: String,
        requested: u64,
        available: u64,
    },
    /// A failure reported by a device driver, compiler or runtime.
    #[error("{backend}: {msg}")]
    Backend { backend: &'static str, msg: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn model(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn shape(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Shape {
            op,
            msg: msg.into(),
        }
    }
}
