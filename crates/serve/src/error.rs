//! [`ServeError`]: what can stop the server, and whose fault it is.

use std::net::SocketAddr;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Configuration (the user's): an address other machines can reach, without a token.
    #[error(
        "refusing to serve {addr} without a token: other machines can reach it; set --token \
         (or [serve] token, AISLE_SERVE__TOKEN) or listen on 127.0.0.1"
    )]
    Unprotected {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Configuration (the user's): a token of blanks protects nothing.
    #[error("the serve token is empty; give a non-blank token or none")]
    EmptyToken,
    /// The socket (the system's): accepting or serving failed.
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}
