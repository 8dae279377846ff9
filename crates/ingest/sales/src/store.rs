//! One store's generator: its series for a span of days, in day order, through the producer with
//! a bounded number of deliveries in flight; every delivery is checked.

use crate::calendar::Calendar;
use crate::encode::SeriesEncoder;
use crate::error::{Result, SalesError};
use crate::prices::Prices;
use crate::replay::{Observer, Speed};
use crate::resume::{POS_HEADER, SYNTHETIC_HEADER};
use crate::synthetic;
use crate::wide::{Series, Window};
use aisle_events::topics::M5_STORES;
use aisle_events::wire;
use aisle_log::{DeliveryFuture, ProduceRecord, Producer};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// How many deliveries a store task keeps in flight before waiting for the oldest. Waiting in
/// order also means a failed delivery stops the store before it runs far ahead.
const IN_FLIGHT: usize = 20_000;

/// One store's part of one window.
pub(crate) struct StoreJob {
    pub(crate) store: usize,
    pub(crate) series: Arc<Vec<Series>>,
    pub(crate) from: (u32, u32),
    pub(crate) to_day: u32,
    pub(crate) window: Option<Arc<Window>>,
    pub(crate) calendar: Option<Arc<Calendar>>,
    pub(crate) prices: Option<Arc<Prices>>,
    pub(crate) topic: String,
    pub(crate) schema_id: u32,
    pub(crate) speed: Speed,
    pub(crate) pace: (tokio::time::Instant, u32),
    pub(crate) producer: Arc<dyn Producer>,
    pub(crate) observer: Arc<dyn Observer>,
}

impl StoreJob {
    pub(crate) async fn run(self) -> Result<u64> {
        let store_id = M5_STORES[self.store];
        let rows = self.series.len();
        let encoders = self
            .series
            .iter()
            .map(|s| SeriesEncoder::new(&s.record))
            .collect::<Result<Vec<_>>>()?;
        let mut in_flight: VecDeque<DeliveryFuture> = VecDeque::with_capacity(IN_FLIGHT);
        let mut buf = Vec::with_capacity(128);
        let (mut sent, mut unreported) = (0u64, 0u64);
        let (from_day, from_row) = self.from;
        for day in from_day..=self.to_day {
            if let Speed::DaysPerSecond(n) = self.speed {
                let at =
                    self.pace.0 + Duration::from_secs_f64((day - self.pace.1) as f64 / n.max(1e-6));
                tokio::time::sleep_until(at).await;
            }
            let (ts, week) = match &self.calendar {
                Some(c) => c
                    .day(day)
                    .map(|c| (c.date_ms, c.wm_yr_wk))
                    .unwrap_or((synthetic::date_ms(day), 0)),
                None => (synthetic::date_ms(day), 0),
            };
            let start_row = if day == from_day {
                from_row as usize
            } else {
                0
            };
            let todo = self.series.iter().zip(&encoders).enumerate();
            for (row, (s, enc)) in todo.skip(start_row) {
                let (sold, price) = match (&self.window, &self.prices) {
                    (Some(w), Some(p)) => (
                        w.sold(self.store, rows, row, day),
                        p.get(self.store, s.item, week),
                    ),
                    _ => {
                        let cat = &s.record.cat_id;
                        (
                            synthetic::sold(self.store, s.item, cat, day),
                            synthetic::price(self.store, s.item, cat, day),
                        )
                    }
                };
                buf.clear();
                wire::write_header(&mut buf, self.schema_id);
                enc.encode(day as i32, sold as i32, price, &mut buf);
                let mut out = ProduceRecord::new(&self.topic)
                    .partition(self.store as i32)
                    .key(s.key.clone())
                    .value(Bytes::copy_from_slice(&buf))
                    .timestamp(ts)
                    .header(POS_HEADER, format!("{day}:{row}"));
                if self.window.is_none() {
                    out = out.header(SYNTHETIC_HEADER, Bytes::from_static(b"true"));
                }
                let fut = self
                    .producer
                    .send(out)
                    .await
                    .map_err(SalesError::log(format!(
                        "sending {}/{} d_{day} row {row}",
                        self.topic, self.store
                    )))?;
                in_flight.push_back(fut);
                if in_flight.len() >= IN_FLIGHT {
                    await_one(&mut in_flight, &self.topic, self.store).await?;
                }
                sent += 1;
                unreported += 1;
                if unreported >= 4096 {
                    self.observer.sent(store_id, unreported);
                    unreported = 0;
                }
            }
        }
        while !in_flight.is_empty() {
            await_one(&mut in_flight, &self.topic, self.store).await?;
        }
        self.observer.sent(store_id, unreported);
        Ok(sent)
    }
}

async fn await_one(q: &mut VecDeque<DeliveryFuture>, topic: &str, store: usize) -> Result<()> {
    if let Some(f) = q.pop_front() {
        f.await
            .map_err(SalesError::log(format!("delivering to {topic}/{store}")))?;
    }
    Ok(())
}
