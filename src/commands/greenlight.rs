//! `aisle greenlight` (the Green Light Special processor; library: `aisle-greenlight`).
//! `aisle bench greenlight` is in `aisle-bench`.

use crate::config::Config;
use crate::exit;
use aisle_greenlight::{GreenlightConfig, GreenlightError};
use anyhow::Context;
use clap::Args;
use std::time::Duration;

/// Flags of `aisle greenlight`; each overrides the `[greenlight]` config section.
#[derive(Debug, Args, Default)]
pub struct GreenlightArgs {
    /// Window length in ms [config: greenlight.window_ms, default 60000].
    #[arg(long, value_name = "MS")]
    pub window_ms: Option<u64>,
    /// Hopping windows: a new window every MS (must be <= --window-ms). Default: tumbling.
    #[arg(long, value_name = "MS")]
    pub advance_ms: Option<u64>,
    /// How long after its end a window still accepts records, event time [default 10000].
    #[arg(long, value_name = "MS")]
    pub grace_ms: Option<u64>,
    /// After this long with no cart object (wall clock), close the windows whose end + grace
    /// has passed on the wall clock (the current window stays open); 0 never [default 30000].
    #[arg(long, value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// An input partition silent this long (wall clock) stops holding back the stream time,
    /// which is the minimum over input partitions; keep it above a failover [default 30000].
    #[arg(long, value_name = "MS")]
    pub max_idle_ms: Option<u64>,
    /// Longest wait for the inventory table to be read to its end or past a cart object's
    /// event time before joining it [default 2000].
    #[arg(long, value_name = "MS")]
    pub table_wait_ms: Option<u64>,
    /// Store for cart objects without store_id (e.g. from the 2019 producers) [default "store"].
    #[arg(long, value_name = "ID")]
    pub default_store: Option<String>,
    /// Rule: the winning item must have been carted at least N times [default 1].
    #[arg(long, value_name = "N")]
    pub min_count: Option<u64>,
    /// Rule: accept a winner whose upsell item's inventory row has no stock (an upsell item
    /// with no row never blocks: its stock is unknown).
    #[arg(long)]
    pub allow_out_of_stock: bool,
    /// Cart-object topic to read [default shopping_cart_objects].
    #[arg(long, value_name = "TOPIC")]
    pub input: Option<String>,
    /// Inventory table topic [default inventory_rekeyed].
    #[arg(long, value_name = "TOPIC")]
    pub inventory: Option<String>,
    /// Output topic of per-item window counts [default windowed_items].
    #[arg(long, value_name = "TOPIC")]
    pub windowed_items: Option<String>,
    /// Output topic of specials [default green_light_specials].
    #[arg(long, value_name = "TOPIC")]
    pub specials: Option<String>,
    /// Consumer group and internal-topic prefix; processes with the same id share the
    /// partitions [default aisle-greenlight].
    #[arg(long, value_name = "ID")]
    pub application_id: Option<String>,
    /// This process's stable id in the group. Restart a crashed process with the same id: its
    /// unfinished transaction is then aborted at once [default: random].
    #[arg(long, value_name = "ID")]
    pub instance_id: Option<String>,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
}

impl GreenlightArgs {
    /// The config section with these flags applied.
    pub fn apply(&self, base: &GreenlightConfig) -> GreenlightConfig {
        let mut c = base.clone();
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(
            window_ms,
            grace_ms,
            idle_timeout_ms,
            max_idle_ms,
            table_wait_ms,
            default_store,
            min_count,
            input,
            inventory,
            windowed_items,
            specials,
            application_id
        );
        if self.advance_ms.is_some() {
            c.advance_ms = self.advance_ms;
        }
        if self.instance_id.is_some() {
            c.instance_id = self.instance_id.clone();
        }
        if self.allow_out_of_stock {
            c.require_stock = false;
        }
        c
    }
}

/// Runs the processor until Ctrl-C, SIGTERM or `--duration`.
pub async fn run(config: &Config, args: GreenlightArgs) -> anyhow::Result<()> {
    // Installed first: a SIGTERM while the processor starts still stops it cleanly.
    let signal = crate::signal::shutdown_signal();
    let cfg = args.apply(&config.greenlight);
    cfg.validate().map_err(|e| exit::fail(exit::CONFIG, e))?;
    let opened = crate::runtime::open_log(config).await?;
    let registry = crate::runtime::registry(config, &opened.log).await?;
    let duration = args.duration.map(Duration::from_secs_f64);
    let shutdown = async move {
        match duration {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = signal => {}
                }
            }
            None => signal.await,
        }
    };
    let stats = aisle_greenlight::run(opened.log.clone(), registry, cfg, shutdown)
        .await
        .map_err(|e| match e {
            GreenlightError::Config(m) => exit::fail(exit::CONFIG, m),
            other => anyhow::Error::new(other),
        })
        .context("greenlight")?;
    println!(
        "{}",
        serde_json::json!({
            "records_in": stats.records_in,
            "records_out": stats.records_out,
            "commits": stats.commits,
            "restarts": stats.restarts,
        })
    );
    Ok(())
}
