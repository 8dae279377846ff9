package dev.aisle.reference.greenlight;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Joined;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The original Green Light Special topology, step for step:
 * <ol>
 *   <li>{@code inventory_rekeyed} (key: item name) read as a {@link KTable};</li>
 *   <li>cart objects (key: item name) inner-joined with it into
 *       {@code {item_name, upsell_item_name, item_cart_count = 1}};</li>
 *   <li>grouped by item, tumbling event-time window (size and grace configurable; the original
 *       had 1 minute and 0), {@code item_cart_count} summed;</li>
 *   <li>suppressed until the window closes.</li>
 * </ol>
 * Where the original printed each final result to stdout, this writes it to the output topic as
 * a Confluent-framed {@code WindowedItem} (schemas/windowed_item.avsc; key {@code item@window_start},
 * {@code store_id} empty because the original topology does not window per store, {@code stock}
 * null because its joined value does not carry it, schema id 0 because there is no registry).
 */
public final class GreenlightTopology {
    /** Schemas read from the repository's schemas/ directory. */
    public record Schemas(Schema cart, Schema inventory, Schema windowedItem) {
        public static Schemas load(java.nio.file.Path dir) {
            return new Schemas(
                    Avro.load(dir, "shopping_cart_object.avsc"),
                    Avro.load(dir, "inventory.avsc"),
                    Avro.load(dir, "windowed_item.avsc"));
        }
    }

    /** What the app has done, read by the benchmark loop from another thread. */
    public static final class Counters {
        public final LongAdder cartObjects = new LongAdder();
        public final LongAdder windowResults = new LongAdder();
        /** System.nanoTime() of the first cart object processed; 0 until then. */
        public final AtomicLong firstNanos = new AtomicLong();
        /** This JVM's CPU time (ns) when the first cart object was processed. */
        public final AtomicLong firstCpuNanos = new AtomicLong();

        void cartObject() {
            if (firstNanos.get() == 0 && firstNanos.compareAndSet(0, System.nanoTime())) {
                firstCpuNanos.set(cpuNanos());
            }
            cartObjects.increment();
        }
    }

    /** CPU time used by this JVM so far, all threads (ns); -1 when the JVM does not say. */
    public static long cpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    /** Event time of a cart object: its {@code timestamp} field (ms). */
    public static final class CartEventTime implements TimestampExtractor {
        @Override
        public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
            if (record.value() instanceof GenericRecord cart && cart.get("timestamp") instanceof Long ts) {
                return ts;
            }
            return record.timestamp();
        }
    }

    /** Event time of an inventory row, per {@link Options.InventoryTime}. */
    public static TimestampExtractor inventoryTime(Options.InventoryTime mode) {
        return switch (mode) {
            case ZERO -> (record, partitionTime) -> 0L;
            case RECORD -> (record, partitionTime) -> record.timestamp();
            case MODIFIED -> (record, partitionTime) ->
                    record.value() instanceof GenericRecord row && row.get("modified") instanceof Long ts
                            ? ts
                            : record.timestamp();
        };
    }

    private GreenlightTopology() {}

    public static Topology build(Options o, Schemas schemas, Counters counters) {
        Serde<String> keys = Serdes.String();
        Serde<GenericRecord> carts = Avro.framed(schemas.cart(), 0);
        Serde<GenericRecord> rows = Avro.framed(schemas.inventory(), 0);
        Serde<GenericRecord> joined = Avro.plain(Avro.JOINED);
        Serde<GenericRecord> out = Avro.framed(schemas.windowedItem(), 0);
        Schema windowedItem = schemas.windowedItem();

        StreamsBuilder builder = new StreamsBuilder();
        KTable<String, GenericRecord> inventory = builder.table(
                o.inventory,
                Consumed.with(keys, rows).withTimestampExtractor(inventoryTime(o.inventoryTime)),
                Materialized.<String, GenericRecord, KeyValueStore<Bytes, byte[]>>as("inventory")
                        .withKeySerde(keys)
                        .withValueSerde(rows));
        KStream<String, GenericRecord> objects = builder.stream(
                o.input, Consumed.with(keys, carts).withTimestampExtractor(new CartEventTime()));

        objects.peek((item, cart) -> counters.cartObject())
                .join(inventory, (cart, row) -> {
                    GenericRecord j = new GenericData.Record(Avro.JOINED);
                    j.put("item_name", cart.get("class_name").toString());
                    Object upsell = row.get("upsell_item");
                    j.put("upsell_item_name", upsell == null ? null : upsell.toString());
                    j.put("item_cart_count", 1L);
                    return j;
                }, Joined.with(keys, carts, rows))
                .groupByKey(Grouped.with(keys, joined))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(o.windowMs), Duration.ofMillis(o.graceMs)))
                .reduce((sum, one) -> {
                    GenericRecord r = new GenericData.Record(Avro.JOINED);
                    r.put("item_name", sum.get("item_name"));
                    r.put("upsell_item_name", one.get("upsell_item_name"));
                    r.put("item_cart_count", (Long) sum.get("item_cart_count") + (Long) one.get("item_cart_count"));
                    return r;
                }, Materialized.<String, GenericRecord, WindowStore<Bytes, byte[]>>as("item-counts")
                        .withKeySerde(keys)
                        .withValueSerde(joined))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("until-window-closes"))
                .toStream()
                .map((Windowed<String> w, GenericRecord sum) -> {
                    GenericRecord r = new GenericData.Record(windowedItem);
                    r.put("store_id", "");
                    r.put("window_start", w.window().start());
                    r.put("window_end", w.window().end());
                    r.put("item", w.key());
                    r.put("count", sum.get("item_cart_count"));
                    r.put("matched", true);
                    Object upsell = sum.get("upsell_item_name");
                    r.put("upsell_item", upsell == null ? null : upsell.toString());
                    r.put("stock", null);
                    return KeyValue.pair(w.key() + "@" + w.window().start(), r);
                })
                .peek((key, item) -> counters.windowResults.increment())
                .to(o.output, Produced.with(keys, out));
        return builder.build();
    }
}
