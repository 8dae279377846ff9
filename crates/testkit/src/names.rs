//! Fresh names per test, so cases never see each other's data on a shared broker.
//!
//! Same habit as rust-rdkafka's `rand_test_topic`: a readable prefix (which test made it) and
//! a random suffix (so reruns and parallel tests never collide, even against a long-lived cluster
//! where old topics linger).

use rand::Rng;

/// Characters Kafka allows in topic names, minus `.` (which Kafka warns collides with `_` in
/// metric names).
fn sanitize(prefix: &str) -> String {
    prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect()
}

/// A random lowercase alphanumeric suffix of `len` characters.
pub fn rand_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A fresh topic name, `aisle-test-<prefix>-<random>`.
pub fn rand_topic(prefix: &str) -> String {
    format!("aisle-test-{}-{}", sanitize(prefix), rand_suffix(10))
}

/// A fresh consumer group id, `aisle-test-group-<prefix>-<random>`.
pub fn rand_group(prefix: &str) -> String {
    format!("aisle-test-group-{}-{}", sanitize(prefix), rand_suffix(10))
}

/// A fresh transactional id, `aisle-test-tx-<prefix>-<random>`.
pub fn rand_transactional_id(prefix: &str) -> String {
    format!("aisle-test-tx-{}-{}", sanitize(prefix), rand_suffix(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fresh_and_legal_kafka_topic_names() {
        let a = rand_topic("order test/1");
        let b = rand_topic("order test/1");
        assert_ne!(a, b);
        assert!(a.starts_with("aisle-test-order-test-1-"), "{a}");
        assert!(a.len() <= 249);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
        assert!(
            !a.starts_with("__"),
            "internal-looking names are hidden by list_topics"
        );
        assert_ne!(rand_group("g"), rand_group("g"));
        assert!(rand_transactional_id("t").starts_with("aisle-test-tx-t-"));
    }
}
