//! The schemas as contracts: they parse with both libraries, keep the seed fields exactly, and stay
//! BACKWARD compatible with what the original applications registered.

use aisle_events::schemas;
use apache_avro::Schema;
use apache_avro::schema_compatibility::SchemaCompatibility;
use serde_json::{Value, json};

#[test]
fn every_schema_parses_with_both_libraries() {
    for (file, text) in schemas::ALL {
        Schema::parse_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        text.parse::<serde_avro_fast::Schema>()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn current_schemas_are_backward_compatible_with_their_seeds() {
    for (file, seed, current) in schemas::SEEDED {
        let seed = Schema::parse_str(seed).unwrap();
        let current = Schema::parse_str(current).unwrap();
        // BACKWARD: consumers on the new schema read data written with the old one.
        SchemaCompatibility::can_read(&seed, &current)
            .unwrap_or_else(|e| panic!("{file} cannot read its seed: {e}"));
    }
}

#[test]
fn current_schemas_are_backward_compatible_with_their_previous_versions() {
    for (file, old, current) in schemas::PREVIOUS {
        let old_json: Value = serde_json::from_str(old).unwrap();
        let current_json: Value = serde_json::from_str(current).unwrap();
        assert_eq!(old_json["name"], current_json["name"], "{file}");
        assert_eq!(old_json["namespace"], current_json["namespace"], "{file}");
        // Old fields unchanged and first; every added field has a default.
        let old_fields = fields_without_docs(old);
        let current_fields = fields_without_docs(current);
        assert_eq!(old_fields[..], current_fields[..old_fields.len()], "{file}");
        for f in &current_fields[old_fields.len()..] {
            assert!(f.get("default").is_some(), "{file}: {f} has no default");
        }
        let old = Schema::parse_str(old).unwrap();
        let current = Schema::parse_str(current).unwrap();
        SchemaCompatibility::can_read(&old, &current)
            .unwrap_or_else(|e| panic!("{file} cannot read its previous version: {e}"));
    }
    // SalesForecast v2: one field added, `quantiles`, an array of records defaulting to empty.
    let v2: Value = serde_json::from_str(schemas::SALES_FORECAST).unwrap();
    let q = &v2["fields"][7];
    assert_eq!(
        (q["name"].as_str(), &q["default"]),
        (Some("quantiles"), &json!([]))
    );
    assert_eq!(q["type"]["items"]["name"], "ForecastQuantile");
    assert_eq!(v2["fields"].as_array().unwrap().len(), 8);
}

#[test]
fn compatibility_check_would_catch_a_breaking_change() {
    // Guard against a vacuous check: a new field without a default is not BACKWARD compatible.
    let seed = Schema::parse_str(schemas::SEED_SHOPPING_CART_OBJECT).unwrap();
    let mut broken: Value = serde_json::from_str(schemas::SHOPPING_CART_OBJECT).unwrap();
    broken["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "aisle", "type": "string"}));
    let broken = Schema::parse_str(&broken.to_string()).unwrap();
    assert!(SchemaCompatibility::can_read(&seed, &broken).is_err());
    // The same for SalesForecast v2 without the default of `quantiles`.
    let v1 = Schema::parse_str(schemas::SALES_FORECAST_V1).unwrap();
    let mut no_default: Value = serde_json::from_str(schemas::SALES_FORECAST).unwrap();
    no_default["fields"][7]
        .as_object_mut()
        .unwrap()
        .remove("default");
    let no_default = Schema::parse_str(&no_default.to_string()).unwrap();
    assert!(SchemaCompatibility::can_read(&v1, &no_default).is_err());
    // And for Inventory v2 with a required `store_id`.
    let v1 = Schema::parse_str(schemas::INVENTORY_V1).unwrap();
    let mut required: Value = serde_json::from_str(schemas::INVENTORY).unwrap();
    required["fields"][5] = json!({"name": "store_id", "type": "string"});
    let required = Schema::parse_str(&required.to_string()).unwrap();
    assert!(SchemaCompatibility::can_read(&v1, &required).is_err());
}

/// A field's JSON without `doc`, which does not change the contract.
fn fields_without_docs(text: &str) -> Vec<Value> {
    let schema: Value = serde_json::from_str(text).unwrap();
    schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.as_object_mut().unwrap().remove("doc");
            f
        })
        .collect()
}

#[test]
fn seed_fields_are_kept_exactly_and_new_ones_are_optional() {
    for (file, seed, current) in schemas::SEEDED {
        let seed_json: Value = serde_json::from_str(seed).unwrap();
        let current_json: Value = serde_json::from_str(current).unwrap();
        assert_eq!(seed_json["name"], current_json["name"], "{file}");
        assert_eq!(seed_json["namespace"], current_json["namespace"], "{file}");
        let seed_fields = fields_without_docs(seed);
        let current_fields = fields_without_docs(current);
        assert_eq!(
            seed_fields[..],
            current_fields[..seed_fields.len()],
            "{file}"
        );
        for f in &current_fields[seed_fields.len()..] {
            assert_eq!(f["type"], json!(["null", "string"]), "{file}: {f}");
            assert_eq!(f["default"], Value::Null, "{file}: {f}");
            assert!(
                f.as_object().unwrap().contains_key("default"),
                "{file}: {f}"
            );
        }
    }
    // The seed texts themselves, as the notes describe them.
    let cart: Value = serde_json::from_str(schemas::SEED_SHOPPING_CART_OBJECT).unwrap();
    assert_eq!(cart["name"], "shopping_cart_objects");
    assert_eq!(cart["namespace"], "com.pattersonconsulting.kafka.avro");
    let names: Vec<&str> = cart["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "timestamp",
            "image_name",
            "class_id",
            "class_name",
            "score",
            "box_x",
            "box_y",
            "box_w",
            "box_h"
        ]
    );
    let sales: Value = serde_json::from_str(schemas::SALES_RECORD).unwrap();
    assert_eq!(sales["namespace"], "m5.forecasting.avro");
    assert_eq!(
        sales["fields"][7],
        json!({"name": "sell_price", "type": ["null", "float"]})
    );
}

#[test]
fn inventory_is_the_jdbc_connectors_shape() {
    let inv: Value = serde_json::from_str(schemas::INVENTORY).unwrap();
    assert_eq!(inv["name"], "inventory");
    assert_eq!(inv["connect.name"], "inventory");
    assert_eq!(inv["fields"][0], json!({"name": "id", "type": "int"}));
    assert_eq!(inv["fields"][1]["type"], json!(["null", "string"]));
    assert_eq!(inv["fields"][4]["type"]["logicalType"], "timestamp-millis");
    assert_eq!(
        inv["fields"][4]["type"]["connect.name"],
        "org.apache.kafka.connect.data.Timestamp"
    );
    // v2: the seed's five columns unchanged, then the optional store of a chain's table.
    assert_eq!(
        inv["fields"][5],
        json!({"name": "store_id", "type": ["null", "string"], "default": null})
    );
    assert_eq!(inv["fields"].as_array().unwrap().len(), 6);
    let v1: Value = serde_json::from_str(schemas::INVENTORY_V1).unwrap();
    assert_eq!(
        v1["fields"].as_array().unwrap()[..],
        inv["fields"].as_array().unwrap()[..5]
    );
    // The connector's example row decodes through our JSON printer unchanged.
    let schema = Schema::parse_str(schemas::INVENTORY).unwrap();
    assert!(
        matches!(schema, Schema::Record(ref r) if r.fields[4].schema == Schema::TimestampMillis)
    );
}

#[test]
fn designed_schemas_document_every_field() {
    for text in [
        schemas::WINDOWED_ITEM,
        schemas::GREEN_LIGHT_SPECIAL,
        schemas::SALES_FORECAST,
    ] {
        let schema: Value = serde_json::from_str(text).unwrap();
        assert_eq!(schema["namespace"], "aisle.retail");
        for f in schema["fields"].as_array().unwrap() {
            assert!(
                f["doc"].as_str().is_some_and(|d| d.len() > 10),
                "{} has no doc",
                f["name"]
            );
        }
    }
}
