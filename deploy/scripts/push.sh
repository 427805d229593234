#!/usr/bin/env bash
# Pushes a release's images to a registry: the one push path, used by the release
# workflow (.github/workflows/build-images.yml), by an operator building by hand
# (deploy/README.md, "Build and push a release by hand") and by the cluster test
# (tests/cluster/), which pushes to its own registry.
#
# Each image must already exist in the local engine as SOURCE/NAME:TAG (what
# `docker build -t` or the build action made). It is tagged REGISTRY/NAME:TAG (and
# REGISTRY/NAME:EXTRA for each --also-tag), every tag is pushed, and the digest
# the registry answered is printed, one line per image:
#
#   ghcr.io/owner/gateway:1.4.0@sha256:...
#
# Nothing is pushed unless every image exists. Log in first (`docker login
# REGISTRY_HOST`): this script never handles a credential.
#
# usage: push.sh --registry PREFIX --tag TAG [--source PREFIX] [--also-tag TAG]...
#                [NAME...]
#   --registry PREFIX   where to push, e.g. ghcr.io/owner or 10.0.0.5:5000/minitwit
#   --tag TAG           the release, e.g. 1.4.0
#   --source PREFIX     the local images' prefix (default: the --registry PREFIX)
#   --also-tag TAG      another tag for the same images (e.g. sha-1a2b3c4)
#   NAME...             default: gateway user-service message-service
#                       follow-service backup (every image of a release)
#
# Exit status: 0 all pushed; 1 a push failed; 2 refused before pushing (usage, an
# image missing).
set -euo pipefail

usage() {
  sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" | sed '$d' >&2
  exit 2
}

registry=""
tag=""
source=""
also=()
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="${2:-}"; shift 2 ;;
    --tag) tag="${2:-}"; shift 2 ;;
    --source) source="${2:-}"; shift 2 ;;
    --also-tag) also+=("${2:-}"); shift 2 ;;
    -h | --help) usage ;;
    -*) echo "push.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ -n "$registry" ] && [ -n "$tag" ] || { echo "push.sh: --registry and --tag are required" >&2; usage; }
source="${source:-$registry}"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(gateway user-service message-service follow-service backup)

# A tag is what Docker allows: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
for t in "$tag" "${also[@]}"; do
  [[ "$t" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "push.sh: '$t' is not a valid image tag" >&2; exit 2; }
done

missing=()
for name in "${names[@]}"; do
  docker image inspect --format '{{.Id}}' "$source/$name:$tag" >/dev/null 2>&1 || missing+=("$source/$name:$tag")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "push.sh: no local image ${missing[*]}: build it first (nothing pushed)" >&2
  exit 2
fi

for name in "${names[@]}"; do
  for t in "$tag" "${also[@]}"; do
    ref="$registry/$name:$t"
    [ "$source/$name:$tag" = "$ref" ] || docker tag "$source/$name:$tag" "$ref"
    out=$(docker push "$ref" 2>&1) || {
      printf '%s\n' "$out" >&2
      echo "push.sh: pushing $ref failed" >&2
      exit 1
    }
    digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' <<<"$out" | tail -n 1)
    [ -n "$digest" ] || { printf '%s\n' "$out" >&2; echo "push.sh: no digest for $ref" >&2; exit 1; }
    echo "$ref@$digest"
  done
done
