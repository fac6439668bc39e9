package bench.kstreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams peer of msixguard: Splunk's "Windows Developer-Signed MSIX
 * Package Installation" written the way a Kafka Streams user would write it.
 *
 * <pre>
 * input (JSON | ECS | XmlWinEventLog)
 *   → process: parse, EventCode=855 NOT PackageMoniker IN ("*8wekyb3d8bbwe*","*cw5n1h2txyewy*"),
 *              drop rows without dvc/user_id, key = (dvc, EventCode, user_id),
 *              record timestamp = event time − 50 min
 *   → repartition by key
 *   → 60-min tumbling windows, grace 10 min (windows are epoch-aligned, so the
 *     −50 min shift maps them onto msixguard's [hh:50, hh+1:50) windows)
 *   → aggregate count/min/max/values(PackageMoniker) (RocksDB store, the default)
 *   → suppress until the window closes
 *   → the same risk message fields as msixguard (minus its extra "packages")
 * </pre>
 *
 * Usage: Peer BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC APPLICATION_ID STATE_DIR THREADS
 * Prints "READY &lt;epoch ms&gt;" on stdout once RUNNING, and a final stats line on exit.
 */
public final class Peer {
    static final String RULE_ID = "windows_developer_signed_msix_package_installation";
    static final String SEARCH_NAME = "Windows Developer-Signed MSIX Package Installation";
    static final long SIZE_MS = Duration.ofMinutes(60).toMillis();
    static final long OFFSET_MS = Duration.ofMinutes(50).toMillis();
    static final long LAG_MS = Duration.ofMinutes(10).toMillis();
    static final int VALUES_CAP = 1000;
    static final String[] EXCLUDE = {"8wekyb3d8bbwe", "cw5n1h2txyewy"};

    static final AtomicLong RECORDS = new AtomicLong();
    static final AtomicLong MATCHES = new AtomicLong();
    static final AtomicLong BAD = new AtomicLong();

    static final ObjectMapper JSON = new ObjectMapper();
    static final XMLInputFactory XML = XMLInputFactory.newInstance();
    static final DateTimeFormatter CTIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);
    static final DateTimeFormatter WINDOW = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    /** One matching event: what the aggregation needs. */
    record Match(long timeMs, String dvc, String eventCode, String userId, List<String> monikers) {}

    /** The state of one group in one window. */
    static final class Agg {
        String dvc, eventCode, userId;
        long count, first, last;
        boolean truncated;
        TreeSet<String> values = new TreeSet<>(Peer::compareCodePoints);

        Agg add(Match m) {
            if (count == 0) {
                dvc = m.dvc;
                eventCode = m.eventCode;
                userId = m.userId;
                first = last = m.timeMs;
            }
            first = Math.min(first, m.timeMs);
            last = Math.max(last, m.timeMs);
            count++;
            for (String v : m.monikers) {
                if (values.contains(v)) continue;
                values.add(v);
                if (values.size() > VALUES_CAP) { // keep the smallest, as msixguard does
                    values.pollLast();
                    truncated = true;
                }
            }
            return this;
        }
    }

    /** values() sorts by byte order of UTF-8, which is code point order. */
    static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    // ------------------------------------------------------------ parsing --

    /** Decodes a record in any of the three formats; null when it is not a match. */
    static Match parse(byte[] value) throws Exception {
        int k = 0;
        while (k < value.length && Character.isWhitespace(value[k])) k++;
        if (k < value.length && value[k] == '<') return parseXml(value);
        JsonNode n = JSON.readTree(value);
        if (n == null || !n.isObject()) throw new IllegalArgumentException("not a JSON object");
        if (n.has("_time") || n.has("TimeCreated") || !n.has("@timestamp")) return parseNormalized(n);
        return parseEcs(n);
    }

    static Match parseNormalized(JsonNode n) {
        JsonNode code = first(n, "EventCode", "EventID");
        if (!is855(code)) return null;
        List<String> pm = strings(n.get("PackageMoniker"));
        if (excluded(pm)) return null;
        String dvc = text(first(n, "dvc", "Computer")), user = text(first(n, "user_id", "UserID"));
        if (dvc == null || dvc.isEmpty() || user == null || user.isEmpty()) return null;
        return new Match(timeMs(first(n, "_time", "TimeCreated")), dvc, "855", user, pm);
    }

    static Match parseEcs(JsonNode n) {
        JsonNode w = n.path("winlog");
        if (!is855(w.get("event_id"))) return null;
        List<String> pm = strings(w.path("event_data").get("PackageMoniker"));
        if (excluded(pm)) return null;
        String dvc = text(w.get("computer_name"));
        if (dvc == null || dvc.isEmpty()) dvc = text(n.path("host").get("name"));
        String user = text(w.path("user").get("identifier"));
        if (dvc == null || dvc.isEmpty() || user == null || user.isEmpty()) return null;
        return new Match(timeMs(n.get("@timestamp")), dvc, "855", user, pm);
    }

    static Match parseXml(byte[] value) throws XMLStreamException {
        XMLStreamReader r = XML.createXMLStreamReader(new ByteArrayInputStream(value));
        String code = null, time = null, computer = null, user = null;
        List<String> pm = new ArrayList<>();
        try {
            while (r.hasNext()) {
                if (r.next() != XMLStreamConstants.START_ELEMENT) continue;
                switch (r.getLocalName()) {
                    case "EventID" -> code = r.getElementText().trim();
                    case "TimeCreated" -> time = r.getAttributeValue(null, "SystemTime");
                    case "Computer" -> computer = r.getElementText();
                    case "Security" -> user = r.getAttributeValue(null, "UserID");
                    case "Data" -> {
                        if ("PackageMoniker".equals(r.getAttributeValue(null, "Name"))) {
                            String v = r.getElementText();
                            if (!v.isEmpty()) pm.add(v);
                        }
                    }
                    default -> { }
                }
            }
        } finally {
            r.close();
        }
        if (!"855".equals(code) || excluded(pm)) return null;
        if (computer == null || computer.isEmpty() || user == null || user.isEmpty()) return null;
        return new Match(OffsetDateTime.parse(time).toInstant().toEpochMilli(), computer, "855", user, pm);
    }

    static JsonNode first(JsonNode n, String a, String b) {
        JsonNode v = n.get(a);
        return v != null && !v.isNull() ? v : n.get(b);
    }

    static boolean is855(JsonNode code) {
        if (code == null) return false;
        if (code.isNumber()) return code.isIntegralNumber() && code.asLong() == 855;
        if (code.isTextual()) {
            try {
                return Long.parseLong(code.asText().trim()) == 855;
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return false;
    }

    static String text(JsonNode n) {
        if (n == null || n.isNull() || n.isContainerNode()) return null;
        return n.asText();
    }

    static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) return out;
        if (n.isArray()) {
            for (JsonNode e : n) {
                String s = text(e);
                if (s != null && !s.isEmpty()) out.add(s);
            }
        } else {
            String s = text(n);
            if (s != null && !s.isEmpty()) out.add(s);
        }
        return out;
    }

    /** NOT PackageMoniker IN ("*8wekyb3d8bbwe*", "*cw5n1h2txyewy*"): any value, case-insensitive. */
    static boolean excluded(List<String> pm) {
        for (String v : pm) {
            String l = v.toLowerCase(Locale.ROOT);
            for (String x : EXCLUDE) if (l.contains(x)) return true;
        }
        return false;
    }

    static long timeMs(JsonNode t) {
        if (t == null) throw new IllegalArgumentException("no event time");
        if (t.isNumber()) return Math.round(t.asDouble() * 1000.0);
        return OffsetDateTime.parse(t.asText()).toInstant().toEpochMilli();
    }

    // ------------------------------------------------------------- serdes --

    static final Serde<Match> MATCH_SERDE = Serdes.serdeFrom(
            (Serializer<Match>) (topic, m) -> {
                ByteArrayOutputStream b = new ByteArrayOutputStream(128);
                try (DataOutputStream o = new DataOutputStream(b)) {
                    o.writeLong(m.timeMs);
                    o.writeUTF(m.dvc);
                    o.writeUTF(m.eventCode);
                    o.writeUTF(m.userId);
                    o.writeInt(m.monikers.size());
                    for (String v : m.monikers) o.writeUTF(v);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return b.toByteArray();
            },
            (Deserializer<Match>) (topic, data) -> {
                try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                    long t = in.readLong();
                    String d = in.readUTF(), c = in.readUTF(), u = in.readUTF();
                    int n = in.readInt();
                    List<String> pm = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) pm.add(in.readUTF());
                    return new Match(t, d, c, u, pm);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });

    static final Serde<Agg> AGG_SERDE = Serdes.serdeFrom(
            (Serializer<Agg>) (topic, a) -> {
                ByteArrayOutputStream b = new ByteArrayOutputStream(256);
                try (DataOutputStream o = new DataOutputStream(b)) {
                    o.writeLong(a.count);
                    if (a.count == 0) return b.toByteArray();
                    o.writeUTF(a.dvc);
                    o.writeUTF(a.eventCode);
                    o.writeUTF(a.userId);
                    o.writeLong(a.first);
                    o.writeLong(a.last);
                    o.writeBoolean(a.truncated);
                    o.writeInt(a.values.size());
                    for (String v : a.values) o.writeUTF(v);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return b.toByteArray();
            },
            (Deserializer<Agg>) (topic, data) -> {
                Agg a = new Agg();
                if (data == null) return a;
                try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                    a.count = in.readLong();
                    if (a.count == 0) return a;
                    a.dvc = in.readUTF();
                    a.eventCode = in.readUTF();
                    a.userId = in.readUTF();
                    a.first = in.readLong();
                    a.last = in.readLong();
                    a.truncated = in.readBoolean();
                    int n = in.readInt();
                    for (int i = 0; i < n; i++) a.values.add(in.readUTF());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return a;
            });

    // ------------------------------------------------------------- output --

    /** The risk message, field for field as msixguard writes it (without "packages"). */
    static String riskMessage(long windowStartMs, Agg a) {
        String ws = WINDOW.format(Instant.ofEpochMilli(windowStartMs));
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id(ws, a));
        o.put("kind", "final");
        o.put("rule_id", RULE_ID);
        o.put("search_name", SEARCH_NAME);
        o.put("window_start", ws);
        o.put("window_end", WINDOW.format(Instant.ofEpochMilli(windowStartMs + SIZE_MS)));
        o.put("dest", a.dvc);
        o.put("EventCode", Long.parseLong(a.eventCode));
        o.put("user_id", a.userId);
        o.put("count", a.count);
        o.put("firstTime", CTIME.format(Instant.ofEpochMilli(a.first)));
        o.put("lastTime", CTIME.format(Instant.ofEpochMilli(a.last)));
        ArrayNode pm = o.putArray("PackageMoniker");
        a.values.forEach(pm::add);
        if (a.truncated) o.put("PackageMoniker_truncated", true);
        o.put("risk_object", a.dvc);
        o.put("risk_object_type", "system");
        o.put("risk_score", 40);
        ArrayNode to = o.putArray("threat_object");
        a.values.forEach(to::add);
        o.put("threat_object_type", "file_name");
        o.put("risk_message", "A developer-signed MSIX package \"" + String.join(", ", a.values)
                + "\" was installed on " + a.dvc + " by user " + a.userId + ".");
        ArrayNode mitre = o.putArray("mitre_attack");
        mitre.add("T1553.005");
        mitre.add("T1204.002");
        o.put("detected_at", Instant.now().toString());
        return o.toString();
    }

    static String id(String windowStart, Agg a) {
        try {
            MessageDigest h = MessageDigest.getInstance("SHA-256");
            String s = RULE_ID + "|" + windowStart + "|" + a.dvc + "|" + Long.parseLong(a.eventCode) + "|" + a.userId;
            return HexFormat.of().formatHex(h.digest(s.getBytes(StandardCharsets.UTF_8))).substring(0, 32);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Length-prefixed group key, so no separator can make two groups collide. */
    static String groupKey(Match m) {
        return m.dvc.length() + ":" + m.dvc + m.eventCode.length() + ":" + m.eventCode + m.userId.length() + ":" + m.userId;
    }

    /** Parse, filter, re-key and stamp each record with its shifted event time. */
    static final class ParseFilter implements Processor<byte[], byte[], String, Match> {
        private ProcessorContext<String, Match> ctx;

        @Override
        public void init(ProcessorContext<String, Match> context) {
            ctx = context;
        }

        @Override
        public void process(Record<byte[], byte[]> rec) {
            RECORDS.incrementAndGet();
            if (rec.value() == null) return;
            Match m;
            try {
                m = parse(rec.value());
            } catch (Exception e) {
                BAD.incrementAndGet(); // a real app would dead-letter it; msixguard does
                return;
            }
            if (m == null) return;
            MATCHES.incrementAndGet();
            ctx.forward(new Record<>(groupKey(m), m, m.timeMs - OFFSET_MS));
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: Peer BOOTSTRAP INPUT_TOPIC OUTPUT_TOPIC APPLICATION_ID STATE_DIR THREADS");
            System.exit(2);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[3]);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(args[5]));
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        // msixguard commits every second (stage 2; stage 1 every 200 ms);
        // the Streams default (30 s) would also hold the record cache, and so
        // every final result, for up to 30 s.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
        // Fetch sizes stay at the consumer defaults (1 MiB per partition):
        // with msixguard's 16 MiB, one partition runs minutes of event time
        // ahead of the others while catching up, stream time (the maximum)
        // follows it, and the peer drops the others' records as late.
        // Durability: acks=all is the Streams default, as in msixguard.

        StreamsBuilder b = new StreamsBuilder();
        b.stream(args[1], Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .process(ParseFilter::new)
                .repartition(Repartitioned.with(Serdes.String(), MATCH_SERDE).withName("matches"))
                .groupByKey(Grouped.with(Serdes.String(), MATCH_SERDE))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(SIZE_MS), Duration.ofMillis(LAG_MS)))
                .aggregate(Agg::new, (k, m, a) -> a.add(m),
                        Materialized.<String, Agg, WindowStore<Bytes, byte[]>>as("groups")
                                .withKeySerde(Serdes.String()).withValueSerde(AGG_SERDE))
                .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName("until-close"))
                .toStream()
                .map((wk, a) -> KeyValue.pair(a.dvc, riskMessage(wk.window().start() + OFFSET_MS, a)))
                .to(args[2], Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams ks = new KafkaStreams(b.build(), p);
        CountDownLatch done = new CountDownLatch(1);
        ks.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING && before == KafkaStreams.State.REBALANCING) {
                System.out.println("READY " + System.currentTimeMillis());
                System.out.flush();
            }
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) done.countDown();
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // Records the windowed aggregation skipped as too late (stream
            // time already past window end + grace), read before closing.
            double dropped = 0;
            for (var e : ks.metrics().entrySet()) {
                if (e.getKey().name().equals("dropped-records-total") && e.getValue().metricValue() instanceof Double d) {
                    dropped += d;
                }
            }
            ks.close(Duration.ofSeconds(20));
            System.out.println("STATS records=" + RECORDS.get() + " matches=" + MATCHES.get() + " bad=" + BAD.get()
                    + " dropped_late=" + (long) dropped);
            System.out.flush();
        }));
        ks.start();
        done.await();
    }
}
