#!/usr/bin/env bash
# Put Mermaid's browser bundle where the documentation site loads it, so its diagrams render
# offline: Material for MkDocs uses a `mermaid` already on the page instead of fetching one
# from a CDN. The bundle comes from the npm registry's `mermaid` package (npm pack), pinned by
# version and by the tarball's SHA-256, cached in .cache/mermaid; the copy under docs/ is
# git-ignored.
#
#   infra/mermaid.sh        fetch once (needs npm), then copy into docs/assets/javascripts/
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=11.12.2
SHA256=c4ab1840638b1735135090c667382e89cc353b46b56761514a3d0a8a80963832
DIR="${MERMAID_DIR:-$REPO/.cache/mermaid}"
TARBALL="$DIR/mermaid-$VERSION.tgz"
BUNDLE="$DIR/mermaid-$VERSION.min.js"
TARGET="$REPO/docs/assets/javascripts/mermaid.min.js"

if [[ ! -f "$BUNDLE" ]]; then
  command -v npm >/dev/null || { echo "mermaid: npm is needed once to fetch mermaid@$VERSION" >&2; exit 1; }
  mkdir -p "$DIR"
  (cd "$DIR" && npm pack --silent "mermaid@$VERSION" >/dev/null)
  echo "$SHA256  $TARBALL" | sha256sum --check --quiet - \
    || { rm -f "$TARBALL"; echo "mermaid: $TARBALL is not the pinned tarball" >&2; exit 1; }
  tar -xzf "$TARBALL" -C "$DIR" package/dist/mermaid.min.js
  mv "$DIR/package/dist/mermaid.min.js" "$BUNDLE"
  rm -rf "$DIR/package" "$TARBALL"
fi
mkdir -p "$(dirname "$TARGET")"
cmp -s "$BUNDLE" "$TARGET" || cp "$BUNDLE" "$TARGET"
