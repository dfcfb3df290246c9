"""Fixtures for tests against the REAL Docker engine and the REAL Compose v2 plugin.

`make bootstrap` (engine.sh + images.py) has made the engine answer and built the fixture
images; these fixtures only use what is there. Nothing here mocks Docker.
"""
import shutil
import uuid

import pytest

from helpers import DEMO_SRC, compose


@pytest.fixture(scope="session")
def docker_client():
    import docker

    client = docker.from_env(timeout=120)
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover - the harness is broken, say so plainly
        pytest.exit("No Docker engine answers (%s). Run `make bootstrap` first." % exc, returncode=2)
    yield client
    client.close()


@pytest.fixture
def prefix():
    """A random resource-name prefix; tests that create resources use it and clean up."""
    return "p0t" + uuid.uuid4().hex[:8]


class Stack:
    def __init__(self, directory, name):
        self.dir = str(directory)
        self.name = name

    def compose(self, *args, **kwargs):
        return compose(self.dir, *args, project_name=self.name, **kwargs)


@pytest.fixture(scope="session")
def demo_stack(docker_client, tmp_path_factory):
    """The demo stack, copied to a temp dir and brought up once under a random project name."""
    work = tmp_path_factory.mktemp("demo") / "demo"
    # Not the artifacts `make demo` may have left in the source tree (backups can be large).
    shutil.copytree(DEMO_SRC, work, symlinks=True,
                    ignore=shutil.ignore_patterns("backups", "diagnostics", "logs", "reports"))
    name = "p0demo" + uuid.uuid4().hex[:6]
    stack = Stack(work, name)
    up = stack.compose("up", "-d", "--quiet-pull", check=False)
    if up.returncode != 0:
        # Leave nothing running behind, and show compose's own words (CalledProcessError hides them).
        stack.compose("down", "-v", "--remove-orphans", "-t", "2", check=False)
        pytest.fail("demo stack did not come up (fixture images built? `make images`):\n%s" % up.stderr[-3000:])
    yield stack
    stack.compose("down", "-v", "--remove-orphans", "-t", "2", check=False)
