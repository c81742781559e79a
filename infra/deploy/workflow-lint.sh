#!/usr/bin/env bash
# Lints .github/ offline: actionlint (syntax, expressions, reusable-workflow calls, shellcheck on
# every `run:`), then again on a copy whose commit-pinned actions read as the tag in their comment
# (actionlint knows popular actions' inputs by tag, not by commit, so a misspelt input of a pinned
# action passes the first run), then zizmor (pinning, permissions, template injection).
# Usage: infra/deploy/workflow-lint.sh   (actionlint, shellcheck and zizmor on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."

actionlint -shellcheck "$(command -v shellcheck)"

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/.github/workflows"
for f in .github/workflows/*.yml; do
  # `uses: owner/repo@<40 hex> # vX.Y.Z` -> `uses: owner/repo@vX` (same line, same column).
  sed -E 's/@[0-9a-f]{40}( *# *(v[0-9]+)[.0-9]*)/@\2\1/' "$f" > "$copy/$f"
done
git -C "$copy" init --quiet
# Only the action-input findings are new here; the rest were reported by the first run.
(cd "$copy" && actionlint -shellcheck=)

zizmor --offline --min-severity low --config .github/zizmor.yml .github
