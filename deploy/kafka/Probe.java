// Readiness probe for scripts/kafka-up: waits until the cluster at BOOTSTRAP answers a metadata
// request listing at least EXPECTED brokers, or fails after TIMEOUT_SECS.
//
// Run as a single-file source program (java -cp <kafka classpath> Probe.java ...), so it needs
// no build step. A TCP connect alone is not enough: a broker accepts connections before it has
// caught up with the KRaft metadata log and registered, and a 3-node cluster is only usable once
// every broker is in the metadata.
//
// usage: java -cp CP Probe.java BOOTSTRAP EXPECTED TIMEOUT_SECS
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public class Probe {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Probe BOOTSTRAP EXPECTED_BROKERS TIMEOUT_SECS");
            System.exit(2);
        }
        String bootstrap = args[0];
        int expected = Integer.parseInt(args[1]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[2]));
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "3000");
        String last = "no answer";
        try (Admin admin = Admin.create(props)) {
            while (System.nanoTime() < deadline) {
                try {
                    int n = admin.describeCluster().nodes().get(3, TimeUnit.SECONDS).size();
                    if (n >= expected) {
                        System.exit(0);
                    }
                    last = n + " of " + expected + " brokers registered";
                } catch (Exception e) {
                    last = e.toString();
                }
                Thread.sleep(500);
            }
        }
        System.err.println("kafka at " + bootstrap + " not ready: " + last);
        System.exit(1);
    }
}
