//! `datum_to_json` against the output of Confluent's kafka-avro-console-consumer, and on bad input.

use aisle_events::{
    CodecError, Event, Inventory, SalesForecast, SalesRecord, ShoppingCartObject, datum_to_json,
    schemas,
};

fn sale(price: Option<f32>) -> SalesRecord {
    SalesRecord {
        item_id: "HOBBIES_1_001".into(),
        dept_id: "HOBBIES_1".into(),
        cat_id: "HOBBIES".into(),
        store_id: "CA_1".into(),
        state_id: "CA".into(),
        day: 1,
        sold: 0,
        sell_price: price,
    }
}

#[test]
fn sales_record_golden_json() {
    let datum = sale(None).to_datum().unwrap();
    assert_eq!(
        datum_to_json(schemas::SALES_RECORD, &datum)
            .unwrap()
            .to_string(),
        r#"{"item_id":"HOBBIES_1_001","dept_id":"HOBBIES_1","cat_id":"HOBBIES","store_id":"CA_1","state_id":"CA","day":1,"sold":0,"sell_price":null}"#
    );
    let datum = sale(Some(8.26)).to_datum().unwrap();
    assert_eq!(
        datum_to_json(schemas::SALES_RECORD, &datum)
            .unwrap()
            .to_string(),
        r#"{"item_id":"HOBBIES_1_001","dept_id":"HOBBIES_1","cat_id":"HOBBIES","store_id":"CA_1","state_id":"CA","day":1,"sold":0,"sell_price":{"float":8.26}}"#
    );
}

#[test]
fn inventory_prints_like_the_connector_example() {
    // The notes' example of what the JDBC source connector's topic shows in the console consumer.
    let row = Inventory {
        id: 1,
        name: Some("cup".into()),
        upsell_item: Some("plate".into()),
        count: Some(100),
        modified: 1_554_994_983_000,
        store_id: None,
    };
    // The seed table's rows are v1 (no `store_id`): v2's bytes without the trailing null union.
    let v2 = row.to_datum().unwrap();
    let v1 = &v2[..v2.len() - 1];
    let json = datum_to_json(schemas::INVENTORY_V1, v1).unwrap();
    assert_eq!(
        json.to_string(),
        r#"{"id":1,"name":{"string":"cup"},"upsell_item":{"string":"plate"},"count":{"int":100},"modified":1554994983000}"#
    );
    // A store's row of a chain's table (v2).
    let store_row = Inventory {
        store_id: Some("CA_1".into()),
        ..row
    };
    let json = datum_to_json(schemas::INVENTORY, &store_row.to_datum().unwrap()).unwrap();
    assert_eq!(
        json.to_string(),
        r#"{"id":1,"name":{"string":"cup"},"upsell_item":{"string":"plate"},"count":{"int":100},"modified":1554994983000,"store_id":{"string":"CA_1"}}"#
    );
}

#[test]
fn cart_and_forecast_json() {
    let cart = ShoppingCartObject {
        timestamp: 5,
        image_name: "a.jpg".into(),
        class_id: 44,
        class_name: "bottle".into(),
        score: 0.5,
        box_x: -1,
        box_y: 0,
        box_w: 10,
        box_h: 20,
        store_id: Some("TX_1".into()),
        cart_id: None,
        camera_id: None,
    };
    let json = datum_to_json(schemas::SHOPPING_CART_OBJECT, &cart.to_datum().unwrap()).unwrap();
    assert_eq!(
        json.to_string(),
        r#"{"timestamp":5,"image_name":"a.jpg","class_id":44,"class_name":"bottle","score":0.5,"box_x":-1,"box_y":0,"box_w":10,"box_h":20,"store_id":{"string":"TX_1"},"cart_id":null,"camera_id":null}"#
    );
    let f = SalesForecast {
        id: "X_CA_1".into(),
        item_id: "X".into(),
        store_id: "CA_1".into(),
        first_day: 1942,
        forecast: vec![1.0, 0.1, 2.5],
        model: "m".into(),
        generated_at: 7,
        quantiles: vec![aisle_events::types::ForecastQuantile {
            q: 0.5,
            values: vec![1.0, 0.0, 2.0],
        }],
    };
    let json = datum_to_json(schemas::SALES_FORECAST, &f.to_datum().unwrap()).unwrap();
    assert_eq!(json["forecast"].to_string(), "[1.0,0.1,2.5]");
    assert_eq!(json["generated_at"], 7);
    // v2's quantiles print as Confluent's console consumer shows them: plain records, no unions.
    assert_eq!(
        json["quantiles"].to_string(),
        r#"[{"q":0.5,"values":[1.0,0.0,2.0]}]"#
    );
}

#[test]
fn truncations_are_errors_naming_the_field() {
    let datum = sale(Some(8.26)).to_datum().unwrap();
    for cut in 0..datum.len() {
        let err = datum_to_json(schemas::SALES_RECORD, &datum[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::Truncated { .. } | CodecError::Invalid { .. }
            ),
            "cut {cut}: {err}"
        );
    }
    let err = datum_to_json(schemas::SALES_RECORD, &datum[..datum.len() - 1]).unwrap_err();
    assert!(err.to_string().contains(".sell_price"), "{err}");
}

#[test]
fn random_bytes_are_errors_or_values_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut errors = 0;
    for _ in 0..20_000 {
        let len = rng.random_range(0..80);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        for (_, schema) in schemas::ALL {
            if datum_to_json(schema, &bytes).is_err() {
                errors += 1;
            }
        }
    }
    // Random bytes are almost never a valid record (strings must be UTF-8 and end exactly).
    assert!(
        errors > 110_000,
        "only {errors} of 120000 random datums rejected"
    );
}

#[test]
fn bad_writer_schema_is_an_error() {
    let err = datum_to_json("{\"type\":\"nope\"}", &[0]).unwrap_err();
    assert!(matches!(err, CodecError::Schema { .. }), "{err}");
}
