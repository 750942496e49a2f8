"""(c) Gateway ingest: `simpul gateway` in its own process, the planned events POSTed in batches of 500
(`send_http`, one client, one request at a time, each answered 202 only after the broker acknowledged it)."""

from __future__ import annotations


import httpx

from bench import env
from bench.cases import Context, wait_until
from producers.gateway.store import GatewayStore
from producers.simulator.send import send_http
from schemas.reference import regency_codes
from simpul.platform.probes import free_port_block



def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def run(ctx: Context, rep: int) -> dict[str, float]:
    with env.fresh_prefix(ctx.settings, "gw") as s:
        state = ctx.workdir / f"gateway-{rep}"
        state.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{(state / 'gateway.sqlite').resolve()}"
        store = GatewayStore(db)
        keys = {code: store.create_key(code, "bench").secret for code in sorted(regency_codes())}
        store.engine.dispose()
        port = free_port_block(1)[0]
        child = env.spawn(f"gateway-{rep}", ["-m", "simpul", "gateway", "--port", str(port)],
                          env.child_env(s, SIMPUL_GATEWAY_DB_URL=db, SIMPUL_STATE_DIR=str(state),
                                        SIMPUL_SECRETS_DIR=str(s.secrets_folder.resolve())), ctx.workdir)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _up(base + "/healthz") or not child.alive(), 120, "the gateway did not answer")
            if not child.alive():
                raise RuntimeError(f"gateway exited:\n{child.output()[-3000:]}")
            # warm-up: one small batch (schema ids, connections), then the timed run on the others
            warm, timed = ctx.records.planned[:50], ctx.records.planned[50:]
            send_http(warm, base_url=base, api_keys=keys, show_progress=False)
            report = send_http(timed, base_url=base, api_keys=keys, show_progress=False, timeout=120)
            if report.gateway_accepted != len(timed):
                raise RuntimeError(f"gateway accepted {report.gateway_accepted} of {len(timed)}: "
                                   f"{report.gateway_rejected} {report.unexpected[:3]}")
        finally:
            child.stop()
        return {"rate": report.gateway_accepted / report.seconds, "seconds": report.seconds,
                "peak_rss_mb": child.peak_rss_mb or 0.0}
