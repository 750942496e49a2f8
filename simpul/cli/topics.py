"""`simpul topics plan|apply`: make the cluster's topics match topics/topics.yaml.

Data (the plan, what was applied) goes to stdout, as one line per change or as JSON with `--json`; context and
progress go to stderr through rich, which drops colour when stderr is not a terminal. `apply --dry-run` prints
exactly what `plan` prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from simpul.cli.output import console, fail_on
from schemas import reference
from simpul.settings import Settings, load_settings
from topics.admin import ClusterState, TopicAdmin
from topics.catalog import Catalog, TopicSet, load_catalog
from topics.exceptions import DestructiveChangeRefused, TopicsError
from topics.plan import CHANGES, Change
from topics.plan import plan as diff

app = typer.Typer(
    name="topics",
    help="Plan and apply the topic catalog (topics/topics.yaml) against the cluster.",
    no_args_is_help=True,
    add_completion=False,
)

def regency_codes() -> list[str]:
    """The 35 regency/city codes the ingress topics are expanded over (schemas/reference/regencies.csv)."""
    return sorted(reference.regency_codes())


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the changes as a JSON list (empty when none).")]
PrefixOpt = Annotated[
    str | None, typer.Option("--prefix", help="Topic prefix; default SIMPUL_TOPIC_PREFIX (jateng).")
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help="Replication profile of topics.yaml (single, cluster); default: by broker count."),
]
PruneOpt = Annotated[
    bool,
    typer.Option(
        "--prune", help="Also plan deleting topics under the prefix's catalog namespaces that the catalog lacks."
    ),
]
DestructiveOpt = Annotated[
    bool,
    typer.Option(
        "--allow-destructive",
        help="Allow changes that lose data: fewer partitions or another replication factor (by recreating the "
        "topic), deleting a topic that holds records.",
    ),
]
CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Another topics.yaml (default: the packaged one).")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each broker answer.")]


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    prefix: PrefixOpt = None,
    profile: ProfileOpt = None,
    prune: PruneOpt = False,
    allow_destructive: DestructiveOpt = False,
    catalog: CatalogOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Print the difference between the catalog and the cluster; changes nothing."""
    err = _stderr()
    with fail_on():
        _, state, topics, changes = _prepare(ctx, err, prefix, profile, prune, allow_destructive, catalog, timeout)
    _print_plan(err, state, topics, changes, as_json)


@app.command("apply")
def apply_command(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    prefix: PrefixOpt = None,
    profile: ProfileOpt = None,
    prune: PruneOpt = False,
    allow_destructive: DestructiveOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the plan (same as `plan`).")] = False,
    catalog: CatalogOpt = None,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Make the cluster match the catalog; running it twice changes nothing the second time."""
    err = _stderr()
    with fail_on(refused=(DestructiveChangeRefused,)):
        admin, state, topics, changes = _prepare(
            ctx, err, prefix, profile, prune, allow_destructive, catalog, timeout
        )
        if dry_run:
            _print_plan(err, state, topics, changes, as_json)
            return
        if not changes:
            err.print(f"nothing to do: the {len(topics)} topics of '{topics.prefix}' match the catalog")
            _emit([], as_json)
            return
        done = admin.apply(
            changes,
            allow_destructive=allow_destructive,
            progress=lambda line: err.print(f"applying: {line}", markup=False, highlight=False),
        )
    _emit(done, as_json)
    err.print(f"applied {len(done)} change(s) to {state.bootstrap}")


def _prepare(
    ctx: typer.Context,
    err: Console,
    prefix: str | None,
    profile: str | None,
    prune: bool,
    allow_destructive: bool,
    catalog_path: Path | None,
    timeout: float,
) -> tuple[TopicAdmin, ClusterState, TopicSet, list[Change]]:
    """Settings -> catalog -> cluster state -> plan: the steps `plan` and `apply` share."""
    settings = _settings(ctx)
    catalog: Catalog = load_catalog(catalog_path)
    chosen_prefix = prefix or settings.topic_prefix
    admin = TopicAdmin(settings.kafka, timeout=timeout)
    err.print(f"reading topics '{chosen_prefix}.*' from {settings.kafka.bootstrap}", markup=False, highlight=False)
    state = admin.observe(chosen_prefix)
    chosen_profile = catalog.profile(profile) if profile else catalog.profile_for(state.broker_count)
    err.print(
        f"{state.broker_count} broker(s): profile '{chosen_profile.name}' (replication "
        f"{chosen_profile.replication_factor}, min.insync.replicas {chosen_profile.min_insync_replicas})",
        markup=False,
        highlight=False,
    )
    topics = catalog.expand(regency_codes=regency_codes(), profile=chosen_profile, prefix=chosen_prefix)
    changes = diff(
        topics,
        state.topics,
        allow_destructive=allow_destructive,
        prune=prune,
        namespaces=catalog.namespaces,
    )
    if not prune:
        strays = sorted(set(state.topics) - set(topics.names))
        if strays:
            err.print(
                f"{len(strays)} topic(s) under '{chosen_prefix}.' are not in the catalog and are left alone "
                f"(see them with --prune): {', '.join(strays[:5])}{' …' if len(strays) > 5 else ''}",
                markup=False,
                highlight=False,
            )
    return admin, state, topics, changes


def _print_plan(err: Console, state: ClusterState, topics: TopicSet, changes: list[Change], as_json: bool) -> None:
    _emit(changes, as_json)
    refused = [change for change in changes if change.refused]
    if not changes:
        err.print(f"no changes: the {len(topics)} topics of '{topics.prefix}' match the catalog")
    else:
        err.print(
            f"{len(changes)} change(s) planned against {state.bootstrap}"
            + (f"; {len(refused)} refused without --allow-destructive" if refused else ""),
            markup=False,
            highlight=False,
        )


def _emit(changes: list[Change], as_json: bool) -> None:
    """Data to stdout, uncoloured, so it can be piped."""
    if as_json:
        typer.echo(json.dumps(CHANGES.dump_python(changes, mode="json"), indent=2))
    else:
        for change in changes:
            typer.echo(change.describe())


def _settings(ctx: typer.Context) -> Settings:
    """The composition root may hand us its Settings via the context object; otherwise read the environment."""
    for candidate in (ctx.obj, getattr(ctx.obj, "settings", None)):
        if isinstance(candidate, Settings):
            return candidate
    try:
        return load_settings()
    except ValidationError as exc:
        raise TopicsError(f"the SIMPUL_* settings are invalid; fix the variables named below:\n{exc}") from None


def _stderr() -> Console:
    """The shared stderr console of `simpul.cli.output`: rich drops colour by itself when not on a terminal."""
    return console

