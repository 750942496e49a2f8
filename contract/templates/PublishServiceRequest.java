// Maven: org.apache.kafka:kafka-clients, org.apache.avro:avro, and io.confluent:kafka-avro-serializer
// (the last from the repository https://packages.confluent.io/maven/).
import io.confluent.kafka.serializers.KafkaAvroSerializer;
import io.confluent.kafka.serializers.subject.RecordNameStrategy;
import java.io.File;
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
import org.apache.kafka.common.serialization.StringSerializer;

public class PublishServiceRequest {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "{{bootstrap}}");
        props.put("security.protocol", "SASL_SSL");
        props.put("sasl.mechanism", "SCRAM-SHA-512");
        props.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + System.getenv("SIMPUL_KAFKA_USERNAME") + "\" password=\"" + System.getenv("SIMPUL_KAFKA_PASSWORD") + "\";");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, KafkaAvroSerializer.class);
        props.put("schema.registry.url", "{{registry_url}}");   // the ccompat base URL
        props.put("value.subject.name.strategy", RecordNameStrategy.class.getName());
        props.put("auto.register.schemas", false);   // the province registers the schemas
        props.put("use.latest.version", false);      // look up the id of the schema you encode with

        // The .avsc of this contract, unchanged (or classes generated from it by avro-maven-plugin).
        Schema schema = new Schema.Parser().parse(new File("schemas/avro/{{family}}/{{event_type}}.avsc"));
        GenericRecord event = new GenericData.Record(schema);
{{puts}}

        String topic = "{{topic}}";
        String key = event.get("regency_code") + ":" + event.get("case_id");
        try (KafkaProducer<String, Object> producer = new KafkaProducer<>(props)) {
            ProducerRecord<String, Object> record = new ProducerRecord<>(topic, key, event);
            record.headers().add("{{event_type_header}}", "{{event_type}}".getBytes(StandardCharsets.UTF_8));
            producer.send(record, (metadata, error) -> {
                if (error != null) {
                    // not delivered: keep the event and send it again later with the same event_id
                }
            });
            producer.flush();
        }
    }
}
