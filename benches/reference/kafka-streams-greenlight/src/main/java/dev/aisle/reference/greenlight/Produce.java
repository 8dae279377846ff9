package dev.aisle.reference.greenlight;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Test input for the reference (the Aisle benchmark produces its own): the seven seed inventory
 * rows on {@code --inventory} (key: name; compacted topic) and N synthetic cart objects on
 * {@code --input}, keyed by one of the seven item names (seeded random choice), event times
 * {@code --event-step-ms} apart ending about now. Values are Confluent-framed Avro of the
 * repository schemas with schema id 0 (no registry). Missing topics are created with
 * {@code --partitions} partitions each.
 */
public final class Produce {
    /** The seed inventory: name, upsell item, count, and the COCO class id of the name. */
    public record Item(String name, String upsell, int count, int cocoId) {}

    public static final List<Item> SEED = List.of(
            new Item("cup", "plate", 100, 47),
            new Item("bowl", "cup", 10, 51),
            new Item("fork", "spoon", 200, 48),
            new Item("spoon", "fork", 10, 50),
            new Item("sports ball", "soccer goal", 2, 37),
            new Item("tennis racket", "tennis ball", 10, 43),
            new Item("frisbee", "frisbee goal", 100, 34));

    /** First event time used; cart objects follow at {@code start + i * step}. */
    public record Produced(long records, long startMs, double seconds) {}

    private Produce() {}

    public static Produced run(Options o) throws InterruptedException, ExecutionException {
        GreenlightTopology.Schemas schemas = GreenlightTopology.Schemas.load(o.schemas);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap))) {
            Bench.createIfMissing(admin, o.input, o.partitions, Map.of());
            Bench.createIfMissing(admin, o.inventory, o.partitions, Map.of("cleanup.policy", "compact"));
        }
        Map<String, Object> config = Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        Serializer<GenericRecord> carts = Avro.framed(schemas.cart(), 0).serializer();
        Serializer<GenericRecord> rows = Avro.framed(schemas.inventory(), 0).serializer();
        long step = o.eventStepMs;
        long start = System.currentTimeMillis() - o.produce * step;
        AtomicReference<Exception> failed = new AtomicReference<>();
        long began = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer =
                new KafkaProducer<>(config, new StringSerializer(), (topic, data) -> data)) {
            for (int i = 0; i < SEED.size(); i++) {
                Item item = SEED.get(i);
                GenericRecord row = new GenericData.Record(schemas.inventory());
                row.put("id", i + 1);
                row.put("name", item.name());
                row.put("upsell_item", item.upsell());
                row.put("count", item.count());
                row.put("modified", start - 1000);
                producer.send(new ProducerRecord<>(o.inventory, null, start - 1000, item.name(),
                        rows.serialize(o.inventory, row)), (md, e) -> {
                            if (e != null) {
                                failed.compareAndSet(null, e);
                            }
                        });
            }
            producer.flush();
            Random rng = new Random(42);
            for (long i = 0; i < o.produce; i++) {
                Item item = SEED.get(rng.nextInt(SEED.size()));
                long ts = start + i * step;
                GenericRecord cart = new GenericData.Record(schemas.cart());
                cart.put("timestamp", ts);
                cart.put("image_name", "synthetic_" + (i / 4) + ".jpg");
                cart.put("class_id", item.cocoId());
                cart.put("class_name", item.name());
                cart.put("score", 0.5f + rng.nextFloat() / 2);
                cart.put("box_x", rng.nextInt(640));
                cart.put("box_y", rng.nextInt(480));
                cart.put("box_w", 20 + rng.nextInt(200));
                cart.put("box_h", 20 + rng.nextInt(200));
                cart.put("store_id", "CA_1");
                cart.put("cart_id", "cart_" + (i / 16));
                cart.put("camera_id", "synthetic");
                producer.send(new ProducerRecord<>(o.input, null, ts, item.name(), carts.serialize(o.input, cart)),
                        (md, e) -> {
                            if (e != null) {
                                failed.compareAndSet(null, e);
                            }
                        });
                if (failed.get() != null) {
                    break;
                }
            }
            producer.flush();
        }
        if (failed.get() != null) {
            throw new ExecutionException("produce to " + o.input + " failed", failed.get());
        }
        return new Produced(o.produce, start, (System.nanoTime() - began) / 1e9);
    }
}
