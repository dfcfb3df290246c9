#!/usr/bin/env bash
# Run `ansible-test sanity` offline-capable.
# ansible-test needs the collection at .../ansible_collections/homeiq/phase0 (a real directory, not
# a link), and downloads a pip bootstrap script that cannot be fetched here: we give it a local
# stand-in (ensurepip, then `pip install` with the same arguments), the way its own error message
# suggests. Python packages for the sanity venvs come from PyPI as usual.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-.venv}
BIN="$ROOT/$VENV/bin"
PYVER=$("$BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

pip_ver=$("$BIN/python" - <<'PY'
import re, inspect
from ansible_test._internal import python_requirements as pr
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(pr.get_venv_packages)).group(1))
PY
)
stand_in="$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
if [ ! -f "$stand_in" ]; then
  mkdir -p "$(dirname "$stand_in")"
  cat >"$stand_in" <<'PY'
# Local stand-in for get-pip.py (not reachable offline): ensurepip, then pip install <args>.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi

# Copy exactly what git would ship (tracked + untracked-not-ignored) into a clean tree.
# A private copy per run, so two runs (or a run and an editor) never share one tree.
mkdir -p "$ROOT/.build"
BUILD_BASE=$(mktemp -d "$ROOT/.build/sanity.XXXXXX")
trap 'rm -rf "$BUILD_BASE"' EXIT
BUILD="$BUILD_BASE/ansible_collections/homeiq/phase0"
mkdir -p "$BUILD"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | \
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | \
  tar --null -T - -cf -) | tar -xf - -C "$BUILD"
cd "$BUILD"
# ansible-test lists files with git when the tree is a repository: make it one, everything added.
git init -q . && git add -A >/dev/null && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
"$BIN/ansible-test" sanity --venv --python "$PYVER" --requirements "$@"
