#!/usr/bin/env bash
# Builds the images the container tests run (a test fixture): spex-cloud,
# spex-edge (the edge simulator) and spex-prometheus, from the repository,
# as deploy/cloud/Dockerfile says. Rebuilds are quick: layers and the
# compiler cache are kept in podman's storage.
set -euo pipefail
source "$(dirname "$0")/podman_support.sh" "$1"
cd "$spex_repo"
spex_base_image
started=$SECONDS
spex_build -f deploy/cloud/Dockerfile -t localhost/spex-cloud:latest .
spex_build -f deploy/cloud/Dockerfile --target edge -t localhost/spex-edge:latest .
spex_build -f deploy/prometheus/Dockerfile -t localhost/spex-prometheus:latest .
echo "images built in $((SECONDS - started)) s"
podman images --filter reference='localhost/spex-*' \
  --format '{{.Repository}}:{{.Tag}} {{.Size}}'
