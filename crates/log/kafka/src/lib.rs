//! `aisle-log-kafka`: The Kafka runtime: the aisle-log interface over rdkafka.
