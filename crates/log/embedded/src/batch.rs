//! Record batches: the unit written to segment files, checksummed with CRC32C.
//!
//! Byte layout (all integers little-endian; see the crate docs for the full format):
//!
//! ```text
//! 0  u32 length        bytes after this field
//! 4  u32 crc32c        of bytes 8 .. 4+length
//! 8  u8  magic         = 1
//! 9  u8  attributes    bit 0: written by a transaction
//! 10 u16 reserved      = 0
//! 12 u32 record_count
//! 16 i64 base_offset
//! 24 i64 last_offset
//! 32 i64 max_timestamp
//! 40 i64 append_time   ms since epoch when the writer stored it (tombstone expiry)
//! 48 u64 txn_seq       transaction sequence number, 0 outside transactions
//! 56 records           record_count times:
//!    u32 length, u32 offset_delta, i64 timestamp,
//!    i32 key_len (-1: no key), key, i32 value_len (-1: tombstone), value,
//!    u16 header_count, header_count times (u16 name_len, name, u32 value_len, value)
//! ```

use aisle_log::{Header, Record};
use bytes::Bytes;

/// Size of the fixed batch header.
pub const HEADER_LEN: usize = 56;
/// The only batch format version.
pub const MAGIC: u8 = 1;
/// Attribute bit: the batch was written by a committed transaction.
pub const ATTR_TRANSACTIONAL: u8 = 1;

/// The fixed fields of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// Total bytes of the batch including the length field.
    pub total_len: usize,
    /// Attribute bits.
    pub attributes: u8,
    /// Records in the batch.
    pub count: u32,
    /// Offset of the first record (and the base of `offset_delta`).
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Largest record timestamp.
    pub max_timestamp: i64,
    /// When the writer stored the batch.
    pub append_time: i64,
    /// Transaction sequence number, 0 if none.
    pub txn_seq: u64,
}

/// Why bytes are not a valid batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// The batch (or its length field) continues past the available bytes.
    Incomplete {
        /// Bytes the batch claims (0 if even the length is cut).
        needed: usize,
    },
    /// The length field is impossible.
    BadLength(u32),
    /// Unknown format version.
    BadMagic(u8),
    /// The checksum does not match.
    BadCrc {
        /// Stored checksum.
        stored: u32,
        /// Computed checksum.
        computed: u32,
    },
    /// The checksum matched but the records inside are malformed (a writer bug).
    BadRecords(String),
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::Incomplete { needed } => {
                write!(f, "batch incomplete (needs {needed} bytes)")
            }
            BatchError::BadLength(l) => write!(f, "impossible batch length {l}"),
            BatchError::BadMagic(m) => write!(f, "unknown batch magic {m}"),
            BatchError::BadCrc { stored, computed } => {
                write!(
                    f,
                    "CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            BatchError::BadRecords(m) => write!(f, "malformed records: {m}"),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}

/// The largest batch any reader accepts; anything larger is framing garbage.
pub const MAX_BATCH_LEN: usize = 1 << 30;

/// Reads and checks the batch at the start of `buf` (length, magic, CRC); does not decode records.
pub fn check_batch(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    if buf.len() < 4 {
        return Err(BatchError::Incomplete { needed: 0 });
    }
    let len = u32_at(buf, 0);
    if (len as usize) < HEADER_LEN - 4 || len as usize > MAX_BATCH_LEN {
        return Err(BatchError::BadLength(len));
    }
    let total = len as usize + 4;
    if buf.len() < total {
        return Err(BatchError::Incomplete { needed: total });
    }
    if buf[8] != MAGIC {
        return Err(BatchError::BadMagic(buf[8]));
    }
    let stored = u32_at(buf, 4);
    let computed = crc32c::crc32c(&buf[8..total]);
    if stored != computed {
        return Err(BatchError::BadCrc { stored, computed });
    }
    Ok(BatchHeader {
        total_len: total,
        attributes: buf[9],
        count: u32_at(buf, 12),
        base_offset: i64_at(buf, 16),
        last_offset: i64_at(buf, 24),
        max_timestamp: i64_at(buf, 32),
        append_time: i64_at(buf, 40),
        txn_seq: i64_at(buf, 48) as u64,
    })
}

/// Builds one batch in place: records are encoded straight into the final buffer, the header
/// is filled in by [`BatchBuilder::finish`] on the writer thread.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    /// Offset of the first record.
    pub base_offset: i64,
    /// Records so far.
    pub count: u32,
    /// Offset of the last record so far.
    pub last_offset: i64,
    /// Largest timestamp so far.
    pub max_timestamp: i64,
    /// Transaction sequence, 0 if none.
    pub txn_seq: u64,
}

impl BatchBuilder {
    /// An empty batch whose first record will get `base_offset`.
    pub fn new(base_offset: i64, capacity: usize, txn_seq: u64) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(HEADER_LEN));
        buf.resize(HEADER_LEN, 0);
        BatchBuilder {
            buf,
            base_offset,
            count: 0,
            last_offset: base_offset,
            max_timestamp: i64::MIN,
            txn_seq,
        }
    }

    /// Bytes so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a record with the given offset (which must be above the previous one).
    pub fn push(
        &mut self,
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) {
        let b = &mut self.buf;
        let start = b.len();
        b.extend_from_slice(&[0u8; 4]);
        b.extend_from_slice(&((offset - self.base_offset) as u32).to_le_bytes());
        b.extend_from_slice(&timestamp.to_le_bytes());
        for part in [key, value] {
            match part {
                Some(p) => {
                    b.extend_from_slice(&(p.len() as i32).to_le_bytes());
                    b.extend_from_slice(p);
                }
                None => b.extend_from_slice(&(-1i32).to_le_bytes()),
            }
        }
        b.extend_from_slice(&(headers.len().min(u16::MAX as usize) as u16).to_le_bytes());
        for h in headers.iter().take(u16::MAX as usize) {
            let name = &h.key.as_bytes()[..h.key.len().min(u16::MAX as usize)];
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name);
            b.extend_from_slice(&(h.value.len() as u32).to_le_bytes());
            b.extend_from_slice(&h.value);
        }
        let rec_len = (b.len() - start - 4) as u32;
        b[start..start + 4].copy_from_slice(&rec_len.to_le_bytes());
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.last_offset = offset;
    }

    /// Fills in the header and checksum; returns the bytes to write and the header.
    pub fn finish(mut self, append_time: i64) -> (Vec<u8>, BatchHeader) {
        let attrs = if self.txn_seq != 0 {
            ATTR_TRANSACTIONAL
        } else {
            0
        };
        let total = self.buf.len();
        let last = self.last_offset;
        let h = &mut self.buf[..HEADER_LEN];
        h[0..4].copy_from_slice(&((total - 4) as u32).to_le_bytes());
        h[8] = MAGIC;
        h[9] = attrs;
        h[12..16].copy_from_slice(&self.count.to_le_bytes());
        h[16..24].copy_from_slice(&self.base_offset.to_le_bytes());
        h[24..32].copy_from_slice(&last.to_le_bytes());
        h[32..40].copy_from_slice(&self.max_timestamp.to_le_bytes());
        h[40..48].copy_from_slice(&append_time.to_le_bytes());
        h[48..56].copy_from_slice(&self.txn_seq.to_le_bytes());
        let crc = crc32c::crc32c(&self.buf[8..]);
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        let header = BatchHeader {
            total_len: total,
            attributes: attrs,
            count: self.count,
            base_offset: self.base_offset,
            last_offset: last,
            max_timestamp: self.max_timestamp,
            append_time,
            txn_seq: self.txn_seq,
        };
        (self.buf, header)
    }
}

/// One decoded record, borrowing nothing: key, value and header values are slices of the
/// batch's `Bytes`.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRecord {
    /// Absolute offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<Header>,
}

impl RawRecord {
    /// Into the public record type.
    pub fn into_record(self, topic: &str, partition: i32) -> Record {
        Record {
            topic: topic.to_owned(),
            partition,
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key,
            value: self.value,
            headers: self.headers,
        }
    }
}

#[cfg(test)]
/// Decodes the records of a checked batch. `batch` must start at the batch's length field and
/// hold exactly `header.total_len` bytes.
pub fn decode_records(batch: &Bytes, header: &BatchHeader) -> Result<Vec<RawRecord>, BatchError> {
    let mut out = Vec::with_capacity(header.count as usize);
    for_each_record(batch, header, |r| {
        out.push(r);
        true
    })?;
    Ok(out)
}

/// Decodes the records of a checked batch one by one, stopping early when `f` returns false.
pub fn for_each_record(
    batch: &Bytes,
    header: &BatchHeader,
    mut f: impl FnMut(RawRecord) -> bool,
) -> Result<(), BatchError> {
    let b = &batch[..];
    let mut at = HEADER_LEN;
    let bad = |m: &str, at: usize| Err(BatchError::BadRecords(format!("{m} at byte {at}")));
    for _ in 0..header.count {
        if at + 4 > b.len() {
            return bad("record length cut", at);
        }
        let len = u32_at(b, at) as usize;
        let end = at + 4 + len;
        if end > b.len() || len < 4 + 8 + 4 + 4 + 2 {
            return bad("record overruns batch", at);
        }
        let delta = u32_at(b, at + 4);
        let timestamp = i64_at(b, at + 8);
        let mut p = at + 16;
        let opt = |p: &mut usize| -> Result<Option<Bytes>, BatchError> {
            if *p + 4 > end {
                return Err(BatchError::BadRecords(format!(
                    "field length cut at byte {p}"
                )));
            }
            let l = u32_at(b, *p) as i32;
            *p += 4;
            if l < 0 {
                return Ok(None);
            }
            let l = l as usize;
            if *p + l > end {
                return Err(BatchError::BadRecords(format!(
                    "field overruns record at byte {p}"
                )));
            }
            let s = batch.slice(*p..*p + l);
            *p += l;
            Ok(Some(s))
        };
        let key = opt(&mut p)?;
        let value = opt(&mut p)?;
        if p + 2 > end {
            return bad("header count cut", p);
        }
        let n = u16::from_le_bytes([b[p], b[p + 1]]) as usize;
        p += 2;
        let mut headers = Vec::with_capacity(n);
        for _ in 0..n {
            if p + 2 > end {
                return bad("header name cut", p);
            }
            let kl = u16::from_le_bytes([b[p], b[p + 1]]) as usize;
            p += 2;
            if p + kl + 4 > end {
                return bad("header overruns record", p);
            }
            let key = String::from_utf8_lossy(&b[p..p + kl]).into_owned();
            p += kl;
            let vl = u32_at(b, p) as usize;
            p += 4;
            if p + vl > end {
                return bad("header value overruns record", p);
            }
            headers.push(Header {
                key,
                value: batch.slice(p..p + vl),
            });
            p += vl;
        }
        if p != end {
            return bad("record has trailing bytes", p);
        }
        at = end;
        let rec = RawRecord {
            offset: header.base_offset + delta as i64,
            timestamp,
            key,
            value,
            headers,
        };
        if !f(rec) {
            return Ok(());
        }
    }
    if at != b.len() {
        return bad("batch has trailing bytes", at);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, BatchHeader) {
        let mut b = BatchBuilder::new(100, 0, 0);
        let h = [Header {
            key: "h".into(),
            value: Bytes::from_static(b"v"),
        }];
        b.push(100, 5, Some(b"k1"), Some(b"value1"), &h);
        b.push(101, 7, None, None, &[]);
        b.push(103, 6, Some(b""), Some(b""), &[]);
        b.finish(42)
    }

    #[test]
    fn round_trip() {
        let (bytes, h) = sample();
        let checked = check_batch(&bytes).unwrap();
        assert_eq!(checked, h);
        assert_eq!(
            (h.count, h.base_offset, h.last_offset, h.max_timestamp),
            (3, 100, 103, 7)
        );
        let recs = decode_records(&Bytes::from(bytes), &h).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(recs[0].headers[0].key, "h");
        assert_eq!(recs[1].value, None);
        assert_eq!(recs[1].key, None);
        assert_eq!(recs[2].offset, 103);
        assert_eq!(recs[2].value.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let (bytes, _) = sample();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(check_batch(&b).is_err(), "flip at {i} undetected");
        }
    }

    #[test]
    fn cut_batches_are_incomplete() {
        let (bytes, _) = sample();
        for cut in [0, 3, 4, 20, bytes.len() - 1] {
            match check_batch(&bytes[..cut]) {
                Err(BatchError::Incomplete { .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}
