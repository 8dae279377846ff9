//! The Avro schema texts of Aisle's topics, compiled in from `schemas/*.avsc`.
//!
//! The `.avsc` files at the workspace root are the contracts; these constants are those files, byte
//! for byte, so what the registry is sent is exactly what is reviewed in the repository. The `SEED_*`
//! constants are the schemas the original applications registered (Green Light Special, 2019; M5
//! sales streaming, 2022): the current schemas must stay BACKWARD compatible with them, and tests
//! use them to write records the way those applications did.

/// `shopping_cart_objects` value: one detected object (`com.pattersonconsulting.kafka.avro.shopping_cart_objects`).
pub const SHOPPING_CART_OBJECT: &str = include_str!("../../../schemas/shopping_cart_object.avsc");
/// `sales` value: one item's sales in one store on one day (`m5.forecasting.avro.SalesRecord`).
pub const SALES_RECORD: &str = include_str!("../../../schemas/sales_record.avsc");
/// `mysql_tables_jdbc_inventory` / `inventory_rekeyed` value: an inventory row as Kafka Connect's JDBC
/// source and AvroConverter emit it (record `inventory`). v2: the seed table's five columns, then
/// the optional `store_id` of a chain's table (`["null", "string"]`, default null; a row without
/// it is chain-wide).
pub const INVENTORY: &str = include_str!("../../../schemas/inventory.avsc");
/// `windowed_items` value (`aisle.retail.WindowedItem`).
pub const WINDOWED_ITEM: &str = include_str!("../../../schemas/windowed_item.avsc");
/// `green_light_specials` value (`aisle.retail.GreenLightSpecial`).
pub const GREEN_LIGHT_SPECIAL: &str = include_str!("../../../schemas/green_light_special.avsc");
/// `sales_forecasts` value (`aisle.retail.SalesForecast`).
pub const SALES_FORECAST: &str = include_str!("../../../schemas/sales_forecast.avsc");

/// `sales_forecasts` value as first registered (v1, without `quantiles`): the current schema must
/// stay BACKWARD compatible with it, so consumers on v2 read forecasts written before quantiles.
pub const SALES_FORECAST_V1: &str = include_str!("../../../schemas/v1/sales_forecast.avsc");

/// `inventory` as the seed table maps to it (v1, the JDBC connector's five columns, no
/// `store_id`): what the connector registers for a table without a `store_id` column. The current
/// schema must stay BACKWARD compatible with it.
pub const INVENTORY_V1: &str = include_str!("../../../schemas/v1/inventory.avsc");

/// Earlier versions of Aisle's own schemas, paired with the current one: `(file, old, current)`.
/// The registry's BACKWARD check must accept the current schema after each old one.
pub const PREVIOUS: [(&str, &str, &str); 2] = [
    ("sales_forecast.avsc", SALES_FORECAST_V1, SALES_FORECAST),
    ("inventory.avsc", INVENTORY_V1, INVENTORY),
];

/// The detection schema of the 2019 Java camera producer, without Aisle's optional fields.
pub const SEED_SHOPPING_CART_OBJECT: &str =
    include_str!("../../../schemas/seed/shopping_cart_object.avsc");
/// The `SalesRecord` schema of the 2022 Python generator.
pub const SEED_SALES_RECORD: &str = include_str!("../../../schemas/seed/sales_record.avsc");

/// Every current schema with the file it came from, for tools and tests that walk them all.
pub const ALL: [(&str, &str); 6] = [
    ("shopping_cart_object.avsc", SHOPPING_CART_OBJECT),
    ("sales_record.avsc", SALES_RECORD),
    ("inventory.avsc", INVENTORY),
    ("windowed_item.avsc", WINDOWED_ITEM),
    ("green_light_special.avsc", GREEN_LIGHT_SPECIAL),
    ("sales_forecast.avsc", SALES_FORECAST),
];

/// Each schema that has a seed, paired with it: `(file, seed, current)`.
pub const SEEDED: [(&str, &str, &str); 2] = [
    (
        "shopping_cart_object.avsc",
        SEED_SHOPPING_CART_OBJECT,
        SHOPPING_CART_OBJECT,
    ),
    ("sales_record.avsc", SEED_SALES_RECORD, SALES_RECORD),
];
