//! Any Avro datum as JSON, the way Confluent's `kafka-avro-console-consumer` prints it.
//!
//! That tool writes values with Avro's JSON encoding, so [`datum_to_json`] does too:
//! * records are objects with fields in schema order, arrays are arrays, maps are objects;
//! * a union value is `null` for the null branch, otherwise `{"<branch>": value}` where the branch
//!   is the type name (`"string"`, `"int"`, ...) or a named type's full name;
//! * `bytes` and `fixed` are strings with one character per byte (U+0000..U+00FF, ISO-8859-1);
//! * enums are their symbol; logical types print as their underlying type (a `timestamp-millis`
//!   is its long, a `decimal` its bytes), as Avro's `JsonEncoder` does;
//! * `float`s print with the shortest decimal that round-trips the `float` (2.99, not
//!   2.990000009536743), NaN and infinities as the strings Jackson writes (`"NaN"`, `"Infinity"`).
//!
//! The decoder is written here rather than taken from `apache-avro` because the input is untrusted
//! (any topic, any producer): every length and count is checked against the bytes actually left
//! before anything is allocated, recursion is bounded, and every failure says at which byte, in
//! which field, and why. Bytes left after the value are an error too: they almost always mean the
//! wrong writer schema.

use serde_json::{Map, Value as Json};

use apache_avro::Schema;

use crate::CodecError;
use crate::cache::{self, WriterSchema};

/// Deepest nesting followed before giving up (only recursive schemas can get near it).
const MAX_DEPTH: usize = 128;
/// Most elements of zero-byte types (e.g. `null`) an array or map may claim in total.
const MAX_EMPTY_ITEMS: u64 = 1 << 20;

/// Decodes `datum`, written with `writer_schema_json`, to its Avro JSON encoding.
///
/// The schema text is parsed once per distinct text and cached.
///
/// ```
/// let schema = aisle_events::schemas::SALES_RECORD;
/// let datum = [6, b'F', b'O', b'O', 2, b'F', 2, b'F', 2, b'C', 2, b'C', 8, 6, 0];
/// let json = aisle_events::datum_to_json(schema, &datum).unwrap();
/// assert_eq!(json.to_string(), r#"{"item_id":"FOO","dept_id":"F","cat_id":"F","store_id":"C","state_id":"C","day":4,"sold":3,"sell_price":null}"#);
/// ```
pub fn datum_to_json(writer_schema_json: &str, datum: &[u8]) -> Result<Json, CodecError> {
    let writer = cache::writer_schema(writer_schema_json)?;
    decode_with(&writer, datum)
}

/// [`datum_to_json`] with an already parsed schema.
pub fn decode_with(writer: &WriterSchema, datum: &[u8]) -> Result<Json, CodecError> {
    let mut d = Decoder {
        buf: datum,
        pos: 0,
        names: writer,
        path: String::new(),
        empty_items: 0,
    };
    let value = d.value(&writer.schema, 0)?;
    if d.pos < datum.len() {
        return Err(CodecError::TrailingBytes {
            offset: d.pos,
            trailing: datum.len() - d.pos,
        });
    }
    Ok(value)
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    names: &'a WriterSchema,
    /// Where we are, e.g. `.items[3].name`, for error messages.
    path: String,
    empty_items: u64,
}

impl Decoder<'_> {
    fn what(&self, ty: &str) -> String {
        if self.path.is_empty() {
            ty.to_owned()
        } else {
            format!("{} ({ty})", &self.path)
        }
    }

    fn truncated(&self, ty: &str) -> CodecError {
        CodecError::Truncated {
            offset: self.pos,
            len: self.buf.len(),
            what: self.what(ty),
        }
    }

    fn invalid(&self, at: usize, ty: &str, detail: impl Into<String>) -> CodecError {
        CodecError::Invalid {
            offset: at,
            len: self.buf.len(),
            what: self.what(ty),
            detail: detail.into(),
        }
    }

    fn take(&mut self, n: usize, ty: &str) -> Result<&[u8], CodecError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.truncated(ty))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// A zig-zag varint of at most 10 bytes, as Avro writes `long`.
    fn long(&mut self, ty: &str) -> Result<i64, CodecError> {
        let start = self.pos;
        let mut raw: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.truncated(ty));
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.invalid(start, ty, "varint longer than 64 bits"));
            }
            raw |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
            }
        }
        Err(self.invalid(start, ty, "varint longer than 10 bytes"))
    }

    fn int(&mut self, ty: &str) -> Result<i32, CodecError> {
        let start = self.pos;
        let v = self.long(ty)?;
        i32::try_from(v).map_err(|_| self.invalid(start, ty, format!("{v} does not fit an int")))
    }

    /// A byte length: non-negative and no longer than what is left.
    fn len(&mut self, ty: &str) -> Result<usize, CodecError> {
        let start = self.pos;
        let n = self.long(ty)?;
        let n = usize::try_from(n)
            .map_err(|_| self.invalid(start, ty, format!("negative length {n}")))?;
        if n > self.buf.len() - self.pos {
            return Err(self.truncated(ty));
        }
        Ok(n)
    }

    fn latin1(&mut self, n: usize, ty: &str) -> Result<Json, CodecError> {
        Ok(Json::String(
            self.take(n, ty)?.iter().map(|&b| char::from(b)).collect(),
        ))
    }

    fn string(&mut self, ty: &str) -> Result<String, CodecError> {
        let n = self.len(ty)?;
        let start = self.pos;
        let bytes = self.take(n, ty)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(self.invalid(start, ty, format!("not UTF-8: {e}"))),
        }
    }

    fn value(&mut self, schema: &Schema, depth: usize) -> Result<Json, CodecError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(self.pos, "value", "nested deeper than 128 levels"));
        }
        match schema {
            Schema::Decimal(d) => self.value(&d.inner, depth + 1),
            Schema::Union(u) => self.union(u, depth),
            Schema::Record(r) => self.record(r, depth),
            Schema::Array(a) => self.array(&a.items, depth),
            Schema::Map(m) => self.map(&m.types, depth),
            Schema::Ref { name } => self.reference(name, depth),
            _ => self.leaf(schema),
        }
    }

    /// Values that contain no other values.
    #[inline(never)]
    fn leaf(&mut self, schema: &Schema) -> Result<Json, CodecError> {
        Ok(match schema {
            Schema::Null => Json::Null,
            Schema::Boolean => {
                let at = self.pos;
                match self.take(1, "boolean")?[0] {
                    0 => Json::Bool(false),
                    1 => Json::Bool(true),
                    b => return Err(self.invalid(at, "boolean", format!("byte {b:#04x}"))),
                }
            }
            Schema::Int | Schema::Date | Schema::TimeMillis => Json::from(self.int("int")?),
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Json::from(self.long("long")?),
            Schema::Float => {
                let b = self.take(4, "float")?;
                float_json(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            Schema::Double => {
                let b = self.take(8, "double")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                double_json(f64::from_le_bytes(a))
            }
            Schema::Bytes | Schema::BigDecimal => {
                let n = self.len("bytes")?;
                self.latin1(n, "bytes")?
            }
            Schema::String | Schema::Uuid => Json::String(self.string("string")?),
            Schema::Fixed(f) => self.latin1(f.size, "fixed")?,
            Schema::Duration => self.latin1(12, "duration")?,
            Schema::Enum(e) => self.enumeration(e)?,
            composite => {
                let detail = format!("{} is not a leaf type", branch_name(composite));
                return Err(self.invalid(self.pos, "value", detail));
            }
        })
    }

    #[inline(never)]
    fn reference(
        &mut self,
        name: &apache_avro::schema::Name,
        depth: usize,
    ) -> Result<Json, CodecError> {
        let full = name.fullname(None);
        let names = self.names;
        let Some(named) = names.names.get(&full) else {
            return Err(self.invalid(self.pos, "ref", format!("unknown type {full}")));
        };
        self.value(named, depth + 1)
    }

    // The composite kinds live in their own never-inlined functions so that `value`, the function
    // that recurses, keeps a small stack frame: MAX_DEPTH levels must fit a 2 MiB thread stack
    // even in debug builds.

    #[inline(never)]
    fn enumeration(&mut self, e: &apache_avro::schema::EnumSchema) -> Result<Json, CodecError> {
        let at = self.pos;
        let i = self.int("enum")?;
        match usize::try_from(i).ok().and_then(|i| e.symbols.get(i)) {
            Some(s) => Ok(Json::String(s.clone())),
            None => {
                let n = e.symbols.len();
                Err(self.invalid(at, "enum", format!("index {i}, {n} symbols")))
            }
        }
    }

    #[inline(never)]
    fn union(
        &mut self,
        u: &apache_avro::schema::UnionSchema,
        depth: usize,
    ) -> Result<Json, CodecError> {
        let at = self.pos;
        let i = self.long("union index")?;
        let variants = u.variants();
        let Some(branch) = usize::try_from(i).ok().and_then(|i| variants.get(i)) else {
            let n = variants.len();
            return Err(self.invalid(at, "union", format!("index {i}, {n} branches")));
        };
        if let Schema::Null = branch {
            return Ok(Json::Null);
        }
        let v = self.value(branch, depth + 1)?;
        let mut obj = Map::with_capacity(1);
        obj.insert(branch_name(branch), v);
        Ok(Json::Object(obj))
    }

    #[inline(never)]
    fn record(
        &mut self,
        r: &apache_avro::schema::RecordSchema,
        depth: usize,
    ) -> Result<Json, CodecError> {
        let mut obj = Map::with_capacity(r.fields.len());
        for f in &r.fields {
            let mark = self.path.len();
            self.path.push('.');
            self.path.push_str(&f.name);
            let v = self.value(&f.schema, depth + 1)?;
            self.path.truncate(mark);
            obj.insert(f.name.clone(), v);
        }
        Ok(Json::Object(obj))
    }

    #[inline(never)]
    fn array(&mut self, item: &Schema, depth: usize) -> Result<Json, CodecError> {
        let mut items = Vec::new();
        self.blocks(item, "array", depth, |d, depth, i| {
            let mark = d.path.len();
            d.path.push_str(&format!("[{i}]"));
            items.push(d.value(item, depth + 1)?);
            d.path.truncate(mark);
            Ok(())
        })?;
        Ok(Json::Array(items))
    }

    #[inline(never)]
    fn map(&mut self, values: &Schema, depth: usize) -> Result<Json, CodecError> {
        let mut obj = Map::new();
        self.blocks(values, "map", depth, |d, depth, _| {
            let key = d.string("map key")?;
            let mark = d.path.len();
            d.path.push_str(&format!("[{key:?}]"));
            let v = d.value(values, depth + 1)?;
            d.path.truncate(mark);
            obj.insert(key, v);
            Ok(())
        })?;
        Ok(Json::Object(obj))
    }

    /// Reads the blocks of an array or map: a count (negative: followed by a byte size), that many
    /// items, repeated until a zero count.
    fn blocks(
        &mut self,
        item: &Schema,
        ty: &str,
        depth: usize,
        mut each: impl FnMut(&mut Self, usize, u64) -> Result<(), CodecError>,
    ) -> Result<(), CodecError> {
        let mut index = 0u64;
        let min_size = min_size(item, ty == "map");
        loop {
            let at = self.pos;
            let count = self.long(ty)?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                let _block_bytes = self.len(ty)?;
            }
            let count = count.unsigned_abs();
            let left = (self.buf.len() - self.pos) as u64;
            // A count the remaining bytes cannot hold is garbage; say so before looping on it.
            if min_size > 0 && count > left / min_size {
                return Err(self.truncated(ty));
            }
            if min_size == 0 {
                self.empty_items = self.empty_items.saturating_add(count);
                if self.empty_items > MAX_EMPTY_ITEMS {
                    let detail = format!("{count} items of an empty type, over {MAX_EMPTY_ITEMS}");
                    return Err(self.invalid(at, ty, detail));
                }
            }
            for _ in 0..count {
                each(self, depth, index)?;
                index += 1;
            }
        }
    }
}

/// The fewest bytes one item of `schema` takes (map entries add their key's length byte).
fn min_size(schema: &Schema, map: bool) -> u64 {
    let item = match schema {
        Schema::Null => 0,
        Schema::Fixed(f) => f.size as u64,
        Schema::Duration => 12,
        Schema::Float => 4,
        Schema::Double => 8,
        Schema::Decimal(d) => min_size(&d.inner, false),
        Schema::Record(r) => r.fields.iter().map(|f| min_size(&f.schema, false)).sum(),
        // Resolving a reference could recurse forever; zero is always a safe lower bound.
        Schema::Ref { .. } => 0,
        _ => 1,
    };
    item + u64::from(map)
}

/// The label of a union branch in Avro's JSON encoding.
pub(crate) fn branch_name(schema: &Schema) -> String {
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes | Schema::BigDecimal => "bytes".into(),
        Schema::String | Schema::Uuid => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Union(_) => "union".into(),
        Schema::Record(r) => r.name.fullname(None),
        Schema::Enum(e) => e.name.fullname(None),
        Schema::Fixed(f) => f.name.fullname(None),
        Schema::Decimal(d) => branch_name(&d.inner),
        // apache-avro does not keep the fixed's name for `duration`.
        Schema::Duration => "fixed".into(),
        Schema::Ref { name } => name.fullname(None),
    }
}

fn float_json(f: f32) -> Json {
    if f.is_finite() {
        // Rust prints the shortest decimal that reads back as the same f32, like Java's
        // Float.toString; widening the binary value instead would print 2.99 as 2.990000009536743.
        let shortest: f64 = f.to_string().parse().unwrap_or(f64::from(f));
        double_json(shortest)
    } else {
        non_finite(f64::from(f))
    }
}

fn double_json(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or_else(|| non_finite(f), Json::Number)
}

fn non_finite(f: f64) -> Json {
    let s = if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    };
    Json::String(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TYPES: &str = r#"{"type":"record","name":"T","namespace":"n","fields":[
        {"name":"b","type":"boolean"},
        {"name":"by","type":"bytes"},
        {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
        {"name":"f","type":{"type":"fixed","name":"F","size":2}},
        {"name":"m","type":{"type":"map","values":"long"}},
        {"name":"u","type":["null","E","double"]},
        {"name":"a","type":{"type":"array","items":"float"}}
    ]}"#;

    #[test]
    fn every_kind_prints_like_avro_json() {
        let datum = [
            1, // b
            4, 0xff, b'a', // by
            2,    // e = B
            0x00, 0xe9, // f
            2, 2, b'k', 6, 0, // m = {"k": 3}
            2, 2, // u = E::B
            1, 8, // a: a block of -1 items (negative: a byte size follows), 4 bytes
            0x00, 0x00, 0xc0, 0x7f, // NaN
            0,
        ];
        let json = datum_to_json(ALL_TYPES, &datum).unwrap();
        assert_eq!(
            json.to_string(),
            r#"{"b":true,"by":"ÿa","e":"B","f":"\u0000é","m":{"k":3},"u":{"n.E":"B"},"a":["NaN"]}"#
        );
    }

    #[test]
    fn bad_bytes_name_the_field_and_offset() {
        let err = datum_to_json(ALL_TYPES, &[2]).unwrap_err();
        assert!(
            matches!(err, CodecError::Invalid { offset: 0, ref what, .. } if what == ".b (boolean)"),
            "{err}"
        );
        let err = datum_to_json(ALL_TYPES, &[1, 4, 0xff]).unwrap_err();
        assert!(
            matches!(err, CodecError::Truncated { offset: 2, ref what, .. } if what == ".by (bytes)"),
            "{err}"
        );
        let err = datum_to_json(ALL_TYPES, &[1, 0, 8]).unwrap_err();
        assert!(err.to_string().contains("index 4, 2 symbols"), "{err}");
        // A huge array count with few bytes left is refused before looping.
        let err = datum_to_json(
            r#"{"type":"array","items":"long"}"#,
            &[0xfe, 0xff, 0xff, 0xff, 0x0f],
        )
        .unwrap_err();
        assert!(matches!(err, CodecError::Truncated { .. }), "{err}");
        let err = datum_to_json(
            r#"{"type":"array","items":"null"}"#,
            &[0xfe, 0xff, 0xff, 0xff, 0x0f, 0],
        )
        .unwrap_err();
        assert!(err.to_string().contains("empty type"), "{err}");
        let err = datum_to_json(r#""long""#, &[0xff; 11]).unwrap_err();
        assert!(err.to_string().contains("64 bits"), "{err}");
        let err = datum_to_json(r#""int""#, &[0x80, 0x80, 0x80, 0x80, 0x10]).unwrap_err();
        assert!(err.to_string().contains("does not fit an int"), "{err}");
        let err = datum_to_json(r#""string""#, &[4, 0xc3, 0x28]).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        let err = datum_to_json(r#""int""#, &[2, 2]).unwrap_err();
        assert_eq!(
            err,
            CodecError::TrailingBytes {
                offset: 1,
                trailing: 1
            }
        );
    }

    #[test]
    fn recursive_schemas_are_followed_and_bounded() {
        let list = r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}"#;
        let json = datum_to_json(list, &[2, 2, 4, 0]).unwrap();
        assert_eq!(
            json.to_string(),
            r#"{"v":1,"next":{"L":{"v":2,"next":null}}}"#
        );
        let deep: Vec<u8> = std::iter::repeat_n([0u8, 2], 400).flatten().collect();
        let err = datum_to_json(list, &deep).unwrap_err();
        assert!(err.to_string().contains("deeper than 128"), "{err}");
    }

    #[test]
    fn floats_print_their_shortest_decimal() {
        assert_eq!(float_json(2.99).to_string(), "2.99");
        assert_eq!(float_json(3.0).to_string(), "3.0");
        assert_eq!(
            float_json(f32::NEG_INFINITY),
            Json::String("-Infinity".into())
        );
        assert_eq!(double_json(f64::INFINITY), Json::String("Infinity".into()));
    }
}
