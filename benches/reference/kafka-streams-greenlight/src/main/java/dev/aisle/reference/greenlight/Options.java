package dev.aisle.reference.greenlight;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Command-line options of both modes (benchmark run and {@code --produce}). */
public final class Options {
    static final String USAGE = """
            Kafka Streams reference for `aisle bench greenlight`: the original Green Light Special
            topology (cart objects joined with the inventory table, tumbling event-time window,
            count per item, suppressed until the window closes) with exactly_once_v2, writing
            WindowedItem records to an output topic.

            Run (consume N cart objects, print one JSON line on stdout):
              run --bootstrap HOST:PORT --input TOPIC --inventory TOPIC --records N
                  [--window-ms 60000] [--grace-ms 0] [--threads 1] [--output TOPIC]
                  [--keep-output] [--commit-ms MS] [--inventory-time zero|record|modified]
                  [--timeout-s 900]
              -> {"records":N,"seconds":S,"records_per_sec":R}
                 S runs from the first cart object processed to the commit that covers the last.

            Produce test input (N synthetic cart objects keyed by the seven seed items, plus the
            seven inventory rows; creates missing topics):
              run --produce N --bootstrap HOST:PORT --input TOPIC --inventory TOPIC
                  [--partitions 1] [--event-step-ms 1]

            --input and --inventory must have the same partition count (the stream-table join
            is co-partitioned, as in the original). --output defaults to <input>-ks-windowed_items
            and is created with the input's partition count, then deleted after the run unless
            --keep-output. --inventory-time: event time given to inventory rows; `zero` (default)
            makes the table valid before every cart object, `record` uses the record timestamp
            (the original's default extractor), `modified` the row's modified column.
            --schemas DIR (set by ./run) is the repository's schemas/ directory; --state-dir DIR
            (./run: target/state) holds each run's RocksDB state, deleted after the run.
            Exit codes: 0 done, 1 failure, 2 bad usage, 3 timeout.
            """;

    /** Event time assigned to inventory rows. */
    public enum InventoryTime { ZERO, RECORD, MODIFIED }

    public String bootstrap;
    public String input;
    public String inventory;
    public String output;
    public boolean keepOutput;
    public long records = -1;
    public long windowMs = 60_000;
    public long graceMs = 0;
    public int threads = 1;
    public Long commitMs;
    public InventoryTime inventoryTime = InventoryTime.ZERO;
    public long timeoutS = 900;
    public Path schemas = Path.of("schemas");
    public Path stateDir;
    public long produce = -1;
    public int partitions = 1;
    public long eventStepMs = 1;

    /** Thrown for bad usage; the message names the option. */
    public static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    public static boolean wantsHelp(String[] args) {
        return args.length == 0 || List.of(args).contains("--help") || List.of(args).contains("-h");
    }

    public static Options parse(String[] args) throws UsageException {
        Options o = new Options();
        List<String> rest = new ArrayList<>(List.of(args));
        while (!rest.isEmpty()) {
            String flag = rest.remove(0);
            if (flag.equals("--keep-output")) {
                o.keepOutput = true;
                continue;
            }
            if (rest.isEmpty()) {
                throw new UsageException(flag + " needs a value");
            }
            String v = rest.remove(0);
            switch (flag) {
                case "--bootstrap" -> o.bootstrap = v;
                case "--input" -> o.input = v;
                case "--inventory" -> o.inventory = v;
                case "--output" -> o.output = v;
                case "--records" -> o.records = number(flag, v, 1);
                case "--window-ms" -> o.windowMs = number(flag, v, 1);
                case "--grace-ms" -> o.graceMs = number(flag, v, 0);
                case "--threads" -> o.threads = (int) number(flag, v, 1);
                case "--commit-ms" -> o.commitMs = number(flag, v, 1);
                case "--timeout-s" -> o.timeoutS = number(flag, v, 1);
                case "--schemas" -> o.schemas = Path.of(v);
                case "--state-dir" -> o.stateDir = Path.of(v);
                case "--produce" -> o.produce = number(flag, v, 0);
                case "--partitions" -> o.partitions = (int) number(flag, v, 1);
                case "--event-step-ms" -> o.eventStepMs = number(flag, v, 0);
                case "--inventory-time" -> {
                    try {
                        o.inventoryTime = InventoryTime.valueOf(v.toUpperCase());
                    } catch (IllegalArgumentException e) {
                        throw new UsageException("--inventory-time: expected zero, record or modified, got `" + v + "`");
                    }
                }
                default -> throw new UsageException("unknown option " + flag);
            }
        }
        require(o.bootstrap, "--bootstrap");
        require(o.input, "--input");
        require(o.inventory, "--inventory");
        if (o.produce < 0 && o.records < 0) {
            throw new UsageException("--records N is required (or --produce N to write test input)");
        }
        if (o.output == null) {
            o.output = o.input + "-ks-windowed_items";
        }
        return o;
    }

    private static void require(String value, String flag) throws UsageException {
        if (value == null || value.isBlank()) {
            throw new UsageException(flag + " is required");
        }
    }

    private static long number(String flag, String v, long min) throws UsageException {
        try {
            long n = Long.parseLong(v.replace("_", ""));
            if (n < min) {
                throw new UsageException(flag + ": must be at least " + min + ", got " + v);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + ": not a number: `" + v + "`");
        }
    }
}
