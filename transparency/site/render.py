"""The site's files: HTML pages from one template, CSV and JSON of every table, the checkpoint, static assets.

Everything is rendered in memory, checked (transparency.site.privacy), and only then written: into a fresh folder
that replaces the old site by two renames, so `simpul site serve` never shows half a build.
"""

from __future__ import annotations

import csv
import html
import io
import json
import shutil
import uuid
from dataclasses import dataclass
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from schemas import reference
from transparency.site import privacy
from transparency.site.exceptions import SiteError
from transparency.site.labels import LABELS
from transparency.site.model import SUPPRESSED, Chart, Page, SiteModel, Table, Value

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'")
"""The policy every page carries (the server adds `frame-ancestors 'none'`, which a meta tag cannot set)."""
VENDORED = ("chart.umd.min.js", "chart.js-LICENSE.md")
OWN_STATIC = ("site.js", "site.css")
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" '
           'fill="#0b5e8a"/><path d="M4 11V7m4 4V4m4 7V6" stroke="#fff" stroke-width="2"/></svg>\n')
"""The tab icon (browsers ask for one; without it every page logs a 404)."""
MARKER = ".simpul-site"
"""A file in every built site: `build` replaces only a folder that has it (or an empty one), never anything else."""
DOCS = Path(__file__).resolve().parents[2] / "docs"
AUDIT_FILES = ("audit.md", "audit_verify.py")
"""The audit guide and its standalone verifier, published with the site when the build runs from a checkout."""


@dataclass(frozen=True)
class Checkpoint:
    """The latest signed checkpoint as the site shows it (transparency.log_store.CheckpointRecord's fields)."""

    origin: str
    size: int
    root_hash: str
    signed_at: datetime
    note: str
    verifier_key: str

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "size": self.size, "root_hash": self.root_hash,
                "signed_at": self.signed_at.isoformat(), "note": self.note, "verifier_key": self.verifier_key}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def display(value: Value, lang: str) -> str:
    """A figure as a person reads it: `–` for none, `<5` as it is, numbers in the page's locale."""
    if value is None:
        return "\u2013"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        text = f"{value:,}"
        return text.replace(",", ".") if lang == "id" else text
    text = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if lang == "id":
        text = text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text


def table_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=table.keys, lineterminator="\n")
    writer.writeheader()
    for row in table.rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in table.keys})
    return buf.getvalue()


def table_json(table: Table, lang: str) -> str:
    return json.dumps({"table": table.slug, "title": table.title, **({"note": table.note} if table.note else {}),
                       "columns": list(table.keys),
                       "suppressed": SUPPRESSED, "suppression": LABELS[lang]["suppression"],
                       "rows": [{k: row[k] for k in table.keys} for row in table.rows]},
                      indent=2, ensure_ascii=False) + "\n"


def _table_html(table: Table, root: str, lang: str) -> str:
    L = LABELS[lang]
    head = "".join(f'<th scope="col" class="{"num" if c not in TEXT_COLUMNS else "text"}">{_e(L[c])}</th>'
                   for c in table.columns)
    body = []
    for i, row in enumerate(table.rows):
        cells = []
        for j, c in enumerate(table.columns):
            text = _e(row[c] if c in TEXT_COLUMNS and row[c] is not None else display(row[c], lang))
            if j == 0 and i in table.links:
                text = f'<a href="{_e(root + table.links[i])}">{text}</a>'
            cls = "text" if c in TEXT_COLUMNS else "num" + (" suppressed" if row[c] == SUPPRESSED else "")
            cells.append(f'<td class="{cls}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(table.columns)}">{_e(L["empty"])}</td></tr>')
    data = f"{root}data/{table.slug}"
    note = f'<p class="table-note">{_e(table.note)}</p>\n' if table.note else ""
    return (f'<section class="table" id="{_e(table.slug)}">\n<h2>{_e(table.title)}</h2>\n{note}'
            f'<div class="table-wrap"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(body)
            + f'\n</tbody></table></div>\n<p class="downloads">{_e(L["download"])}: '
            f'<a href="{_e(data)}.csv" download>CSV</a> <a href="{_e(data)}.json" download>JSON</a></p>\n</section>')


TEXT_COLUMNS = frozenset({"regency_code", "regency_name", "service_code", "service_name", "period", "school_level",
                          "admission_year", "route", "route_name"})
"""Codes, names and periods: shown as they are (a year is no number to group into thousands)."""


def _chart_html(chart: Chart) -> str:
    box = "chart-box tall" if chart.horizontal and len(chart.labels) > 12 else "chart-box"
    return (f'<figure class="chart" id="chart-{_e(chart.slug)}"><figcaption>{_e(chart.title)}</figcaption>'
            f'<div class="{box}"><canvas role="img" aria-label="{_e(chart.title)}" '
            f"data-chart=\"{_e(json.dumps(chart.config(), ensure_ascii=False))}\"></canvas></div></figure>")


def _page_body(page: Page, root: str, lang: str) -> str:
    parts = [f'<p class="intro">{_e(page.intro)}</p>']
    if page.charts_suppressed:  # the service charts; a regency's SPMB chart may still be drawn
        parts.append(f'<p class="charts-suppressed">{_e(LABELS[lang]["charts_suppressed"])}</p>')
    if page.charts:
        parts.append('<div class="charts">' + "".join(_chart_html(c) for c in page.charts) + "</div>")
    parts.extend(_table_html(t, root, lang) for t in page.tables)
    return "\n".join(parts)


def _checkpoint_body(checkpoint: Checkpoint | None, docs: set[str], root: str, lang: str) -> str:
    """The checkpoint page's body; `root` leads to the site's root, where the checkpoint's files are (once)."""
    L = LABELS[lang]
    parts = [f'<p class="intro">{_e(L["checkpoint_intro"])}</p>']
    if checkpoint is None:
        parts.append(f'<p id="checkpoint-none">{_e(L["checkpoint_none"])}</p>')
    else:
        rows = [("checkpoint_origin", checkpoint.origin), ("checkpoint_size", checkpoint.size),
                ("checkpoint_root", checkpoint.root_hash), ("checkpoint_signed_at", checkpoint.signed_at.isoformat()),
                ("checkpoint_key", checkpoint.verifier_key)]
        parts.append('<dl class="checkpoint" id="checkpoint">' + "".join(
            f"<dt>{_e(L[k])}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>")
        parts.append(f'<h2>{_e(L["checkpoint_note"])}</h2><pre class="note" id="checkpoint-note">'
                     f"{_e(checkpoint.note)}</pre>")
        parts.append(f'<p class="downloads">{_e(L["download"])}: '
                     + " ".join(f'<a href="{root}{n}" download>{n}</a>'
                                for n in ("checkpoint.txt", "verifier-key.txt", "checkpoint.json")) + "</p>")
    if checkpoint is not None:
        parts.append(f'<p>{_e(L["checkpoint_how"])}</p>')
    if "audit_verify.py" in docs and checkpoint is not None:
        parts.append(f'<p><a href="{root}audit_verify.py" download>audit_verify.py</a> {_e(L["checkpoint_script"])}</p>'
                     f'<pre class="note" id="verify-command">python3 audit_verify.py --key '
                     f"'{_e(checkpoint.verifier_key)}' proof.json</pre>")
    parts.append(f'<p><a href="{root}audit.md">{_e(L["checkpoint_guide"])}</a></p>' if "audit.md" in docs
                 else f'<p>{_e(L["checkpoint_guide_missing"])}</p>')
    return "\n".join(parts)


def _page(template: Template, *, path: str, base: str, title: str, body: str, lang: str, generated: str,
          others: Sequence[tuple[str, str]]) -> str:
    """One page at `base + path`; `others` are the (language, base) of the other trees, for the language switch."""
    L = LABELS[lang]
    root = "../" * (base + path).count("/")
    switch = " ".join(f'<a href="{_e(root + other_base + path)}" hreflang="{o}" lang="{o}">{_e(LABELS[o]["lang_name"])}</a>'
                      for o, other_base in others)
    options = [f'<option value="">{_e(L["nav_regencies"])}\u2026</option>'] + [
        f'<option value="wilayah/{_e(r.code)}.html">{_e(r.display_name)}</option>' for r in reference.regencies()]
    return template.substitute(
        lang=lang, csp=CSP, title=_e(title), site_title=_e(L["site_title"]), root=root, tree=root + base,
        lang_switch=switch,
        nav_overview=_e(L["nav_overview"]), nav_checkpoint=_e(L["nav_checkpoint"]),
        nav_regencies=_e(L["nav_regencies"]), regency_options="\n".join(options), body=body,
        suppression=_e(L["suppression"]), definitions=_e(L["definitions"]), internal_note=_e(L["internal_note"]),
        generated_label=_e(L["generated"]), generated=_e(generated))


def render(models: SiteModel | Sequence[SiteModel], checkpoint: Checkpoint | None,
           generated: datetime) -> dict[str, bytes]:
    """Every file of the site (path relative to its root -> bytes), each checked by `privacy.check`. The first
    model's language is the site's root; each other language is a parallel tree under `<lang>/`, with a switch
    between a page and its counterpart. Static files and the checkpoint's files are at the root, once."""
    trees = [models] if isinstance(models, SiteModel) else list(models)
    if not trees or len({m.lang for m in trees}) != len(trees):
        raise SiteError(f"one model per language, at least one: got {[m.lang for m in trees]}")
    bases = [(m.lang, "" if i == 0 else f"{m.lang}/") for i, m in enumerate(trees)]
    template = Template(resources.files("transparency.site.templates").joinpath("page.html").read_text("utf-8"))
    stamp = generated.isoformat(timespec="seconds")
    texts: dict[str, str] = {}
    docs = set()
    for name in AUDIT_FILES:
        if (DOCS / name).is_file():
            text = (DOCS / name).read_text("utf-8")
            try:
                privacy.check(name, text)
            except SiteError:
                continue  # an example in it looks like a NIK: point to the repository's copy instead
            texts[name] = text
            docs.add(name)
    for model, (lang, base) in zip(trees, bases, strict=True):
        others = [b for b in bases if b[0] != lang]
        for page in model.pages:
            tree = "../" * page.path.count("/")
            texts[base + page.path] = _page(template, path=page.path, base=base, title=page.title,
                                            body=_page_body(page, tree, lang), lang=lang, generated=stamp,
                                            others=others)
            for table in page.tables:
                texts[f"{base}data/{table.slug}.csv"] = table_csv(table)
                texts[f"{base}data/{table.slug}.json"] = table_json(table, lang)
        texts[base + "checkpoint.html"] = _page(
            template, path="checkpoint.html", base=base, title=LABELS[lang]["checkpoint_title"],
            body=_checkpoint_body(checkpoint, docs, "../" * base.count("/"), lang), lang=lang, generated=stamp,
            others=others)
    if checkpoint is not None:
        texts["checkpoint.txt"] = checkpoint.note
        texts["verifier-key.txt"] = checkpoint.verifier_key + "\n"
        texts["checkpoint.json"] = json.dumps(checkpoint.as_dict(), indent=2, ensure_ascii=False) + "\n"
    static = resources.files("transparency.site.static")
    for name in OWN_STATIC:
        texts[f"static/{name}"] = static.joinpath(name).read_text("utf-8")
    texts["static/favicon.svg"] = FAVICON
    for name, text in texts.items():
        privacy.check(name, text)
    files = {name: text.encode("utf-8") for name, text in texts.items()}
    for name in VENDORED:
        if not static.joinpath(name).is_file():
            raise SiteError(f"transparency/site/static/{name} is missing from this installation: the package data "
                            "of pyproject.toml must include it (\"transparency.site.static\" = [\"*.js\", \"*.md\"])")
        data = static.joinpath(name).read_bytes()
        privacy.check(f"static/{name}", data.decode("utf-8"), vendored=True)
        files[f"static/{name}"] = data
    files[MARKER] = f"Simpul public transparency site, built {stamp}\n".encode()
    return files


def write(files: dict[str, bytes], out: Path) -> None:
    """Write the site into `out`, replacing a previous build there by two renames (never a folder of other files)."""
    out = out.resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise SiteError(f"--out {out} exists and is not a Simpul site (no {MARKER} in it); "
                        "choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = out.with_name(f".{out.name}.new-{uuid.uuid4().hex[:8]}")
    fresh.mkdir()
    for name, data in files.items():
        path = fresh / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    if out.exists():
        out.rename(old)
    fresh.rename(out)
    if old.exists():
        shutil.rmtree(old)
