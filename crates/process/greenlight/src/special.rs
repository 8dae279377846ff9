//! The rule that picks a window's Green Light Special.
//!
//! Candidates are the window's items that
//! 1. matched an inventory row (at least one detection joined),
//! 2. have an upsell item in that row,
//! 3. were carted at least `min_count` times, and
//! 4. whose upsell item is not known to be out of stock at the window's end, in the window's
//!    store (the store's own row for the upsell item if it has one then, else the chain-wide
//!    row: [`crate::StoreRows`]): an upsell item with **no** inventory row does not block (its stock is unknown, and `reason` says so:
//!    "upsell plate stock unknown (not in inventory)"), while an upsell row with a count <= 0
//!    or no count blocks when `require_stock` is on (the default; `--allow-out-of-stock` turns
//!    it off).
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
    /// Whether an upsell item that has an inventory row must be in stock (count > 0). An upsell
    /// item with no row never blocks.
    pub require_stock: bool,
}

/// Picks the special of a closed window. `upsell_row(name)` is the inventory row of an upsell
/// item as the window's store sees it at the window's end (its own row, else the chain-wide
/// one; `None`: no row, stock unknown, which does not block).
pub fn pick<'a>(
    store: &str,
    agg: &WindowAgg,
    rule: Rule,
    mut upsell_row: impl FnMut(&str) -> Option<&'a Inventory>,
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
                    None => Ok((
                        u.to_string(),
                        format!("upsell {u} stock unknown (not in inventory)"),
                    )),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window_state::Joined;

    /// The seed table of `aisle inventory init` (`aisle_inventory::seed::SEED_ROWS`, which this
    /// crate does not depend on): `(name, upsell_item, count)`.
    const SEED_ROWS: [(&str, &str, i32); 7] = [
        ("cup", "plate", 100),
        ("bowl", "cup", 10),
        ("fork", "spoon", 200),
        ("spoon", "fork", 10),
        ("sports ball", "soccer goal", 2),
        ("tennis racket", "tennis ball", 10),
        ("frisbee", "frisbee goal", 100),
    ];

    fn row(id: i32, name: &str, upsell: &str, count: Option<i32>) -> Inventory {
        Inventory {
            id,
            name: Some(name.into()),
            upsell_item: Some(upsell.into()),
            count,
            modified: 0,
            store_id: None,
        }
    }

    fn seed_table() -> Vec<Inventory> {
        SEED_ROWS
            .iter()
            .enumerate()
            .map(|(i, (n, u, c))| row(i as i32 + 1, n, u, Some(*c)))
            .collect()
    }

    /// A window with `n` detections of each `(item, n)`, joined against `table`.
    fn window(table: &[Inventory], items: &[(&str, usize)]) -> WindowAgg {
        let mut agg = WindowAgg::new(0, 10_000);
        for (item, n) in items {
            let r = table.iter().find(|r| r.name.as_deref() == Some(*item));
            for k in 0..*n {
                agg.add(&Joined {
                    store: "CA_1".into(),
                    item: (*item).into(),
                    ts: k as i64,
                    matched: r.is_some(),
                    upsell: r.and_then(|r| r.upsell_item.clone()),
                    stock: r.and_then(|r| r.count),
                    source: format!("t/0@{k}"),
                    partition: "t/0".into(),
                    partition_time: k as i64,
                });
            }
        }
        agg
    }

    fn pick_in(table: &[Inventory], agg: &WindowAgg, rule: Rule) -> Option<GreenLightSpecial> {
        pick("CA_1", agg, rule, |u| {
            table.iter().find(|r| r.name.as_deref() == Some(u))
        })
    }

    const DEFAULT: Rule = Rule {
        min_count: 1,
        require_stock: true,
    };

    #[test]
    fn special_every_seed_item_can_win() {
        let table = seed_table();
        for (name, upsell, _) in SEED_ROWS {
            // `name` most carted, every other seed item carted once.
            let mut items = vec![(name, 3)];
            items.extend(SEED_ROWS.iter().filter(|r| r.0 != name).map(|r| (r.0, 1)));
            let agg = window(&table, &items);
            let s = pick_in(&table, &agg, DEFAULT).unwrap_or_else(|| panic!("{name}: no special"));
            assert_eq!(s.item, name, "{name}: {}", s.reason);
            assert_eq!(s.upsell_item, upsell);
            assert_eq!(s.count, 3);
            let known = table.iter().any(|r| r.name.as_deref() == Some(upsell));
            if known {
                assert!(s.reason.contains("in stock"), "{name}: {}", s.reason);
            } else {
                assert!(
                    s.reason
                        .contains(&format!("upsell {upsell} stock unknown (not in inventory)")),
                    "{name}: {}",
                    s.reason
                );
            }
        }
    }

    #[test]
    fn special_unknown_upsell_wins_with_reason() {
        let table = seed_table();
        let agg = window(&table, &[("cup", 5), ("bowl", 2)]);
        let s = pick_in(&table, &agg, DEFAULT).unwrap();
        assert_eq!(s.item, "cup");
        assert_eq!(
            s.reason,
            "most carted (5, next bowl 2); upsell plate stock unknown (not in inventory)"
        );
    }

    #[test]
    fn special_out_of_stock_upsell_blocks_unless_allowed() {
        let mut table = seed_table();
        // bowl's upsell is cup: out of stock (0), then no count at all.
        for count in [Some(0), Some(-3), None] {
            table[0].count = count;
            let agg = window(&table, &[("bowl", 5), ("fork", 2)]);
            let s = pick_in(&table, &agg, DEFAULT).unwrap();
            assert_eq!(s.item, "fork", "{count:?}: {}", s.reason);
            assert!(
                s.reason
                    .contains("passed over: bowl 5 (upsell cup out of stock"),
                "{}",
                s.reason
            );
            let allowed = Rule {
                require_stock: false,
                ..DEFAULT
            };
            let s = pick_in(&table, &agg, allowed).unwrap();
            assert_eq!(s.item, "bowl", "{count:?}: {}", s.reason);
            assert!(s.reason.contains("not required"), "{}", s.reason);
        }
    }

    #[test]
    fn special_upsell_stock_is_the_window_stores_own() {
        // bowl's upsell is cup: 100 chain-wide, none left in CA_1's own row.
        let mut table: std::collections::BTreeMap<String, Inventory> = seed_table()
            .into_iter()
            .map(|r| (r.name.clone().unwrap(), r))
            .collect();
        let mut own = row(100, "cup", "plate", Some(0));
        own.store_id = Some("CA_1".into());
        table.insert("CA_1/cup".into(), own);
        let agg = window(&seed_table(), &[("bowl", 5), ("fork", 2)]);
        let mut rows = crate::StoreRows::new();
        let mut pick_for = |store: &str| {
            pick(store, &agg, DEFAULT, |u| {
                rows.find(Some(store), u, |k| table.get(k))
            })
            .unwrap()
        };
        let ca = pick_for("CA_1");
        assert_eq!(ca.item, "fork", "{}", ca.reason);
        assert!(
            ca.reason
                .contains("passed over: bowl 5 (upsell cup out of stock (0))"),
            "{}",
            ca.reason
        );
        let tx = pick_for("TX_1");
        assert_eq!(tx.item, "bowl", "{}", tx.reason);
        assert!(
            tx.reason.ends_with("upsell cup in stock (100)"),
            "{}",
            tx.reason
        );
    }

    #[test]
    fn special_ties_min_count_and_unmatched() {
        let table = seed_table();
        // Tie: the name that sorts first.
        let agg = window(&table, &[("spoon", 2), ("fork", 2)]);
        assert_eq!(pick_in(&table, &agg, DEFAULT).unwrap().item, "fork");
        // Items with no inventory row are passed over.
        let agg = window(&table, &[("banana", 9), ("spoon", 1)]);
        let s = pick_in(&table, &agg, DEFAULT).unwrap();
        assert_eq!(s.item, "spoon");
        assert!(
            s.reason.contains("banana 9 (not in inventory)"),
            "{}",
            s.reason
        );
        // Below min_count: no special.
        let rule = Rule {
            min_count: 3,
            ..DEFAULT
        };
        assert!(pick_in(&table, &agg, rule).is_none());
    }
}
