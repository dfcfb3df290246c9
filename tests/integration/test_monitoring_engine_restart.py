"""The agent outlives a Docker engine restart: it keeps running, logs the gap, resumes sampling.

Other tests share the main engine, so this test starts a separate dockerd of its own (own socket,
data root, exec root, pid file, no bridge, no iptables), loads the busybox fixture into it, kills
it under the running agent and starts it again on the same data root.
"""
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from monitor_helpers import read_jsonl, start_agent, stop_agent, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGE = "phase0-fixture/busybox:latest"


class OwnEngine:
    def __init__(self, root):
        self.root = root
        self.sock = os.path.join(root, "docker.sock")
        self.host = "unix://" + self.sock
        self.proc = None

    def start(self):
        cmd = ["dockerd", "-H", self.host, "--data-root", os.path.join(self.root, "data"),
               "--exec-root", os.path.join(self.root, "exec"), "--pidfile", os.path.join(self.root, "docker.pid"),
               "--bridge=none", "--iptables=false", "--ip-masq=false",
               "--containerd-namespace", "p0mon" + os.path.basename(self.root)[-6:],
               "--containerd-plugins-namespace", "p0monp" + os.path.basename(self.root)[-6:]]
        log = open(os.path.join(self.root, "dockerd.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        ok = wait_for(lambda: self.docker("info", check=False).returncode == 0, timeout=60, step=0.5)
        if not ok:
            raise RuntimeError("own dockerd did not answer: %s" % open(os.path.join(self.root, "dockerd.log")).read()[-2000:])

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def docker(self, *args, check=True, **kwargs):
        return subprocess.run(["docker", "-H", self.host] + list(args), check=check, capture_output=True,
                              timeout=120, **kwargs)


@pytest.fixture
def own_engine():
    if not shutil.which("dockerd"):
        pytest.skip("dockerd is not installed")
    root = "/tmp/p0m" + uuid.uuid4().hex[:6]  # short: unix socket paths are limited to 108 bytes
    os.makedirs(root)
    engine = OwnEngine(root)
    try:
        engine.start()
    except RuntimeError as exc:
        engine.kill()
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip("a second dockerd cannot run here: %s" % exc)
    yield engine
    engine.docker("rm", "-f", "p0mon-a", "p0mon-b", check=False)
    engine.kill()
    subprocess.run(["umount", "-R", os.path.join(root, "data")], capture_output=True, check=False)
    shutil.rmtree(root, ignore_errors=True)


def test_agent_survives_engine_restart(own_engine, tmp_path):
    save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
    own_engine.docker("load", stdin=save.stdout)
    save.wait()
    for name in ("p0mon-a", "p0mon-b"):
        own_engine.docker("run", "-d", "--name", name, "--network", "none", "--restart", "always",
                          "--label", "com.docker.compose.project=p0mon", "--label",
                          "com.docker.compose.service=" + name, IMAGE, "sh", "-c", "while true; do sleep 1; done")
    proc, config = start_agent(tmp_path, "p0mon", interval=2, docker_host=own_engine.host)
    health = os.path.join(config["log_dir"], "health", "health.jsonl")
    try:
        assert wait_for(lambda: {"p0mon-a", "p0mon-b"} <= {r.get("container") for r in read_jsonl(health)}, 15)
        own_engine.kill()
        time.sleep(5)
        assert proc.poll() is None, "agent died with the engine"
        assert wait_for(lambda: [r for r in read_jsonl(health) if r.get("event") == "engine_unreachable"], 10)
        own_engine.start()
        restarted = time.time()
        gaps = wait_for(lambda: [r for r in read_jsonl(health) if r.get("event") == "engine_gap"], 30)
        assert gaps and gaps[0]["seconds"] >= 4
        # sampling resumed: container lines newer than the restart (restart: always brings them back)
        assert wait_for(lambda: [r for r in read_jsonl(health) if r.get("container") == "p0mon-a"
                                 and r.get("state") == "running" and r["ts"] > _iso(restarted)], 30)
        assert proc.poll() is None
    finally:
        stop_agent(proc)


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
