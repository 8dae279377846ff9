//! Partitions Kafka's Java client computes for known keys, the reference the placement case checks
//! both runtimes against.
//!
//! Generated once (not at build time, so tests need no JVM) from kafka-clients 4.1.1 with:
//!
//! ```text
//! CP=~/.m2/repository/org/apache/kafka/kafka-clients/4.1.1/kafka-clients-4.1.1.jar
//! CP=$CP:~/.m2/repository/org/slf4j/slf4j-api/1.7.36/slf4j-api-1.7.36.jar
//! javac -cp $CP GenTable.java && java -cp $CP:. GenTable
//! ```
//!
//! where `GenTable` prints, for each key's UTF-8 bytes `b` and each partition count `n`,
//! `Utils.murmur2(b)` and `Utils.toPositive(Utils.murmur2(b)) % n`: exactly what
//! `BuiltInPartitioner.partitionForKey` does for a keyed record without an explicit partition.
//! The keys mix Kafka's own test vectors, Aisle's real keys (COCO labels, M5 series ids, store ids,
//! windowed keys), the empty key, and multi-byte UTF-8 so every tail length of murmur2 is covered.

/// One key and where Java puts it.
#[derive(Clone, Copy, Debug)]
pub struct KnownKey {
    /// The key, whose UTF-8 bytes are hashed.
    pub key: &'static str,
    /// `Utils.murmur2(key)`.
    pub murmur2: i32,
    /// `(partition count, partition)` pairs.
    pub partitions: &'static [(i32, i32)],
}

/// The table produced by the Java program above.
pub const KNOWN_KEYS: &[KnownKey] = &[
    KnownKey {
        key: "",
        murmur2: 275646681,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 0),
            (7, 2),
            (10, 1),
            (12, 9),
            (16, 9),
            (100, 81),
        ],
    },
    KnownKey {
        key: "a",
        murmur2: -1563381124,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 1),
            (7, 5),
            (10, 4),
            (12, 4),
            (16, 12),
            (100, 24),
        ],
    },
    KnownKey {
        key: "21",
        murmur2: -973932308,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 0),
            (7, 3),
            (10, 0),
            (12, 0),
            (16, 12),
            (100, 40),
        ],
    },
    KnownKey {
        key: "abc",
        murmur2: 479470107,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 0),
            (7, 4),
            (10, 7),
            (12, 3),
            (16, 11),
            (100, 7),
        ],
    },
    KnownKey {
        key: "cup",
        murmur2: 334478438,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 2),
            (7, 0),
            (10, 8),
            (12, 2),
            (16, 6),
            (100, 38),
        ],
    },
    KnownKey {
        key: "banana",
        murmur2: 885931309,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 1),
            (7, 4),
            (10, 9),
            (12, 1),
            (16, 13),
            (100, 9),
        ],
    },
    KnownKey {
        key: "sports ball",
        murmur2: 1331630930,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 2),
            (7, 0),
            (10, 0),
            (12, 2),
            (16, 2),
            (100, 30),
        ],
    },
    KnownKey {
        key: "bottle",
        murmur2: 1542943029,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 0),
            (7, 5),
            (10, 9),
            (12, 9),
            (16, 5),
            (100, 29),
        ],
    },
    KnownKey {
        key: "wine glass",
        murmur2: -1652818783,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 1),
            (7, 2),
            (10, 5),
            (12, 1),
            (16, 1),
            (100, 65),
        ],
    },
    KnownKey {
        key: "foobar",
        murmur2: -790332482,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 0),
            (7, 0),
            (10, 6),
            (12, 6),
            (16, 14),
            (100, 66),
        ],
    },
    KnownKey {
        key: "a-little-bit-long-string",
        murmur2: -985981536,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 2),
            (7, 1),
            (10, 2),
            (12, 8),
            (16, 0),
            (100, 12),
        ],
    },
    KnownKey {
        key: "a-little-bit-longer-string",
        murmur2: -1486304829,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 2),
            (7, 0),
            (10, 9),
            (12, 11),
            (16, 3),
            (100, 19),
        ],
    },
    KnownKey {
        key: "FOODS_3_090_CA_1",
        murmur2: 314068667,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 2),
            (7, 3),
            (10, 7),
            (12, 11),
            (16, 11),
            (100, 67),
        ],
    },
    KnownKey {
        key: "HOBBIES_1_001_TX_2",
        murmur2: -1487817765,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 2),
            (7, 2),
            (10, 3),
            (12, 11),
            (16, 11),
            (100, 83),
        ],
    },
    KnownKey {
        key: "HOUSEHOLD_2_516_WI_3",
        murmur2: -1554439698,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 2),
            (7, 2),
            (10, 0),
            (12, 2),
            (16, 14),
            (100, 50),
        ],
    },
    KnownKey {
        key: "FOODS_1_218_CA_4",
        murmur2: 1514920401,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 0),
            (7, 1),
            (10, 1),
            (12, 9),
            (16, 1),
            (100, 1),
        ],
    },
    KnownKey {
        key: "CA_1",
        murmur2: 17336313,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 0),
            (7, 1),
            (10, 3),
            (12, 9),
            (16, 9),
            (100, 13),
        ],
    },
    KnownKey {
        key: "TX_3",
        murmur2: -1127073969,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 2),
            (7, 2),
            (10, 9),
            (12, 11),
            (16, 15),
            (100, 79),
        ],
    },
    KnownKey {
        key: "WI_1",
        murmur2: -2096061722,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 0),
            (7, 3),
            (10, 6),
            (12, 6),
            (16, 6),
            (100, 26),
        ],
    },
    KnownKey {
        key: "cell phone@1700000000000",
        murmur2: -1229226315,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 2),
            (7, 0),
            (10, 3),
            (12, 5),
            (16, 5),
            (100, 33),
        ],
    },
    KnownKey {
        key: "key-0",
        murmur2: 29210041,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 1),
            (7, 0),
            (10, 1),
            (12, 1),
            (16, 9),
            (100, 41),
        ],
    },
    KnownKey {
        key: "key-1",
        murmur2: 193331640,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 0),
            (7, 5),
            (10, 0),
            (12, 0),
            (16, 8),
            (100, 40),
        ],
    },
    KnownKey {
        key: "key-999",
        murmur2: -1349681240,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 0),
            (7, 4),
            (10, 8),
            (12, 0),
            (16, 8),
            (100, 8),
        ],
    },
    KnownKey {
        key: "k\u{e4}se",
        murmur2: -1070276755,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 1),
            (7, 0),
            (10, 3),
            (12, 1),
            (16, 13),
            (100, 93),
        ],
    },
    KnownKey {
        key: "\u{65e5}\u{672c}\u{8a9e}\u{30ad}\u{30fc}",
        murmur2: 1445825182,
        partitions: &[
            (1, 0),
            (2, 0),
            (3, 1),
            (7, 4),
            (10, 2),
            (12, 10),
            (16, 14),
            (100, 82),
        ],
    },
    KnownKey {
        key: "\u{1f6d2}",
        murmur2: 442588275,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 0),
            (7, 3),
            (10, 5),
            (12, 3),
            (16, 3),
            (100, 75),
        ],
    },
    KnownKey {
        key: "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
        murmur2: -58897971,
        partitions: &[
            (1, 0),
            (2, 1),
            (3, 2),
            (7, 3),
            (10, 7),
            (12, 5),
            (16, 13),
            (100, 77),
        ],
    },
];

/// The partition Java picks for `key` among `partitions`, if the table has that pair.
pub fn java_partition(key: &str, partitions: i32) -> Option<i32> {
    KNOWN_KEYS
        .iter()
        .find(|k| k.key == key)?
        .partitions
        .iter()
        .find(|(n, _)| *n == partitions)
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_log::{murmur2, partition_for_key};

    /// The pure-Rust partitioner agrees with Java on every entry; the runtimes are checked in
    /// the conformance case, this pins the reference itself.
    #[test]
    fn rust_partitioner_matches_the_java_table() {
        assert!(KNOWN_KEYS.len() >= 20);
        for k in KNOWN_KEYS {
            assert_eq!(murmur2(k.key.as_bytes()), k.murmur2, "murmur2({:?})", k.key);
            for &(n, p) in k.partitions {
                assert_eq!(
                    partition_for_key(k.key.as_bytes(), n),
                    p,
                    "{:?} over {n}",
                    k.key
                );
            }
        }
    }

    #[test]
    fn lookup_finds_entries_and_misses_unknown_ones() {
        assert_eq!(java_partition("FOODS_3_090_CA_1", 10), Some(7));
        assert_eq!(java_partition("FOODS_3_090_CA_1", 11), None);
        assert_eq!(java_partition("not in the table", 10), None);
    }
}
