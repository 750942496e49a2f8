<?php
// A regency system publishing over HTTP with nothing but php-cli and curl (Debian: apt-get install php-cli
// php-curl): one service request submitted and completed (two event types, fresh event ids), the same request
// sent again as a retry would (answered `duplicate`, not an error), then the outcome of each event read back.
//   SIMPUL_API_KEY=<your regency's key> php examples/php/publish.php

$gateway = getenv('SIMPUL_GATEWAY_URL') ?: 'http://127.0.0.1:18000';   // HTTPS on the province's gateway
$apiKey = getenv('SIMPUL_API_KEY');                                    // issued by the province for one regency
$regency = getenv('SIMPUL_REGENCY') ?: '3374';

/** One HTTP call to the gateway: [status, decoded JSON answer]. */
function call(string $method, string $url, string $apiKey, ?array $body = null): array
{
    $ch = curl_init($url);
    $headers = ['X-API-Key: ' . $apiKey, 'Accept: application/json'];
    if ($body !== null) {
        $headers[] = 'Content-Type: application/json';
        curl_setopt($ch, CURLOPT_POSTFIELDS, json_encode($body, JSON_UNESCAPED_SLASHES));
    }
    curl_setopt_array($ch, [CURLOPT_CUSTOMREQUEST => $method, CURLOPT_HTTPHEADER => $headers,
                            CURLOPT_RETURNTRANSFER => true, CURLOPT_TIMEOUT => 60]);
    $answer = curl_exec($ch);
    $status = $answer === false ? 0 : curl_getinfo($ch, CURLINFO_HTTP_CODE);   // 0: no answer (network)
    curl_close($ch);
    return [$status, $answer === false ? null : json_decode($answer, true)];
}

/** POST /v1/events until the gateway answers; a 503 or no answer is retried with the very same body. */
function publish(string $gateway, string $apiKey, array $events): array
{
    for ($attempt = 1; ; $attempt++) {
        [$status, $answer] = call('POST', $gateway . '/v1/events', $apiKey, ['events' => $events]);
        if ($status === 202) {
            return $answer;                       // every event is on the broker (or was already: `duplicate`)
        }
        if (($status === 0 || $status === 503) && $attempt < 5) {
            sleep($attempt);                      // same event ids: nothing is written twice
            continue;
        }
        // 400 body shape, 401 key, 403 another regency's event, 413 too large, 422 an invalid event
        fwrite(STDERR, "refused ($status): " . json_encode($answer) . "\n");
        exit(1);
    }
}

function uuid4(): string
{
    $b = random_bytes(16);
    $b[6] = chr(ord($b[6]) & 0x0f | 0x40);
    $b[8] = chr(ord($b[8]) & 0x3f | 0x80);
    return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($b), 4));
}

$utc = new DateTimeZone('UTC');
$submittedAt = (new DateTimeImmutable('-1 hour', $utc))->format('Y-m-d\TH:i:s.v\Z');
$completedAt = (new DateTimeImmutable('-30 minutes', $utc))->format('Y-m-d\TH:i:s.v\Z');
$caseId = "SR-$regency-" . uuid4();
$events = [
    ['event_type' => 'ServiceRequestSubmitted',
     'event_id' => uuid4(),                       // a new UUID per fact; the same one when you retry
     'regency_code' => $regency, 'source_system' => "siak-$regency", 'occurred_at' => $submittedAt,
     'case_id' => $caseId, 'service_code' => 'KTP_EL', 'channel' => 'COUNTER', 'office_code' => 'disdukcapil',
     'documents_complete' => true, 'fee_charged_idr' => 0,
     'applicant_nik' => $regency . '015502900001'],  // clear NIK: the gatekeeper tokenises it
    ['event_type' => 'ServiceRequestCompleted',
     'event_id' => uuid4(),
     'regency_code' => $regency, 'source_system' => "siak-$regency", 'occurred_at' => $completedAt,
     'case_id' => $caseId, 'service_code' => 'KTP_EL', 'channel' => 'COUNTER', 'outcome' => 'ISSUED',
     'submitted_at' => $submittedAt, 'fee_charged_idr' => 0],
];

// 1. Publish: 202 once the broker has every event.
foreach (publish($gateway, $apiKey, $events)['results'] as $r) {
    echo json_encode(['step' => 'publish'] + $r), "\n";
}
// 2. Retry (a timeout, a crash before you stored the answer): the same events are answered `duplicate`, with the
//    topic, partition and offset of the first copy, and nothing is written twice.
foreach (publish($gateway, $apiKey, $events)['results'] as $r) {
    echo json_encode(['step' => 'retry'] + $r), "\n";
}
// 3. Read back what the province did with each event: `received` until the gatekeeper has decided (seconds),
//    then `routed` (on the bus), `duplicate` or `rejected` (with reason and field in `outcomes`).
foreach ($events as $event) {
    for ($i = 0; $i < 60; $i++) {
        [$status, $answer] = call('GET', $gateway . '/v1/events/' . $event['event_id'], $apiKey);
        if ($status === 200 && $answer['status'] !== 'received') {
            break;
        }
        sleep(1);                                 // 404 or `received`: not decided yet
    }
    echo json_encode(['step' => 'outcome', 'event_id' => $event['event_id'], 'http' => $status,
                      'status' => $answer['status'] ?? null]), "\n";
}
