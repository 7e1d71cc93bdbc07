#!/usr/bin/env bash
# Installs the npm package onvif (MIT) into DEST (git-ignored) when it is missing or another
# version. Only its test/serverMockup/ folder is used: SOAP replies captured from real cameras,
# which the internal/onvif tests parse. Version 0.8.1 is the last that ships them.
# Usage: fetch-onvif.sh VERSION DEST_DIR
set -euo pipefail
# --ignore-scripts: only the package's files are wanted, nothing of it runs.
exec "$(dirname "$0")/npm-package.sh" onvif "${1:?version}" "${2:?destination folder}" \
  node_modules/onvif/test/serverMockup/GetProfiles.xml "the ONVIF camera replies" --ignore-scripts
