#!/bin/sh
# Build the project's container images locally; nothing is ever pulled (no registry is reachable).
#
#   sh images/build.sh [TARGET...]      TARGET: base busybox scratch python argoexec all (default)
#
#   base      localhost/argoexec-base:bookworm  Debian 12 minbase + the host's CAs (base/rootfs.sh)
#   busybox   localhost/busybox:test    Debian's static busybox and its applet links in /bin
#   scratch   localhost/scratch:test    one static binary, /tool (scratch/tool.c), as ENTRYPOINT
#   python    localhost/python:test     the base + Debian's python3 (python/Containerfile)
#   argoexec  localhost/argoexec:latest the executor image (the root Dockerfile)
#
# Images built FROM the base build it first when it is missing or out of date.
#
# Cached: every image carries the label org.argoexec.inputs, a sha256 of what it is built from
# (recipe, sources, the parent image's ID); an image whose label matches is not built again.
# FORCE=1 rebuilds anyway. The base's root filesystem (debootstrap, ~40 s, needs root) is kept as a
# tarball in ARGOEXEC_IMAGE_CACHE (default: /var/cache/argoexec-images for root, else
# $XDG_CACHE_HOME/argoexec-images).
# ENGINE=podman|docker (default: podman when installed, else docker). podman runs with the project's
# containers.conf (images/podman/env.sh).
# Exit status 3: a prerequisite is missing (podman/docker, root for debootstrap, busybox-static, gcc).
set -eu

ARGOEXEC_REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$ARGOEXEC_REPO/images/podman/env.sh"
cd "$ARGOEXEC_REPO"

engine=${ENGINE:-}
if [ -z "$engine" ]; then
    if command -v podman >/dev/null; then
        engine=podman
    elif command -v docker >/dev/null; then
        engine=docker
    else
        echo "build.sh: neither podman nor docker is installed" >&2
        exit 3
    fi
fi
pull_never=
[ "$engine" = podman ] && pull_never=--pull=never

if [ "$(id -u)" = 0 ]; then
    cache=${ARGOEXEC_IMAGE_CACHE:-/var/cache/argoexec-images}
else
    cache=${ARGOEXEC_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/argoexec-images}
fi
label=org.argoexec.inputs
root_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() {
    echo "build.sh: $2" >&2
    exit "$1"
}

# sha256 of WORD (a setting or a parent image's ID) and of the files under PATHS (names and
# contents; bytecode caches left out). Missing paths count as empty.
hash_inputs() {
    word=$1
    shift
    {
        echo "$word"
        find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 2>/dev/null \
            | LC_ALL=C sort -z | xargs -0r sha256sum
    } | sha256sum | cut -c1-64
}

image_id() {
    "$engine" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# True when IMAGE exists with inputs label HASH (and FORCE is not set).
fresh() {
    [ -z "${FORCE:-}" ] || return 1
    [ "$("$engine" image inspect --format "{{ index .Labels \"$label\" }}" "$1" 2>/dev/null)" = "$2" ]
}

size_mb() {
    "$engine" image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'
}

up_to_date() {
    echo "$1: up to date ($(size_mb "$1"))"
}

# Report a build that started at START and drop the image it replaced (when nothing uses it).
built() {
    image=$1 old=$2 start=$3
    echo "$image: built in $(($(date +%s) - start)) s ($(size_mb "$image"))"
    new=$(image_id "$image")
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        "$engine" rmi "$old" >/dev/null 2>&1 || true
    fi
}

# Run a build command with its output in a log; show the log's tail when it fails.
logged() {
    log=$(mktemp "${TMPDIR:-/tmp}/argoexec-image-build.XXXXXX")
    if ! "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        rm -f "$log"
        die 1 "failed: $*"
    fi
    rm -f "$log"
}

# Import the root filesystem tarball read from stdin as IMAGE with inputs HASH; more --change
# options follow.
import_tar() {
    image=$1 hash=$2
    shift 2
    logged "$engine" import --change "LABEL $label=$hash" "$@" - "$image"
}

build_base() {
    image=$ARGOEXEC_BASE_IMAGE
    hash=$(hash_inputs "mirror=${DEBIAN_MIRROR:-}" images/base/rootfs.sh \
        /usr/local/share/ca-certificates)
    if fresh "$image" "$hash"; then
        up_to_date "$image"
        return
    fi
    start=$(date +%s)
    tarball=$cache/bookworm-minbase-$(echo "$hash" | cut -c1-16).tar
    if [ ! -f "$tarball" ]; then
        [ "$(id -u)" = 0 ] || die 3 "$image: debootstrap needs root (or a cached $tarball)"
        command -v debootstrap >/dev/null || die 3 "$image: debootstrap is not installed"
        mkdir -p "$cache"
        sh images/base/rootfs.sh "$tarball"
        echo "$image: root filesystem made in $(($(date +%s) - start)) s"
        find "$cache" -name 'bookworm-minbase-*.tar' ! -path "$tarball" -delete
    fi
    old=$(image_id "$image")
    import_tar "$image" "$hash" --change "ENV PATH=$root_path" --change 'CMD ["bash"]' \
        <"$tarball"
    built "$image" "$old" "$start"
}

build_busybox() {
    image=$ARGOEXEC_BUSYBOX_IMAGE
    busybox=/bin/busybox
    [ -x "$busybox" ] && LC_ALL=C ldd "$busybox" 2>&1 | grep -q 'not a dynamic' \
        || die 3 "$image: needs Debian's busybox-static ($busybox, statically linked)"
    hash=$(hash_inputs busybox images/build.sh "$busybox")
    if fresh "$image" "$hash"; then
        up_to_date "$image"
        return
    fi
    start=$(date +%s)
    old=$(image_id "$image")
    work=$(mktemp -d)
    mkdir -p "$work/bin" "$work/etc" "$work/tmp"
    cp "$busybox" "$work/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$work/bin/$applet"
    done
    tar --numeric-owner --owner=0 --group=0 -C "$work" -c . \
        | import_tar "$image" "$hash" --change 'ENV PATH=/bin' --change 'CMD ["sh"]'
    rm -rf "$work"
    built "$image" "$old" "$start"
}

build_scratch() {
    image=$ARGOEXEC_SCRATCH_IMAGE
    command -v gcc >/dev/null || die 3 "$image: gcc is not installed"
    hash=$(hash_inputs "$(gcc -dumpfullversion)" images/build.sh images/scratch/tool.c)
    if fresh "$image" "$hash"; then
        up_to_date "$image"
        return
    fi
    start=$(date +%s)
    old=$(image_id "$image")
    work=$(mktemp -d)
    gcc -static -Os -s -Wall -Wextra -Werror -o "$work/tool" images/scratch/tool.c
    # Only the binary: no directories, no libc, no shell.
    tar --numeric-owner --owner=0 --group=0 -C "$work" -c tool \
        | import_tar "$image" "$hash" --change 'ENTRYPOINT ["/tool"]'
    rm -rf "$work"
    built "$image" "$old" "$start"
}

# Build IMAGE from the base with a Containerfile: NAME CONTAINERFILE CONTEXT INPUT-PATHS...
build_from_base() {
    build_base # first: it sets the same (global) variables
    image=$1 file=$2 context=$3
    shift 3
    base_id=$(image_id "$ARGOEXEC_BASE_IMAGE")
    hash=$(hash_inputs "$base_id" "$file" "$@")
    if fresh "$image" "$hash"; then
        up_to_date "$image"
        return
    fi
    start=$(date +%s)
    old=$(image_id "$image")
    # shellcheck disable=SC2086 # $pull_never is empty or one word
    logged "$engine" build $pull_never --build-arg "BASE=$ARGOEXEC_BASE_IMAGE" \
        --label "$label=$hash" -t "$image" -f "$file" "$context"
    built "$image" "$old" "$start"
}

build_python() {
    build_from_base "$ARGOEXEC_PYTHON_IMAGE" images/python/Containerfile images/python
}

# The inputs are the paths .dockerignore lets into the context.
build_argoexec() {
    build_from_base "$ARGOEXEC_IMAGE" Dockerfile . .dockerignore pyproject.toml README.md \
        argoexec artifacts images/emissary images/argoexec
}

[ $# -gt 0 ] || set -- all
for target; do
    case $target in
        base | busybox | scratch | python | argoexec) "build_$target" ;;
        all) for t in base busybox scratch python argoexec; do "build_$t"; done ;;
        *) die 2 "unknown target $target (base busybox scratch python argoexec all)" ;;
    esac
done
