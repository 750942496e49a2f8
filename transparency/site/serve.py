"""`simpul site serve`: the built files, read-only, with a strict Content-Security-Policy.

The one HTTP surface of Simpul without a login: it holds only published, suppressed aggregate figures and the
public checkpoint. GET and HEAD only; no directory listings; nothing outside the site folder.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from transparency.site.exceptions import SiteError
from transparency.site.render import CSP, MARKER

HEADERS = {
    "Content-Security-Policy": CSP + "; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files of one folder, with the site's security headers; everything but GET and HEAD is refused."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".md": "text/plain; charset=utf-8",
                      ".py": "text/plain; charset=utf-8",
                      ".csv": "text/csv; charset=utf-8", ".json": "application/json",
                      ".txt": "text/plain; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                      ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8"}
    server_version = "simpul-site"
    sys_version = ""

    def end_headers(self) -> None:
        for name, value in HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def list_directory(self, path: Any) -> None:  # type: ignore[override]
        self.send_error(HTTPStatus.NOT_FOUND, "no listing")
        return None

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "the site is read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(format, *args)


def server(directory: Path, host: str, port: int, *, verbose: bool = False) -> ThreadingHTTPServer:
    """A server of a built site (not yet serving: call `serve_forever`)."""
    directory = directory.resolve()
    if not (directory / MARKER).is_file() or not (directory / "index.html").is_file():
        raise SiteError(f"--dir {directory} holds no built site; run `simpul site build --out {directory}` first")
    handler = functools.partial(SiteHandler, directory=str(directory))
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.verbose = verbose  # type: ignore[attr-defined]
    return httpd


class Rebuilder(threading.Thread):
    """Rebuilds the site every `interval` seconds while it is served (`simpul site serve --rebuild-every`): each
    build replaces the folder by two renames, so a request sees the old site or the new one, never half of one
    (between the two renames, microseconds, it may get a 404). A failed build is reported and the last good site
    stays up."""

    def __init__(self, build: Callable[[], object], interval: float, report: Callable[[str], None]) -> None:
        super().__init__(name="site-rebuild", daemon=True)
        self.build, self.interval, self.report = build, interval, report
        self.stopped = threading.Event()
        self.builds = 0

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.build()
                self.builds += 1
            except Exception as exc:  # noqa: BLE001 - keep serving the last good build; say why this one failed
                self.report(f"site rebuild failed, still serving the previous build: {exc}")

    def stop(self) -> None:
        self.stopped.set()
