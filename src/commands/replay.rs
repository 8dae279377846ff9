//! `aisle replay ...` (being built: issue "Sales replay").

use crate::config::Config;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ReplayCmd {
    /// Stream the M5 sales into the `sales` topic (being built).
    Sales,
}

pub async fn run(_config: &Config, cmd: ReplayCmd) -> anyhow::Result<()> {
    match cmd {
        ReplayCmd::Sales => anyhow::bail!("`replay sales` is not available in this build yet"),
    }
}
