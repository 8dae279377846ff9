//! The API scenario of `openapi.rs` on a real Kafka broker (`AISLE_TEST_KAFKA`), with random
//! topic names and a private schemas topic, so the server is shown to be runtime-agnostic.

use crate::common;

use aisle_serve::Topics;
use aisle_testkit::{Fixture, KafkaFixture, rand_topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_responses_match_the_documented_shapes_and_follow_the_topics() -> anyhow::Result<()> {
    let Some(fixture) = KafkaFixture::from_env() else {
        return Ok(());
    };
    let log = fixture.log().await?;
    let topics = Topics {
        specials: rand_topic("serve_specials"),
        windows: rand_topic("serve_windows"),
        inventory: rand_topic("serve_inventory"),
        sales: rand_topic("serve_sales"),
        forecasts: rand_topic("serve_forecasts"),
    };
    let (world, registry) = common::World::new(log, topics, &rand_topic("serve_schemas")).await?;
    common::scenario(world, registry, common::recorder()).await
}
