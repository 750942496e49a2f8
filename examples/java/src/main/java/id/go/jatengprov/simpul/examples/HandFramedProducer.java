// A regency's producer with nothing but kafka-clients and Apache Avro (both on Maven Central): it asks the
// registry for the schema and its id, encodes with Avro and frames the value itself (Confluent wire format).
// Run: java -cp target/classes:$(cat target/classpath.txt) id.go.jatengprov.simpul.examples.HandFramedProducer
package id.go.jatengprov.simpul.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class HandFramedProducer {
    static final String NAMESPACE = "id.go.jatengprov.simpul";
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();

    /** A registered schema: its id (the 4 bytes after the magic byte) and the parsed schema. */
    record Registered(int id, Schema schema) {}

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    /** GET {registry}/subjects/<record full name>/versions/latest: the schema the province registered, and its id. */
    static Registered latest(String registry, String eventType) throws Exception {
        String subject = URLEncoder.encode(NAMESPACE + "." + eventType, StandardCharsets.UTF_8);
        HttpResponse<String> answer = HTTP.send(
                HttpRequest.newBuilder(URI.create(registry + "/subjects/" + subject + "/versions/latest")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            throw new IllegalStateException("registry answered " + answer.statusCode() + " for " + subject + ": " + answer.body());
        }
        JsonNode body = JSON.readTree(answer.body());
        return new Registered(body.get("id").asInt(), new Schema.Parser().parse(body.get("schema").asText()));
    }

    /** The Confluent wire format: magic byte 0, the schema id as 4 bytes big-endian, the Avro binary body. */
    static byte[] frame(Registered writer, GenericRecord event) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(writer.id()).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(writer.schema()).write(event, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    static Properties kafka() {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, env("SIMPUL_KAFKA_BOOTSTRAP", "127.0.0.1:19092"));
        String username = System.getenv("SIMPUL_KAFKA_USERNAME");
        if (username != null) {
            // The province's cluster: TLS and a SCRAM-SHA-512 user that may write your ingress topic. Add
            // ssl.truststore.location/password if its CA is not a public one.
            props.put("security.protocol", "SASL_SSL");
            props.put("sasl.mechanism", "SCRAM-SHA-512");
            props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                    + username + "\" password=\"" + System.getenv("SIMPUL_KAFKA_PASSWORD") + "\";");
        } // else the local trial (`simpul platform up --plain`): PLAINTEXT, nothing to set
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return props;
    }

    static Object symbol(Schema schema, String field, String value) {
        return new GenericData.EnumSymbol(schema.getField(field).schema(), value);
    }

    /** Send one event under the key `<regency_code>:<case_id>` and wait for the broker's acknowledgement. */
    static void send(KafkaProducer<String, byte[]> producer, String topic, Registered writer, GenericRecord event)
            throws Exception {
        String eventType = event.getSchema().getName();
        String key = event.get("regency_code") + ":" + event.get("case_id");   // one case: one partition, in order
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic, key, frame(writer, event));
        record.headers().add("simpul.event_type", eventType.getBytes(StandardCharsets.UTF_8));
        // get() waits for acks=all; if it throws, send the same event (same event_id) again later
        RecordMetadata acked = producer.send(record).get();
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("event_id", event.get("event_id").toString());
        line.put("event_type", eventType);
        line.put("topic", acked.topic());
        line.put("partition", acked.partition());
        line.put("offset", acked.offset());
        System.out.println(JSON.writeValueAsString(line));
    }

    public static void main(String[] args) throws Exception {
        String registry = env("SIMPUL_REGISTRY_URL", "http://127.0.0.1:18080/apis/ccompat/v7");
        String regency = env("SIMPUL_REGENCY", "3374");
        String topic = env("SIMPUL_TOPIC_PREFIX", "jateng") + ".ingress." + regency;
        Registered submitted = latest(registry, "ServiceRequestSubmitted");
        Registered completed = latest(registry, "ServiceRequestCompleted");

        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka())) {
            for (int n = 1; n <= 2; n++) {
                String caseId = "SR-" + regency + "-" + UUID.randomUUID();
                Instant at = Instant.now().minusSeconds(3600);

                GenericRecord request = new GenericData.Record(submitted.schema());
                request.put("event_id", UUID.randomUUID().toString());  // a new UUID per fact; reuse it on retry
                request.put("regency_code", regency);
                request.put("source_system", "siak-" + regency);
                request.put("occurred_at", at.toEpochMilli());          // timestamp-millis: epoch milliseconds, UTC
                request.put("case_id", caseId);
                request.put("service_code", "KTP_EL");
                request.put("channel", symbol(submitted.schema(), "channel", "MPP"));
                request.put("office_code", "disdukcapil");
                request.put("documents_complete", true);
                request.put("fee_charged_idr", 0L);
                request.put("applicant_nik", regency + "015502900001"); // clear NIK: allowed on ingress only

                GenericRecord done = new GenericData.Record(completed.schema());
                done.put("event_id", UUID.randomUUID().toString());
                done.put("regency_code", regency);
                done.put("source_system", "siak-" + regency);
                done.put("occurred_at", at.plusSeconds(1800).toEpochMilli());
                done.put("case_id", caseId);
                done.put("service_code", "KTP_EL");
                done.put("channel", symbol(completed.schema(), "channel", "MPP"));
                done.put("outcome", symbol(completed.schema(), "outcome", "ISSUED"));
                done.put("submitted_at", at.toEpochMilli());
                done.put("fee_charged_idr", 0L);

                send(producer, topic, submitted, request);              // in order: submitted, then completed
                send(producer, topic, completed, done);
            }
        }
    }
}
