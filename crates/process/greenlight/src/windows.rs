//! The window stage's outputs. The windows themselves are an
//! [`aisle_streams::WindowedAggregate`] of [`WindowAgg`] per store ([`Windows`]); this file
//! turns each window it closes into one `WindowedItem` per item and the window's special.

use crate::special::{self, Rule};
use crate::store_rows::StoreRows;
use crate::window_state::WindowAgg;
use aisle_events::{GreenLightSpecial, Inventory, WindowedItem};
use aisle_log::ProduceRecord;
use aisle_serde::Serializer;
use aisle_streams::{Closed, Result, StreamsError, TableJoin, WindowedAggregate};

/// One state partition's windows: per store, a [`WindowAgg`] per window.
pub type Windows = WindowedAggregate<WindowAgg>;

/// What closing a window writes to, and how values are framed.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// Per-item window counts.
    pub windowed_items: String,
    /// Specials.
    pub specials: String,
    /// Late records.
    pub late: String,
    /// `WindowedItem` values.
    pub windowed_item: Serializer<WindowedItem>,
    /// `GreenLightSpecial` values.
    pub special: Serializer<GreenLightSpecial>,
}

/// Closed windows' outputs, in order: per window, one `WindowedItem` per item, then its
/// special (if any), picked with the upsell rows in force just before the window's end as the
/// window's store sees them ([`StoreRows`]: its own row, else the chain-wide one).
pub fn emit(
    closed: &[Closed<WindowAgg>],
    rule: Rule,
    table: &TableJoin<Inventory>,
    to: &Outputs,
    out: &mut Vec<ProduceRecord>,
) -> Result<()> {
    // Windows close far less often than records arrive: one buffer per call is enough.
    let mut rows = StoreRows::new();
    for c in closed {
        emit_one(&c.key, &c.agg, rule, table, &mut rows, to, out)?;
    }
    Ok(())
}

fn emit_one(
    store: &str,
    agg: &WindowAgg,
    rule: Rule,
    table: &TableJoin<Inventory>,
    rows: &mut StoreRows,
    to: &Outputs,
    out: &mut Vec<ProduceRecord>,
) -> Result<()> {
    for (item, ia) in &agg.items {
        let wi = WindowedItem {
            store_id: store.to_owned(),
            window_start: agg.start,
            window_end: agg.end,
            item: item.clone(),
            count: ia.count,
            matched: ia.matched > 0,
            upsell_item: ia.upsell.clone(),
            stock: ia.stock,
        };
        out.push(
            ProduceRecord::new(to.windowed_items.clone())
                .key(wi.key().into_bytes())
                .value(to.windowed_item.serialize(&wi).map_err(encoding)?)
                .timestamp(agg.end),
        );
    }
    let at = agg.end - 1;
    // The window's store: for the default store's windows (cart objects without a store id)
    // that is the default store's own rows, if the table has any, else the chain-wide ones.
    match special::pick(store, agg, rule, |u| {
        rows.get_at(table, Some(store), u, at).map(|r| r.as_ref())
    }) {
        Some(s) => {
            tracing::info!(store, window_start = s.window_start, item = %s.item, upsell = %s.upsell_item, count = s.count, "green light special");
            out.push(
                ProduceRecord::new(to.specials.clone())
                    .key(s.store_id.clone().into_bytes())
                    .value(to.special.serialize(&s).map_err(encoding)?)
                    .timestamp(agg.end),
            );
        }
        None => tracing::info!(
            store,
            window_start = agg.start,
            items = agg.items.len(),
            "window closed without a special: no item qualified"
        ),
    }
    Ok(())
}

fn encoding(e: aisle_serde::SerializeError) -> StreamsError {
    StreamsError::Processor(format!("encoding an output: {e}"))
}
