"""The execution environment definition produces a complete build context, offline.

Runs the documented steps (docs/awx.md) in a temp copy of the checkout: build the collection
tarball, `ansible-builder create`, then checks what the image build would get: the collection
itself, its Galaxy dependency, its Python requirements, and the same ansible-core as the tests
use. Building the image needs a registry, which is not reachable here; the context is the part
this repository controls. No Docker engine is needed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
TARBALL = "homeiq-phase0.tar.gz"

pytestmark = pytest.mark.slow


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, check=False, text=True, timeout=600)
    assert proc.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(cmd), proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def _requirement_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


@pytest.fixture(scope="module")
def ee(tmp_path_factory):
    """Run the documented EE steps in a copy of the checkout; return paths of interest."""
    base = tmp_path_factory.mktemp("ee")
    checkout = base / "phase0"
    # Links stay links (the collection build must cope with the checkout as it is);
    # only VCS data and run artifacts, which no build reads, are left behind.
    shutil.copytree(ROOT, checkout, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".build", ".pytest_cache", "__pycache__", "output", "backups", "diagnostics", "logs", "reports"))
    home = base / "home"
    home.mkdir()
    # A private HOME and collections path: nothing installed on this machine may satisfy a step.
    env = dict(os.environ, HOME=str(home), ANSIBLE_CONFIG=str(checkout / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(base / "nowhere"), PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               # Offline: any attempt to reach a network index fails fast instead of passing by luck.
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="")
    out = checkout / ".build" / "ee"
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out)], checkout, env)
    (built,) = [p for p in os.listdir(out) if p.startswith("homeiq-phase0-") and p.endswith(".tar.gz")]
    os.rename(out / built, out / TARBALL)
    context = out / "context"
    proc = _run([os.path.join(BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                 "--context", str(context), "--output-filename", "Dockerfile"], checkout, env)
    return {"checkout": checkout, "context": context, "env": env, "base": base, "stdout": proc.stdout}


def test_builder_reports_a_complete_context(ee):
    assert "Complete!" in ee["stdout"]
    assert "No matches" not in ee["stdout"], "an additional build file was missing"
    assert (ee["context"] / "Dockerfile").is_file()


def test_context_carries_the_collection_tarball(ee):
    tarball = ee["context"] / "_build" / "collections" / TARBALL
    with open(ee["checkout"] / "galaxy.yml", encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        links = [m.name for m in tar.getmembers() if m.issym() or m.islnk()]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == \
        ("homeiq", "phase0", galaxy["version"])
    for needed in ("meta/execution-environment.yml", "meta/runtime.yml", "requirements.txt",
                   "playbooks/phase0.yml", "plugins/module_utils/docker_client.py"):
        assert needed in names, needed
    # Links pointing back into a checkout make `ansible-galaxy collection install` fail.
    assert links == []
    assert not any(n.startswith((".venv", ".collections", "collections/")) for n in names)


def test_context_installs_the_collection_and_its_galaxy_dependency(ee):
    with open(ee["context"] / "_build" / "requirements.yml", encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    by_name = {c["name"]: c for c in galaxy["collections"]}
    assert by_name["/build/collections/" + TARBALL]["type"] == "file"
    assert "community.docker" in by_name
    dockerfile = (ee["context"] / "Dockerfile").read_text()
    # The tarball path in requirements.yml only exists if _build is copied to /build first.
    copy_at = dockerfile.index("COPY _build /build")
    assert copy_at < dockerfile.index("ansible-galaxy collection install")


def test_context_pins_the_tested_ansible_core_and_python_requirements(ee):
    dockerfile = (ee["context"] / "Dockerfile").read_text()
    tested = [line for line in _requirement_lines(ee["checkout"] / "requirements-dev.txt")
              if line.startswith("ansible-core==")]
    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]*)"', dockerfile).group(1).split()
    assert tested and tested[0] in refs
    assert _requirement_lines(ee["context"] / "_build" / "requirements.txt") == \
        _requirement_lines(ee["checkout"] / "requirements.txt")


def test_installed_collection_declares_its_python_needs_to_builder(ee):
    """What the image build's introspection step will find in the installed collection."""
    collections = ee["base"] / "installed"
    tarball = ee["context"] / "_build" / "collections" / TARBALL
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force",
          "-p", str(collections), str(tarball)], ee["base"], ee["env"])
    proc = _run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(collections)],
                ee["base"], ee["env"])
    found = yaml.safe_load(proc.stdout.split("\n", 1)[1])["python"]
    declared = [re.sub(r"\s+#.*", "", line) for line in found if "from collection homeiq.phase0" in line]
    assert declared == _requirement_lines(ee["checkout"] / "requirements.txt")
