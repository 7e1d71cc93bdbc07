#!/usr/bin/env bash
# A short run of every Go fuzz target (go test -fuzz), a few seconds each.
# A finding ("Failing input written to testdata/fuzz/...") fails the run, with its output. A run that
# fails without a finding is Go's fuzzing engine stalling (execs stop, then "context deadline exceeded"
# or a bare FAIL: golang/go#75804), seen here on an idle machine too: it is run up to twice more, then
# reported as a warning. The seed corpora run as plain tests in `go test ./...` either way.
set -euo pipefail
secs=${FUZZ_SECONDS:-5}
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "${secs}s" "$1" 2>&1; }
for pkg in $(go list ./internal/...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $f (${secs}s)"
    ok=
    for try in 1 2 3; do
      if out=$(fuzz "$pkg" "$f"); then ok=1; break; fi
      if grep -q 'Failing input written' <<<"$out"; then
        printf '%s\n' "$out"
        exit 1
      fi
      echo "fuzz: $f: the engine stopped without a finding (try $try of 3, golang/go#75804)"
    done
    if [ -z "$ok" ]; then
      echo "fuzz: warning: $f stalled three times without a finding; its last output:"
      printf '%s\n' "$out" | tail -n 5
    fi
  done
done
