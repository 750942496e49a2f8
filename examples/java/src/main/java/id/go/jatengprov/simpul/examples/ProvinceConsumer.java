// A province service reading a canonical topic with kafka-clients and Apache Avro: each value names its writer
// schema by id (Confluent wire format); the schema is fetched from the registry once per id and cached. Offsets
// are committed only after the records are handled (at-least-once: a restart may hand a record over again, so
// handle by event_id, idempotently).
// Run: java -cp target/classes:$(cat target/classpath.txt) id.go.jatengprov.simpul.examples.ProvinceConsumer [max events]
package id.go.jatengprov.simpul.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ProvinceConsumer {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();
    static final Map<Integer, Schema> WRITERS = new HashMap<>();

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    /** GET {registry}/schemas/ids/<id>: the writer schema of a value, fetched once per id. */
    static Schema writer(String registry, int id) throws Exception {
        Schema cached = WRITERS.get(id);
        if (cached != null) {
            return cached;
        }
        HttpResponse<String> answer = HTTP.send(
                HttpRequest.newBuilder(URI.create(registry + "/schemas/ids/" + id)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            throw new IllegalStateException("registry answered " + answer.statusCode() + " for schema id " + id);
        }
        Schema schema = new Schema.Parser().parse(JSON.readTree(answer.body()).get("schema").asText());
        WRITERS.put(id, schema);
        return schema;
    }

    /** Magic byte 0, the writer schema's id (4 bytes, big-endian), then the Avro binary body. */
    static GenericRecord decode(String registry, byte[] value) throws Exception {
        ByteBuffer buffer = ByteBuffer.wrap(value);
        if (value.length < 5 || buffer.get() != 0) {
            throw new IllegalArgumentException("not in the Confluent wire format");
        }
        Schema schema = writer(registry, buffer.getInt());
        return new GenericDatumReader<GenericRecord>(schema)
                .read(null, DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null));
    }

    /** What this service does with one event; here: print it. Make it idempotent by event_id. */
    static void handle(GenericRecord event) {
        System.out.println("{\"event_type\": \"" + event.getSchema().getName() + "\", \"event\": " + event + "}");
    }

    public static void main(String[] args) throws Exception {
        String registry = env("SIMPUL_REGISTRY_URL", "http://127.0.0.1:18080/apis/ccompat/v7");
        String topic = env("SIMPUL_TOPIC_PREFIX", "jateng") + ".events.governance";
        int maxEvents = args.length > 0 ? Integer.parseInt(args[0]) : Integer.MAX_VALUE;
        Duration idle = Duration.ofSeconds(Long.parseLong(env("SIMPUL_IDLE_SECONDS", "60")));

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, env("SIMPUL_KAFKA_BOOTSTRAP", "127.0.0.1:19092"));
        String username = System.getenv("SIMPUL_KAFKA_USERNAME");
        if (username != null) {
            // The province's cluster: TLS and a SCRAM-SHA-512 user that may read this topic and use this group.
            props.put("security.protocol", "SASL_SSL");
            props.put("sasl.mechanism", "SCRAM-SHA-512");
            props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                    + username + "\" password=\"" + System.getenv("SIMPUL_KAFKA_PASSWORD") + "\";");
        } // else the local trial (`simpul platform up --plain`): PLAINTEXT, nothing to set
        props.put(ConsumerConfig.GROUP_ID_CONFIG, env("SIMPUL_GROUP_ID", "province-example"));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);     // commit after handling, not before
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);

        int handled = 0;
        Instant lastRecord = Instant.now();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(topic));
            while (handled < maxEvents && Duration.between(lastRecord, Instant.now()).compareTo(idle) < 0) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofSeconds(1));
                for (ConsumerRecord<String, byte[]> record : records) {
                    handle(decode(registry, record.value()));
                    handled++;
                    lastRecord = Instant.now();
                }
                if (!records.isEmpty()) {
                    consumer.commitSync();   // everything polled is handled: now, and only now, commit
                }
            }
        }
    }
}
