#!/usr/bin/env bash
# Install Debian packages the tests use (when missing), as root with apt; otherwise say which
# ones are missing and go on: the tests that need them skip and name the package.
#   chromium  - renders the monitoring status page headless (tests/integration/test_monitoring*)
#   zstd      - the `tar | zstd` baseline of the benchmarks
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "packages: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "packages: WARNING: missing ${missing[*]} (need root and apt to install); tests using them will skip" >&2
fi
