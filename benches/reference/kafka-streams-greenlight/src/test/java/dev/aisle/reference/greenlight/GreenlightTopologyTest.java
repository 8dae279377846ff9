package dev.aisle.reference.greenlight;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The topology on Kafka's TopologyTestDriver: exact window results for a small scenario. */
class GreenlightTopologyTest {
    static final Path SCHEMAS = Path.of("../../../schemas");

    @TempDir
    Path state;

    @Test
    void joinsWindowsAndEmitsOnlyClosedWindows() throws Exception {
        Options o = Options.parse(new String[] {
            "--bootstrap", "unused:9092", "--input", "carts", "--inventory", "inv", "--output", "out",
            "--records", "1", "--window-ms", "1000", "--grace-ms", "0"});
        GreenlightTopology.Schemas schemas = GreenlightTopology.Schemas.load(SCHEMAS);
        GreenlightTopology.Counters counters = new GreenlightTopology.Counters();
        try (TopologyTestDriver driver = new TopologyTestDriver(
                GreenlightTopology.build(o, schemas, counters), Bench.config(o, "test-app", state))) {
            TestInputTopic<String, GenericRecord> inv = driver.createInputTopic("inv",
                    Serdes.String().serializer(), Avro.framed(schemas.inventory(), 7).serializer());
            TestInputTopic<String, byte[]> carts = driver.createInputTopic("carts",
                    Serdes.String().serializer(), Serdes.ByteArray().serializer());
            TestOutputTopic<String, GenericRecord> out = driver.createOutputTopic("out",
                    Serdes.String().deserializer(), Avro.framed(schemas.windowedItem(), 0).deserializer());
            var cartBytes = Avro.framed(schemas.cart(), 9).serializer();

            inv.pipeInput("cup", row(schemas, 1, "cup", "plate"));
            inv.pipeInput("fork", row(schemas, 3, "fork", "spoon"));
            carts.pipeInput("cup", cartBytes.serialize("carts", cart(schemas, "cup", 100)));
            carts.pipeInput("cup", cartBytes.serialize("carts", cart(schemas, "cup", 200)));
            carts.pipeInput("fork", cartBytes.serialize("carts", cart(schemas, "fork", 500)));
            // No inventory row: the original's inner join drops it.
            carts.pipeInput("knife", cartBytes.serialize("carts", cart(schemas, "knife", 600)));
            // Not Confluent-framed Avro: skipped by the deserialization handler, processing goes on.
            carts.pipeInput("cup", new byte[] {1, 2, 3});
            assertEquals(List.of(), out.readKeyValuesToList(), "nothing before a window closes");
            // The upsell changes; then event time 1100 closes [0, 1000) (grace 0).
            inv.pipeInput("cup", row(schemas, 1, "cup", "saucer"));
            carts.pipeInput("cup", cartBytes.serialize("carts", cart(schemas, "cup", 1100)));
            assertEquals(Map.of(
                    "cup@0", "cup 0-1000 count=2 upsell=plate",
                    "fork@0", "fork 0-1000 count=1 upsell=spoon"), read(out));
            // Event time 2500 closes [1000, 2000); [2000, 3000) stays open.
            carts.pipeInput("fork", cartBytes.serialize("carts", cart(schemas, "fork", 2500)));
            assertEquals(Map.of("cup@1000", "cup 1000-2000 count=1 upsell=saucer"), read(out));
            assertEquals(6, counters.cartObjects.sum(), "every decoded cart object is counted");
            assertEquals(3, counters.windowResults.sum());
        }
    }

    @Test
    void badSchemaDirectoryNamesTheFile() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class,
                () -> GreenlightTopology.Schemas.load(state));
        org.junit.jupiter.api.Assertions.assertTrue(
                e.getMessage().contains("shopping_cart_object.avsc"), e.getMessage());
    }

    @Test
    void usageErrorsNameTheOption() throws Exception {
        var e = org.junit.jupiter.api.Assertions.assertThrows(Options.UsageException.class,
                () -> Options.parse(new String[] {"--bootstrap", "b", "--input", "i", "--inventory", "v",
                    "--records", "ten"}));
        assertEquals("--records: not a number: `ten`", e.getMessage());
        assertEquals("i-ks-windowed_items",
                Options.parse(new String[] {"--bootstrap", "b", "--input", "i", "--inventory", "v", "--records", "5"})
                        .output);
    }

    static Map<String, String> read(TestOutputTopic<String, GenericRecord> out) {
        return out.readKeyValuesToList().stream().collect(Collectors.toMap(
                kv -> kv.key,
                kv -> kv.value.get("item") + " " + kv.value.get("window_start") + "-"
                        + kv.value.get("window_end") + " count=" + kv.value.get("count")
                        + " upsell=" + kv.value.get("upsell_item")));
    }

    static GenericRecord row(GreenlightTopology.Schemas s, int id, String name, String upsell) {
        GenericRecord r = new GenericData.Record(s.inventory());
        r.put("id", id);
        r.put("name", name);
        r.put("upsell_item", upsell);
        r.put("count", 10);
        r.put("modified", 1_554_994_983_000L);
        return r;
    }

    static GenericRecord cart(GreenlightTopology.Schemas s, String item, long ts) {
        GenericRecord r = new GenericData.Record(s.cart());
        r.put("timestamp", ts);
        r.put("image_name", "test.jpg");
        r.put("class_id", 1);
        r.put("class_name", item);
        r.put("score", 0.9f);
        r.put("box_x", 1);
        r.put("box_y", 2);
        r.put("box_w", 3);
        r.put("box_h", 4);
        return r;
    }
}
