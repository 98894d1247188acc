#!/usr/bin/env bash
# Prepares a Debian 12 host (as root) to build and run docker/Dockerfile with podman when
# there is no Docker engine and no container registry: installs podman's packages if they
# are missing, writes a containers.conf of the project's own (nothing in /etc changes), and
# creates the local debian:bookworm and debian:bookworm-slim base images with debootstrap
# from the Debian mirror apt uses, if they are missing. Idempotent; progress goes to stderr,
# the containers.conf path to stdout:
#
#   export CONTAINERS_CONF=$(docker/podman-setup.sh)
#
# Environment: CQMUX_PODMAN_DIR (default /var/tmp/cqmux-podman) holds the generated
# containers.conf and the lock that serialises base-image creation.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state_dir=${CQMUX_PODMAN_DIR:-/var/tmp/cqmux-podman}
packages=(podman runc conmon catatonit netavark aardvark-dns uidmap debootstrap)

log() { printf '[podman-setup] %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (podman's rootful storage, apt-get, debootstrap)"
  exit 1
fi

# --- 1. packages -------------------------------------------------------------------
missing=()
for p in "${packages[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- 2. containers.conf --------------------------------------------------------------
mkdir -p "$state_dir"
nofile=$(ulimit -Hn)
[[ $nofile == unlimited ]] && nofile=1048576
nproc=$(ulimit -Hu)
if [[ $nproc == unlimited ]] || ((nproc > 32768)); then nproc=32768; fi
conf=$state_dir/containers.conf
sed -e "s/@NOFILE@/$nofile/g" -e "s/@NPROC@/$nproc/g" "$here/containers.conf.in" >"$conf.tmp"
mv "$conf.tmp" "$conf"
export CONTAINERS_CONF=$conf

# --- 3. base images ------------------------------------------------------------------
base_full=docker.io/library/debian:bookworm
base_slim=docker.io/library/debian:bookworm-slim

have_bases() { podman image exists "$base_full" && podman image exists "$base_slim"; }

# The Debian mirror apt is configured with here (so the images' apt-get reaches it too).
debian_mirror() {
  local uri
  # shellcheck disable=SC2016  # apt's own $(...) placeholders, not shell expansions
  uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk '$2 == "bookworm" { print $1; exit }')
  if [[ -z $uri ]]; then
    uri=$(grep -rhoE '^(deb[[:space:]]+|URIs:[[:space:]]*)[^[:space:]]+/debian/?' \
            /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
          awk '{ print $NF; exit }')
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if ! have_bases; then
  exec 9>"$state_dir/base-images.lock"
  flock 9
  if ! have_bases; then
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d "$state_dir/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    log "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state_dir/debootstrap.log" 2>&1 || {
      tail -n 20 "$state_dir/debootstrap.log" >&2
      exit 1
    }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # Images start with an empty resolv.conf/hostname; podman supplies them at run time.
    : >"$rootfs/etc/resolv.conf"
    : >"$rootfs/etc/hostname"

    log "importing $base_full"
    tar --numeric-owner -C "$rootfs" -c . |
      podman import --quiet --change 'CMD ["bash"]' - localhost/debian:bookworm >/dev/null
    podman tag localhost/debian:bookworm "$base_full"

    # Slim, as Debian's own -slim images: no docs, man pages or locales, and dpkg told
    # to leave them out of every package installed later.
    rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
           "$rootfs"/usr/share/info/*
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    log "importing $base_slim"
    tar --numeric-owner -C "$rootfs" -c . |
      podman import --quiet --change 'CMD ["bash"]' - localhost/debian:bookworm-slim >/dev/null
    podman tag localhost/debian:bookworm-slim "$base_slim"
    rm -rf "$rootfs"
    trap - EXIT
  fi
  exec 9>&-
fi

echo "$conf"
