import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * Test infrastructure only: mongo-java-server as the integration suite's and
 * the distributed benchmarks' atomic MongoDB-wire server (scripts/services.sh
 * builds and starts it). Its writes are synchronized per collection, so a
 * conditional update is atomic, as on MongoDB: the store runs in its atomic
 * mode here (FerretDB 1.x gets the locked mode).
 *
 *   java -cp … AtomicMongoServer PORT [H2_FILE]
 *
 * With H2_FILE, data is kept in that file (H2 MVStore) and survives a restart,
 * which the store-outage fault test does; without, it is held in memory.
 *
 * Commands that read or write documents run one at a time, and each reply is
 * a deep copy made before the next such command starts. The library replies with the stored documents
 * themselves and serializes them after its lock is released, so a concurrent
 * update could change a reply on its way out: a findAndModify's `$inc` then
 * returned another caller's count (two callers seeing the same one), which the
 * store's exactly-once transitions rely on never happening, as on MongoDB.
 */
public final class AtomicMongoServer {
    /**
     * MongoDB 4.4, wire version 9. The library reports wire version 8 on its
     * own, and the Node.js driver 7.x refuses servers below 9. What the store
     * uses (findAndModify with projections, bulkWrite, aggregation) the server
     * implements either way.
     */
    private static final MongoVersion MONGO_4_4 = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public String toVersionString() {
            return "4.4.0";
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    /**
     * The commands that read or write documents: one at a time, each reply
     * copied under the lock. The others (the driver's handshake and monitoring,
     * which may wait on the server) pass by it.
     */
    private static final Set<String> DATA_COMMANDS = Set.of(
        "find", "getMore", "findAndModify", "findandmodify", "aggregate", "count", "distinct",
        "insert", "update", "delete");

    private static final Object DATA_LOCK = new Object();

    private AtomicMongoServer() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: AtomicMongoServer PORT [H2_FILE]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        MongoBackend backend = args.length == 2
            ? new H2Backend(args[1]) {
                @Override
                public Document handleCommand(Channel channel, String database, String command, Document query) {
                    if (!DATA_COMMANDS.contains(command)) return super.handleCommand(channel, database, command, query);
                    synchronized (DATA_LOCK) {
                        return super.handleCommand(channel, database, command, query).cloneDeeply();
                    }
                }
            }
            : new MemoryBackend() {
                @Override
                public Document handleCommand(Channel channel, String database, String command, Document query) {
                    if (!DATA_COMMANDS.contains(command)) return super.handleCommand(channel, database, command, query);
                    synchronized (DATA_LOCK) {
                        return super.handleCommand(channel, database, command, query).cloneDeeply();
                    }
                }
            };
        backend.version(MONGO_4_4);
        MongoServer server = new MongoServer(backend);
        server.bind("127.0.0.1", port);
        System.out.println("mongo-java-server (" + (args.length == 2 ? "H2 " + args[1] : "memory")
            + ") listening on 127.0.0.1:" + port);
        // SIGTERM: stop accepting, then close the backend, which writes H2's last changes to its file.
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdown();
            stopped.countDown();
        }));
        stopped.await();
    }
}
