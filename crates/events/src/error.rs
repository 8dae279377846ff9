//! [`CodecError`]: why a value could not be encoded or decoded.

/// Why an Avro value could not be encoded, decoded or resolved.
///
/// Every variant names the record type or schema involved and, for decoding, where in the datum
/// it failed, so a dead-letter header or a `topic dump` line can say what went wrong with which
/// input. Decoding errors are the writer's fault (bad bytes or a wrong schema id) and retrying does
/// not help; `Schema` on one of Aisle's own schemas is a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A schema text is not a valid Avro schema.
    #[error("schema {schema} does not parse: {detail}")]
    Schema {
        /// The record name, or the start of the text when it has none.
        schema: String,
        /// The parser's message.
        detail: String,
    },
    /// A value does not fit its schema (for example a field the schema does not have).
    #[error("cannot encode {record} as Avro: {detail}")]
    Encode {
        /// Full name of the record type.
        record: &'static str,
        /// The serializer's message.
        detail: String,
    },
    /// A JSON value (Avro JSON encoding) does not fit the schema it is to be encoded with.
    #[error("cannot encode JSON as {schema}: {detail}")]
    FromJson {
        /// The schema's full name (or its first characters).
        schema: String,
        /// Which field, what was expected, what was given.
        detail: String,
    },
    /// A datum is not a valid encoding of the expected record.
    #[error("cannot decode {record} from a {len}-byte Avro datum: {detail}")]
    Decode {
        /// Full name of the record the datum should hold.
        record: String,
        /// Datum length in bytes.
        len: usize,
        /// The decoder's message.
        detail: String,
    },
    /// The writer schema cannot be read as the reader's record (Avro schema resolution failed).
    #[error("cannot read data written with schema {writer} as {record}: {detail}")]
    Incompatible {
        /// Name of the writer schema.
        writer: String,
        /// Full name of the reader's record type.
        record: &'static str,
        /// Why resolution failed.
        detail: String,
    },
    /// The datum ended before the schema said it would.
    #[error("Avro datum truncated: {len} bytes, needed more at byte {offset} to read {what}")]
    Truncated {
        /// Where reading stopped.
        offset: usize,
        /// Datum length in bytes.
        len: usize,
        /// What was being read (field path and type).
        what: String,
    },
    /// The bytes cannot be what the schema describes (bad varint, union index, UTF-8, ...).
    #[error("invalid Avro datum at byte {offset} of {len}, reading {what}: {detail}")]
    Invalid {
        /// Where the bad bytes start.
        offset: usize,
        /// Datum length in bytes.
        len: usize,
        /// What was being read (field path and type).
        what: String,
        /// What is wrong with them.
        detail: String,
    },
    /// The schema's value ended before the datum did: usually the wrong schema id, or not Avro.
    #[error(
        "Avro datum has {trailing} bytes after the value ended at byte {offset} (wrong writer schema, or not Avro)"
    )]
    TrailingBytes {
        /// Where the value ended.
        offset: usize,
        /// Bytes left over.
        trailing: usize,
    },
}
