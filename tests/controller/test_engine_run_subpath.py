"""Artifact `subPath` in the engine, on real pods: a step's or task's argument (`from`,
`fromExpression` or a location) and a template's input (a key-only location, or inside what
the caller passes) each deliver one file or directory of a directory artifact, for every
archive strategy; a subPath that is not there or not clean is an Error naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from argoexec.models import ArtifactRepository
from tests.controller.test_engine_run import Run, run_workflow

# A directory artifact `site` (index.txt, assets/a.css, assets/img/b.png, other.txt), stored
# three times: tar.gz (default), object by object (none) and zip.
BUILD = """
- name: build
  container:
    image: alpine
    command: [sh, -c]
    args:
    - >-
      mkdir -p /tmp/site/assets/img && echo index > /tmp/site/index.txt &&
      echo css > /tmp/site/assets/a.css && echo png > /tmp/site/assets/img/b.png &&
      echo other > /tmp/site/other.txt
  outputs:
    artifacts:
    - {name: tar, path: /tmp/site}
    - {name: none, path: /tmp/site, archive: {none: {}}}
    - {name: zip, path: /tmp/site, archive: {zip: {}}}
"""
# Prints the file and the directory's files; fails when either is missing.
SHOW = """
- name: show
  inputs:
    artifacts:
    - {name: file, path: /tmp/in/file}
    - {name: dir, path: /tmp/in/dir}
  container:
    image: alpine
    command: [sh, -c]
    args: ["set -e; cat /tmp/in/file; cd /tmp/in/dir; find . -type f | sort | xargs echo"]
"""


KINDS = ("tar", "none", "zip")


def repository(tmp_path: Path) -> ArtifactRepository:
    return ArtifactRepository.model_validate({"local": {"root": str(tmp_path / "repo")}})


def run(tmp_path: Path, spec: str, **kwargs: Any) -> Run:
    return run_workflow(tmp_path, spec, artifact_repository=repository(tmp_path), **kwargs)


def pair(source: str, file: str = "index.txt", directory: str = "assets") -> str:
    return (
        f'{{artifacts: [{{name: file, from: "{source}", subPath: "{file}"}}, '
        f'{{name: dir, from: "{source}", subPath: "{directory}"}}]}}'
    )


def test_steps_pass_one_file_and_one_directory_of_each_archive_strategy(tmp_path: Path) -> None:
    group = "\n".join(
        f"""  {"- -" if index == 0 else "  -"} name: {kind}
      template: show
      arguments: {pair("{{steps.build.outputs.artifacts." + kind + "}}")}"""
        for index, kind in enumerate(KINDS)
    )
    result = run(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: build, template: build}}
{group}
{BUILD}
{SHOW}
""",
    )
    assert result.phase == "Succeeded", result.explain()
    for kind in KINDS:
        assert result.result(f"wf[1].{kind}") == "index\n./a.css ./img/b.png", result.explain()
        given = {a["name"]: a for a in result.node(f"wf[1].{kind}")["inputs"]["artifacts"]}
        assert given["file"]["subPath"] == "index.txt"  # beside the producer's key, as passed
        assert given["dir"]["subPath"] == "assets"


def test_dag_tasks_take_sub_paths_through_from_expressions_loops_and_parameters(
    tmp_path: Path,
) -> None:
    result = run(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: build, template: build}}
    - name: pick
      template: name-it
    - name: by-expression
      depends: build
      template: show
      arguments:
        artifacts:
        - name: file
          fromExpression: >-
            tasks.build.status == 'Succeeded' ? tasks.build.outputs.artifacts.zip : nil
          subPath: assets/img/b.png
        - {{name: dir, from: "{{{{tasks.build.outputs.artifacts.tar}}}}", subPath: assets/img}}
    - name: by-parameter
      depends: build && pick
      template: show
      arguments: {pair("{{tasks.build.outputs.artifacts.none}}", "{{tasks.pick.outputs.result}}")}
    - name: looped
      depends: build
      template: show
      withItems: [other.txt, assets/../index.txt]
      arguments: {pair("{{tasks.build.outputs.artifacts.tar}}", "{{item}}")}
- name: name-it
  container: {{image: alpine, command: [sh, -c, "printf other.txt"]}}
{BUILD}
{SHOW}
""",
    )
    assert result.result("wf.by-expression") == "png\n./b.png", result.explain()
    assert result.result("wf.by-parameter") == "other\n./a.css ./img/b.png", result.explain()
    assert result.result("wf.looped(0:other.txt)") == "other\n./a.css ./img/b.png"
    # Not a clean path: refused before a pod exists, naming the place.
    looped = result.node("wf.looped(1:assets/../index.txt)")
    assert looped["phase"] == "Error", result.explain()
    assert "arguments.artifacts[0] (file)" in looped["message"]
    assert "subPath 'assets/../index.txt' contains a '..' segment" in looped["message"]


def test_a_template_input_takes_a_sub_path_of_its_own_key_only_location_or_of_what_is_passed(
    tmp_path: Path,
) -> None:
    result = run(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: build, template: build-keyed}
  - - name: fixed
      template: fixed
    - name: nested
      template: nested
      arguments:
        artifacts:
        - {name: site, from: "{{steps.build.outputs.artifacts.site}}", subPath: assets}
  - - name: after
      template: cat
      arguments: {artifacts: [{name: f, from: "{{steps.nested.outputs.artifacts.png}}"}]}
- name: build-keyed
  container:
    image: alpine
    command: [sh, -c]
    args:
    - >-
      mkdir -p /tmp/site/assets/img && echo css > /tmp/site/assets/a.css &&
      echo png > /tmp/site/assets/img/b.png
  outputs:
    artifacts:
    # A subPath on a container's output selects nothing (Argo ignores it there).
    - {name: site, path: /tmp/site, s3: {key: "{{workflow.name}}/site.tgz"}, subPath: ignored}
- name: fixed
  inputs:
    parameters: [{name: which, value: assets/a.css}]
    artifacts:
    # Argo's key-only form, relocated onto the repository, with a subPath of its own.
    - name: css
      path: /tmp/a.css
      s3: {key: "{{workflow.name}}/site.tgz"}
      subPath: "{{inputs.parameters.which}}"
  container: {image: alpine, command: [cat, /tmp/a.css]}
- name: nested
  inputs: {artifacts: [{name: site}]}
  steps:
  - - name: inner
      template: list
      arguments: {artifacts: [{name: dir, from: "{{inputs.artifacts.site}}"}]}
  outputs:
    artifacts:
    - {name: png, from: "{{steps.inner.outputs.artifacts.copy}}", subPath: b.png}
- name: list
  inputs:
    artifacts:
    # On an input without a location, a subPath selects inside what the caller passes.
    - {name: dir, path: /tmp/d, subPath: img}
  container: {image: alpine, command: [sh, -c, "cd /tmp/d && ls && cp -r /tmp/d /tmp/copy"]}
  outputs: {artifacts: [{name: copy, path: /tmp/copy}]}
- name: cat
  inputs: {artifacts: [{name: f, path: /tmp/f}]}
  container: {image: alpine, command: [cat, /tmp/f]}
""",
    )
    assert result.phase == "Succeeded", result.explain()
    assert result.result("wf[1].fixed") == "css"
    assert result.result("wf[1].nested[0].inner") == "b.png"
    [given] = result.node("wf[1].nested[0].inner")["inputs"]["artifacts"]
    assert given["subPath"] == "assets/img"  # the caller's subPath, then the input's own
    [png] = result.node("wf[1].nested")["outputs"]["artifacts"]
    assert png["subPath"] == "b.png"  # a steps template's output carries its subPath on
    assert result.result("wf[2].after") == "png"


def test_a_missing_sub_path_fails_the_node_naming_it_and_an_optional_input_is_skipped(
    tmp_path: Path,
) -> None:
    result = run(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: build, template: build}}
  - - name: required
      template: show
      arguments: {pair("{{steps.build.outputs.artifacts.tar}}", "nope.txt")}
    - name: optional
      template: maybe
      arguments:
        artifacts:
        - {{name: file, from: "{{{{steps.build.outputs.artifacts.none}}}}", subPath: nope.txt}}
- name: maybe
  inputs: {{artifacts: [{{name: file, path: /tmp/in/file, optional: true}}]}}
  container: {{image: alpine, command: [sh, -c, "test -f /tmp/in/file || echo absent"]}}
{BUILD}
{SHOW}
""",
    )
    required = result.node("wf[1].required")
    assert required["phase"] == "Error", result.explain()
    assert "artifact 'file'" in required["message"]
    assert "subPath 'nope.txt' not found" in required["message"]
    assert result.node("wf[1].optional")["phase"] == "Succeeded", result.explain()
    assert result.result("wf[1].optional") == "absent"


def test_a_sub_path_of_an_artifact_that_was_not_produced_is_an_error(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: make, template: make}
  - - name: use
      template: maybe
      arguments:
        artifacts: [{name: file, from: "{{steps.make.outputs.artifacts.out}}", subPath: a.txt}]
    - name: tolerant
      template: maybe
      arguments:
        artifacts:
        - {name: file, from: "{{steps.make.outputs.artifacts.out}}", subPath: a.txt, optional: true}
- name: make
  container: {image: alpine, command: [sh, -c, "true"]}
  outputs: {artifacts: [{name: out, path: /tmp/nothing, optional: true}]}
- name: maybe
  inputs: {artifacts: [{name: file, path: /tmp/in/file, optional: true}]}
  container: {image: alpine, command: [sh, -c, "test -e /tmp/in/file || echo absent"]}
""",
    )
    use = result.node("wf[1].use")
    assert use["phase"] == "Error", result.explain()
    assert "arguments.artifacts[0] (file)" in use["message"]
    assert "{{steps.make.outputs.artifacts.out}} produced no such artifact" in use["message"]
    assert "subPath 'a.txt'" in use["message"]
    # An optional argument is Argo's way to accept that (the input stays unsupplied).
    assert result.result("wf[1].tolerant") == "absent", result.explain()


def test_an_unclean_sub_path_on_an_input_is_refused_before_the_pod(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        """
entrypoint: main
arguments: {parameters: [{name: p, value: /etc/passwd}]}
templates:
- name: main
  inputs:
    artifacts:
    - {name: f, path: /tmp/f, raw: {data: x}, subPath: "{{workflow.parameters.p}}"}
  container: {image: alpine, command: [cat, /tmp/f]}
""",
    )
    node = result.node("wf")
    assert node["phase"] == "Error", result.explain()
    assert "inputs.artifacts.f: subPath '/etc/passwd' is absolute" in node["message"]
