//! Avro library choice: encode and decode `SalesRecord` and `ShoppingCartObject` with `apache-avro`
//! and with `serde_avro_fast`, plus Aisle's `Event` methods (which pick the fast one).
//!
//! Run: `cargo bench -p aisle-events --bench codec`. Each group's throughput is one record, so
//! criterion's time is ns/record.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use std::hint::black_box;

use aisle_events::{Event, SalesRecord, ShoppingCartObject};
use apache_avro::Schema;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn sale() -> SalesRecord {
    SalesRecord {
        item_id: "HOUSEHOLD_1_118".into(),
        dept_id: "HOUSEHOLD_1".into(),
        cat_id: "HOUSEHOLD".into(),
        store_id: "TX_2".into(),
        state_id: "TX".into(),
        day: 1337,
        sold: 4,
        sell_price: Some(2.97),
    }
}

fn cart() -> ShoppingCartObject {
    ShoppingCartObject {
        timestamp: 1_554_994_983_000,
        image_name: "cart_0001.jpg".into(),
        class_id: 47,
        class_name: "cup".into(),
        score: 0.93,
        box_x: 120,
        box_y: 88,
        box_w: 64,
        box_h: 80,
        store_id: Some("CA_1".into()),
        cart_id: Some("cart-17".into()),
        camera_id: None,
    }
}

fn bench_type<T: Event + Serialize + DeserializeOwned>(c: &mut Criterion, name: &str, value: T) {
    let avro = Schema::parse_str(T::SCHEMA_JSON).unwrap();
    let fast: serde_avro_fast::Schema = T::SCHEMA_JSON.parse().unwrap();
    let datum = value.to_datum().unwrap();

    let mut g = c.benchmark_group(format!("{name}/encode"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("apache_avro_value", |b| {
        b.iter(|| {
            let v = apache_avro::to_value(black_box(&value)).unwrap();
            apache_avro::to_avro_datum(&avro, v).unwrap()
        })
    });
    let mut buf = Vec::with_capacity(256);
    g.bench_function("apache_avro_direct", |b| {
        b.iter(|| {
            buf.clear();
            apache_avro::write_avro_datum_ref(&avro, black_box(&value), &mut buf).unwrap();
        })
    });
    let mut config = serde_avro_fast::ser::SerializerConfig::new(&fast);
    g.bench_function("serde_avro_fast", |b| {
        b.iter(|| {
            buf.clear();
            serde_avro_fast::to_datum(black_box(&value), &mut buf, &mut config).unwrap();
        })
    });
    g.bench_function("aisle_event", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&value).encode(&mut buf).unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("{name}/decode"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("apache_avro", |b| {
        b.iter(|| {
            let v = apache_avro::from_avro_datum(&avro, &mut black_box(&datum[..]), None).unwrap();
            apache_avro::from_value::<T>(&v).unwrap()
        })
    });
    g.bench_function("serde_avro_fast", |b| {
        b.iter(|| serde_avro_fast::from_datum_slice::<T>(black_box(&datum), &fast).unwrap())
    });
    g.bench_function("aisle_event", |b| {
        b.iter(|| T::decode(black_box(&datum)).unwrap())
    });
    g.bench_function("aisle_event_resolving_seed", |b| {
        // Same-canonical-form writer schemas take the fast path; this measures the check.
        b.iter(|| T::decode_resolving(black_box(T::SCHEMA_JSON), black_box(&datum)).unwrap())
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    bench_type(c, "sales_record", sale());
    bench_type(c, "shopping_cart_object", cart());

    // Decoding seed (2019) cart records into today's type goes through apache-avro resolution.
    let seed = Schema::parse_str(aisle_events::schemas::SEED_SHOPPING_CART_OBJECT).unwrap();
    let mut v = cart();
    v.store_id = None;
    v.cart_id = None;
    let seed_datum = {
        let mut value = apache_avro::to_value(&v).unwrap();
        if let apache_avro::types::Value::Record(fields) = &mut value {
            fields.truncate(9);
        }
        apache_avro::to_avro_datum(&seed, value).unwrap()
    };
    let mut g = c.benchmark_group("shopping_cart_object/decode_seed");
    g.throughput(Throughput::Elements(1));
    g.bench_function("aisle_event_resolving", |b| {
        b.iter(|| {
            ShoppingCartObject::decode_resolving(
                aisle_events::schemas::SEED_SHOPPING_CART_OBJECT,
                black_box(&seed_datum),
            )
            .unwrap()
        })
    });
    g.bench_function("datum_to_json", |b| {
        b.iter(|| {
            aisle_events::datum_to_json(
                aisle_events::schemas::SEED_SHOPPING_CART_OBJECT,
                black_box(&seed_datum),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
