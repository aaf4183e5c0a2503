# The executor image: `argoexec` with every artifact driver, for the `init`, `wait` and
# `artifact` containers of Argo pods. Build: `podman build --pull=never -t argoexec .` (or docker).
FROM python:3.11-slim-bookworm

# git + ssh for Git input artifacts; CA certificates for HTTPS stores.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY argoexec ./argoexec
COPY artifacts ./artifacts
RUN pip install --no-cache-dir . && rm -rf /src

# Argo runs executor containers as non-root with a read-only root filesystem; nothing here
# needs to write outside /tmp, /var/run/argo and /dev/termination-log.
USER 8737
WORKDIR /
ENTRYPOINT ["argoexec"]
