"""Readiness probes: a service counts as up only when it answers its own protocol."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable

import httpx
from confluent_kafka.admin import AdminClient

from simpul.platform.exceptions import PortTaken, ServiceNotReady


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    """True when we could bind host:port ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


PRIVATE_PORTS_FROM = 30_000
"""Private platforms and test servers listen at or above this port and below the kernel's ephemeral range: a port
in that range can be taken, between our check and our bind, by any outgoing connection (Kafka's own brokers make
them all the time), so a broker of a private cluster once failed to start on a port its neighbour connected from."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(v) for v in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default
    return low, high


def free_port_block(n: int, *, consecutive: bool = True) -> list[int]:
    """`n` loopback ports free now, outside the kernel's ephemeral range (see PRIVATE_PORTS_FROM); consecutive
    ones when a platform numbers its nodes from a base port."""
    low, high = _ephemeral_range()
    spans = [(a, b) for a, b in ((PRIVATE_PORTS_FROM, low), (max(high + 1, PRIVATE_PORTS_FROM), 65_536)) if b - a >= n]
    if not spans:
        raise PortTaken(f"no room for {n} ports outside the ephemeral range {low}-{high}: narrow "
                        "net.ipv4.ip_local_port_range")
    for _ in range(500):
        a, b = random.choice(spans)
        if consecutive:
            base = random.randrange(a, b - n + 1)
            ports = list(range(base, base + n))
        else:
            ports = random.sample(range(a, b), n)
        if all(port_free("127.0.0.1", p) for p in ports):
            return ports
    raise PortTaken(f"no {n} free loopback ports between {PRIVATE_PORTS_FROM} and {low}: stop the platforms "
                    "left over from earlier runs (`simpul platform down` in their state folders)")


def kafka_answers(bootstrap: str, conf: dict[str, object] | None = None, timeout: float = 3.0) -> bool:
    """True when the broker returns cluster metadata with at least one broker."""
    if not port_open(*_host_port(bootstrap.split(",")[0])):
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, **(conf or {}), "log_level": 0})
    try:
        md = admin.list_topics(timeout=timeout)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False
    return len(md.brokers) > 0


def kafka_brokers(bootstrap: str, conf: dict[str, object] | None = None, timeout: float = 3.0) -> int:
    """How many brokers the cluster metadata names (0 when nothing answers, or authentication fails)."""
    if not any(port_open(*_host_port(addr)) for addr in bootstrap.split(",")):
        return 0
    admin = AdminClient({"bootstrap.servers": bootstrap, **(conf or {}), "log_level": 0})
    try:
        return len(admin.list_topics(timeout=timeout).brokers)
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return 0


def registry_answers(url: str, timeout: float = 2.0) -> bool:
    """True when the Confluent-compatible API lists subjects."""
    try:
        r = httpx.get(f"{url.rstrip('/')}/subjects", timeout=timeout)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and isinstance(r.json(), list)


def postgres_answers(url: str, timeout: float = 2.0) -> bool:
    """True when `select 1` runs."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout))) as conn:
            return conn.execute("select 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def postgres_accepts(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when the server accepts connections, whoever asks (libpq's ping: no login, so no role or password
    is needed to tell a running server from a stopped one)."""
    from psycopg import pq

    conninfo = f"host={host} port={port} dbname=postgres user=ping connect_timeout={max(1, int(timeout))}"
    return pq.PGconn.ping(conninfo.encode()) == pq.Ping.OK


def wait_until(name: str, check: Callable[[], bool], deadline_s: float, log_hint: str,
               alive: Callable[[], bool] = lambda: True) -> None:
    """Poll `check` until it holds; fail early if the process died, late with a pointer to its log."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        if not alive():
            raise ServiceNotReady(f"{name} exited during start-up; see {log_hint}")
        time.sleep(0.25)
    raise ServiceNotReady(f"{name} did not answer within {deadline_s:.0f} s; see {log_hint}")


def _host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host or "127.0.0.1", int(port)
