#!/bin/sh
# Make the root filesystem of localhost/argoexec-base:bookworm as a tarball: OUT (argument 1).
#
# A Debian 12 minbase (debootstrap, ~35 s, needs root) made slim the way the official Debian
# "slim" images are, plus what this project's machines need to build images:
#  - dpkg never installs documentation, man pages, info or locales (path-exclude), nor Python's
#    EXTERNALLY-MANAGED marker (PEP 668: pip installs into images derived from this base, as in the
#    official python images);
#  - apt installs no recommended packages and keeps no .deb files;
#  - bookworm-updates and bookworm-security are sources, and the packages are upgraded;
#  - the host's extra CA certificates (/usr/local/share/ca-certificates/*.crt) are trusted: package
#    and PyPI downloads inside `podman build` go through the same TLS-inspecting path as the host's.
# images/build.sh caches the tarball, keyed by this file, the mirror and those certificates.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -eu

out=${1:?usage: rootfs.sh OUT.tar}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/argoexec-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/rootfs

debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

cat >"$root/etc/dpkg/dpkg.cfg.d/argoexec-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/lib/python3*/EXTERNALLY-MANAGED
CFG

cat >"$root/etc/apt/apt.conf.d/argoexec-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
CFG

cat >"$root/etc/apt/sources.list" <<CFG
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
CFG

for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] && cp "$crt" "$root/usr/local/share/ca-certificates/"
done
chroot "$root" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive;
    update-ca-certificates && apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' \
    >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }

# What debootstrap installed before the excludes existed, and the leftovers of its work.
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"* \
    "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/debconf/"*-old \
    "$root/var/log/"* "$root/tmp/"* "$root/var/tmp/"*

tar --numeric-owner -C "$root" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
