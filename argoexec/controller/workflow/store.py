"""WorkflowTemplates and ClusterWorkflowTemplates by name, and ``templateRef`` resolution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from argoexec.controller.workflow.errors import DocumentError, TemplateReferenceError

KIND_NAMESPACED = "WorkflowTemplate"
KIND_CLUSTER = "ClusterWorkflowTemplate"


def _kind(cluster_scope: bool) -> str:
    return KIND_CLUSTER if cluster_scope else KIND_NAMESPACED


def _available(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(names)) if names else "none"


@dataclass(frozen=True)
class TemplateOwner:
    """The document a template belongs to. A step's ``template: x`` inside one of its templates
    is looked up in ``templates`` (that document's own), not in the running workflow's."""

    kind: str  # Workflow, WorkflowTemplate or ClusterWorkflowTemplate
    name: str
    templates: dict[str, dict[str, Any]]
    document: dict[str, Any] = field(repr=False, compare=False)
    source: str = ""

    @property
    def cluster_scope(self) -> bool:
        return self.kind == KIND_CLUSTER

    def template(self, name: str) -> dict[str, Any]:
        """The template ``name`` of this document; raises naming the ones it has."""
        found = self.templates.get(name)
        if found is None:
            raise TemplateReferenceError(
                f"template `{name}` not found in {self.kind} `{self.name}`"
                f" (it has {_available(list(self.templates))})",
                file=self.source,
            )
        return found


def _templates_of(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = document.get("spec") or {}
    templates: dict[str, dict[str, Any]] = {}
    for template in spec.get("templates") or []:
        if isinstance(template, dict) and isinstance(template.get("name"), str):
            # The first of two same-named templates wins; lint reports the duplicate.
            templates.setdefault(template["name"], template)
    return templates


def workflow_owner(workflow: dict[str, Any], *, source: str = "") -> TemplateOwner:
    """The owner for a workflow's own templates (``template: x`` in its steps and tasks)."""
    metadata = workflow.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    return TemplateOwner("Workflow", str(name), _templates_of(workflow), workflow, source)


class TemplateStore:
    """WorkflowTemplate and ClusterWorkflowTemplate documents, each kind its own namespace."""

    def __init__(self) -> None:
        self._owners: dict[str, dict[str, TemplateOwner]] = {KIND_NAMESPACED: {}, KIND_CLUSTER: {}}

    def add(self, document: dict[str, Any], *, source: str = "") -> TemplateOwner:
        """Add a (Cluster)WorkflowTemplate; a second one of the same kind and name is an error."""
        kind = document.get("kind")
        if kind not in self._owners:
            raise DocumentError(f"not a WorkflowTemplate: kind `{kind}`", file=source)
        name = (document.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise DocumentError(f"{kind} without metadata.name", file=source, path="metadata")
        known = self._owners[kind].get(name)
        if known is not None:
            first = f" (first in {known.source})" if known.source else ""
            raise DocumentError(f"duplicate {kind} `{name}`{first}", file=source)
        owner = TemplateOwner(kind, name, _templates_of(document), document, source)
        self._owners[kind][name] = owner
        return owner

    def names(self, *, cluster_scope: bool) -> list[str]:
        return list(self._owners[_kind(cluster_scope)])

    def owners(self) -> list[TemplateOwner]:
        """Every document, WorkflowTemplates first, each kind in the order added."""
        return [*self._owners[KIND_NAMESPACED].values(), *self._owners[KIND_CLUSTER].values()]

    def owner(self, name: str, *, cluster_scope: bool) -> TemplateOwner:
        kind = _kind(cluster_scope)
        found = self._owners[kind].get(name)
        if found is None:
            hint = ""
            if name in self._owners[_kind(not cluster_scope)]:
                other, flag = _kind(not cluster_scope), str(not cluster_scope).lower()
                hint = f"; there is a {other} of that name: clusterScope: {flag}?"
            error = TemplateReferenceError(
                f"{kind} `{name}` not found (have {_available(list(self._owners[kind]))}){hint}"
            )
            error.missing_document = True
            raise error
        return found

    def get(self, name: str, *, cluster_scope: bool) -> dict[str, Any]:
        """The (Cluster)WorkflowTemplate document ``name``."""
        return self.owner(name, cluster_scope=cluster_scope).document

    def resolve_template_ref(self, ref: Mapping[str, Any]) -> tuple[dict[str, Any], TemplateOwner]:
        """``templateRef: {name, template, clusterScope}`` -> the template and its owner."""
        name, template = ref.get("name"), ref.get("template")
        if not isinstance(name, str) or not name:
            raise TemplateReferenceError("templateRef.name is required")
        if not isinstance(template, str) or not template:
            raise TemplateReferenceError("templateRef.template is required")
        owner = self.owner(name, cluster_scope=bool(ref.get("clusterScope")))
        return owner.template(template), owner
