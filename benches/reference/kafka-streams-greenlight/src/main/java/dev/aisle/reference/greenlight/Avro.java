package dev.aisle.reference.greenlight;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Avro values as the original system wrote them: Confluent wire framing (magic byte 0, a 4-byte
 * big-endian schema id, Avro binary), read with {@link GenericDatumReader} and the writer schema
 * from the repository's {@code schemas/} directory, so no schema registry is needed. The schema
 * id is skipped on read; on write it is whatever the caller passes (there is no registry to ask).
 */
public final class Avro {
    /** Confluent framing: magic byte + schema id. */
    public static final int HEADER = 5;

    /**
     * The joined value of the original topology: item, upsell item and a cart count (1 per
     * object, summed by the window). Internal to the app (state store and changelog), so plain
     * Avro binary without framing.
     */
    public static final Schema JOINED = SchemaBuilder.record("joined_item")
            .namespace("dev.aisle.reference.greenlight")
            .fields()
            .requiredString("item_name")
            .optionalString("upsell_item_name")
            .requiredLong("item_cart_count")
            .endRecord();

    private Avro() {}

    /** Reads {@code <dir>/<file>} as an Avro schema, naming the file in the error. */
    public static Schema load(Path dir, String file) {
        Path path = dir.resolve(file);
        try {
            return new Schema.Parser().parse(Files.readString(path));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Avro schema " + path, e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("bad Avro schema in " + path + ": " + e.getMessage(), e);
        }
    }

    /** Serde for Confluent-framed values of {@code schema}; writes {@code schemaId} in the header. */
    public static Serde<GenericRecord> framed(Schema schema, int schemaId) {
        return Serdes.serdeFrom(new Writer(schema, schemaId), new Reader(schema, HEADER));
    }

    /** Serde for unframed Avro binary of {@code schema} (internal state). */
    public static Serde<GenericRecord> plain(Schema schema) {
        return Serdes.serdeFrom(new Writer(schema, -1), new Reader(schema, 0));
    }

    /** Decodes one value; {@code skip} is the header length (5 framed, 0 plain). */
    static final class Reader implements Deserializer<GenericRecord> {
        private final GenericDatumReader<GenericRecord> reader;
        private final int skip;
        // Serde instances are shared by all stream threads: one reusable decoder per thread.
        private final ThreadLocal<BinaryDecoder> decoder = new ThreadLocal<>();

        Reader(Schema schema, int skip) {
            this.reader = new GenericDatumReader<>(schema);
            this.skip = skip;
        }

        @Override
        public GenericRecord deserialize(String topic, byte[] data) {
            if (data == null) {
                return null; // tombstone
            }
            if (skip > 0 && (data.length < skip || data[0] != 0)) {
                throw new SerializationException("topic " + topic + ": value is not Confluent-framed Avro"
                        + " (length " + data.length + ", first byte " + (data.length > 0 ? data[0] : -1) + ")");
            }
            try {
                BinaryDecoder d = DecoderFactory.get().binaryDecoder(data, skip, data.length - skip, decoder.get());
                decoder.set(d);
                return reader.read(null, d);
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("topic " + topic + ": cannot decode Avro value: " + e, e);
            }
        }
    }

    /** Encodes one value, with the Confluent header when {@code schemaId >= 0}. */
    static final class Writer implements Serializer<GenericRecord> {
        private final GenericDatumWriter<GenericRecord> writer;
        private final int schemaId;
        private final ThreadLocal<BinaryEncoder> encoder = new ThreadLocal<>();

        Writer(Schema schema, int schemaId) {
            this.writer = new GenericDatumWriter<>(schema);
            this.schemaId = schemaId;
        }

        @Override
        public byte[] serialize(String topic, GenericRecord value) {
            if (value == null) {
                return null;
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(128);
            if (schemaId >= 0) {
                out.write(0);
                out.writeBytes(ByteBuffer.allocate(4).putInt(schemaId).array());
            }
            try {
                BinaryEncoder e = EncoderFactory.get().binaryEncoder(out, encoder.get());
                encoder.set(e);
                writer.write(value, e);
                e.flush();
            } catch (IOException | RuntimeException ex) {
                throw new SerializationException("topic " + topic + ": cannot encode Avro value: " + ex, ex);
            }
            return out.toByteArray();
        }
    }
}
