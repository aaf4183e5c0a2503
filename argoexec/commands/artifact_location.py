"""Turn ``argoexec artifact`` flags into a located artifact and a secret resolver.

Location: ``--artifact`` (a file, or inline YAML/JSON holding exactly one Argo artifact) or a
``scheme://`` shorthand; key-only artifacts are relocated onto ``--repository`` (Argo's
``artifact-repositories`` format) with ``--var`` values for its key format.

Secrets, first match wins: ``--secrets-dir`` (the pod's ``/argo/secret/<name>/<key>`` layout),
``--secret NAME/KEY=VALUE|@FILE|env:VAR``, then the Kubernetes API when ``--kubeconfig``,
``KUBECONFIG`` or ``--server`` is given.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from argoexec import safeyaml
from argoexec.commands import Invocation, UsageError
from argoexec.commands.pod import kube_overrides
from argoexec.kube.secrets import KubeSecretResolver, load_kubeconfig
from argoexec.models import Artifact, ArtifactLocation
from artifacts.errors import ArtifactError
from artifacts.locations import (
    is_location_url,
    parse_location_url,
    parse_selector,
    prepare_output,
    relocate,
    repository_location,
    select_repository,
)
from artifacts.secrets import (
    ChainSecretResolver,
    DirSecretResolver,
    MappingSecretResolver,
    NoSecrets,
    SecretResolver,
)


def split_positionals(args: argparse.Namespace, local_paths: int) -> tuple[str | None, list[Path]]:
    """(location URL or None, local paths) from the positionals; checks their number."""
    urls = [p for p in args.paths if is_location_url(p)]
    if args.url:
        urls.append(args.url)
    paths = [Path(p) for p in args.paths if not is_location_url(p)]
    if len(urls) > 1:
        raise UsageError(f"more than one location URL given: {', '.join(urls)}")
    if len(paths) != local_paths:
        want = {0: "no local path", 1: "exactly one local path"}[local_paths]
        got = ", ".join(map(str, paths)) or "none"
        raise UsageError(f"expected {want}, got: {got}")
    return (urls[0] if urls else None), paths


def _load_document(value: str, flag: str) -> Any:
    path = Path(value)
    looks_inline = value.lstrip().startswith(("{", "[")) or "\n" in value or ": " in value
    try:
        if not looks_inline and path.is_file():
            return safeyaml.load(path.read_text(encoding="utf-8"))
        if looks_inline:
            return safeyaml.load(value)
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{flag}: cannot read {value!r}: {exc}") from exc
    raise UsageError(f"{flag}: no such file {value!r} (and not an inline YAML/JSON document)")


def read_artifact(value: str) -> Artifact:
    """Exactly one Argo artifact object from a file or inline YAML/JSON."""
    doc = _load_document(value, "--artifact")
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    if not isinstance(doc, dict):
        raise UsageError("--artifact must hold exactly one artifact object (a mapping)")
    try:
        return Artifact.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"--artifact is not a valid Argo artifact: {problems}") from exc


def _variables(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {pair!r} must look like NAME=VALUE (e.g. workflow.name=wf)")
        out[name.strip()] = value
    return out


def archive_location(args: argparse.Namespace) -> ArtifactLocation | None:
    """The ``archiveLocation`` built from ``--repository`` (None when not given)."""
    if not args.repository:
        return None
    try:
        repo = select_repository(_load_document(args.repository, "--repository"), args.repo_key)
        return repository_location(repo, _variables(args.var))
    except (ArtifactError, ValidationError) as exc:
        raise UsageError(f"--repository: {exc}") from exc


def _base_artifact(args: argparse.Namespace, url: str | None) -> Artifact:
    if args.artifact and url:
        raise UsageError("give either --artifact or a location URL, not both")
    if args.artifact:
        artifact = read_artifact(args.artifact)
        return artifact.model_copy(update={"name": args.name}) if args.name else artifact
    if url is None:
        raise UsageError("give --artifact LOC.yaml or a location URL such as s3://bucket/key")
    try:
        return parse_location_url(
            url,
            name=args.name,
            endpoint=args.endpoint,
            insecure=args.insecure,
            region=args.region,
            access_key_secret=args.access_key_secret,
            secret_key_secret=args.secret_key_secret,
        )
    except ArtifactError as exc:
        raise UsageError(str(exc)) from exc


def resolve_artifact(
    args: argparse.Namespace, url: str | None, *, source: Path | None = None
) -> Artifact:
    """The fully located artifact to act on. With ``source`` (``put``), a missing key is
    computed like an output artifact's (``<key format>/<name>.tgz`` ...)."""
    artifact = _base_artifact(args, url)
    try:
        if source is not None:
            if artifact.path is None:
                artifact = artifact.model_copy(update={"path": str(source)})
            return prepare_output(artifact, archive_location(args))
        return relocate(artifact, archive_location(args))
    except ArtifactError as exc:
        hint = "" if args.repository else " (pass --repository to locate key-only artifacts)"
        raise UsageError(f"{exc}{hint}") from exc


def _inline_value(spec: str, inv: Invocation) -> str:
    if spec.startswith("@"):
        try:
            return Path(spec[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--secret: cannot read {spec[1:]}: {exc.strerror}") from exc
    if spec.startswith("env:"):
        value = inv.config.env_value(spec[4:])
        if value is None:
            raise UsageError(f"--secret: environment variable {spec[4:]} is not set")
        return value
    return spec


def _inline_secrets(specs: list[str], inv: Invocation) -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = {}
    for spec in specs:
        ref, sep, value_spec = spec.partition("=")
        if not sep:
            raise UsageError("--secret must look like NAME/KEY=VALUE, NAME/KEY=@FILE or =env:VAR")
        try:
            selector = parse_selector(ref)
        except ArtifactError as exc:
            raise UsageError(f"--secret: {exc.message}") from exc
        data.setdefault(selector.name, {})[selector.key] = _inline_value(value_spec, inv)
    return data


def build_secrets(args: argparse.Namespace, inv: Invocation) -> SecretResolver:
    chain: list[SecretResolver] = []
    if args.secrets_dir:
        root = Path(args.secrets_dir)
        if not root.is_dir():
            raise UsageError(f"--secrets-dir {root}: not a directory")
        chain.append(DirSecretResolver(root))
    if args.secret:
        chain.append(MappingSecretResolver(_inline_secrets(args.secret, inv)))
    kubeconfig = [Path(args.kubeconfig)] if args.kubeconfig else list(inv.config.kubeconfig)
    if kubeconfig or args.server:  # --server (+ --token) works without any kubeconfig file
        overrides = kube_overrides(args)
        chain.append(KubeSecretResolver(lambda: load_kubeconfig(kubeconfig, overrides)))
    if not chain:
        return NoSecrets()
    return chain[0] if len(chain) == 1 else ChainSecretResolver(*chain)
