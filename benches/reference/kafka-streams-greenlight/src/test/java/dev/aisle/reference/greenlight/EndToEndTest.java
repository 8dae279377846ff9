package dev.aisle.reference.greenlight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Produce mode + benchmark run on a real broker (AISLE_TEST_KAFKA, e.g. 127.0.0.1:9092; skipped
 * when unset, failed instead when AISLE_REQUIRE_KAFKA=1): every input record is counted, and the output topic holds exactly the window
 * counts recomputed here from the input, once each, for every window the app's stream time closed.
 */
class EndToEndTest {
    static final int N = 30_000;
    static final long WINDOW = 1000;

    @TempDir
    Path state;

    @Test
    void benchmarkRunWritesExactWindowCounts() throws Exception {
        String bootstrap = System.getenv("AISLE_TEST_KAFKA");
        boolean unset = bootstrap == null || bootstrap.isBlank();
        if (unset && "1".equals(System.getenv("AISLE_REQUIRE_KAFKA"))) {
            org.junit.jupiter.api.Assertions.fail("AISLE_REQUIRE_KAFKA=1 but AISLE_TEST_KAFKA is not set");
        }
        Assumptions.assumeFalse(unset, "AISLE_TEST_KAFKA is not set");
        String t = "ks-greenlight-test-" + UUID.randomUUID().toString().substring(0, 8);
        String[] common = {"--bootstrap", bootstrap, "--input", t + "-in", "--inventory", t + "-inv",
            "--schemas", GreenlightTopologyTest.SCHEMAS.toString(), "--state-dir", state.toString()};
        try {
            Options produce = Options.parse(concat(common, "--produce", "" + N, "--partitions", "2"));
            assertEquals(N, Produce.run(produce).records());

            Options run = Options.parse(concat(common, "--records", "" + N, "--window-ms", "" + WINDOW,
                    "--output", t + "-out", "--keep-output"));
            Bench.Result result = Bench.run(run);
            assertEquals(N, result.records());
            assertTrue(result.seconds() > 0 && result.recordsPerSec() > 0, result.json());
            assertTrue(result.json().matches("\\{\"records\":30000,\"seconds\":[0-9.]+,\"records_per_sec\":[0-9]+}"),
                    result.json());

            GreenlightTopology.Schemas schemas = GreenlightTopology.Schemas.load(run.schemas);
            // Expected: count per item@window from the input, and each partition's max event time.
            Map<String, Long> expected = new HashMap<>();
            Map<String, Integer> partitionOf = new HashMap<>();
            Map<Integer, Long> maxTs = new HashMap<>();
            for (ConsumerRecord<String, GenericRecord> r : readAll(bootstrap, t + "-in",
                    Avro.framed(schemas.cart(), 0).deserializer(), N)) {
                long ts = (Long) r.value().get("timestamp");
                long start = ts - ts % WINDOW;
                expected.merge(r.key() + "@" + start, 1L, Long::sum);
                partitionOf.put(r.key(), r.partition());
                maxTs.merge(r.partition(), ts, Math::max);
            }
            List<ConsumerRecord<String, GenericRecord>> out = readAll(bootstrap, t + "-out",
                    Avro.framed(schemas.windowedItem(), 0).deserializer(), (int) result.windowResults());
            assertEquals(result.windowResults(), out.size(), "output holds what the app says it wrote");
            Map<String, Long> emitted = new HashMap<>();
            for (ConsumerRecord<String, GenericRecord> r : out) {
                GenericRecord v = r.value();
                String key = v.get("item") + "@" + v.get("window_start");
                assertEquals(key, r.key());
                assertEquals((Long) v.get("window_start") + WINDOW, (long) (Long) v.get("window_end"));
                assertEquals(null, emitted.put(key, (Long) v.get("count")), "emitted twice: " + key);
            }
            int closed = 0;
            for (Map.Entry<String, Long> e : expected.entrySet()) {
                String item = e.getKey().substring(0, e.getKey().indexOf('@'));
                long end = Long.parseLong(e.getKey().substring(e.getKey().indexOf('@') + 1)) + WINDOW;
                long streamTime = maxTs.get(partitionOf.get(item));
                if (end < streamTime) {
                    closed++;
                    assertEquals(e.getValue(), emitted.get(e.getKey()), "closed window " + e.getKey());
                } else if (end > streamTime) {
                    assertEquals(null, emitted.get(e.getKey()), "open window emitted: " + e.getKey());
                }
            }
            assertTrue(closed >= 7 * 25, "most of the 30 one-second windows closed, got " + closed);
            for (String key : emitted.keySet()) {
                assertTrue(expected.containsKey(key), "emitted a window with no input: " + key);
            }
        } finally {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                admin.deleteTopics(List.of(t + "-in", t + "-inv", t + "-out")).all().get();
            }
        }
    }

    static <V> List<ConsumerRecord<String, V>> readAll(String bootstrap, String topic, Deserializer<V> values,
            int expected) {
        Map<String, Object> config = Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<String, V>> all = new java.util.ArrayList<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(config, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.currentTimeMillis() + 30_000;
            while (all.size() < expected && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    all.add(new ConsumerRecord<>(r.topic(), r.partition(), r.offset(), r.key(),
                            values.deserialize(topic, r.value())));
                }
            }
            // Nothing more than expected.
            for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
                all.add(new ConsumerRecord<>(r.topic(), r.partition(), r.offset(), r.key(),
                        values.deserialize(topic, r.value())));
            }
        }
        return all;
    }

    static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
