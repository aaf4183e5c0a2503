"""``archiveLocation`` filling from the artifact repository (argo-contract.md §13.3)."""

from __future__ import annotations

from argoexec.controller.pod.context import PodBuildError, PodContext
from argoexec.controller.pod.volumes import data_source_artifact
from argoexec.models import ArtifactLocation, ArtifactRepository, Template
from artifacts.errors import ArtifactError
from artifacts.locations import has_location, repository_location

_REPOSITORY_KINDS = ("s3", "gcs", "artifactory", "hdfs", "oss", "azure", "plugin", "local")


def archive_logs(template: Template, ctx: PodContext) -> bool:
    """Repository ``archiveLogs: true`` forces it on; otherwise the workflow's ``archiveLogs``
    overridden by the template's ``archiveLocation.archiveLogs``."""
    repo = ctx.artifact_repository
    if repo is not None and repo.archive_logs:
        return True
    value = bool(ctx.workflow_spec.get("archiveLogs"))
    loc = template.archive_location
    if loc is not None and loc.archive_logs is not None:
        value = loc.archive_logs
    return value


def _needs_location(template: Template, ctx: PodContext) -> bool:
    if archive_logs(template, ctx):
        return True
    arts = [*(template.inputs.artifacts or [] if template.inputs else [])]
    arts += template.outputs.artifacts or [] if template.outputs else []
    source = data_source_artifact(template)
    arts += [source] if source is not None else []
    return any(not has_location(a) for a in arts)


def key_format_variables(ctx: PodContext, pod_name: str) -> dict[str, str]:
    return {
        "workflow.name": ctx.workflow_name,
        "workflow.namespace": ctx.namespace,
        "workflow.uid": ctx.workflow_uid,
        "pod.name": pod_name,
        **ctx.variables,
    }


def _repository_location(
    repo: ArtifactRepository | None, ctx: PodContext, pod_name: str
) -> ArtifactLocation:
    # An empty repository gives an empty location, as Argo's ToArtifactLocation does; the
    # executor then reports the missing storage when it needs it.
    if repo is None or all(getattr(repo, kind) is None for kind in _REPOSITORY_KINDS):
        return ArtifactLocation()
    try:
        return repository_location(repo, key_format_variables(ctx, pod_name))
    except ArtifactError as err:
        raise PodBuildError(f"archiveLocation: {err}") from err


def fill_archive_location(template: Template, ctx: PodContext, pod_name: str) -> Template:
    """The template with ``archiveLocation`` taken from the repository when it lacks a full
    location and logs are archived or some artifact lacks a location."""
    current = template.archive_location
    if current is not None and has_location(current):
        return template
    if not _needs_location(template, ctx):
        return template
    logs = archive_logs(template, ctx)
    location = _repository_location(ctx.artifact_repository, ctx, pod_name)
    location = location.model_copy(update={"archive_logs": logs})
    return template.model_copy(update={"archive_location": location})
