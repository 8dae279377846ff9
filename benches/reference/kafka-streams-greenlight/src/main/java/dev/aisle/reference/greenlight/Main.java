package dev.aisle.reference.greenlight;

import java.util.Locale;

/** Entry point: {@code --produce N} writes test input, otherwise one benchmark run. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        if (Options.wantsHelp(args)) {
            System.out.print(Options.USAGE);
            System.exit(args.length == 0 ? 2 : 0);
        }
        Options o;
        try {
            o = Options.parse(args);
        } catch (Options.UsageException e) {
            System.err.println("error: " + e.getMessage() + " (see --help)");
            System.exit(2);
            return;
        }
        try {
            if (o.produce >= 0) {
                Produce.Produced p = Produce.run(o);
                System.out.printf(Locale.ROOT, "{\"produced\":%d,\"start_ms\":%d,\"seconds\":%.3f}%n",
                        p.records(), p.startMs(), p.seconds());
            } else {
                Bench.Result r = Bench.run(o);
                System.err.printf(Locale.ROOT,
                        "%s: %d cart objects in %.3f s using %.3f CPU-s (%.0f records per CPU-second),"
                                + " %d window results written to %s%n",
                        r.applicationId(), r.records(), r.seconds(), r.cpuSeconds(),
                        r.cpuSeconds() > 0 ? r.records() / r.cpuSeconds() : 0, r.windowResults(), o.output);
                System.out.println(r.json());
            }
            System.exit(0);
        } catch (Bench.BenchException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(e.exitCode);
        } catch (Exception e) {
            System.err.println("error: " + e);
            System.exit(1);
        }
    }
}
