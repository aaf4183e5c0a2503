"""Our hand-written Argo models must use Argo's field names: checked against Argo's JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from argoexec import models
from argoexec.models import artifacts as art

SCHEMA = Path(__file__).resolve().parent / "fixtures" / "argo" / "schema.json"
PREFIX = "io.argoproj.workflow.v1alpha1."

# Our model -> Argo's schema definition (by name).
MAPPED: dict[type[BaseModel], str] = {
    models.Artifact: PREFIX + "Artifact",
    models.ArtifactLocation: PREFIX + "ArtifactLocation",
    models.S3Artifact: PREFIX + "S3Artifact",
    models.S3EncryptionOptions: PREFIX + "S3EncryptionOptions",
    models.CreateS3BucketOptions: PREFIX + "CreateS3BucketOptions",
    models.GCSArtifact: PREFIX + "GCSArtifact",
    models.GitArtifact: PREFIX + "GitArtifact",
    models.HTTPArtifact: PREFIX + "HTTPArtifact",
    models.HTTPAuth: PREFIX + "HTTPAuth",
    models.BasicAuth: PREFIX + "BasicAuth",
    models.OAuth2Auth: PREFIX + "OAuth2Auth",
    models.OAuth2EndpointParam: PREFIX + "OAuth2EndpointParam",
    models.ClientCertAuth: PREFIX + "ClientCertAuth",
    models.Header: PREFIX + "Header",
    models.ArtifactoryArtifact: PREFIX + "ArtifactoryArtifact",
    models.RawArtifact: PREFIX + "RawArtifact",
    models.ArchiveStrategy: PREFIX + "ArchiveStrategy",
    models.TarStrategy: PREFIX + "TarStrategy",
    models.ArtifactGC: PREFIX + "ArtifactGC",
    models.ArtifactRepository: PREFIX + "ArtifactRepository",
    art.S3ArtifactRepository: PREFIX + "S3ArtifactRepository",
    art.GCSArtifactRepository: PREFIX + "GCSArtifactRepository",
    art.ArtifactoryArtifactRepository: PREFIX + "ArtifactoryArtifactRepository",
    models.SecretKeySelector: "io.k8s.api.core.v1.SecretKeySelector",
    models.Template: PREFIX + "Template",
    models.Inputs: PREFIX + "Inputs",
    models.Outputs: PREFIX + "Outputs",
    models.Parameter: PREFIX + "Parameter",
    models.ValueFrom: PREFIX + "ValueFrom",
    models.ScriptTemplate: PREFIX + "ScriptTemplate",
    models.ResourceTemplate: PREFIX + "ResourceTemplate",
    models.ManifestFrom: PREFIX + "ManifestFrom",
    models.ContainerSetTemplate: PREFIX + "ContainerSetTemplate",
    models.ConfigMapKeySelector: "io.k8s.api.core.v1.ConfigMapKeySelector",
}

# Our own extensions, deliberately absent from Argo's schema. ``local`` is the artifact kind of
# the local runtime (a directory on this machine, see artifacts/drivers/local.py): a location
# field of every artifact and a repository kind. Anything else unknown to Argo is drift.
EXTENSIONS: dict[type[BaseModel], set[str]] = {
    models.Artifact: {"local"},
    models.ArtifactLocation: {"local"},
    models.ArtifactRepository: {"local"},
}


@pytest.fixture(scope="module")
def definitions() -> dict[str, dict[str, object]]:
    if not SCHEMA.exists():
        pytest.fail(f"Argo schema not found at {SCHEMA}")
    data = json.loads(SCHEMA.read_text())
    defs: dict[str, dict[str, object]] = data["definitions"]
    return defs


@pytest.mark.parametrize("model", list(MAPPED), ids=lambda m: m.__name__)
def test_every_field_alias_exists_in_argos_schema(
    model: type[BaseModel], definitions: dict[str, dict[str, object]]
) -> None:
    props = definitions[MAPPED[model]].get("properties", {})
    assert isinstance(props, dict)
    aliases = {f.alias or name for name, f in model.model_fields.items()}
    unknown = sorted(aliases - set(props) - EXTENSIONS.get(model, set()))
    assert not unknown, f"{model.__name__} has fields Argo does not define: {unknown}"


@pytest.mark.parametrize("model", list(EXTENSIONS), ids=lambda m: m.__name__)
def test_our_extensions_are_still_unknown_to_argo(
    model: type[BaseModel], definitions: dict[str, dict[str, object]]
) -> None:
    """If Argo ever defines a field of the same name, ours must be reconciled with it."""
    props = definitions[MAPPED[model]].get("properties", {})
    assert isinstance(props, dict)
    aliases = {f.alias or name for name, f in model.model_fields.items()}
    assert EXTENSIONS[model] <= aliases
    assert not EXTENSIONS[model] & set(props)


@pytest.mark.parametrize(
    "model",
    [models.S3Artifact, models.GCSArtifact, models.GitArtifact, models.HTTPArtifact],
    ids=lambda m: m.__name__,
)
def test_driver_locations_cover_every_field_argo_defines(
    model: type[BaseModel], definitions: dict[str, dict[str, object]]
) -> None:
    props = definitions[MAPPED[model]].get("properties", {})
    assert isinstance(props, dict)
    aliases = {f.alias or name for name, f in model.model_fields.items()}
    assert set(props) - aliases == set()


def test_parameter_values_accept_numbers_and_booleans_as_strings() -> None:
    p = models.Parameter.model_validate({"name": "n", "value": 3, "default": True})
    assert (p.value, p.default) == ("3", "true")


def test_unknown_fields_survive_a_round_trip() -> None:
    doc = {"name": "a", "s3": {"key": "k", "futureField": 1}, "somethingNew": {"x": [1]}}
    assert models.Artifact.model_validate(doc).to_wire() == doc
