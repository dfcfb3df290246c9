"""A small compose stack for the runtime audit, Dockerfile audit and host preflight tests.

Real containers on the real engine, from the local fixture images (nothing pulled):
  app            Debian bookworm python3 (3.11)
  legacy-worker  Debian bullseye python3 (3.9, below the 3.10 minimum)
  frozen         the bullseye image too, paused (exec answers 409)
  ui             Debian nodejs (18)
  proxy          busybox, no runtime
  once           exits at once (a stopped container)
  envpy          an image whose env says PYTHON_VERSION=3.12.12 (and a secret in the container env)
  hung           an image whose python3 never answers
  api            builds from api/Dockerfile (python:${PY}-slim, PY=3.12) but runs a 3.11 image: stale
  okapi          builds from okapi/Dockerfile (python:3.11-bookworm) and runs 3.11: matches

Import the fixture into a test module: `from runtime_stack import mini_stack  # noqa: F401`.
"""
import io
import os
import textwrap
import uuid

import pytest

from helpers import compose

SECRET = "hunter2-runtime-audit"
PYTHON_IMAGE = "phase0-fixture/debian-python:latest"
OLD_PYTHON_IMAGE = "phase0-fixture/debian-python-old:latest"
NODE_IMAGE = "phase0-fixture/node:latest"
BUSYBOX_IMAGE = "phase0-fixture/busybox:latest"


class MiniStack:
    def __init__(self, directory, name, images):
        self.dir = str(directory)
        self.name = name
        self.images = images

    def compose(self, *args, **kwargs):
        return compose(self.dir, *args, project_name=self.name, **kwargs)

    def container(self, service):
        return "%s-%s-1" % (self.name, service)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(text))


def _build(docker_client, tag, dockerfile):
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, pull=False,
                               network_mode="none")  # the engine may have no default bridge


@pytest.fixture(scope="module")
def mini_stack(docker_client, tmp_path_factory):
    name = "p0rt" + uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("runtime") / name
    images = {
        "envpy": "%s-envpy:latest" % name,
        "hung": "%s-hung:latest" % name,
        "api": "%s-api:latest" % name,
        "okapi": "%s-okapi:latest" % name,
    }
    _build(docker_client, images["envpy"], "FROM %s\nENV PYTHON_VERSION=3.12.12\n" % BUSYBOX_IMAGE)
    _build(docker_client, images["hung"],
           "FROM %s\nRUN printf '#!/bin/sh\\nsleep 300\\n' > /bin/python3 && chmod +x /bin/python3\n" % BUSYBOX_IMAGE)
    docker_client.images.get(PYTHON_IMAGE).tag(images["api"])
    docker_client.images.get(PYTHON_IMAGE).tag(images["okapi"])
    _write(str(work / "compose.yml"), """\
        x-sleep: &sleep
          command: ["sleep", "3600"]
          init: true
          pull_policy: never
        services:
          app:
            <<: *sleep
            image: {python}
          legacy-worker:
            <<: *sleep
            image: {old}
          frozen:
            <<: *sleep
            image: {old}
          ui:
            <<: *sleep
            image: {node}
          proxy:
            <<: *sleep
            image: {busybox}
          once:
            image: {python}
            command: ["true"]
            restart: "no"
            pull_policy: never
          envpy:
            <<: *sleep
            image: {envpy}
            environment:
              DB_PASSWORD: {secret}
          hung:
            <<: *sleep
            image: {hung}
          api:
            <<: *sleep
            image: {api}
            build:
              context: ./api
              args:
                NPM_TOKEN: {secret}
          okapi:
            <<: *sleep
            image: {okapi}
            build: ./okapi
        """.format(python=PYTHON_IMAGE, old=OLD_PYTHON_IMAGE, node=NODE_IMAGE, busybox=BUSYBOX_IMAGE,
                   secret=SECRET, **images))
    _write(str(work / "api" / "Dockerfile"), """\
        # syntax=docker/dockerfile:1
        ARG PY=3.12
        FROM --platform=$BUILDPLATFORM python:${PY}-slim AS base
        ARG NPM_TOKEN
        FROM base
        CMD ["python3"]
        """)
    _write(str(work / "okapi" / "Dockerfile"), "FROM python:3.11-bookworm\n")
    stack = MiniStack(work, name, images)
    try:
        up = stack.compose("up", "-d", "--no-build", check=False)
        if up.returncode != 0:
            pytest.fail("mini stack did not come up:\n%s" % up.stderr[-3000:])
        stack.compose("pause", "frozen")
        yield stack
    finally:
        stack.compose("unpause", "frozen", check=False)
        stack.compose("down", "-v", "--remove-orphans", "-t", "1", check=False)
        for image in images.values():
            try:
                docker_client.images.remove(image, force=True)
            except Exception:  # pylint: disable=broad-except  # best-effort cleanup
                pass
