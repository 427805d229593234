#!/usr/bin/env bash
# Next semantic version from the conventional commits since the last vX.Y.Z tag.
#
#   BREAKING CHANGE: in a body, or `type!:` / `type(scope)!:`   -> major
#   feat: / feat(scope):                                        -> minor
#   anything else (fix, perf, refactor, docs, chore, ...)       -> patch
#
# Every push to main is a release, so there is always at least a patch bump.
# If HEAD already carries a version tag (a re-run), that version is printed.
#
# usage: next-version.sh [--notes FILE]
#   prints the version without the leading "v" (e.g. 1.4.0) on stdout;
#   --notes writes Markdown release notes grouped by kind to FILE.
set -euo pipefail

notes=""
while [ $# -gt 0 ]; do
  case "$1" in
    --notes) notes="$2"; shift 2 ;;
    *) echo "usage: $0 [--notes FILE]" >&2; exit 2 ;;
  esac
done

tag_pattern='v[0-9]*.[0-9]*.[0-9]*'

last=$(git describe --tags --abbrev=0 --match "$tag_pattern" 2>/dev/null || true)
current=$(git tag --points-at HEAD --list "$tag_pattern" | sort -V | tail -n 1)

if [ -n "$current" ]; then
  version="${current#v}"
  # notes for the commits between the previous tag and this one
  last=$(git describe --tags --abbrev=0 --match "$tag_pattern" "HEAD^" 2>/dev/null || true)
fi

if [ -n "$last" ]; then
  range="$last..HEAD"
else
  range="HEAD"
fi

breaking=()
features=()
fixes=()
others=()
bump="patch"

# One record per commit: sha, subject, body, separated by \x1f, ended by \x1e.
while IFS=$'\x1f' read -r -d $'\x1e' sha subject body; do
  sha="${sha#$'\n'}"
  [ -n "$sha" ] || continue
  line="- $subject (${sha:0:7})"
  if [[ "$subject" =~ ^[a-zA-Z]+(\([^\)]*\))?!: ]] || [[ "$body" =~ BREAKING[\ -]CHANGE: ]]; then
    breaking+=("$line")
    bump=major
  elif [[ "$subject" =~ ^feat(\([^\)]*\))?: ]]; then
    features+=("$line")
    [ "$bump" = major ] || bump=minor
  elif [[ "$subject" =~ ^(fix|perf)(\([^\)]*\))?: ]]; then
    fixes+=("$line")
  else
    others+=("$line")
  fi
done < <(git log --no-merges --format='%H%x1f%s%x1f%b%x1e' "$range")

if [ -z "${version:-}" ]; then
  base="${last#v}"
  base="${base:-0.0.0}"
  IFS=. read -r major minor patch <<<"$base"
  case "$bump" in
    major) version="$((major + 1)).0.0" ;;
    minor) version="$major.$((minor + 1)).0" ;;
    patch) version="$major.$minor.$((patch + 1))" ;;
  esac
fi

if [ -n "$notes" ]; then
  section() {
    local title="$1"
    shift
    [ $# -gt 0 ] || return 0
    printf '### %s\n\n' "$title"
    printf '%s\n' "$@"
    printf '\n'
  }
  {
    printf '## v%s\n\n' "$version"
    if [ -n "$last" ]; then
      printf 'Changes since %s.\n\n' "$last"
    fi
    section "Breaking changes" "${breaking[@]}"
    section "Features" "${features[@]}"
    section "Fixes" "${fixes[@]}"
    section "Other changes" "${others[@]}"
  } >"$notes"
fi

printf '%s\n' "$version"
