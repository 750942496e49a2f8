"""`simpul site`: the public transparency site, built from the store (`build`) and served read-only (`serve`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from simpul.cli.output import console, emit, fail_on, out

app = typer.Typer(help="The public transparency site (static, suppressed, no login).", no_args_is_help=True,
                  pretty_exceptions_enable=False)

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 18600


class LangOpt(str, Enum):
    id = "id"
    en = "en"


def _default_dir() -> Path:
    from simpul.settings import load_settings

    return load_settings().state_dir / "site"


@app.command("build")
def build(
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder of the site (default: <state dir>/site)")] = None,
    store_url: Annotated[str | None, typer.Option("--store-url", help="SQLAlchemy URL of the store")] = None,
    lang: Annotated[LangOpt, typer.Option("--lang", help="id (Bahasa Indonesia) or en")] = LangOpt.id,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Render the province overview and one page per regency (all 35) from the store, with CSV/JSON downloads
    and the latest signed checkpoint; cells of fewer than 5 people are suppressed."""
    from simpul import bootstrap
    from simpul.settings import load_settings
    from transparency.site.build import build_site

    with fail_on():
        settings = load_settings()
        target = out_dir if out_dir is not None else settings.state_dir / "site"
        result = build_site(bootstrap.store_engine(settings, store_url), target, lang=lang.value)  # type: ignore[arg-type]
        emit(result.as_dict(), as_json, lambda: out.print(
            f"{result.pages} pages, {result.files} files ({result.regencies} regencies, {result.cells} cells, "
            f"checkpoint {result.checkpoint_size if result.checkpoint_size is not None else 'none yet'}) "
            f"in {result.out}"))


@app.command("serve")
def serve(
    directory: Annotated[Path | None, typer.Option("--dir", help="a built site (default: <state dir>/site)")] = None,
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = LOOPBACK,
    port: Annotated[int, typer.Option("--port", help="TCP port")] = DEFAULT_PORT,
    build_first: Annotated[bool, typer.Option("--build", help="build the site into --dir before serving")] = False,
    rebuild_every: Annotated[float, typer.Option("--rebuild-every", min=0,
                                                 help="rebuild every this many seconds while serving; 0: never")] = 0,
    store_url: Annotated[str | None, typer.Option("--store-url", help="store to build from (with --build)")] = None,
    lang: Annotated[LangOpt, typer.Option("--lang", help="the root's language (with --build)")] = LangOpt.id,
    verbose: Annotated[bool, typer.Option("--verbose", help="log every request on stderr")] = False,
) -> None:
    """Serve a built site read-only (GET/HEAD, strict CSP, no login: it holds only published aggregates);
    with --build and --rebuild-every, keep it current from the store while serving (what `make run` runs)."""
    import signal

    from transparency.site.serve import Rebuilder, server

    with fail_on():
        target = directory if directory is not None else _default_dir()
        build_once = _builder(target, store_url, lang)
        if build_first:
            build_once()
        httpd = server(target, host, port, verbose=verbose)
    rebuilder = Rebuilder(build_once, rebuild_every, lambda m: console.print(m, highlight=False)) \
        if rebuild_every > 0 else None
    if rebuilder is not None:
        rebuilder.start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown, daemon=True).start())
    console.print(f"the transparency site is at http://{host}:{httpd.server_address[1]}/ (Ctrl-C stops it)")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if rebuilder is not None:
            rebuilder.stop()
        httpd.server_close()


def _builder(target: Path, store_url: str | None, lang: LangOpt) -> Callable[[], object]:
    """A build of the site into `target` from the store, on an engine made once."""
    from simpul import bootstrap
    from simpul.settings import load_settings
    from transparency.site.build import build_site

    engine: list[Any] = []

    def build_once() -> object:
        if not engine:
            engine.append(bootstrap.store_engine(load_settings(), store_url))
        return build_site(engine[0], target, lang=lang.value)  # type: ignore[arg-type]

    return build_once
