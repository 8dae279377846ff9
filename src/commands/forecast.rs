//! `aisle forecast ...` (being built: issue "Forecasting").

use crate::config::Config;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ForecastCmd {
    /// Forecast every series from the `sales` topic (being built).
    Run,
}

pub async fn run(_config: &Config, cmd: ForecastCmd) -> anyhow::Result<()> {
    match cmd {
        ForecastCmd::Run => anyhow::bail!("`forecast run` is not available in this build yet"),
    }
}
