//! [`GreenlightConfig`]: the `[greenlight]` section of Aisle's configuration.

use aisle_events::topics;
use serde::{Deserialize, Serialize};

/// Settings of the Green Light Special processor. Every field has a default; the binary reads
/// them from `[greenlight]` in the TOML file, `AISLE_GREENLIGHT__*` and flags.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GreenlightConfig {
    /// Cart objects to read (`ShoppingCartObject`, any partition count).
    pub input: String,
    /// The inventory table (`Inventory` keyed by item name for chain-wide rows and
    /// `{store}/{name}` for a store's own rows; compacted). A store's row shadows the
    /// chain-wide one for that store (see the crate docs).
    pub inventory: String,
    /// Where each closed window's per-item counts go.
    pub windowed_items: String,
    /// Where each closed window's special goes.
    pub specials: String,
    /// Consumer group and prefix of the internal topics (`<id>-repartition`, `<id>-changelog`).
    /// Processes with the same id share the work.
    pub application_id: String,
    /// This process's stable name within the group (its transactional id is
    /// `<application_id>-<instance_id>`). Restart a crashed process with the same id so its
    /// open transaction is aborted at once. Unset: a random one.
    pub instance_id: Option<String>,
    /// Window length, ms (tumbling unless `advance_ms` is set).
    pub window_ms: u64,
    /// Distance between window starts for hopping windows, ms (unset: tumbling).
    pub advance_ms: Option<u64>,
    /// How long after its end (in event time) a window still accepts records, ms.
    pub grace_ms: u64,
    /// With no cart object for this long (wall clock, ms), and no input partition holding the
    /// stream time back, windows whose end + grace has passed on the wall clock are closed and
    /// emitted (never earlier: the current window stays open); later records for them go to the
    /// late topic. 0 disables.
    pub idle_timeout_ms: u64,
    /// An input partition with no data and no progress report for this long (wall clock, ms)
    /// stops holding the stream time back (Kafka Streams' `max.task.idle.ms`). Partitions read to
    /// their end never hold it back. Longer than a failover (session timeout + restore), so a
    /// dead instance's partitions are waited for and scale-out gives the single-instance output.
    pub max_idle_ms: u64,
    /// Longest wait (ms) for the inventory table to be read to its end or past a cart object's
    /// event time before joining it (logged when it expires).
    pub table_wait_ms: u64,
    /// Store of cart objects without `store_id` (e.g. from the original producers).
    pub default_store: String,
    /// The rule for the special: the winner must have been carted at least this often.
    pub min_count: u64,
    /// The rule for the special: an upsell item with an inventory row must have stock (> 0); an
    /// upsell item with no row does not block (stock unknown, said in `reason`).
    pub require_stock: bool,
    /// How much inventory history (ms of event time per item) is kept to join each cart object
    /// with the row in force at its event time. 0: join with the latest row (processing time).
    /// An inventory topic Aisle creates keeps superseded versions this long
    /// (`min.compaction.lag.ms`), so restarts after compaction join the same rows.
    pub table_history_ms: u64,
    /// Partitions of the internal repartition topic (by store) and changelog; unset: as many as
    /// the input has. Fixed once the topics exist.
    pub partitions: Option<i32>,
    /// Longest wait of one poll, ms (bounds output latency when input is quiet).
    pub poll_ms: u64,
    /// Longest time a backlog is gathered into one transaction, ms (a turn also ends as soon as
    /// no more records are waiting, so live traffic commits at once): larger amortises commits.
    pub commit_interval_ms: u64,
    /// Kafka: how soon the group notices a dead member (`session.timeout.ms`).
    pub session_timeout_ms: u64,
    /// Kafka: how soon the broker aborts a dead member's open transaction
    /// (`transaction.timeout.ms`).
    pub transaction_timeout_ms: u64,
}

impl Default for GreenlightConfig {
    fn default() -> Self {
        GreenlightConfig {
            input: topics::SHOPPING_CART_OBJECTS.into(),
            inventory: topics::INVENTORY_REKEYED.into(),
            windowed_items: topics::WINDOWED_ITEMS.into(),
            specials: topics::GREEN_LIGHT_SPECIALS.into(),
            application_id: "aisle-greenlight".into(),
            instance_id: None,
            window_ms: 60_000,
            advance_ms: None,
            grace_ms: 10_000,
            idle_timeout_ms: 30_000,
            max_idle_ms: 30_000,
            table_wait_ms: 2_000,
            default_store: "store".into(),
            min_count: 1,
            require_stock: true,
            table_history_ms: topics::INVENTORY_HISTORY_MS as u64,
            partitions: None,
            poll_ms: 100,
            commit_interval_ms: 500,
            session_timeout_ms: 10_000,
            transaction_timeout_ms: 10_000,
        }
    }
}

impl GreenlightConfig {
    /// Records later than the grace period, with the window they missed.
    pub fn late_topic(&self) -> String {
        format!("{}.late", self.input)
    }
    /// Cart objects that cannot be read.
    pub fn dlq_topic(&self) -> String {
        topics::dlq(&self.input)
    }
    /// Internal: joined cart objects keyed by store.
    pub fn repartition_topic(&self) -> String {
        format!("{}-repartition", self.application_id)
    }
    /// Internal: window state (compacted).
    pub fn changelog_topic(&self) -> String {
        format!("{}-changelog", self.application_id)
    }

    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("input", &self.input),
            ("inventory", &self.inventory),
            ("windowed_items", &self.windowed_items),
            ("specials", &self.specials),
            ("application_id", &self.application_id),
            ("default_store", &self.default_store),
        ] {
            if v.trim().is_empty() {
                return Err(format!("greenlight.{name} is empty"));
            }
        }
        if self.window_ms == 0 {
            return Err("greenlight.window_ms must be > 0".into());
        }
        if let Some(a) = self.advance_ms
            && (a == 0 || a > self.window_ms)
        {
            return Err(format!(
                "greenlight.advance_ms must be in 1..={} (window_ms), not {a}",
                self.window_ms
            ));
        }
        if self.partitions.is_some_and(|p| p < 1) {
            return Err("greenlight.partitions must be >= 1".into());
        }
        if self.poll_ms == 0 {
            return Err("greenlight.poll_ms must be > 0".into());
        }
        Ok(())
    }
}
