//! Kafka's default key partitioner.
//!
//! The Java client computes `toPositive(murmur2(key)) % numPartitions`, where `murmur2` is a
//! 32-bit MurmurHash2 with seed `0x9747b28c`, and `toPositive` clears the sign bit (it is *not*
//! `abs`). librdkafka's default partitioner differs (CRC32), which is why the Kafka runtime sets
//! `partitioner=murmur2_random`; this function is what the embedded runtime uses, and what the
//! conformance suite checks both runtimes against.

/// MurmurHash2 (32-bit) exactly as `org.apache.kafka.common.utils.Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java falls through the switch from the highest remaining byte down.
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's Java producer picks for `key` among `partitions` partitions.
///
/// # Panics
/// Never for `partitions >= 1`; a topic always has at least one partition, and callers validate
/// topic specs before producing (a `partitions` of 0 would be a bug, so it returns 0).
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    ((murmur2(key) & 0x7fff_ffff) as u32 % partitions as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn matches_kafka_java_vectors() {
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (input, want) in cases {
            assert_eq!(
                murmur2(input),
                *want,
                "murmur2({:?})",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn partition_is_in_range_and_uses_sign_bit_mask() {
        for n in 1..20 {
            for key in ["", "a", "cup", "FOODS_3_090_CA_1", "sports ball"] {
                let p = partition_for_key(key.as_bytes(), n);
                assert!((0..n).contains(&p));
            }
        }
        // murmur2("21") is negative: toPositive masks the sign bit rather than negating.
        let h = murmur2(b"21");
        assert!(h < 0);
        assert_eq!(partition_for_key(b"21", 7), ((h & 0x7fff_ffff) % 7));
    }
}
