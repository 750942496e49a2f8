<?php
// composer require flix-tech/avro-php        (Avro encoding)
// pecl install rdkafka                      (php-rdkafka, the librdkafka binding)
require __DIR__ . '/vendor/autoload.php';

const REGISTRY = '{{registry_url}}';      // given by the province
const SUBJECT  = '{{subject}}';     // record full name (RecordNameStrategy)
const TOPIC    = '{{topic}}';   // your regency's ingress topic

// The schema exactly as the province registered it: the .avsc of this contract, unchanged.
$schemaJson = file_get_contents(__DIR__ . '/schemas/avro/{{family}}/{{event_type}}.avsc');

// 1. Look up its id once per process (POST /subjects/<subject> answers {"subject","version","id","schema"}).
function schemaId(string $schemaJson): int
{
    $ch = curl_init(REGISTRY . '/subjects/' . rawurlencode(SUBJECT));
    curl_setopt_array($ch, [
        CURLOPT_POST           => true,
        CURLOPT_HTTPHEADER     => ['Content-Type: application/vnd.schemaregistry.v1+json'],
        CURLOPT_POSTFIELDS     => json_encode(['schema' => $schemaJson]),
        CURLOPT_RETURNTRANSFER => true,
    ]);
    $body = curl_exec($ch);
    if (curl_getinfo($ch, CURLINFO_HTTP_CODE) !== 200) {
        throw new RuntimeException('schema lookup failed (is it the unchanged .avsc?): ' . $body);
    }
    return json_decode($body, true)['id'];
}
$schemaId = schemaId($schemaJson);

// 2. Encode: magic byte 0, 4-byte big-endian schema id, Avro binary body.
$datum = [
{{datum}}
];
$io = new AvroStringIO();
(new AvroIODatumWriter(AvroSchema::parse($schemaJson)))->write($datum, new AvroIOBinaryEncoder($io));
$value = pack('CN', 0, $schemaId) . $io->string();
$key = $datum['regency_code'] . ':' . $datum['case_id'];

// 3. Produce with acks=all and idempotence; a failed delivery is retried with the same event_id.
$conf = new RdKafka\Conf();
$conf->set('bootstrap.servers', '{{bootstrap}}');
$conf->set('security.protocol', 'SASL_SSL');
$conf->set('sasl.mechanisms', 'SCRAM-SHA-512');
$conf->set('sasl.username', getenv('SIMPUL_KAFKA_USERNAME'));     // given by the province
$conf->set('sasl.password', getenv('SIMPUL_KAFKA_PASSWORD'));
$conf->set('acks', 'all');
$conf->set('enable.idempotence', 'true');
$conf->setDrMsgCb(function (RdKafka\Producer $producer, RdKafka\Message $message): void {
    if ($message->err !== RD_KAFKA_RESP_ERR_NO_ERROR) {
        error_log('not delivered, send it again later: ' . rd_kafka_err2str($message->err));
    }
});
$producer = new RdKafka\Producer($conf);
$producer->newTopic(TOPIC)->producev(RD_KAFKA_PARTITION_UA, 0, $value, $key,
    ['{{event_type_header}}' => '{{event_type}}']);
for ($i = 0; $i < 30 && $producer->flush(1000) !== RD_KAFKA_RESP_ERR_NO_ERROR; $i++) {
    // wait for the broker's acknowledgement (acks=all) before reporting success
}
