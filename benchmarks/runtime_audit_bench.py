#!/usr/bin/env python
"""Benchmark: the runtime audit of a 40-container stack in one module call vs the first run's loop.

The first manual run audited services one `docker exec <c> python --version` at a time. This
script brings up a generated compose project with N services (fixture images: Debian python3
and Debian nodejs, nothing pulled), then measures, side by side on the same containers:

  baseline   `docker exec <c> <python3|node> --version`, serially, once per container
             (the first run's loop, with the right binary so every call succeeds);
  module     the module process itself, run the way Ansible runs it on the target
             (`python -m ...runtime_audit args.json`): interpreter start, imports, connect, audit;
  ansible    `ansible localhost -m homeiq.phase0.runtime_audit` (one task, everything included:
             ansible-core start-up on the controller, module transfer, the audit);
  in-process the audit function alone (runtime_probe.audit_rows), i.e. the module minus Ansible,
             with probe_scope=image (the default: one exec per image) and probe_scope=container
             (one exec per container, 8 at a time).

It also checks that the module found the same versions the baseline printed.
Usage: .venv/bin/python benchmarks/runtime_audit_bench.py [--containers 40] [--repeat 3] [--keep]
       [--distinct-images]   (every service its own image id: one exec per container, the worst case)
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(ROOT, ".collections"))

IMAGES = (("phase0-fixture/debian-python:latest", "python3"), ("phase0-fixture/node:latest", "node"))


def compose_file(count, images=None):
    lines = ["services:"]
    for index in range(count):
        image, dummy = IMAGES[index % 4 == 3]  # three python services to one node service
        if images:
            image = images[index]
        lines += ["  svc-%02d:" % index, "    image: %s" % image, "    pull_policy: never",
                  "    command: [\"sleep\", \"infinity\"]", "    init: true",
                  # No network: 40 concurrent endpoint removals can leave a stale bridge endpoint on
                  # engine 20.10, and the audit does not need one.
                  "    network_mode: none"]
    return "\n".join(lines) + "\n"


def build_distinct_images(prefix, count):
    """One image per service (a LABEL makes each id distinct), like a stack whose services each build
    their own image: the worst case for the audit, one exec per container. Returns the tags."""
    tags = []
    for index in range(count):
        base = IMAGES[index % 4 == 3][0]
        tag = "%s-img%02d:latest" % (prefix, index)
        subprocess.run(["docker", "build", "-q", "--network", "none", "-t", tag, "-"],
                       input="FROM %s\nLABEL org.homeiq.phase0.bench=%d\n" % (base, index), text=True,
                       check=True, capture_output=True, env=dict(os.environ, DOCKER_BUILDKIT="0"))
        tags.append(tag)
    return tags


def compose(directory, project, *args):
    return subprocess.run(["docker", "compose", "--project-directory", directory, "-p", project] + list(args),
                          check=True, capture_output=True, text=True, timeout=600)


def containers(project):
    out = subprocess.run(["docker", "ps", "--filter", "label=com.docker.compose.project=%s" % project,
                          "--format", "{{.Names}}\t{{.Image}}"], check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def baseline(found):
    """The first run's loop: one docker exec per container, serially."""
    versions = {}
    started = time.monotonic()
    for name, image in found:
        index = int(re.search(r"svc-(\d+)", name).group(1))
        binary = IMAGES[index % 4 == 3][1]
        out = subprocess.run(["docker", "exec", name, binary, "--version"], capture_output=True, check=False, text=True).stdout
        match = re.search(r"(\d+\.\d+\.\d+)", out)
        versions[name] = match.group(1) if match else None
    return time.monotonic() - started, versions


def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                ANSIBLE_STDOUT_CALLBACK="json", PATH=BIN + os.pathsep + os.environ.get("PATH", ""))


def ping_call():
    """One ad-hoc task that does nothing: the fixed cost of an Ansible task (P9's 'single-task startup')."""
    started = time.monotonic()
    subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-m", "ansible.builtin.ping"], capture_output=True,
                   cwd=ROOT, env=ansible_env(), check=True)
    return time.monotonic() - started


def module_call(project):
    env = ansible_env()
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-m", "homeiq.phase0.runtime_audit",
                           "-a", json.dumps({"project_name": project})], capture_output=True, text=True, cwd=ROOT,
                          env=env, check=False)
    elapsed = time.monotonic() - started
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return elapsed, result


def module_process(project):
    """The module run as Ansible runs it on the target: a python process with its args file."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"project_name": project}}, handle)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.homeiq.phase0.plugins.modules.runtime_audit",
                           handle.name], capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - started
    os.unlink(handle.name)
    result = json.loads(proc.stdout)
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return elapsed, result


def in_process(project, scope):
    import docker
    from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_probe import audit_rows
    api = docker.APIClient(version="auto", timeout=60)
    started = time.monotonic()
    rows = audit_rows(api, project, scope=scope)
    elapsed = time.monotonic() - started
    api.close()
    return elapsed, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--distinct-images", action="store_true",
                        help="give every service its own image id (worst case: one exec per container)")
    args = parser.parse_args()

    project = "p0bench" + uuid.uuid4().hex[:6]
    directory = tempfile.mkdtemp(prefix="phase0-bench-")
    images = build_distinct_images(project, args.containers) if args.distinct_images else None
    with open(os.path.join(directory, "compose.yml"), "w") as handle:
        handle.write(compose_file(args.containers, images))
    t0 = time.monotonic()
    compose(directory, project, "up", "-d", "--quiet-pull")
    print("stack %s: %d containers (%s) up in %.1f s" % (
        project, args.containers, "%d distinct images" % len(images) if images else "2 images",
        time.monotonic() - t0))
    try:
        found = containers(project)
        assert len(found) == args.containers, found
        base_times, mod_times, proc_times, cont_times, ans_times, ping_times = [], [], [], [], [], []
        for dummy in range(args.repeat):
            seconds, versions = baseline(found)
            base_times.append(seconds)
            seconds, result = module_process(project)
            mod_times.append(seconds)
            seconds, dummy_result = module_call(project)
            ans_times.append(seconds)
            ping_times.append(ping_call())
            seconds, dummy_rows = in_process(project, "image")
            proc_times.append(seconds)
            seconds, per_container = in_process(project, "container")
            cont_times.append(seconds)
            for label, rows in (("module", result["rows"]), ("per-container audit", per_container)):
                got = dict((r["container"], r["version"]) for r in rows)
                mismatched = dict((c, (versions[c], got.get(c))) for c in versions if versions[c] != got.get(c))
                if mismatched:
                    raise SystemExit("%s and docker exec disagree: %s" % (label, mismatched))
        base, mod, proc, cont, ans, ping = (statistics.median(x) for x in (
            base_times, mod_times, proc_times, cont_times, ans_times, ping_times))
        print("baseline  serial docker exec x%d : median %.2f s  %s" % (len(found), base, _fmt(base_times)))
        print("module    one module process     : median %.2f s  %s" % (mod, _fmt(mod_times)))
        print("ansible   one ad-hoc task (CLI)  : median %.2f s  %s" % (ans, _fmt(ans_times)))
        print("ping      ad-hoc ansible.builtin.ping: median %.2f s  %s" % (ping, _fmt(ping_times)))
        print("in-process audit_rows(image)     : median %.2f s  %s" % (proc, _fmt(proc_times)))
        print("in-process audit_rows(container) : median %.2f s  %s" % (cont, _fmt(cont_times)))
        print("speed-up  module vs baseline     : %.1fx" % (base / mod))
        print("speed-up  ansible task vs baseline: %.1fx" % (base / ans))
        print("P9        ansible task - ping = %.2f s for %d containers (budget N x 10 ms = %.2f s)"
              % (ans - ping, len(found), len(found) * 0.010))
        print("speed-up  in-process vs baseline : %.1fx (image scope), %.1fx (container scope)"
              % (base / proc, base / cont))
        print("load      1-min load average %.1f on %d cores" % (os.getloadavg()[0], os.cpu_count()))
        print("versions  all %d containers agree with docker exec" % len(found))
    finally:
        if not args.keep:
            try:
                compose(directory, project, "down", "-t", "1", "--remove-orphans")
            except subprocess.CalledProcessError as exc:
                print("teardown: %s" % (exc.stderr or "").strip()[-300:], file=sys.stderr)
            if images:
                subprocess.run(["docker", "rmi"] + images, capture_output=True, check=False)


def _fmt(values):
    return "[" + ", ".join("%.2f" % v for v in values) + "]"


if __name__ == "__main__":
    main()
