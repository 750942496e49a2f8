// A regency's producer with Apicurio's own serializer (io.apicurio:apicurio-registry-avro-serde-kafka, on Maven
// Central): it looks the schema up, frames the value and caches the id itself. Against Simpul's registry it
// works only with these settings: the core v3 API URL (the ccompat URL answers 404), QualifiedRecordIdStrategy
// (the artifact is the record's full name), auto-register=false (the province registers the schemas),
// dereference-schema=true and canonicalize=true (the lookup matches the registered schema by its canonical form).
// Run: java -cp target/classes:$(cat target/classpath.txt) id.go.jatengprov.simpul.examples.ApicurioSerdeProducer
package id.go.jatengprov.simpul.examples;

import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.apicurio.registry.serde.avro.strategy.QualifiedRecordIdStrategy;
import io.apicurio.registry.serde.config.SerdeConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Properties;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class ApicurioSerdeProducer {
    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    /** The schema the province registered, from the core v3 API: artifact = record full name, group `default`. */
    static Schema latest(String registryV3, String eventType) throws Exception {
        String url = registryV3 + "/groups/default/artifacts/id.go.jatengprov.simpul." + eventType
                + "/versions/branch=latest/content";
        HttpResponse<String> answer = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        if (answer.statusCode() != 200) {
            throw new IllegalStateException("registry answered " + answer.statusCode() + " for " + url);
        }
        return new Schema.Parser().parse(answer.body());
    }

    public static void main(String[] args) throws Exception {
        String registryV3 = env("SIMPUL_REGISTRY_V3_URL", "http://127.0.0.1:18080/apis/registry/v3");
        String regency = env("SIMPUL_REGENCY", "3374");
        String topic = env("SIMPUL_TOPIC_PREFIX", "jateng") + ".ingress." + regency;

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
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, AvroKafkaSerializer.class);
        props.put(SerdeConfig.REGISTRY_URL, registryV3);                                   // the core v3 API
        props.put(SerdeConfig.ARTIFACT_RESOLVER_STRATEGY, QualifiedRecordIdStrategy.class.getName());
        props.put(SerdeConfig.AUTO_REGISTER_ARTIFACT, false);
        props.put(SerdeConfig.DEREFERENCE_SCHEMA, true);
        props.put(SerdeConfig.CANONICALIZE, true);

        Schema submitted = latest(registryV3, "ServiceRequestSubmitted");
        Schema completed = latest(registryV3, "ServiceRequestCompleted");
        try (KafkaProducer<String, Object> producer = new KafkaProducer<>(props)) {
            String caseId = "SR-" + regency + "-" + UUID.randomUUID();
            Instant at = Instant.now().minusSeconds(3600);

            GenericRecord request = new GenericData.Record(submitted);
            request.put("event_id", UUID.randomUUID().toString());   // a new UUID per fact; reuse it on retry
            request.put("regency_code", regency);
            request.put("source_system", "siak-" + regency);
            request.put("occurred_at", at.toEpochMilli());           // timestamp-millis: epoch milliseconds, UTC
            request.put("case_id", caseId);
            request.put("service_code", "KTP_EL");
            request.put("channel", new GenericData.EnumSymbol(submitted.getField("channel").schema(), "ONLINE"));
            request.put("office_code", "disdukcapil");
            request.put("documents_complete", true);
            request.put("fee_charged_idr", 0L);
            request.put("applicant_nik", regency + "015502900001");  // clear NIK: allowed on ingress only

            GenericRecord done = new GenericData.Record(completed);
            done.put("event_id", UUID.randomUUID().toString());
            done.put("regency_code", regency);
            done.put("source_system", "siak-" + regency);
            done.put("occurred_at", at.plusSeconds(1800).toEpochMilli());
            done.put("case_id", caseId);
            done.put("service_code", "KTP_EL");
            done.put("channel", new GenericData.EnumSymbol(completed.getField("channel").schema(), "ONLINE"));
            done.put("outcome", new GenericData.EnumSymbol(completed.getField("outcome").schema(), "ISSUED"));
            done.put("submitted_at", at.toEpochMilli());
            done.put("fee_charged_idr", 0L);

            for (GenericRecord event : new GenericRecord[] {request, done}) {
                String eventType = event.getSchema().getName();
                ProducerRecord<String, Object> record = new ProducerRecord<>(topic, regency + ":" + caseId, event);
                record.headers().add("simpul.event_type", eventType.getBytes(StandardCharsets.UTF_8));
                // get() waits for acks=all; if it throws, send the same event (same event_id) again later
                RecordMetadata acked = producer.send(record).get();
                System.out.printf("{\"event_id\": \"%s\", \"event_type\": \"%s\", \"topic\": \"%s\", \"partition\": %d, "
                        + "\"offset\": %d}%n", event.get("event_id"), eventType, acked.topic(), acked.partition(),
                        acked.offset());
            }
        }
    }
}
