#!/usr/bin/env bash
# Builds kustomize (the Kubernetes manifests' tool) into .kipina/tools for tests/unit/deploy/test_kubernetes.py,
# which then builds every overlay of deploy/kubernetes with it. From the Go module proxy with the machine's Go;
# once (about 2 minutes), then only checked. KIPINA_KUSTOMIZE names another binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v5.7.1  # the newest that builds with Go 1.26 (v5.8 needs Go 1.27)
target="${KIPINA_KUSTOMIZE:-$PWD/.kipina/tools/kustomize}"

if [ ! -x "$target" ]; then
  if [ -n "${KIPINA_KUSTOMIZE:-}" ]; then
    echo "KIPINA_KUSTOMIZE=$target is not an executable" >&2
    exit 1
  fi
  command -v go >/dev/null 2>&1 || { echo "building kustomize needs Go (https://go.dev/dl/)" >&2; exit 1; }
  echo "building kustomize $VERSION for the manifest tests (once)..."
  mkdir -p "$(dirname "$target")"
  GOBIN="$(dirname "$target")" GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION"
fi

"$target" version >/dev/null || { echo "$target does not run" >&2; exit 1; }
