"""Read the YAML documents of a run: Workflows, CronWorkflows, (Cluster)WorkflowTemplates and
ConfigMaps.

Documents are kept as plain dicts in wire form (camelCase), as the engine works on them.
Timestamps are not turned into dates (Kubernetes' YAML reader keeps them strings), so a
parameter ``value: 2024-01-01`` stays the string ``"2024-01-01"``. Workflows and templates are
decoded as ``argo submit`` decodes them (:func:`..schema.decode`): what the engine and the stored
Workflow see is that decoded document (``value: 3`` is the string ``"3"``; with ``strict=False``
an ``Entrypoint`` key is ``entrypoint`` and unknown fields are gone).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from argoexec import safeyaml
from argoexec.contract import API_VERSION
from argoexec.controller.workflow.cron import KIND_CRON_WORKFLOW
from argoexec.controller.workflow.errors import DocumentError, TemplateReferenceError
from argoexec.controller.workflow.merge import merge_workflow_template
from argoexec.controller.workflow.problems import Problem, describe, join
from argoexec.controller.workflow.schema import decode
from argoexec.controller.workflow.store import (
    KIND_CLUSTER,
    KIND_NAMESPACED,
    TemplateOwner,
    TemplateStore,
    workflow_owner,
)

__all__ = [
    "DocumentError",
    "Documents",
    "TemplateOwner",
    "TemplateReferenceError",
    "TemplateStore",
    "load_documents",
    "merge_workflow_template",
    "read_documents",
    "workflow_name",
    "workflow_owner",
]

KIND_WORKFLOW = "Workflow"
KIND_CONFIG_MAP = "ConfigMap"
_API_VERSIONS = {
    KIND_WORKFLOW: API_VERSION,
    KIND_CRON_WORKFLOW: API_VERSION,
    KIND_NAMESPACED: API_VERSION,
    KIND_CLUSTER: API_VERSION,
    KIND_CONFIG_MAP: "v1",
}
_TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")
# Kubernetes' generateName suffix: 5 characters from an alphabet without vowels or look-alikes.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_RANDOM_LENGTH = 5
_MAX_GENERATED_PREFIX = 63 - _NAME_RANDOM_LENGTH  # Kubernetes' MaxGeneratedNameLength


@dataclass
class Documents:
    """Everything read: workflows and CronWorkflows in order (with the file each came from), the
    template store, ConfigMap data by name, the kinds of the documents of each file (none for
    an empty one), and what decoding found: ``problems`` (field names and types that refuse a
    document) and ``warnings`` (fields renamed or dropped), each naming its file."""

    workflows: list[dict[str, Any]]
    templates: TemplateStore
    config_maps: dict[str, dict[str, str]]
    workflow_sources: list[str] = field(default_factory=list)
    cron_workflows: list[dict[str, Any]] = field(default_factory=list)
    cron_sources: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    kinds: dict[str, list[str]] = field(default_factory=dict)  # file -> kinds of its documents

    def note_duplicates(self, duplicates: list[Problem], source: str, *, strict: bool) -> None:
        """Keys given twice: Argo's strict YAML reader (``YAMLToJSONStrict``) refuses them, the
        lenient one keeps the later value."""
        for duplicate in duplicates:
            if strict:
                self.problems.append(duplicate.with_source(source))
            else:
                message = f"{duplicate.message}: the later one is used"
                self.warnings.append(Problem(duplicate.path, message, source))

    def decoded(self, document: dict[str, Any], source: str, *, strict: bool) -> dict[str, Any]:
        """``document`` decoded, its problems and warnings kept here."""
        result = decode(document, str(document["kind"]), strict=strict)
        self.problems += [problem.with_source(source) for problem in result.problems]
        self.warnings += [warning.with_source(source) for warning in result.warnings]
        return result.document


def _duplicate_keys(node: yaml.Node, path: str, seen: set[int]) -> list[tuple[int, Problem]]:
    """Every key given twice in one mapping: the line of its second use, and its YAML path."""
    if id(node) in seen:  # an alias of a node already walked
        return []
    seen.add(id(node))
    found: list[tuple[int, Problem]] = []
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, join(path, index), seen)
    if not isinstance(node, yaml.MappingNode):
        return found
    lines: dict[str, int] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        where, line = join(path, key.value), key.start_mark.line + 1
        if key.value in lines:
            first = lines[key.value]
            at = f"on line {line}" if first == line else f"(lines {first} and {line})"
            message = f"key `{key.value}` given twice {at}"
            found.append((line, Problem(where, message, strict_only=True)))
        lines[key.value] = line
        found += _duplicate_keys(value, where, seen)
    return found


def _load_all(text: str) -> list[tuple[Any, list[Problem]]]:
    """Each document of ``text`` with the keys it gives twice (the safe loader: no tags;
    aliases and nesting bounded: :mod:`argoexec.safeyaml`)."""
    loader = safeyaml.Loader(text)
    try:
        loaded = []
        for node in safeyaml.composed(loader):
            found = sorted(_duplicate_keys(node, "", set()), key=lambda item: item[0])
            loaded.append((loader.construct_document(node), [problem for _, problem in found]))
        return loaded
    finally:
        loader.dispose()


def read_documents(path: Path) -> Iterator[tuple[int, dict[str, Any], list[Problem]]]:
    """The non-empty documents of one YAML (or JSON) file with their 1-based index and the keys
    each gives twice; raises `DocumentError` naming the file and line for bad YAML, and the index
    for a non-mapping."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read: {exc}", file=name) from None
    try:
        loaded = _load_all(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        if mark is None:
            raise DocumentError(message, file=name) from None
        raise DocumentError(
            message, file=name, line=mark.line + 1, column=mark.column + 1
        ) from None
    for index, (document, duplicates) in enumerate(loaded, start=1):
        if document is None:
            continue
        where = f"document {index}"
        if not isinstance(document, dict):
            raise DocumentError(
                f"expected a mapping, got {describe(document)}", file=name, path=where
            )
        for required in ("apiVersion", "kind"):
            value = document.get(required)
            if value is None or value == "":
                raise DocumentError(f"missing `{required}`", file=name, path=where)
            if not isinstance(value, str):
                message = f"`{required}` must be a string, got {describe(value)}"
                raise DocumentError(message, file=name, path=where)
        kind = document["kind"]
        if kind not in _API_VERSIONS:
            known = ", ".join(_API_VERSIONS)
            raise DocumentError(
                f"unknown kind `{kind}` (expected one of {known})", file=name, path=where
            )
        if document["apiVersion"] != _API_VERSIONS[kind]:
            raise DocumentError(
                f"apiVersion `{document['apiVersion']}` is not `{_API_VERSIONS[kind]}` ({kind})",
                file=name,
                path=where,
            )
        yield index, document, duplicates


def _config_map_data(document: dict[str, Any], file: str, where: str) -> tuple[str, dict[str, str]]:
    name = (document.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise DocumentError("ConfigMap without metadata.name", file=file, path=where)
    data = document.get("data") or {}
    if not isinstance(data, dict):
        raise DocumentError("`data` must be a mapping", file=file, path=f"{where}: data")
    for key, value in data.items():
        if not isinstance(value, str):
            raise DocumentError(
                f"ConfigMap `{name}`: data values must be strings (quote it)",
                file=file,
                path=f"{where}: data.{key}",
            )
    return name, {str(key): value for key, value in data.items()}


def _template_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.is_file() and p.suffix in _TEMPLATE_SUFFIXES)
            files.extend(sorted(found))
        else:
            files.append(path)
    return files


def load_documents(
    sources: Sequence[Path | str], *, template_paths: Sequence[Path] = (), strict: bool = True
) -> Documents:
    """Read ``sources`` (YAML streams of Workflows and, alongside, the templates and ConfigMaps
    they use) and ``template_paths`` (files or directories, searched recursively for
    ``*.yaml``/``*.yml``/``*.json``, of templates and ConfigMaps only). ``strict`` is
    ``argo submit --strict``: unknown fields, field names in another case and keys given twice
    are problems; with ``False`` names match case-insensitively, unknown fields are dropped and a
    repeated key keeps its later value, with a warning each."""
    documents = Documents(workflows=[], templates=TemplateStore(), config_maps={})
    inputs = [(Path(s), True) for s in sources]
    inputs += [(p, False) for p in _template_files([Path(p) for p in template_paths])]
    for path, workflows_allowed in inputs:
        file = str(path)
        documents.kinds.setdefault(file, [])
        for index, document, duplicates in read_documents(path):
            where = f"document {index}"
            documents.note_duplicates(duplicates, file, strict=strict)
            kind = document["kind"]
            documents.kinds[file].append(kind)
            if kind in (KIND_WORKFLOW, KIND_CRON_WORKFLOW) and not workflows_allowed:
                raise DocumentError(
                    f"a {kind} in a --templates path (pass it as a file to run)",
                    file=file,
                    path=where,
                )
            if kind == KIND_WORKFLOW:
                documents.workflows.append(documents.decoded(document, file, strict=strict))
                documents.workflow_sources.append(file)
            elif kind == KIND_CRON_WORKFLOW:
                documents.cron_workflows.append(documents.decoded(document, file, strict=strict))
                documents.cron_sources.append(file)
            elif kind == KIND_CONFIG_MAP:
                name, data = _config_map_data(document, file, where)
                if name in documents.config_maps:
                    raise DocumentError(f"duplicate ConfigMap `{name}`", file=file, path=where)
                documents.config_maps[name] = data
            else:
                try:
                    decoded = documents.decoded(document, file, strict=strict)
                    documents.templates.add(decoded, source=file)
                except DocumentError as exc:
                    raise DocumentError(exc.message, file=file, path=where) from None
    return documents


def workflow_name(workflow: dict[str, Any]) -> str:
    """``metadata.name``, or ``metadata.generateName`` plus 5 random characters, as Kubernetes
    names an object on create (``names.SimpleNameGenerator``): a prefix longer than 58
    characters is cut to 58, so the name fits in 63."""
    metadata = workflow.get("metadata") or {}
    name = metadata.get("name")
    if isinstance(name, str) and name:
        return name
    prefix = metadata.get("generateName")
    if isinstance(prefix, str) and prefix:
        suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(_NAME_RANDOM_LENGTH))
        return prefix[:_MAX_GENERATED_PREFIX] + suffix
    raise DocumentError("a Workflow needs metadata.name or metadata.generateName", path="metadata")
