# Source this before running podman for the project (POSIX sh):
#
#     ARGOEXEC_REPO=/path/to/repo; . "$ARGOEXEC_REPO/images/podman/env.sh"
#
# It exports CONTAINERS_CONF (the project's containers.conf) and names the locally built images.
# The Python side (tests/podman/images.py) defines the same names; keep the two in step.
: "${ARGOEXEC_REPO:?set ARGOEXEC_REPO to the repository root before sourcing images/podman/env.sh}"

CONTAINERS_CONF=$ARGOEXEC_REPO/images/podman/containers.conf
export CONTAINERS_CONF

# The locally built images (images/build.sh); nothing is ever pulled.
ARGOEXEC_BASE_IMAGE=localhost/argoexec-base:bookworm
ARGOEXEC_IMAGE=localhost/argoexec:latest
ARGOEXEC_BUSYBOX_IMAGE=localhost/busybox:test
ARGOEXEC_SCRATCH_IMAGE=localhost/scratch:test
ARGOEXEC_PYTHON_IMAGE=localhost/python:test
