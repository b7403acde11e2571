# Sourced by the container tests: podman set up for this machine (no
# systemd, no registry), the Debian base image made locally and cached in
# podman's storage, and the spex images built from the repository.
#
# Usage: source podman_support.sh REPO_ROOT

spex_repo="$1"
for tool in podman runc debootstrap podman-compose; do
  if ! command -v "$tool" >/dev/null; then
    echo "FAIL: '$tool' is missing (deploy/install-deps.sh installs it)" >&2
    exit 1
  fi
done

# runc and cgroupfs (no systemd here); no default ulimits, which the
# container may not set here ("error setting rlimit type 7").
spex_podman_conf=$(mktemp -d)/containers.conf
cat > "$spex_podman_conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$spex_podman_conf"

# The Dockerfiles start FROM debian:bookworm-slim. No registry can be
# reached, so it is made from Debian's packages once and kept.
spex_base_image() {
  if podman image exists localhost/debian:bookworm-slim; then return; fi
  local root
  root=$(mktemp -d)
  echo "making the base image with debootstrap (about 30 s)"
  debootstrap --variant=minbase bookworm "$root/fs" http://deb.debian.org/debian \
    > "$root/debootstrap.log" 2>&1 || { tail -20 "$root/debootstrap.log"; return 1; }
  # As the published slim image: no package cache, no package lists.
  rm -rf "$root/fs/var/cache/apt/"*.bin "$root/fs/var/cache/apt/archives/"*.deb \
    "$root/fs/var/lib/apt/lists/"*
  tar -C "$root/fs" -c . | podman import - localhost/debian:bookworm-slim
  rm -rf "$root"
}

# podman build as a Docker user would run docker build: --format docker
# keeps the HEALTHCHECK; no pulls; host network for apt.
spex_build() {
  podman build --pull=never --network=host --format docker "$@"
}
