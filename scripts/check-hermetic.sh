#!/usr/bin/env bash
# Fails when a test names a fixed path in a shared system folder (/tmp, /var/tmp, a home folder):
# tests create what they need under t.TempDir(), the repository or ../shared, so that they pass
# in a fresh clone on a fresh machine and cannot collide with each other.
set -euo pipefail
cd "$(dirname "$0")/.."
hits=$(grep -rnE '"(/tmp|/var/tmp|/home|/root)(/|")' --include='*_test.go' cmd internal || true)
if [ -n "$hits" ]; then
  echo "hermetic: tests must not use fixed paths outside t.TempDir(), the repository and ../shared:" >&2
  echo "$hits" >&2
  exit 1
fi
