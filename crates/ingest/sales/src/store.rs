//! One store's generator: its series for a span of days, in day order, onto the store's
//! partition (which other stores may share), through the producer in batches
//! ([`Producer::send_batch`]) with a bounded number of records in flight; every delivery is
//! checked.
//!
//! The hot loop allocates nothing per record: the batch's records are built once and refilled,
//! values are encoded back to back into one buffer per batch and handed out as slices of it,
//! keys are shared, and a record carries no position (resuming reads it from the key and
//! timestamp, see [`crate::resume`]).

use crate::encode::SeriesEncoder;
use crate::error::{Result, SalesError};
use crate::replay::{Observer, Speed};
use crate::resume::SYNTHETIC_HEADER;
use crate::synthetic;
use aisle_events::wire;
use aisle_log::{BatchDelivery, ProduceRecord, Producer};
use aisle_m5::Calendar;
use aisle_m5::calendar::date_ms;
use aisle_m5::prices::PriceTable;
use aisle_m5::wide::{Series, Window};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Records per `send_batch`.
const BATCH: usize = 2048;

/// Batches a store task keeps in flight before waiting for the oldest (~20,000 records).
/// Waiting in order also means a failed delivery stops the store before it runs far ahead.
const IN_FLIGHT: usize = 10;

/// Batches in flight over all store tasks, at most: with more than ten stores, each keeps
/// fewer (at least 2), so a chain of 100 stores holds ~400,000 records in flight, not 2 million.
const IN_FLIGHT_TOTAL: usize = 100;

/// Batches each of `stores` store tasks keeps in flight.
pub(crate) fn in_flight(stores: usize) -> usize {
    (IN_FLIGHT_TOTAL / stores.max(1)).clamp(2, IN_FLIGHT)
}

/// One store's part of one window.
pub(crate) struct StoreJob {
    /// Chain index (M5: Kaggle index, which the window and price table are laid out by).
    pub(crate) store: usize,
    /// Store id, for progress.
    pub(crate) name: Arc<str>,
    /// The store's partition.
    pub(crate) partition: i32,
    pub(crate) series: Arc<Vec<Series>>,
    pub(crate) from: (u32, u32),
    pub(crate) to_day: u32,
    pub(crate) window: Option<Arc<Window>>,
    pub(crate) calendar: Option<Arc<Calendar>>,
    pub(crate) prices: Option<Arc<PriceTable>>,
    pub(crate) topic: String,
    pub(crate) schema_id: u32,
    pub(crate) speed: Speed,
    pub(crate) pace: (tokio::time::Instant, u32),
    /// Batches in flight before waiting for the oldest ([`in_flight`]).
    pub(crate) in_flight: usize,
    pub(crate) producer: Arc<dyn Producer>,
    pub(crate) observer: Arc<dyn Observer>,
    /// Turns true on shutdown: the store stops at the end of the day it is sending.
    pub(crate) stop: tokio::sync::watch::Receiver<bool>,
}

impl StoreJob {
    pub(crate) async fn run(self) -> Result<u64> {
        let encoders = self
            .series
            .iter()
            .map(|s| SeriesEncoder::new(&s.record))
            .collect::<Result<Vec<_>>>()?;
        let mut framing = Vec::with_capacity(wire::HEADER_LEN);
        wire::write_header(&mut framing, self.schema_id);
        let mut out = Out {
            job: &self,
            framing,
            in_flight: VecDeque::with_capacity(self.in_flight + 1),
            batch: Vec::with_capacity(BATCH),
            len: 0,
            values: BytesMut::with_capacity(BATCH * 64),
            ends: Vec::with_capacity(BATCH),
            first: (0, 0),
            sent: 0,
        };
        let (from_day, from_row) = self.from;
        let mut stop = self.stop.clone();
        for day in from_day..=self.to_day {
            if let Speed::DaysPerSecond(n) = self.speed {
                // Everything of the previous day goes out before waiting for this one.
                out.send().await?;
                let at =
                    self.pace.0 + Duration::from_secs_f64((day - self.pace.1) as f64 / n.max(1e-6));
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
            if *stop.borrow() {
                break;
            }
            let start_row = if day == from_day {
                from_row as usize
            } else {
                0
            };
            self.day(day, start_row, &encoders, &mut out).await?;
        }
        out.send().await?;
        while !out.in_flight.is_empty() {
            out.await_oldest().await?;
        }
        Ok(out.sent)
    }

    /// Queues rows `start_row..` of `day`, sending every [`BATCH`] records.
    async fn day(
        &self,
        day: u32,
        start_row: usize,
        encoders: &[SeriesEncoder],
        out: &mut Out<'_>,
    ) -> Result<()> {
        let (ts, week) = match &self.calendar {
            Some(c) => c
                .day(day)
                .map(|c| (c.date_ms, c.wm_yr_wk))
                .unwrap_or((date_ms(day), 0)),
            None => (date_ms(day), 0),
        };
        let rows = self.series.len();
        let todo = self.series.iter().zip(encoders).enumerate();
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
            if out.len == 0 {
                out.first = (day, row);
            }
            out.values.extend_from_slice(&out.framing);
            enc.encode(day as i32, sold as i32, price, &mut out.values);
            out.ends.push(out.values.len());
            if out.len == out.batch.len() {
                // Built once per slot and reused: topic, partition and headers never change.
                let mut rec = ProduceRecord::new(&self.topic).partition(self.partition);
                if self.window.is_none() {
                    rec = rec.header(SYNTHETIC_HEADER, Bytes::from_static(b"true"));
                }
                out.batch.push(rec);
            }
            let rec = &mut out.batch[out.len];
            rec.key = Some(s.key.clone());
            rec.timestamp = Some(ts);
            out.len += 1;
            if out.len >= BATCH {
                out.send().await?;
            }
        }
        Ok(())
    }
}

/// A store task's batch being filled and the batches in flight.
struct Out<'a> {
    job: &'a StoreJob,
    /// The Confluent wire header every value starts with.
    framing: Vec<u8>,
    in_flight: VecDeque<BatchDelivery>,
    /// Records of the batch being filled (the first `len`; values set at sending), reused
    /// from batch to batch.
    batch: Vec<ProduceRecord>,
    len: usize,
    /// Their values, back to back; `ends[i]` is where record `i`'s ends.
    values: BytesMut,
    ends: Vec<usize>,
    /// Day and row of the batch's first record, for error messages.
    first: (u32, usize),
    sent: u64,
}

impl Out<'_> {
    /// Sends the batch being filled (if any), then waits for the oldest batch in flight if
    /// there are too many.
    async fn send(&mut self) -> Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        let job = self.job;
        let values = self.values.split().freeze();
        let mut start = 0;
        for (rec, end) in self.batch[..self.len].iter_mut().zip(&self.ends) {
            rec.value = Some(values.slice(start..*end));
            start = *end;
        }
        self.ends.clear();
        let n = self.len as u64;
        self.len = 0;
        let (day, row) = self.first;
        let delivery = job
            .producer
            .send_batch(&self.batch[..n as usize])
            .await
            .map_err(SalesError::log(format!(
                "sending {}/{} ({}) from d_{day} row {row}",
                job.topic, job.partition, job.name
            )))?;
        self.in_flight.push_back(delivery);
        if self.in_flight.len() > job.in_flight {
            self.await_oldest().await?;
        }
        self.sent += n;
        job.observer.sent(&job.name, n);
        Ok(())
    }

    async fn await_oldest(&mut self) -> Result<()> {
        if let Some(f) = self.in_flight.pop_front() {
            f.await.map_err(SalesError::log(format!(
                "delivering to {}/{} ({})",
                self.job.topic, self.job.partition, self.job.name
            )))?;
        }
        Ok(())
    }
}
