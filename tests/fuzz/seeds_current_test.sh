#!/usr/bin/env bash
# The committed seed corpora equal what the seed writer makes now.
# Usage: seeds_current_test.sh WRITER CORPUS_DIR
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$1" "$work"
if ! diff -r "$work" "$2"; then
  echo "tests/fuzz/corpus is stale: run $1 tests/fuzz/corpus and commit it"
  exit 1
fi
echo "seed corpora current ($(find "$2" -type f | wc -l) files)"
