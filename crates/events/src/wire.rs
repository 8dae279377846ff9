//! Confluent's wire format for Avro values.
//!
//! Every value on an Aisle topic is `[0x00][schema id: u32 big-endian][Avro binary datum]`, the
//! framing of Confluent's `KafkaAvroSerializer`, so Confluent clients, ksqlDB, kcat and the
//! original Java apps can read Aisle's topics and Aisle can read theirs.
//!
//! ```
//! use aisle_events::wire;
//! let mut buf = Vec::new();
//! wire::write_header(&mut buf, 42);
//! buf.extend_from_slice(&[2, 4, 6]);
//! let (id, datum) = wire::split(&buf).unwrap();
//! assert_eq!((id, datum), (42, &[2u8, 4, 6][..]));
//! ```

/// The magic byte that starts a framed value.
pub const MAGIC: u8 = 0;
/// Bytes before the Avro datum.
pub const HEADER_LEN: usize = 5;

/// Why a payload is not a framed Avro value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer than five bytes.
    #[error("payload is {0} bytes, shorter than the 5-byte Confluent header")]
    TooShort(usize),
    /// The first byte is not 0.
    #[error(
        "payload starts with byte {0:#04x}, not the Confluent magic byte 0x00 (not Confluent Avro)"
    )]
    BadMagic(u8),
}

/// Appends the 5-byte header for `schema_id` to `buf`.
pub fn write_header(buf: &mut Vec<u8>, schema_id: u32) {
    buf.push(MAGIC);
    buf.extend_from_slice(&schema_id.to_be_bytes());
}

/// Splits a framed value into its schema id and Avro datum.
pub fn split(payload: &[u8]) -> Result<(u32, &[u8]), WireError> {
    if payload.len() < HEADER_LEN {
        return Err(WireError::TooShort(payload.len()));
    }
    if payload[0] != MAGIC {
        return Err(WireError::BadMagic(payload[0]));
    }
    let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    Ok((id, &payload[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_short_and_foreign_payloads() {
        assert_eq!(split(&[0, 0, 0]), Err(WireError::TooShort(3)));
        assert_eq!(split(b"{\"json\":1}"), Err(WireError::BadMagic(b'{')));
        let mut buf = Vec::new();
        write_header(&mut buf, 0x0102_0304);
        assert_eq!(buf, [0, 1, 2, 3, 4]);
        assert_eq!(split(&buf), Ok((0x0102_0304, &[][..])));
    }
}
