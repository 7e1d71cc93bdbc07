#!/usr/bin/env bash
# A short run of every Go fuzz target (go test -fuzz), a few seconds each.
set -euo pipefail
secs=${FUZZ_SECONDS:-5}
for pkg in $(go list ./internal/...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $f (${secs}s)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "${secs}s" "$pkg" >/dev/null
  done
done
