//! How every long-running command is stopped: Ctrl-C (SIGINT) or SIGTERM (what `kill`,
//! systemd and `docker stop` send). Each command passes [`shutdown_signal`] as the shutdown
//! future of its library's `run`, which then stops taking input, finishes what it has
//! (flushes, commits its transaction or offsets) and returns; the command exits 0 (the
//! replay 130: it stopped before its last day). Tested for every command in
//! `tests/it/signals.rs`.

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives while the command is still starting
/// (before its loop polls the future) stops it cleanly instead of killing it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
                }
                // No handler could be installed: the default action (exit) still applies.
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
