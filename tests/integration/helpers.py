"""Helpers shared by integration tests: run the real compose CLI, our modules and playbooks.

Import them in a test as `from helpers import run_module` (pytest puts this folder on sys.path).
"""
import contextlib
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
DEMO_SRC = os.path.join(ROOT, "tests", "fixtures", "demo")


def _env(extra=None):
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    env.setdefault("ANSIBLE_HOST_KEY_CHECKING", "0")
    if extra:
        env.update(extra)
    return env


def compose(project_dir, *args, project_name=None, check=True, timeout=600):
    """Run the real `docker compose` CLI against a project directory."""
    cmd = ["docker", "compose", "--project-directory", str(project_dir)]
    if project_name:
        cmd += ["-p", project_name]
    cmd += list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)


def run_module(module, args=None, check=False, diff=False, verbosity=0, env=None, timeout=900):
    """Run one module of ours through `ansible localhost -m` and return (result, completed_process).

    The JSON stdout callback gives the exact module result a playbook task would see.
    """
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", module, "-a", json.dumps(args or {})]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False,
        env=_env({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json",
                  **(env or {})}),
    )
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError("could not parse ansible output (%s):\nSTDOUT:\n%s\nSTDERR:\n%s"
                             % (exc, proc.stdout[-4000:], proc.stderr[-4000:]))
    return result, proc


def run_playbook(playbook, extra_vars=None, check=False, diff=False, tags=None, verbosity=0,
                 env=None, timeout=1800, inventory=None, extra_args=None):
    """Run a playbook with ansible-playbook; returns the CompletedProcess (text output)."""
    cmd = [os.path.join(BIN, "ansible-playbook"), playbook]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if inventory:
        cmd += ["-i", inventory]
    cmd += list(extra_args or [])
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if tags:
        cmd += ["--tags", ",".join(tags)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=_env(env),
                          check=False)


def wait_for(probe, timeout, what, interval=0.5):
    """Poll `probe()` until it returns something truthy; fail with the last value at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0f s waiting for %s; last value: %r" % (timeout, what, value))
        time.sleep(interval)


@contextlib.contextmanager
def tmpfs_inside(directory, name, content):
    """Mount a small tmpfs at directory/name (made here) holding one file `inside` with `content`:
    a file system mounted inside a volume's directory on the host. Unmounted on the way out."""
    mount_point = os.path.join(directory, name)
    os.makedirs(mount_point)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount_point], check=True)
    try:
        with open(os.path.join(mount_point, "inside"), "w") as handle:
            handle.write(content)
        yield mount_point
    finally:
        subprocess.run(["umount", mount_point], check=True)
