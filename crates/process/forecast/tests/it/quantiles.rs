//! End to end: an uncertainty file written by the library and scored by
//! `evaluate::evaluate_quantiles` gives the WSPL computed by hand.

use aisle_forecast::evaluate::{EvalFiles, evaluate_quantiles};
use aisle_forecast::quantiles::{LevelQuantiles, QUANTILES};
use aisle_forecast::submission::write_quantiles;
use aisle_forecast::wrmsse::keys_of;
use aisle_m5::hierarchy::Hierarchy;
use std::fmt::Write;

#[test]
fn evaluate_quantiles_matches_a_hand_computed_wspl() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Two items in one store; training d_1..d_4, test d_5..d_6.
    //   A: 0 2 4 3 | 5 1   (scale: |4-2|, |3-4| → 1.5)
    //   B: 1 1 1 3 | 2 2   (scale: 0, 0, 2 → 2/3)
    let truth = dir.path().join("truth.csv");
    std::fs::write(
        &truth,
        "id,item_id,dept_id,cat_id,store_id,state_id,d_1,d_2,d_3,d_4,d_5,d_6\n\
         F_1_001_CA_1_evaluation,F_1_001,F_1,F,CA_1,CA,0,2,4,3,5,1\n\
         F_1_002_CA_1_evaluation,F_1_002,F_1,F,CA_1,CA,1,1,1,3,2,2\n",
    )?;
    let panel = aisle_m5::SalesPanel::read_wide(&truth)?;
    let h = Hierarchy::m5(&panel.series);
    // Weights: A ¼, B ¾ at the levels that separate items (10-12); 1 elsewhere.
    let weights = dir.path().join("weights.csv");
    let mut w = String::from("Level_id,Agg_Level_1,Agg_Level_2,Weight\n");
    for level in 1..=12 {
        for (i, m) in panel.series.iter().enumerate() {
            let (a, b) = keys_of(level, m);
            let weight = match (level >= 10, i) {
                (false, _) => 1.0,
                (true, 0) => 0.25,
                (true, _) => 0.75,
            };
            if level >= 10 || i == 0 {
                writeln!(w, "Level{level},{a},{b},{weight}")?;
            }
        }
    }
    std::fs::write(&weights, w)?;
    // Every quantile forecasts 3 for every series and day.
    let q: Vec<LevelQuantiles> = h
        .levels
        .iter()
        .map(|l| vec![vec![vec![3.0f32; 2]; QUANTILES.len()]; l.len()])
        .collect();
    let sub = dir.path().join("q.csv");
    write_quantiles(&sub, &h, &q, 2, "evaluation")?;
    let e = evaluate_quantiles(&EvalFiles {
        forecasts: sub,
        truth,
        history: None,
        weights: Some(weights),
        data: None,
    })?;
    assert_eq!((e.train, e.test), ((1, 4), (5, 6)));
    // By hand. Mean over the nine u of pinball(q = 3) for two days:
    //   A (y 5, 1): (5−3)u + (3−1)(1−u) = 2 for every u → 2 / 2 days / 1.5 = 2/3.
    //   B (y 2, 2): 2 · (3−2)(1−u), mean over u of (1−u) = ½ → 1 / 2 / (2/3) = 3/4.
    //   Total (y 7, 3; forecast 3): (7−3)u + 0 → mean 4·½ = 2 → 2 / 2 / scale; the total's
    //   training 1 3 5 6 has scale (2 + 2 + 1)/3 = 5/3 → 0.6.
    let (a, b, total) = (2.0 / 3.0, 0.75, 0.6);
    let item_level = 0.25 * a + 0.75 * b;
    for l in 0..9 {
        assert!(
            (e.score.levels[l] - total).abs() < 1e-6,
            "L{}: {:?}",
            l + 1,
            e.score
        );
    }
    for l in 9..12 {
        assert!(
            (e.score.levels[l] - item_level).abs() < 1e-6,
            "L{}: {:?}",
            l + 1,
            e.score
        );
    }
    Ok(())
}

/// The streaming forecaster puts the nine quantiles of every bottom series in its records
/// (without being asked for a file), monotone per series and day, around the point forecast;
/// they are the bottom rows of the uncertainty file it writes when asked for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_forecasts_carry_monotone_quantiles_of_every_series() -> anyhow::Result<()> {
    use aisle_events::{Event, SalesForecast, SalesRecord, topics, wire};
    use aisle_forecast::models::pooled::Pooled;
    use aisle_forecast::stream::{RunOptions, run};
    use aisle_forecast::synthetic::Synthetic;
    use aisle_log::{Log, Offset, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec};
    use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
    use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    // M5-shaped negative-binomial demand, mostly intermittent: ~300 series, 84 days.
    let data = Synthetic::generate(0.01, 84, 28, 7);
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(
        dir.path().join("log"),
        EmbeddedConfig::default(),
    )?);
    let registry: Arc<dyn SchemaRegistry> =
        Arc::new(LocalRegistry::new(SchemaStore::open(log.clone()).await?));
    log.create_topic(&TopicSpec::new(topics::SALES, 2)).await?;
    let id = registry
        .register(
            &topics::value_subject(topics::SALES),
            SalesRecord::SCHEMA_JSON,
        )
        .await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let mut pending = Vec::new();
    for (m, row) in data.sales.series.iter().zip(&data.sales.values) {
        for (k, &sold) in row.iter().enumerate() {
            let s = SalesRecord {
                item_id: m.item_id.clone(),
                dept_id: m.dept_id.clone(),
                cat_id: m.cat_id.clone(),
                store_id: m.store_id.clone(),
                state_id: m.state_id.clone(),
                day: data.sales.first_day + k as i32,
                sold: sold as i32,
                sell_price: None,
            };
            let mut value = Vec::new();
            wire::write_header(&mut value, id);
            s.encode(&mut value)?;
            let rec = ProduceRecord::new(topics::SALES)
                .key(s.key().into_bytes())
                .value(value);
            pending.push(producer.send(rec).await?);
        }
    }
    for p in pending {
        p.await?;
    }

    let file = dir.path().join("quantiles.csv");
    let mut opts = RunOptions::new();
    opts.once = true;
    opts.quantile_submission = Some(file.clone());
    let summary = run(
        log.clone(),
        registry,
        None,
        Arc::new(Pooled::default()),
        opts,
        std::future::pending(),
    )
    .await?;
    let n = data.sales.series.len();
    assert_eq!(summary.published, n as u64);

    let mut c = log.consumer(&aisle_log::ConsumerConfig::default())?;
    let parts = log
        .describe_topic(topics::SALES_FORECASTS)
        .await?
        .partitions;
    c.assign(
        &(0..parts)
            .map(|p| {
                (
                    TopicPartition::new(topics::SALES_FORECASTS, p),
                    Offset::Beginning,
                )
            })
            .collect::<Vec<_>>(),
    )?;
    let mut got: BTreeMap<String, SalesForecast> = BTreeMap::new();
    while got.len() < n {
        let batch = c.poll(std::time::Duration::from_secs(5)).await?;
        assert!(
            !batch.is_empty(),
            "only {} of {n} forecasts read",
            got.len()
        );
        for r in batch {
            let (_, datum) = wire::split(r.value.as_deref().unwrap()).unwrap();
            let f = SalesForecast::decode(datum)?;
            got.insert(f.id.clone(), f);
        }
    }

    let (mut nonzero, mut tiny) = (0, 0);
    for f in got.values() {
        let qs: Vec<f32> = f.quantiles.iter().map(|q| q.q).collect();
        assert_eq!(qs, SalesForecast::M5_QUANTILES, "{}", f.id);
        for d in 0..28 {
            let col: Vec<f32> = f.quantiles.iter().map(|q| q.values[d]).collect();
            assert!(
                col.windows(2).all(|w| w[0] <= w[1]),
                "{} day {d}: {col:?}",
                f.id
            );
            let point = f.forecast[d];
            // The point forecast is the distribution's mean: never below q0.005 and never
            // above q0.995, unless the mean is so small that q0.995 is already 0 units.
            assert!(col[0] <= point, "{} day {d}: {point} < {col:?}", f.id);
            if col[8] == 0.0 {
                assert!(point < 0.1, "{} day {d}: {point} > {col:?}", f.id);
                tiny += 1;
            } else {
                assert!(point <= col[8], "{} day {d}: {point} > {col:?}", f.id);
            }
            if col[8] > 0.0 {
                nonzero += 1;
            }
        }
    }
    // Not vacuous: most series-days have a band, and the intermittent ones a degenerate one.
    assert!(nonzero > n * 28 / 2, "{nonzero} of {} with a band", n * 28);
    assert!(tiny < n * 28 / 10, "{tiny}");

    // The records' quantiles are the bottom rows (level 12) of the file.
    let metas: Vec<_> = got
        .values()
        .map(|f| aisle_m5::SeriesMeta::from_ids(&f.item_id, &f.store_id).unwrap())
        .collect();
    let h = Hierarchy::m5(&metas);
    let levels = aisle_forecast::submission::read_quantiles(&file, &h, "evaluation")?;
    for (m, rows) in metas.iter().zip(&levels[11]) {
        let f = &got[&m.id];
        for (q, row) in f.quantiles.iter().zip(rows) {
            assert_eq!(&q.values, row, "{} q{}", m.id, q.q);
        }
    }
    Ok(())
}
