#!/usr/bin/env bash
# A short run of every Go fuzz target (go test -fuzz), a few seconds each.
# A run that fails with a bare "context deadline exceeded" and writes no failing input is Go's
# fuzzing-engine time-out on a loaded machine (golang/go#75804), not a finding: it is run once more.
# A failing input is always a failure, and its output is printed.
set -euo pipefail
secs=${FUZZ_SECONDS:-5}
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "${secs}s" "$1" 2>&1; }
for pkg in $(go list ./internal/...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $f (${secs}s)"
    if out=$(fuzz "$pkg" "$f"); then continue; fi
    if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
      echo "fuzz: $f: the engine timed out without a finding (golang/go#75804); once more"
      if out=$(fuzz "$pkg" "$f"); then continue; fi
    fi
    printf '%s\n' "$out"
    exit 1
  done
done
