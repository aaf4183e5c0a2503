# The executor image, localhost/argoexec:latest: `argoexec` with every artifact driver, for the
# `init`, `wait` and `artifact` containers of Argo pods, plus the self-contained emissary that
# `argoexec init` copies to /var/run/argo/argoexec for the user containers.
#
# Build with `make image` (images/build.sh): FROM the local Debian base
# (localhost/argoexec-base:bookworm, images/base/rootfs.sh); nothing is pulled.
# By hand: `podman build --pull=never -t localhost/argoexec:latest .` once the base exists.
ARG BASE=localhost/argoexec-base:bookworm

# --- The emissary: one self-contained ELF file, /out/argoexec, that needs no libc in the image.
FROM ${BASE} AS emissary
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      gcc libc6-dev python3.11 libpython3.11-dev zlib1g-dev libexpat1-dev \
      >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY images/emissary ./images/emissary
COPY argoexec ./argoexec
RUN OUT=/out PYTHON=/usr/bin/python3.11 sh images/emissary/build.sh && test -x /out/argoexec

# --- argoexec and its dependencies in a virtual environment, copied whole into the final image.
FROM ${BASE} AS venv
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv binutils >/dev/null \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/argoexec
WORKDIR /src
COPY pyproject.toml README.md ./
# The dependencies first: this layer stays cached while only the project's sources change.
RUN python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' \
      >requirements.txt \
 && /opt/argoexec/bin/pip install -q -r requirements.txt
COPY argoexec ./argoexec
COPY artifacts ./artifacts
COPY images/argoexec/trim-venv.sh /usr/local/bin/
# The S3 driver's trimmed botocore data is built here: the image's root is read-only at run time.
RUN /opt/argoexec/bin/pip install -q --no-deps . && sh /usr/local/bin/trim-venv.sh /opt/argoexec \
 && /opt/argoexec/bin/python -m artifacts.drivers.s3 >/dev/null

# --- The executor's root filesystem: the base with python3, git and ssh, and no package manager.
FROM ${BASE} AS runtime
# git + ssh for Git artifacts (CA certificates come with the base). The executor only clones,
# fetches and checks out, so:
#  - no perl (47 MB): git needs it only for scripts such as send-email, svn, cvs and instaweb. A
#    stand-in package provides `perl` and `liberror-perl`; tests/podman/test_executor_image.py
#    clones, fetches and checks out over http(s), ssh and git:// with this image;
#  - none of the files images/argoexec/dpkg-excludes.cfg lists (libc6 is reinstalled to drop its
#    iconv modules);
#  - no apt and no perl-base: nothing is installed into the image later. They are purged through
#    dpkg, so its database lists exactly what the image holds (for image scanners).
COPY images/argoexec/no-perl.control /tmp/no-perl/DEBIAN/control
COPY images/argoexec/dpkg-excludes.cfg /etc/dpkg/dpkg.cfg.d/argoexec-executor
RUN dpkg-deb --build /tmp/no-perl /tmp/no-perl.deb >/dev/null \
 && dpkg -i /tmp/no-perl.deb >/dev/null \
 && rm -rf /tmp/no-perl /tmp/no-perl.deb \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 git openssh-client >/dev/null \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall libc6 >/dev/null \
 && ln -s /usr/bin/git /usr/lib/git-core/git \
 && rm -rf /var/lib/apt/lists/* \
 && dpkg --purge apt libapt-pkg6.0 >/dev/null \
 && dpkg --purge --force-remove-essential --force-depends perl-base 2>/dev/null \
 && rm -rf /var/cache/apt /var/lib/apt /etc/apt /var/log/* /var/cache/debconf/*-old \
      /var/lib/dpkg/*-old

# --- The executor image: one layer for the root filesystem, one for the venv, one for the emissary.
FROM scratch
COPY --from=runtime / /
COPY --from=venv /opt/argoexec /opt/argoexec
COPY --from=emissary /out/argoexec /usr/local/lib/argoexec/emissary
ENV PATH=/opt/argoexec/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    ARGOEXEC_EMISSARY_BINARY=/usr/local/lib/argoexec/emissary
# Argo runs executor containers as non-root with a read-only root filesystem; nothing here
# needs to write outside /tmp, /var/run/argo and /dev/termination-log.
USER 8737
WORKDIR /
ENTRYPOINT ["argoexec"]
