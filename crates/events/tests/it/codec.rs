//! Round trips through [`Event`], agreement between the two Avro libraries, and reading records
//! written by the original applications (seed schemas).

use aisle_events::types::ForecastQuantile;
use aisle_events::{
    CodecError, Event, GreenLightSpecial, Inventory, SalesForecast, SalesRecord,
    ShoppingCartObject, WindowedItem, schemas,
};
use apache_avro::Schema;
use apache_avro::types::Value;

fn sale(price: Option<f32>) -> SalesRecord {
    SalesRecord {
        item_id: "FOODS_3_090".into(),
        dept_id: "FOODS_3".into(),
        cat_id: "FOODS".into(),
        store_id: "CA_1".into(),
        state_id: "CA".into(),
        day: 1914,
        sold: 3,
        sell_price: price,
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
        cart_id: None,
        camera_id: Some("cam-3".into()),
    }
}

fn inventory() -> Inventory {
    Inventory {
        id: 1,
        name: Some("cup".into()),
        upsell_item: Some("plate".into()),
        count: Some(100),
        modified: 1_554_994_983_000,
        store_id: None,
    }
}

fn windowed(matched: bool) -> WindowedItem {
    WindowedItem {
        store_id: "CA_1".into(),
        window_start: 1_700_000_040_000,
        window_end: 1_700_000_100_000,
        item: if matched { "cup" } else { "sportsball" }.into(),
        count: 12,
        matched,
        upsell_item: matched.then(|| "plate".into()),
        stock: matched.then_some(100),
    }
}

fn special() -> GreenLightSpecial {
    GreenLightSpecial {
        store_id: "CA_1".into(),
        window_start: 1_700_000_040_000,
        window_end: 1_700_000_100_000,
        item: "cup".into(),
        upsell_item: "plate".into(),
        count: 12,
        reason: "most carted (12, next bowl 9); upsell plate in stock (100)".into(),
        total_items: 30,
        unmatched_items: 2,
    }
}

fn forecast() -> SalesForecast {
    SalesForecast {
        id: "FOODS_3_090_CA_1".into(),
        item_id: "FOODS_3_090".into(),
        store_id: "CA_1".into(),
        first_day: 1942,
        forecast: (0..28).map(|d| d as f32 * 0.5).collect(),
        model: "seasonal-naive-7".into(),
        generated_at: 1_700_000_000_123,
        quantiles: SalesForecast::M5_QUANTILES
            .iter()
            .enumerate()
            .map(|(k, &q)| ForecastQuantile {
                q,
                values: (0..28).map(|d| (d + k) as f32 * 0.5).collect(),
            })
            .collect(),
    }
}

/// Encodes with `Event` (serde_avro_fast) and with apache-avro; both must agree byte for byte, and
/// both decoders must give the value back.
fn check<T: Event + PartialEq + std::fmt::Debug>(value: T) {
    let fast = value.to_datum().unwrap();
    let schema = Schema::parse_str(T::SCHEMA_JSON).unwrap();
    let slow = apache_avro::to_avro_datum(&schema, apache_avro::to_value(&value).unwrap()).unwrap();
    assert_eq!(fast, slow, "{} encodings differ", T::FULL_NAME);
    let mut direct = Vec::new();
    apache_avro::write_avro_datum_ref(&schema, &value, &mut direct).unwrap();
    assert_eq!(fast, direct, "{} direct encoding differs", T::FULL_NAME);

    assert_eq!(T::decode(&fast).unwrap(), value);
    assert_eq!(T::decode_resolving(T::SCHEMA_JSON, &fast).unwrap(), value);
    let decoded = apache_avro::from_avro_datum(&schema, &mut &fast[..], None).unwrap();
    assert_eq!(apache_avro::from_value::<T>(&decoded).unwrap(), value);

    // encode appends; it does not overwrite what is in the buffer.
    let mut framed = vec![0, 0, 0, 0, 9];
    value.encode(&mut framed).unwrap();
    assert_eq!(&framed[5..], &fast[..]);

    // Every strict prefix is an error, never a panic or a wrong value.
    for cut in 0..fast.len() {
        assert!(
            T::decode(&fast[..cut]).is_err(),
            "{} prefix {cut}",
            T::FULL_NAME
        );
    }
    let mut long = fast.clone();
    long.push(0);
    assert!(matches!(
        T::decode(&long),
        Err(CodecError::TrailingBytes { trailing: 1, .. })
    ));
}

#[test]
fn every_type_round_trips_and_both_libraries_agree() {
    check(sale(Some(2.97)));
    check(sale(None));
    check(cart());
    check(ShoppingCartObject {
        store_id: None,
        camera_id: None,
        ..cart()
    });
    check(inventory());
    check(Inventory {
        name: None,
        upsell_item: None,
        count: None,
        ..inventory()
    });
    check(Inventory {
        store_id: Some("CA_1".into()),
        ..inventory()
    });
    check(windowed(true));
    check(windowed(false));
    check(special());
    check(forecast());
    check(SalesForecast {
        forecast: vec![],
        quantiles: vec![],
        ..forecast()
    });
    check(SalesForecast {
        quantiles: vec![],
        ..forecast()
    });
}

#[test]
fn keys_follow_the_design_table() {
    assert_eq!(sale(None).key(), "FOODS_3_090_CA_1");
    assert_eq!(cart().key(), "cup");
    assert_eq!(inventory().key().as_deref(), Some("cup"));
    let store_row = |s: &str| Inventory {
        store_id: Some(s.into()),
        ..inventory()
    };
    assert_eq!(store_row("CA_1").key().as_deref(), Some("CA_1/cup"));
    assert_eq!(store_row(" TX_2 ").key().as_deref(), Some("TX_2/cup"));
    assert_eq!(
        store_row("  ").key().as_deref(),
        Some("cup"),
        "a blank store is chain-wide"
    );
    assert_eq!(
        Inventory {
            name: None,
            ..store_row("CA_1")
        }
        .key(),
        None
    );
    assert_eq!(windowed(true).key(), "cup@1700000040000");
    assert_eq!(special().key(), "CA_1");
    assert_eq!(forecast().key(), "FOODS_3_090_CA_1");
}

#[test]
fn seed_cart_records_read_with_the_new_fields_null() {
    // Written the way the 2019 Java producer did: the seed schema, through a generic record.
    let seed = Schema::parse_str(schemas::SEED_SHOPPING_CART_OBJECT).unwrap();
    let record = Value::Record(vec![
        ("timestamp".into(), Value::Long(1_554_994_983_000)),
        ("image_name".into(), Value::String("img_1.jpg".into())),
        ("class_id".into(), Value::Int(47)),
        ("class_name".into(), Value::String("cup".into())),
        ("score".into(), Value::Float(0.75)),
        ("box_x".into(), Value::Int(1)),
        ("box_y".into(), Value::Int(2)),
        ("box_w".into(), Value::Int(3)),
        ("box_h".into(), Value::Int(4)),
    ]);
    let datum = apache_avro::to_avro_datum(&seed, record).unwrap();
    let read =
        ShoppingCartObject::decode_resolving(schemas::SEED_SHOPPING_CART_OBJECT, &datum).unwrap();
    assert_eq!(
        read,
        ShoppingCartObject {
            timestamp: 1_554_994_983_000,
            image_name: "img_1.jpg".into(),
            class_id: 47,
            class_name: "cup".into(),
            score: 0.75,
            box_x: 1,
            box_y: 2,
            box_w: 3,
            box_h: 4,
            store_id: None,
            cart_id: None,
            camera_id: None,
        }
    );
    // Without resolution the short datum is not a current-schema record.
    assert!(ShoppingCartObject::decode(&datum).is_err());
}

#[test]
fn v1_forecasts_read_with_the_v2_reader_and_v2_round_trips() {
    // Written by a v1 forecaster: the v1 schema, through a generic record (no quantiles field).
    let v1 = Schema::parse_str(schemas::SALES_FORECAST_V1).unwrap();
    let record = Value::Record(vec![
        ("id".into(), Value::String("FOODS_3_090_CA_1".into())),
        ("item_id".into(), Value::String("FOODS_3_090".into())),
        ("store_id".into(), Value::String("CA_1".into())),
        ("first_day".into(), Value::Int(1942)),
        (
            "forecast".into(),
            Value::Array(vec![Value::Float(1.5), Value::Float(0.25)]),
        ),
        ("model".into(), Value::String("seasonal-naive-7".into())),
        ("generated_at".into(), Value::TimestampMillis(7)),
    ]);
    let datum = apache_avro::to_avro_datum(&v1, record).unwrap();
    let read = SalesForecast::decode_resolving(schemas::SALES_FORECAST_V1, &datum).unwrap();
    assert_eq!(
        read,
        SalesForecast {
            id: "FOODS_3_090_CA_1".into(),
            item_id: "FOODS_3_090".into(),
            store_id: "CA_1".into(),
            first_day: 1942,
            forecast: vec![1.5, 0.25],
            model: "seasonal-naive-7".into(),
            generated_at: 7,
            quantiles: vec![],
        }
    );
    // The v1 datum is not a v2 one: the fast path alone would misread it.
    assert!(SalesForecast::decode(&datum).is_err());
    // v2 with the nine quantiles: both decoders give it back, and a v1 reader (FORWARD) still
    // reads its point forecast.
    let f = forecast();
    assert_eq!(f.quantiles.len(), 9);
    let bytes = f.to_datum().unwrap();
    assert_eq!(SalesForecast::decode(&bytes).unwrap(), f);
    assert_eq!(
        SalesForecast::decode_resolving(schemas::SALES_FORECAST, &bytes).unwrap(),
        f
    );
    assert_eq!(f.quantile(0.975), Some(&f.quantiles[7].values[..]));
    assert_eq!(f.quantile(0.3), None);
    let v2 = Schema::parse_str(schemas::SALES_FORECAST).unwrap();
    let old = apache_avro::from_avro_datum(&v2, &mut &bytes[..], Some(&v1)).unwrap();
    let Value::Record(fields) = old else {
        panic!("{old:?}")
    };
    assert_eq!(fields.len(), 7);
    assert_eq!(fields[3], ("first_day".into(), Value::Int(1942)));
}

#[test]
fn v1_inventory_rows_read_as_chain_wide_and_v1_readers_read_store_rows() {
    // Written for a table without `store_id` (the seed table): the v1 schema, as the connector
    // registers it for that table.
    let v1 = Schema::parse_str(schemas::INVENTORY_V1).unwrap();
    let record = Value::Record(vec![
        ("id".into(), Value::Int(1)),
        (
            "name".into(),
            Value::Union(1, Box::new(Value::String("cup".into()))),
        ),
        (
            "upsell_item".into(),
            Value::Union(1, Box::new(Value::String("plate".into()))),
        ),
        ("count".into(), Value::Union(1, Box::new(Value::Int(100)))),
        ("modified".into(), Value::TimestampMillis(1_554_994_983_000)),
    ]);
    let datum = apache_avro::to_avro_datum(&v1, record).unwrap();
    let read = Inventory::decode_resolving(schemas::INVENTORY_V1, &datum).unwrap();
    assert_eq!(read, inventory());
    assert_eq!(read.store_id, None);
    assert!(
        Inventory::decode(&datum).is_err(),
        "the v1 datum is not a v2 one"
    );
    // v2 bytes of a store's row: a v1 reader (an older consumer) reads them, store ignored.
    let row = Inventory {
        store_id: Some("CA_1".into()),
        ..inventory()
    };
    let bytes = row.to_datum().unwrap();
    let v2 = Schema::parse_str(schemas::INVENTORY).unwrap();
    let old = apache_avro::from_avro_datum(&v2, &mut &bytes[..], Some(&v1)).unwrap();
    let Value::Record(fields) = old else {
        panic!("{old:?}")
    };
    assert_eq!(fields.len(), 5);
    assert_eq!(
        fields[1],
        (
            "name".into(),
            Value::Union(1, Box::new(Value::String("cup".into())))
        )
    );
    // The v2 layout is v1's followed by the union: a chain-wide row is v1's bytes plus one 0.
    let chain_wide = inventory().to_datum().unwrap();
    assert_eq!(chain_wide[..chain_wide.len() - 1], datum[..]);
    assert_eq!(chain_wide.last(), Some(&0));
}

#[test]
fn reformatted_writer_schema_takes_the_fast_path() {
    // The registry hands back schemas re-serialized (no whitespace, maybe no docs): same canonical
    // form, same bytes, so it decodes without resolution.
    let compact = serde_json::from_str::<serde_json::Value>(schemas::SALES_RECORD)
        .unwrap()
        .to_string();
    assert_ne!(compact, schemas::SALES_RECORD);
    let datum = sale(Some(1.5)).to_datum().unwrap();
    assert_eq!(
        SalesRecord::decode_resolving(&compact, &datum).unwrap(),
        sale(Some(1.5))
    );
}

#[test]
fn incompatible_or_garbage_writer_schemas_are_errors() {
    let datum = sale(None).to_datum().unwrap();
    let err = SalesRecord::decode_resolving(schemas::INVENTORY, &datum).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::Incompatible { .. }
                | CodecError::Decode { .. }
                | CodecError::TrailingBytes { .. }
        ),
        "{err}"
    );
    let err = SalesRecord::decode_resolving("{not a schema", &datum).unwrap_err();
    assert!(matches!(err, CodecError::Schema { .. }), "{err}");
    // A writer with an extra field the reader drops: resolution skips it.
    let newer = schemas::SALES_RECORD.replace(
        r#"{"name": "sell_price", "type": ["null", "float"]}"#,
        r#"{"name": "sell_price", "type": ["null", "float"]}, {"name": "promo", "type": "string", "default": ""}"#,
    );
    assert_ne!(newer, schemas::SALES_RECORD);
    let newer_schema = Schema::parse_str(&newer).unwrap();
    let mut value = apache_avro::to_value(sale(Some(1.0))).unwrap();
    if let Value::Record(fields) = &mut value {
        fields.push(("promo".into(), Value::String("bogo".into())));
    }
    let datum = apache_avro::to_avro_datum(&newer_schema, value).unwrap();
    assert_eq!(
        SalesRecord::decode_resolving(&newer, &datum).unwrap(),
        sale(Some(1.0))
    );
}

#[test]
fn random_bytes_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..5_000 {
        let len = rng.random_range(0..64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let _ = SalesRecord::decode(&bytes);
        let _ = ShoppingCartObject::decode(&bytes);
        let _ = SalesForecast::decode(&bytes);
        let _ = ShoppingCartObject::decode_resolving(schemas::SEED_SHOPPING_CART_OBJECT, &bytes);
    }
}
