//! The rule that picks a window's Green Light Special.
//!
//! Candidates are the window's items that
//! 1. matched an inventory row (at least one detection joined),
//! 2. have an upsell item in that row,
//! 3. were carted at least `min_count` times, and
//! 4. whose upsell item has an inventory row as of the window's end — with stock > 0 when
//!    `require_stock` is on (the default).
//!
//! The winner is the candidate carted most often; ties go to the name that sorts first. The
//! `reason` says how many times it was carted, the runner-up, the upsell's stock, and which more
//! carted items were passed over and why. A window with no candidate has no special.

use crate::window_state::WindowAgg;
use aisle_events::{GreenLightSpecial, Inventory};

/// The configurable part of the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Minimum detections of the winner.
    pub min_count: u64,
    /// Whether the upsell item must be in stock.
    pub require_stock: bool,
}

/// Picks the special of a closed window. `upsell_row(name)` is the inventory row of an upsell
/// item as of the window's end.
pub fn pick<'a>(
    store: &str,
    agg: &WindowAgg,
    rule: Rule,
    upsell_row: impl Fn(&str) -> Option<&'a Inventory>,
) -> Option<GreenLightSpecial> {
    let mut ranked: Vec<(&String, &crate::window_state::ItemAgg)> = agg.items.iter().collect();
    ranked.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let mut passed = Vec::new();
    let mut winner: Option<(&String, i64, String, String)> = None;
    let mut runner_up = None;
    for (item, ia) in &ranked {
        let verdict = if ia.matched == 0 {
            Err("not in inventory".to_string())
        } else if (ia.count as u64) < rule.min_count {
            Err(format!("carted fewer than {} times", rule.min_count))
        } else {
            match ia.upsell.as_deref().filter(|u| !u.trim().is_empty()) {
                None => Err("no upsell item".to_string()),
                Some(u) => match upsell_row(u) {
                    None => Err(format!("upsell {u} not in inventory")),
                    Some(row) => match row.count {
                        Some(n) if n > 0 => {
                            Ok((u.to_string(), format!("upsell {u} in stock ({n})")))
                        }
                        _ if rule.require_stock => Err(format!(
                            "upsell {u} out of stock ({})",
                            row.count.unwrap_or(0)
                        )),
                        n => Ok((
                            u.to_string(),
                            format!(
                                "upsell {u} in inventory (stock {}, not required)",
                                n.unwrap_or(0)
                            ),
                        )),
                    },
                },
            }
        };
        match (verdict, &winner) {
            (Ok((upsell, why)), None) => winner = Some((item, ia.count, upsell, why)),
            (Ok(_), Some(_)) => {
                runner_up = Some((*item, ia.count));
                break;
            }
            (Err(why), None) => passed.push(format!("{item} {} ({why})", ia.count)),
            (Err(_), Some(_)) => {}
        }
    }
    let (item, count, upsell, why) = winner?;
    let mut reason = match runner_up {
        Some((r, c)) => format!("most carted ({count}, next {r} {c}); {why}"),
        None => format!("most carted ({count}, no other candidate); {why}"),
    };
    if !passed.is_empty() {
        reason.push_str("; passed over: ");
        reason.push_str(&passed.join(", "));
    }
    Some(GreenLightSpecial {
        store_id: store.to_owned(),
        window_start: agg.start,
        window_end: agg.end,
        item: item.clone(),
        upsell_item: upsell,
        count,
        reason,
        total_items: agg.total,
        unmatched_items: agg.unmatched,
    })
}
