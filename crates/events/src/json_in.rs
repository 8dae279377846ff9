//! Avro's JSON encoding back to Avro binary: what `aisle topic produce` (like Confluent's
//! `kafka-avro-console-producer`) does with each input line. The inverse of
//! [`crate::datum_to_json`]: a union value is `null` or `{"<branch>": value}`; `bytes` and `fixed`
//! are strings of U+0000..U+00FF characters; a record field missing from the input takes the
//! schema's default.
//!
//! For convenience a union value may also be given bare (`"cup"` for `["null","string"]`): the
//! first branch that accepts it is used. Errors name the field path and what was expected.

use apache_avro::Schema;
use serde_json::Value as Json;

use crate::CodecError;
use crate::cache::{self, WriterSchema};
use crate::json::branch_name;

/// Encodes `value` (Avro JSON encoding) as a binary datum of `schema_json`.
///
/// ```
/// let json = serde_json::json!({"item_id":"FOO","dept_id":"F","cat_id":"F","store_id":"C",
///     "state_id":"C","day":4,"sold":3,"sell_price":null});
/// let datum = aisle_events::json_to_datum(aisle_events::schemas::SALES_RECORD, &json).unwrap();
/// assert_eq!(aisle_events::datum_to_json(aisle_events::schemas::SALES_RECORD, &datum).unwrap(), json);
/// ```
pub fn json_to_datum(schema_json: &str, value: &Json) -> Result<Vec<u8>, CodecError> {
    let writer = cache::writer_schema(schema_json)?;
    let mut e = Encoder {
        out: Vec::new(),
        names: &writer,
        path: String::new(),
    };
    e.value(&writer.schema, value)
        .map_err(|detail| CodecError::FromJson {
            schema: cache::label(schema_json),
            detail,
        })?;
    Ok(e.out)
}

struct Encoder<'a> {
    out: Vec<u8>,
    names: &'a WriterSchema,
    path: String,
}

type R = Result<(), String>;

impl Encoder<'_> {
    fn fail(&self, want: &str, got: &Json) -> String {
        let at = if self.path.is_empty() {
            "value".to_string()
        } else {
            self.path.clone()
        };
        let got = match got {
            Json::Null => "null".to_string(),
            Json::Bool(_) => "a boolean".into(),
            Json::Number(n) => format!("the number {n}"),
            Json::String(s) => format!("the string {s:?}"),
            Json::Array(_) => "an array".into(),
            Json::Object(_) => "an object".into(),
        };
        format!("{at}: expected {want}, got {got}")
    }

    fn long(&mut self, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            self.out.push((z as u8) | 0x80);
            z >>= 7;
        }
        self.out.push(z as u8);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.long(b.len() as i64);
        self.out.extend_from_slice(b);
    }

    fn latin1(&self, s: &str, want: &str, v: &Json) -> Result<Vec<u8>, String> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| self.fail(want, v)))
            .collect()
    }

    fn value(&mut self, schema: &Schema, v: &Json) -> R {
        match schema {
            Schema::Null => v
                .is_null()
                .then_some(())
                .ok_or_else(|| self.fail("null", v)),
            Schema::Boolean => {
                let b = v.as_bool().ok_or_else(|| self.fail("a boolean", v))?;
                self.out.push(u8::from(b));
                Ok(())
            }
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                let i = v
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| self.fail("an int", v))?;
                self.long(i64::from(i));
                Ok(())
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => {
                let i = v.as_i64().ok_or_else(|| self.fail("a long", v))?;
                self.long(i);
                Ok(())
            }
            Schema::Float => {
                let f = number(v).ok_or_else(|| self.fail("a float", v))?;
                self.out.extend_from_slice(&(f as f32).to_le_bytes());
                Ok(())
            }
            Schema::Double => {
                let f = number(v).ok_or_else(|| self.fail("a double", v))?;
                self.out.extend_from_slice(&f.to_le_bytes());
                Ok(())
            }
            Schema::Bytes | Schema::BigDecimal => {
                let s = v
                    .as_str()
                    .ok_or_else(|| self.fail("bytes as a string", v))?;
                let b = self.latin1(s, "bytes (characters U+0000..U+00FF)", v)?;
                self.bytes(&b);
                Ok(())
            }
            Schema::Decimal(d) => self.value(&d.inner, v),
            Schema::String | Schema::Uuid => {
                let s = v.as_str().ok_or_else(|| self.fail("a string", v))?;
                self.bytes(s.as_bytes());
                Ok(())
            }
            Schema::Fixed(f) => self.fixed(f.size, v),
            Schema::Duration => self.fixed(12, v),
            Schema::Enum(e) => {
                let s = v.as_str().ok_or_else(|| self.fail("an enum symbol", v))?;
                let i =
                    e.symbols.iter().position(|x| x == s).ok_or_else(|| {
                        self.fail(&format!("one of the symbols {:?}", e.symbols), v)
                    })?;
                self.long(i as i64);
                Ok(())
            }
            Schema::Array(a) => {
                let items = v.as_array().ok_or_else(|| self.fail("an array", v))?;
                if !items.is_empty() {
                    self.long(items.len() as i64);
                    for (i, item) in items.iter().enumerate() {
                        let mark = self.path.len();
                        self.path.push_str(&format!("[{i}]"));
                        self.value(&a.items, item)?;
                        self.path.truncate(mark);
                    }
                }
                self.out.push(0);
                Ok(())
            }
            Schema::Map(m) => {
                let obj = v
                    .as_object()
                    .ok_or_else(|| self.fail("a map (object)", v))?;
                if !obj.is_empty() {
                    self.long(obj.len() as i64);
                    for (k, item) in obj {
                        self.bytes(k.as_bytes());
                        let mark = self.path.len();
                        self.path.push_str(&format!("[{k:?}]"));
                        self.value(&m.types, item)?;
                        self.path.truncate(mark);
                    }
                }
                self.out.push(0);
                Ok(())
            }
            Schema::Union(u) => self.union(u.variants(), v),
            Schema::Record(r) => {
                let obj = v
                    .as_object()
                    .ok_or_else(|| self.fail("a record (object)", v))?;
                if let Some(extra) = obj.keys().find(|k| !r.lookup.contains_key(*k)) {
                    let at = if self.path.is_empty() {
                        "value"
                    } else {
                        &self.path
                    };
                    return Err(format!("{at}: no field `{extra}` in record {}", r.name));
                }
                for f in &r.fields {
                    let mark = self.path.len();
                    self.path.push('.');
                    self.path.push_str(&f.name);
                    match obj.get(&f.name).or(f.default.as_ref()) {
                        // Avro defaults of union fields are values of the first branch, bare.
                        Some(fv) if obj.get(&f.name).is_none() => self.default(&f.schema, fv)?,
                        Some(fv) => self.value(&f.schema, fv)?,
                        None => {
                            return Err(format!("{}: missing, and it has no default", self.path));
                        }
                    }
                    self.path.truncate(mark);
                }
                Ok(())
            }
            Schema::Ref { name } => {
                let target = self.names.names.get(&name.fullname(None)).cloned();
                match target {
                    Some(s) => self.value(&s, v),
                    None => Err(format!("{}: unknown named type {name}", self.path)),
                }
            }
        }
    }

    fn fixed(&mut self, size: usize, v: &Json) -> R {
        let s = v
            .as_str()
            .ok_or_else(|| self.fail("a fixed as a string", v))?;
        let b = self.latin1(s, "fixed (characters U+0000..U+00FF)", v)?;
        if b.len() != size {
            return Err(self.fail(&format!("exactly {size} bytes"), v));
        }
        self.out.extend_from_slice(&b);
        Ok(())
    }

    /// A field default: for a union, a bare value of the first branch.
    fn default(&mut self, schema: &Schema, v: &Json) -> R {
        match schema {
            Schema::Union(u) if !u.variants().is_empty() => {
                self.long(0);
                self.value(&u.variants()[0], v)
            }
            _ => self.value(schema, v),
        }
    }

    fn union(&mut self, variants: &[Schema], v: &Json) -> R {
        if v.is_null() {
            let i = variants
                .iter()
                .position(|s| matches!(s, Schema::Null))
                .ok_or_else(|| self.fail("a non-null union branch", v))?;
            self.long(i as i64);
            return Ok(());
        }
        // The tagged form {"branch": value}.
        if let Some(obj) = v.as_object()
            && obj.len() == 1
        {
            let (tag, inner) = obj.iter().next().expect("one entry");
            if let Some(i) = variants.iter().position(|s| &branch_name(s) == tag) {
                self.long(i as i64);
                return self.value(&variants[i], inner);
            }
        }
        // A bare value: the first branch that takes it whole.
        for (i, s) in variants.iter().enumerate() {
            let mut probe = Encoder {
                out: Vec::new(),
                names: self.names,
                path: self.path.clone(),
            };
            if probe.value(s, v).is_ok() {
                self.long(i as i64);
                self.out.extend_from_slice(&probe.out);
                return Ok(());
            }
        }
        let names: Vec<String> = variants.iter().map(branch_name).collect();
        Err(self.fail(
            &format!("a value of one of the union branches {names:?}"),
            v,
        ))
    }
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) if s == "NaN" => Some(f64::NAN),
        Json::String(s) if s == "Infinity" => Some(f64::INFINITY),
        Json::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas;
    use serde_json::json;

    #[test]
    fn round_trips_through_datum_to_json_for_every_contract() {
        let cart = json!({"timestamp": 1700000000000i64, "image_name": "a.jpg", "class_id": 44,
            "class_name": "sports ball", "score": 0.875, "box_x": 1, "box_y": 2, "box_w": 3,
            "box_h": 4, "store_id": {"string": "CA_1"}, "cart_id": null, "camera_id": null});
        let datum = json_to_datum(schemas::SHOPPING_CART_OBJECT, &cart).unwrap();
        assert_eq!(
            crate::datum_to_json(schemas::SHOPPING_CART_OBJECT, &datum).unwrap(),
            cart
        );
    }

    #[test]
    fn bare_union_values_and_defaults_are_accepted() {
        let short = json!({"timestamp": 5, "store_id": "CA_1"});
        let datum = json_to_datum(schemas::SHOPPING_CART_OBJECT, &short).unwrap();
        let back = crate::datum_to_json(schemas::SHOPPING_CART_OBJECT, &datum).unwrap();
        assert_eq!(back["image_name"], "NONE");
        assert_eq!(back["class_id"], -1);
        assert_eq!(back["store_id"], json!({"string": "CA_1"}));
        assert_eq!(back["cart_id"], Json::Null);
    }

    #[test]
    fn errors_name_the_field_and_the_expectation() {
        let bad = json!({"item_id": "A", "dept_id": "D", "cat_id": "C", "store_id": "S",
            "state_id": "CA", "day": "one", "sold": 1, "sell_price": null});
        let err = json_to_datum(schemas::SALES_RECORD, &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(".day") && err.contains("expected an int"),
            "{err}"
        );
        let missing = json!({"item_id": "A"});
        let err = json_to_datum(schemas::SALES_RECORD, &missing)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(".dept_id") && err.contains("no default"),
            "{err}"
        );
        let extra = json!({"timestamp": 1, "colour": "red"});
        let err = json_to_datum(schemas::SHOPPING_CART_OBJECT, &extra)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let err = json_to_datum(schemas::SALES_RECORD, &json!(3))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a record"), "{err}");
    }
}
