package dev.aisle.reference.greenlight;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * One benchmark run: starts the topology under a fresh application.id with exactly_once_v2,
 * waits until the group's committed offsets on the input reach the end offsets taken at start
 * (so every input record is processed and its results committed), and reports
 * {@code {"records":N,"seconds":S,"records_per_sec":R}} with S from the first cart object
 * processed to the moment that last commit is visible. Afterwards it deletes what it created:
 * the app's internal topics, its consumer group, its state directory, and the output topic
 * (unless kept).
 */
public final class Bench {
    /**
     * The measurement. {@code cpuSeconds}: CPU time of this JVM (all threads) over the same span;
     * {@code windowResults}: WindowedItems written.
     */
    public record Result(long records, double seconds, double cpuSeconds, long windowResults, String applicationId) {
        public double recordsPerSec() {
            return seconds > 0 ? records / seconds : 0;
        }

        public String json() {
            return String.format(Locale.ROOT, "{\"records\":%d,\"seconds\":%.3f,\"records_per_sec\":%.0f}",
                    records, seconds, recordsPerSec());
        }
    }

    /** Failure with an exit code (1 failure, 3 timeout). */
    public static final class BenchException extends Exception {
        public final int exitCode;

        BenchException(int exitCode, String message, Throwable cause) {
            super(message, cause);
            this.exitCode = exitCode;
        }
    }

    private static final long POLL_MS = 20;

    private Bench() {}

    public static Result run(Options o) throws BenchException {
        GreenlightTopology.Schemas schemas = GreenlightTopology.Schemas.load(o.schemas);
        String appId = "ks-greenlight-" + UUID.randomUUID().toString().substring(0, 8);
        Path stateDir = tempDir(o.stateDir, appId);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap))) {
            int partitions = checkInputs(admin, o);
            boolean createdOutput = createIfMissing(admin, o.output, partitions, Map.of());
            Map<TopicPartition, Long> ends = endOffsets(admin, o.input, partitions);
            long available = ends.values().stream().mapToLong(Long::longValue).sum();
            if (available < o.records) {
                System.err.printf("warning: %s holds at most %d records, fewer than --records %d%n",
                        o.input, available, o.records);
            }
            GreenlightTopology.Counters counters = new GreenlightTopology.Counters();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            KafkaStreams streams = new KafkaStreams(
                    GreenlightTopology.build(o, schemas, counters), config(o, appId, stateDir));
            streams.setUncaughtExceptionHandler(e -> {
                failure.compareAndSet(null, e);
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            long doneNanos;
            long doneCpu;
            try {
                streams.start();
                doneNanos = awaitCommitted(admin, appId, ends, o.timeoutS, failure);
                doneCpu = GreenlightTopology.cpuNanos();
            } finally {
                // Leave the group so it can be deleted at once (Streams otherwise stays a member until
                // the session times out).
                streams.close(new KafkaStreams.CloseOptions().timeout(java.time.Duration.ofSeconds(30)).leaveGroup(true));
                cleanUp(admin, appId, createdOutput && !o.keepOutput ? o.output : null);
            }
            long first = counters.firstNanos.get();
            long records = counters.cartObjects.sum();
            if (records != o.records) {
                System.err.printf("warning: processed %d cart objects, --records was %d%n", records, o.records);
            }
            Result result = new Result(records, first == 0 ? 0 : (doneNanos - first) / 1e9,
                    (doneCpu - counters.firstCpuNanos.get()) / 1e9, counters.windowResults.sum(), appId);
            return result;
        } catch (ExecutionException e) {
            throw new BenchException(1, "broker request failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException(1, "interrupted", e);
        } finally {
            deleteTree(stateDir);
        }
    }

    /** Checks both input topics exist and are co-partitioned; returns the partition count. */
    static int checkInputs(Admin admin, Options o) throws BenchException, InterruptedException {
        Map<String, TopicDescription> found = new HashMap<>();
        for (String topic : List.of(o.input, o.inventory)) {
            try {
                found.put(topic, admin.describeTopics(Set.of(topic)).allTopicNames().get().get(topic));
            } catch (ExecutionException e) {
                throw new BenchException(1, "topic " + topic + " cannot be described: " + e.getCause().getMessage(), e);
            }
        }
        int input = found.get(o.input).partitions().size();
        int inventory = found.get(o.inventory).partitions().size();
        if (input != inventory) {
            throw new BenchException(1, String.format(
                    "--input %s has %d partitions but --inventory %s has %d: the stream-table join of the"
                            + " original topology needs co-partitioned topics (same count, same key partitioner)",
                    o.input, input, o.inventory, inventory), null);
        }
        return input;
    }

    /** Creates {@code topic} unless it exists; true when this call created it. */
    static boolean createIfMissing(Admin admin, String topic, int partitions, Map<String, String> configs)
            throws InterruptedException, ExecutionException {
        try {
            admin.createTopics(List.of(new NewTopic(topic, java.util.Optional.of(partitions), java.util.Optional.empty())
                    .configs(configs))).all().get();
            return true;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                return false;
            }
            throw e;
        }
    }

    static Map<TopicPartition, Long> endOffsets(Admin admin, String topic, int partitions)
            throws InterruptedException, ExecutionException {
        Map<TopicPartition, OffsetSpec> want = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            want.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        return admin.listOffsets(want, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get()
                .entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
    }

    static Properties config(Options o, String appId, Path stateDir) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, o.threads);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        if (o.commitMs != null) {
            p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, o.commitMs);
        }
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndContinueExceptionHandler.class);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    /**
     * Polls the group's committed offsets until every input partition's offset reaches its end
     * offset; returns System.nanoTime() when that was first seen.
     */
    static long awaitCommitted(Admin admin, String appId, Map<TopicPartition, Long> ends, long timeoutS,
            AtomicReference<Throwable> failure) throws BenchException, InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + timeoutS * 1_000_000_000L;
        while (true) {
            Throwable t = failure.get();
            if (t != null) {
                throw new BenchException(1, "Kafka Streams failed: " + t, t);
            }
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
            long now = System.nanoTime();
            boolean done = ends.entrySet().stream().allMatch(e -> {
                OffsetAndMetadata c = committed.get(e.getKey());
                return e.getValue() == 0 || (c != null && c.offset() >= e.getValue());
            });
            if (done) {
                return now;
            }
            if (now > deadline) {
                throw new BenchException(3, "timed out after " + timeoutS + " s: committed " + committed
                        + ", end offsets " + ends, null);
            }
            Thread.sleep(POLL_MS);
        }
    }

    /** Deletes the app's internal topics, its group and (if given) the output topic. */
    static void cleanUp(Admin admin, String appId, String output) {
        try {
            List<String> topics = admin.listTopics().names().get().stream()
                    .filter(t -> t.startsWith(appId + "-") || t.equals(output))
                    .toList();
            admin.deleteTopics(topics).all().get();
            try {
                admin.deleteConsumerGroups(List.of(appId)).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof GroupNotEmptyException)) {
                    throw e;
                }
                // A closed Streams member may still be listed until its session times out.
                admin.removeMembersFromConsumerGroup(appId, new RemoveMembersFromConsumerGroupOptions()).all().get();
                admin.deleteConsumerGroups(List.of(appId)).all().get();
            }
        } catch (ExecutionException | InterruptedException e) {
            System.err.println("warning: cleanup of " + appId + " incomplete: " + e);
        }
    }

    private static Path tempDir(Path parent, String appId) {
        try {
            if (parent == null) {
                return Files.createTempDirectory(appId + "-state");
            }
            Files.createDirectories(parent);
            return Files.createDirectory(parent.resolve(appId));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("warning: cannot delete " + dir + ": " + e);
        }
    }
}
