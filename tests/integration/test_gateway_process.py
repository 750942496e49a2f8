"""The gateway as it runs in production: `simpul gateway` in its own process on a free port, against the running
platform, its state folder and secrets as an installation has them.

- A 100 MB body costs bounded memory: without a key it is answered 401 before any of it is read, with a key 413 as
  soon as the byte limit is crossed (declared by Content-Length, chunked, or a Content-Length that lies). The
  gateway's memory is VmRSS of /proc/<pid>/status, sampled while the request runs; the test streams the body
  from one 1 MiB buffer, so it never holds 100 MB either.
- No raw NIK of a request reaches anything the gateway writes: its answers, its database file, its log output.
- `--tls-cert/--tls-key` serve HTTPS, checked against the test's own certificate authority.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
import pytest

import harness as h
from schemas.examples import example
from simpul import bootstrap
from simpul.settings import Settings
from simpul.platform.probes import free_port_block

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
HUGE = 100 * MIB
RSS_BOUND = 20 * MIB
NIK_RUN = re.compile(rb"[0-9]{16}")


# ---- the process --------------------------------------------------------------------------------------------------

@dataclass
class GatewayProcess:
    proc: subprocess.Popen[bytes]
    port: int
    state: Path
    log: Path
    scheme: str = "http"

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def rss(self) -> int:
        """Resident memory of the gateway process in bytes (VmRSS)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc status")

    def output(self) -> bytes:
        return self.log.read_bytes()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)



def _env(settings: Settings, state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update({"SIMPUL_KAFKA_BOOTSTRAP": settings.kafka.bootstrap, "SIMPUL_REGISTRY_URL": settings.registry,
                "SIMPUL_TOPIC_PREFIX": settings.topic_prefix,
                "SIMPUL_PROVIDER": "external", "SIMPUL_STATE_DIR": str(state),
                "SIMPUL_SECRETS_DIR": str(settings.secrets_folder.resolve()), "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1", **extra})
    return env


def _cli(settings: Settings, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simpul", *args], env=_env(settings, state), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)


def start_gateway(settings: Settings, state: Path, *args: str, scheme: str = "http",
                  verify: ssl.SSLContext | bool = True, env: dict[str, str] | None = None) -> GatewayProcess:
    port = free_port_block(1)[0]
    log = state / f"gateway-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "simpul", "gateway", "--port", str(port), *args],
                                env=_env(settings, state, **(env or {})), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    gw = GatewayProcess(proc, port, state, log, scheme)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {proc.returncode}:\n{gw.output().decode()[-3000:]}")
        try:
            return httpx.get(f"{gw.base}/healthz", timeout=2, verify=verify).status_code == 200
        except httpx.HTTPError:
            return False

    h.wait_for("the gateway", up, timeout=90, every=0.3)
    return gw


@pytest.fixture(scope="module")
def gw_settings(settings: Settings) -> Iterator[Settings]:
    s = settings.model_copy(update={"topic_prefix": f"gp{uuid.uuid4().hex[:8]}"})
    bootstrap.provision(s)
    yield s
    h.delete_topics(settings, s.topic_prefix)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway-state")


def issue_key(settings: Settings, state: Path, regency: str = "3374") -> str:
    issued = json.loads(_cli(settings, state, "keys", "create", "--regency", regency, "--json").stdout)
    return str(issued["api_key"])


@pytest.fixture(scope="module")
def key(gw_settings: Settings, state: Path) -> str:
    return issue_key(gw_settings, state)


@pytest.fixture(scope="module")
def gateway(gw_settings: Settings, state: Path, key: str) -> Iterator[GatewayProcess]:
    gw = start_gateway(gw_settings, state, "--log-level", "debug")
    try:
        # warm-up: the paths the measured requests take (key lookup, refusal answers, a real publish)
        assert httpx.post(f"{gw.base}/v1/events", json={}, timeout=30).status_code == 401
        assert httpx.post(f"{gw.base}/v1/events", json=_event(), headers={"X-API-Key": key},
                          timeout=60).status_code == 202
        yield gw
    finally:
        gw.stop()


def _event(regency: str = "3374", **overrides: object) -> dict[str, object]:
    e = example("ServiceRequestSubmitted", regency_code=regency, event_id=uuid.uuid4(),
                case_id=f"SR-{uuid.uuid4().hex[:8]}")
    return {"event_type": "ServiceRequestSubmitted", **e.model_dump(mode="json"), **overrides}


# ---- a 100 MB request over a raw socket ---------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int
    rss_before: int
    rss_peak: int
    rss_after: int
    raw: bytes = field(repr=False, default=b"")

    @property
    def growth(self) -> int:
        return max(self.rss_peak, self.rss_after) - self.rss_before


def post_huge(gw: GatewayProcess, *, key: str | None, framing: str, total: int = HUGE) -> Answer:
    """POST `total` bytes of JSON whitespace to /v1/events while sampling the gateway's RSS.

    framing: `length` (an honest Content-Length), `chunked` (no Content-Length) or `lie` (Content-Length: 1024,
    then `total` bytes). The sender stops when the gateway closes the connection; a reader thread collects the
    answer meanwhile (the gateway answers before it has read the body)."""
    time.sleep(0.5)  # let the warm-up's allocations settle
    before = gw.rss()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], gw.rss())
            except (OSError, AssertionError):
                return
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sock = socket.create_connection(("127.0.0.1", gw.port), timeout=60)
    received = bytearray()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                received.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    head = ["POST /v1/events HTTP/1.1", f"Host: 127.0.0.1:{gw.port}", "Content-Type: application/json"]
    if key is not None:
        head.append(f"X-API-Key: {key}")
    head.append({"length": f"Content-Length: {total}", "lie": "Content-Length: 1024",
                 "chunked": "Transfer-Encoding: chunked"}[framing])
    chunk = memoryview(b" " * MIB)
    framed = (b"%x\r\n" % MIB + bytes(chunk) + b"\r\n") if framing == "chunked" else chunk
    sent = 0
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        while sent < total:
            sock.sendall(framed)
            sent += MIB
        if framing == "chunked":
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the gateway answered and closed the connection: the rest of the body is never read
    reader.join(60)
    sock.close()
    time.sleep(0.3)
    stop.set()
    sampler.join(5)
    after = gw.rss()
    raw = bytes(received)
    assert raw.startswith(b"HTTP/1.1 "), (raw[:200], sent)
    head_text, _, body = raw.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", len(body)))
    return Answer(int(lines[0].split()[1]), headers, body[:length], sent, before, peak[0], after, raw)


def _report(what: str, a: Answer) -> None:
    print(f"{what}: {a.status} after {a.sent / MIB:.0f} MiB sent; RSS {a.rss_before / MIB:.1f} MiB before, "
          f"peak {a.rss_peak / MIB:.1f}, after {a.rss_after / MIB:.1f} (growth {a.growth / MIB:.1f} MiB)")


def test_unkeyed_100mb_body_is_401_before_it_is_read(gateway: GatewayProcess) -> None:
    for framing in ("length", "chunked"):
        a = post_huge(gateway, key=None, framing=framing)
        _report(f"no key, {framing}", a)
        assert a.status == 401, a.raw[:500]
        assert json.loads(a.body)["error"] == "unauthorized"
        assert a.headers.get("connection") == "close"
        assert a.growth < RSS_BOUND
        assert a.sent < HUGE  # the connection was closed before the body was through: it was never read
    bad_key = post_huge(gateway, key="smp_3374_00000000_" + "x" * 43, framing="chunked")
    assert bad_key.status == 401 and bad_key.growth < RSS_BOUND and bad_key.sent < HUGE


def test_keyed_100mb_body_is_413_at_the_limit(gateway: GatewayProcess, key: str) -> None:
    for framing in ("length", "chunked"):
        a = post_huge(gateway, key=key, framing=framing)
        _report(f"valid key, {framing}", a)
        assert a.status == 413, a.raw[:500]
        body = json.loads(a.body)
        assert body["error"] == "payload_too_large" and "bytes" in body["message"]
        assert a.headers.get("connection") == "close"
        assert a.growth < RSS_BOUND
        assert a.sent < HUGE


def test_a_content_length_that_lies_costs_bounded_memory(gateway: GatewayProcess, key: str) -> None:
    """Content-Length: 1024 followed by 100 MB: the 1,024 bytes are the request (not JSON: 400); what follows is
    no HTTP request, and the server gives up on it after its 16 KiB header limit and closes the connection."""
    a = post_huge(gateway, key=key, framing="lie")
    _report("valid key, lying Content-Length", a)
    assert a.status == 400, a.raw[:500]
    assert a.raw.count(b"HTTP/1.1 400") == 2 and b"Invalid HTTP request received." in a.raw
    assert a.growth < RSS_BOUND
    assert a.sent < HUGE


# ---- no raw NIK in what the gateway writes -------------------------------------------------------------------------

def _nik(rng: random.Random) -> str:
    return "3374" + "".join(rng.choice("0123456789") for _ in range(12))


def test_no_nik_in_answers_database_or_log(gw_settings: Settings, tmp_path: Path) -> None:
    """Events carrying NIKs, valid and not, in NIK fields and where no NIK belongs: no 16-digit NIK of a request
    comes back in an answer, lands in the gateway's database files, or in its log (run at debug level)."""
    key = issue_key(gw_settings, tmp_path)
    gateway = start_gateway(gw_settings, tmp_path, "--log-level", "debug")
    rng = random.Random(uuid.uuid4().int)
    niks: list[str] = []

    def nik() -> str:
        niks.append(_nik(rng))
        return niks[-1]

    accepted = _event(applicant_nik=nik())
    complaint = {"event_type": "ComplaintFiled", **example("ComplaintFiled", regency_code="3374",
                                                         event_id=uuid.uuid4()).model_dump(mode="json")}
    bodies: list[object] = [
        accepted,  # a valid raw NIK: accepted (it may reach the ingress topic, nothing else)
        {**accepted, "fee_charged_idr": 5000},  # the same event_id with other content: 422 on event_id
        _event(applicant_nik=nik() + "7"),  # 17 digits
        _event(applicant_nik=" " + nik()),
        _event(applicant_nik="nik:" + nik()),  # shaped like a token
        _event(applicant_nik=int(nik())),  # a number, not a string
        _event(regency_code=nik()),  # a NIK where a reference code belongs: its reason must not quote it
        _event(service_code=nik()),
        _event(**{nik(): "extra"}),  # a NIK as a field name
        {**_event(), "event_type": nik()},
        {**complaint, "anonymous": True, "reporter_nik": nik()},
        {"events": [_event(), _event(applicant_nik=nik(), fee_charged_idr=-1)]},
        {"events": [_event("3301", applicant_nik=nik())]},  # another regency's event: 403
    ]
    answers = []
    with httpx.Client(base_url=gateway.base, headers={"X-API-Key": key}, timeout=60) as client:
        for body in bodies:
            answers.append(client.post("/v1/events", json=body))
        answers.append(client.post("/v1/events", content=f'{{"applicant_nik": "{nik()}", '.encode(),
                                   headers={"Content-Type": "application/json"}))  # not JSON: 400
        answers.append(client.post("/v1/events", json=_event(applicant_nik=nik()),
                                   headers={"X-API-Key": f"smp_3374_{nik()}_x"}))  # a key made of a NIK: 401
        # a NIK in the URL: the access log repeats path and query string
        answers.append(client.post(f"/v1/events?applicant_nik={nik()}", json=_event()))
        answers.append(client.get(f"/v1/citizens/{nik()}"))
    statuses = [a.status_code for a in answers]
    assert statuses[0] == 202 and statuses[1] == 422 and statuses[-4:] == [400, 401, 202, 404], statuses
    assert all(s in (202, 400, 401, 403, 404, 422) for s in statuses), statuses
    for a in answers[1:]:
        if a.status_code == 422:
            assert all(p["field"] and p["reason"] for p in a.json()["problems"]), a.text
    named = {p["field"] for a in answers if a.status_code == 422 for p in a.json()["problems"]}
    assert {"applicant_nik", "regency_code", "service_code", "event_type", "event_id", "reporter_nik"} <= named

    gateway.stop()  # the database and the log as they stay on disk
    written = {"answers": b"\n".join(a.content + str(a.headers).encode() for a in answers),
               "log": gateway.output(),
               "database": b"".join(p.read_bytes() for p in gateway.state.glob("gateway.sqlite*"))}
    assert written["database"] and b"gateway on http" in written["log"]
    assert b'"GET /v1/citizens/3374' in written["log"]  # the access log was on: the check could see a NIK there
    for what, data in written.items():
        found = sorted({n for n in niks if n.encode() in data})
        assert not found, f"raw NIKs in the gateway's {what}: {found}"


# ---- HTTPS ---------------------------------------------------------------------------------------------------------

def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A certificate authority of the test's own and a server certificate it signed for 127.0.0.1/localhost:
    (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Simpul test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simpul-gateway")]))
              .issuer_name(ca_name).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
              .not_valid_after(now + timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                          x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    ca_pem, cert_pem, key_pem = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_pem.touch(mode=0o600)
    key_pem.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return ca_pem, cert_pem, key_pem


@pytest.mark.parametrize("given_by", ["options", "settings"])
def test_https_with_the_installations_certificate(gw_settings: Settings, tmp_path: Path, given_by: str) -> None:
    """`--tls-cert/--tls-key` (or SIMPUL_GATEWAY_TLS_CERT/KEY) serve HTTPS; a client that trusts the test's CA
    reaches /healthz and publishes; one that does not is refused at the handshake; plain HTTP gets no answer."""
    ca, cert, private = _certificates(tmp_path)
    trust = ssl.create_default_context(cafile=str(ca))
    key = issue_key(gw_settings, tmp_path)
    args = ("--tls-cert", str(cert), "--tls-key", str(private)) if given_by == "options" else ()
    env = {"SIMPUL_GATEWAY_TLS_CERT": str(cert), "SIMPUL_GATEWAY_TLS_KEY": str(private)} if given_by == "settings" \
        else None
    gw = start_gateway(gw_settings, tmp_path, *args, scheme="https", verify=trust, env=env)
    try:
        assert b"gateway on https://" in gw.output()
        health = httpx.get(f"{gw.base}/healthz", verify=trust, timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.url.scheme == "https"
        published = httpx.post(f"{gw.base}/v1/events", json=_event(), headers={"X-API-Key": key}, verify=trust,
                               timeout=60)
        assert published.status_code == 202, published.text
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{gw.base}/healthz", timeout=10)  # the system's CAs do not know the test's CA
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{gw.port}/healthz", timeout=10)
    finally:
        gw.stop()
