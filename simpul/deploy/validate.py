"""`simpul deploy validate`: every rendered manifest checked by the schemas its target cluster enforces.

- Kubernetes' own kinds (Namespace, Deployment, Service) by `kubernetes-validate` in strict mode, against the
  Kubernetes version the manifests target (`k8s.KUBERNETES_VERSION`): an unknown field is an error, as it is for
  `kubectl apply`'s strict field validation.
- Strimzi's kinds (Kafka, KafkaNodePool, KafkaTopic, KafkaUser) against the CRDs of the Strimzi release they target
  (`k8s.STRIMZI_VERSION`), as Strimzi generates them from its Java API model (`io.strimzi:api`, whose `tests` jar on
  Maven Central ships them under crds/). The jar is fetched once into `<state>/lib/strimzi/` and checked against the
  checksum Central publishes and the one pinned here. Each CRD's openAPIV3Schema is read the way the API server
  reads it: an object without `x-kubernetes-preserve-unknown-fields` accepts only the fields it declares (Strimzi's
  free-form maps, such as the broker `config`, say so), `x-kubernetes-int-or-string` takes either, and a custom
  resource's `metadata` is an ObjectMeta, checked by kubernetes-validate like a built-in kind's. A CEL rule
  (`x-kubernetes-validations`) cannot be evaluated here: a manifest that reaches one is refused, not passed.
- Every object's name by the API server's rules for names (a DNS-1123 subdomain; a label for a Namespace and a
  Service), which no schema carries.

kustomization.yaml is read by `kubectl -k`, never sent to the API server, so it is not an API object to check.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from pydantic import BaseModel

from simpul.deploy.k8s import KUBERNETES_VERSION, STRIMZI_VERSION
from simpul.exceptions import SimpulError
from simpul.platform import central

STRIMZI_GROUP = "kafka.strimzi.io"
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
# io.strimzi:api:<version>:tests holds crds/v1beta2/*.yaml, the CRDs of that release as `crd-generator` writes them
# from the API model (the install files; v1beta2 the stored version). Pinned: a different file is refused.
STRIMZI_CRDS = central.Coordinates(group="io.strimzi", artifact="api", version=STRIMZI_VERSION, classifier="tests")
STRIMZI_CRDS_SHA1 = "e4adacefdca3c28af2e642a5f81ab704795c7a79"
STRIMZI_CRD_FOLDER = "crds/v1beta2/"


class ManifestsInvalid(SimpulError):
    """A rendered manifest does not validate against the schemas of the cluster it targets."""


class SchemasUnavailable(SimpulError):
    """The Strimzi CRDs could not be had, or are not the pinned ones."""


class Finding(BaseModel):
    """One way a manifest breaks its schema: where (file, resource, field path) and what."""

    file: str
    resource: str  # kind/name
    path: str  # dotted field path inside the resource ("" for the resource itself)
    message: str
    against: str

    def line(self) -> str:
        at = f" at {self.path}" if self.path else ""
        return f"{self.file}: {self.resource}{at}: {self.message} [{self.against}]"


class Report(BaseModel):
    """What was checked against what, and what failed."""

    checked: list[tuple[str, str, str]]  # (file, kind/name, against)
    skipped: list[tuple[str, str, str]]  # (file, kind/name, why)
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def strimzi_jar(state_dir: Path, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The io.strimzi:api tests jar in `<state>/lib/strimzi/`, fetched from Maven Central if absent; its checksum is
    checked against Central's and against the pinned one."""
    path, checksum = central.fetch(STRIMZI_CRDS, state_dir / "lib" / "strimzi", progress)
    sha1 = central.digest(path, "sha1")
    if sha1 != STRIMZI_CRDS_SHA1:
        raise SchemasUnavailable(
            f"{path} has sha1 {sha1} ({checksum}), but Simpul pins {STRIMZI_CRDS_SHA1} for {STRIMZI_CRDS.url()}: "
            f"delete the file and run the command again")
    return path


def _open_schema(node: dict[str, Any]) -> dict[str, Any]:
    """An openAPIV3Schema node as JSON Schema with the API server's reading of unknown fields (refused unless
    `x-kubernetes-preserve-unknown-fields`), `nullable` and `x-kubernetes-int-or-string`."""
    out: dict[str, Any] = {k: v for k, v in node.items() if k not in ("description", "example")}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out:
        out["properties"] = {k: _open_schema(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _open_schema(out["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _open_schema(out["additionalProperties"])
    for key in ("oneOf", "anyOf", "allOf"):
        if key in out:
            out[key] = [_open_schema(s) for s in out[key]]
    if "not" in out:
        out["not"] = _open_schema(out["not"])
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if out.get("type") == "object" and not preserve and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _cel_refused(validator: Any, rules: list[dict[str, Any]], instance: Any, schema: Any) -> Iterator[Any]:
    """A CEL rule the API server would evaluate and this check cannot: refuse rather than pass silently."""
    yield jsonschema.ValidationError(
        "holds a field whose CRD has CEL rules this check does not evaluate ("
        + "; ".join(r.get("rule", "?") for r in rules) + ")")


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"x-kubernetes-validations": _cel_refused})


_CRD_KIND = re.compile(r"^  names:\n    kind: (\w+)$", re.MULTILINE)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser where PyYAML has it: the Kafka CRD is large


def _load(text: str | bytes) -> Any:
    return yaml.load(text, Loader=_LOADER)


@cache
def _crd_files(jar: Path) -> dict[str, str]:
    """kind -> its CRD's file in the jar, read off each file's `spec.names.kind` line (parsing all of them would
    cost seconds; the one parsed is checked to be of that kind)."""
    with zipfile.ZipFile(jar) as z:
        files: dict[str, str] = {}
        for name in sorted(n for n in z.namelist() if n.startswith(STRIMZI_CRD_FOLDER) and n.endswith(".yaml")):
            text = z.read(name).decode()
            match = _CRD_KIND.search(text)
            files[match.group(1) if match else _load(text)["spec"]["names"]["kind"]] = name
    if not files:
        raise SchemasUnavailable(f"{jar} holds no {STRIMZI_CRD_FOLDER}*.yaml: it is not the jar Simpul expects")
    return files


@cache
def strimzi_schemas(jar: Path, kind: str) -> dict[str, tuple[Any, str]]:
    """apiVersion -> (validator, CRD name) for every version the CRD of `kind` serves (none if there is no such
    CRD)."""
    name = _crd_files(jar).get(kind)
    if name is None:
        return {}
    with zipfile.ZipFile(jar) as z:
        crd = _load(z.read(name))
    spec = crd["spec"]
    if spec["names"]["kind"] != kind:
        raise SchemasUnavailable(f"{jar}: {name} is the CRD of {spec['names']['kind']}, not of {kind}")
    out: dict[str, tuple[Any, str]] = {}
    for version in spec["versions"]:
        if not version.get("served"):
            continue
        schema = _open_schema(version["schema"]["openAPIV3Schema"])
        api_version = f"{spec['group']}/{version['name']}"
        schema["properties"]["apiVersion"] = {"enum": [api_version]}
        schema["properties"]["kind"] = {"enum": [kind]}
        schema["properties"]["metadata"] = {"type": "object"}  # an ObjectMeta: see _object_meta
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
        out[api_version] = (_Validator(schema), crd["metadata"]["name"])
    return out


def _path(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts)


# The API server's rules for names, which no schema carries: a DNS-1123 subdomain for most kinds; a Namespace's
# name is a DNS-1123 label, a Service's a DNS-1035 label (it becomes a DNS name in the cluster).
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "Namespace": (re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"), 63, "a DNS-1123 label"),
    "Service": (re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?"), 63, "a DNS-1035 label"),
}


def _name(doc: dict[str, Any], file: str, resource: str) -> list[Finding]:
    pattern, limit, what = _NAME_RULES.get(str(doc.get("kind")), (_SUBDOMAIN, 253, "a DNS-1123 subdomain"))
    name = (doc.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) <= limit and pattern.fullmatch(name):
        return []
    return [Finding(file=file, resource=resource, path="metadata.name", against="Kubernetes object names",
                    message=f"{name!r} is not {what} of at most {limit} characters")]


def _kubernetes(doc: dict[str, Any], file: str, resource: str) -> list[Finding]:
    against = f"Kubernetes {KUBERNETES_VERSION}, kubernetes-validate strict"
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [Finding(file=file, resource=resource, path=_path(exc.path), message=exc.message, against=against)]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [Finding(file=file, resource=resource, path="", message=exc.message, against=against)]
    return []


def _strimzi(doc: dict[str, Any], file: str, resource: str, jar: Path) -> list[Finding]:
    key = (str(doc.get("apiVersion")), str(doc.get("kind")))
    found = strimzi_schemas(jar, key[1]).get(key[0])
    if found is None:
        return [Finding(file=file, resource=resource, path="", against=f"Strimzi {STRIMZI_VERSION}",
                        message=f"Strimzi {STRIMZI_VERSION} serves no {key[1]} in {key[0]}")]
    validator, crd = found
    against = f"Strimzi {STRIMZI_VERSION} CRD {crd} {key[0]}"
    return [Finding(file=file, resource=resource, path=_path(e.absolute_path), message=e.message, against=against)
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def _object_meta(resources: list[tuple[str, str, dict[str, Any]]]) -> list[Finding]:
    """The metadata of custom resources (file, kind/name, manifest) as the API server reads it, an ObjectMeta:
    checked by kubernetes-validate as the metadata of ConfigMaps, all in one list (one load of its schemas), each
    alone only if the list fails, to say which."""
    def as_config_map(doc: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc.get("metadata", {})}

    if not resources:
        return []
    every = {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {},
             "items": [as_config_map(doc) for _, _, doc in resources]}
    if not _kubernetes(every, "", ""):
        return []
    return [f.model_copy(update={"against": f"metadata as ObjectMeta, {f.against}"})
            for file, resource, doc in resources for f in _kubernetes(as_config_map(doc), file, resource)]


def validate(documents: Iterable[tuple[str, dict[str, Any]]], state_dir: Path,
             progress: Callable[[str], None] = lambda _: None) -> Report:
    """Check (file name, manifest) pairs; the Strimzi CRDs are fetched into `state_dir` only if a Strimzi kind is
    among them."""
    checked: list[tuple[str, str, str]] = []
    skipped: list[tuple[str, str, str]] = []
    findings: list[Finding] = []
    custom: list[tuple[str, str, dict[str, Any]]] = []
    jar: Path | None = None
    for file, doc in documents:
        resource = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        group = str(doc.get("apiVersion", "")).partition("/")[0]
        if group == KUSTOMIZE_GROUP:
            skipped.append((file, resource, "read by kubectl -k, not sent to the API server"))
            continue
        if group == STRIMZI_GROUP:
            jar = jar or strimzi_jar(state_dir, progress)
            found = _strimzi(doc, file, resource, jar)
            custom.append((file, resource, doc))
            checked.append((file, resource, f"Strimzi {STRIMZI_VERSION}"))
        else:
            found = _kubernetes(doc, file, resource)
            checked.append((file, resource, f"Kubernetes {KUBERNETES_VERSION}"))
        findings += found + _name(doc, file, resource)
    findings += _object_meta(custom)
    return Report(checked=checked, skipped=skipped, findings=findings)


def documents(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every YAML document of every *.yaml file in `folder`, with its file name."""
    return [(p.name, d) for p in sorted(folder.glob("*.yaml"))
            for d in yaml.load_all(p.read_text(), Loader=_LOADER) if d]


def validate_folder(folder: Path, state_dir: Path, progress: Callable[[str], None] = lambda _: None) -> Report:
    """`validate` on the manifests of `folder`; raises `ManifestsInvalid` with one line per finding."""
    if not folder.is_dir():
        raise ManifestsInvalid(f"{folder} is not a folder of manifests: render it with `simpul deploy render k8s`")
    report = validate(documents(folder), state_dir, progress)
    if not report.ok:
        raise ManifestsInvalid(f"{len(report.findings)} problem(s) in {folder}:\n"
                               + "\n".join(f.line() for f in report.findings))
    return report
