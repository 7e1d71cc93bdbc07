#!/usr/bin/env bash
# Prints edgecam's version from git, in a form that is also a valid Debian version:
#   tag v1.2.3 on HEAD          -> 1.2.3
#   3 commits after v1.2.3      -> 1.2.3+3.gabc1234
#   no v* tag                   -> 0.0.0+git20261129.abc1234 (commit date and hash)
#   uncommitted changes         -> ... with .dirty appended
# Outside a git checkout: 0.0.0+unknown.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "0.0.0+unknown"
  exit 0
fi
dirty=""
git diff --quiet HEAD -- 2>/dev/null || dirty=".dirty"
if d=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null); then
  # v1.2.3-3-gabc1234
  tag=${d%-*-g*}
  rest=${d#"$tag"-}
  n=${rest%%-*}
  hash=${rest#*-}
  v=${tag#v}
  [ "$n" = 0 ] || v="$v+$n.$hash"
else
  v="0.0.0+git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short=7 HEAD)"
fi
case "$v$dirty" in
  *+*) echo "$v$dirty" ;;
  *) [ -z "$dirty" ] && echo "$v" || echo "$v+dirty" ;;
esac
