"""Start extra, fully separate Docker engines on this machine (for fleet tests).

Each engine has its own socket, data root, exec root, pid file and address pool, no default
bridge and no iptables rules of its own, and runs in its OWN network namespace (`unshare --net`),
so it cannot disturb the main engine or the others. Containers still get user-defined bridge
networks (Compose's `<project>_default`), inside that namespace.

The namespace is not optional: `dockerd --bridge=none` deletes the host's `docker0` interface at
start (moby daemon_unix.go, removeDefaultBridgeInterface), which breaks `docker run` on the main
engine; and its bridges would add host routes that can shadow the main engine's networks.
"""
import os
import shutil
import signal
import subprocess
import time

import docker


class ExtraEngine:
    def __init__(self, root, index):
        self.root = str(root)
        self.index = index
        self.sock = os.path.join(self.root, "docker.sock")
        self.host = "unix://" + self.sock
        self.pidfile = os.path.join(self.root, "docker.pid")
        self.log = os.path.join(self.root, "dockerd.log")
        self.proc = None

    def start(self, timeout=60):
        os.makedirs(self.root, exist_ok=True)
        dockerd = [
            "dockerd", "-H", self.host,
            "--data-root", os.path.join(self.root, "data"),
            "--exec-root", os.path.join(self.root, "exec"),
            "--pidfile", self.pidfile,
            "--bridge=none", "--iptables=false", "--ip-masq=false",
            # A private pool outside the main engine's default pools (172.17-172.31/16, 192.168/20),
            # so addresses in logs and inspect output never look like the main engine's.
            "--default-address-pool", "base=10.%d.0.0/16,size=24" % (210 + self.index),
        ]
        # A new network namespace (the mount namespace stays shared: the socket and the data root
        # are plain paths); `exec` keeps the pid of dockerd the pid of the child we started.
        cmd = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh"] + dockerd
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dockerd %d exited; log:\n%s" % (self.index, self.tail()))
            try:
                client = docker.DockerClient(base_url=self.host, timeout=5)
                client.ping()
                client.close()
                return self
            except Exception:
                time.sleep(0.5)
        raise RuntimeError("dockerd %d did not answer in %ss; log:\n%s" % (self.index, timeout, self.tail()))

    def tail(self, n=30):
        try:
            with open(self.log, "r", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def client(self):
        return docker.DockerClient(base_url=self.host, timeout=120)

    def load_images(self, source_host, images):
        """Copy images from another engine with `docker save | docker load` (no registry)."""
        save = subprocess.Popen(["docker", "-H", source_host, "save"] + list(images), stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout, check=True,
                       capture_output=True)
        save.stdout.close()
        if save.wait() != 0:
            raise RuntimeError("docker save %s failed" % " ".join(images))

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def destroy(self):
        self.stop()
        # Containers' mounts die with the daemon; the data root may still hold overlay mounts.
        subprocess.run(["sh", "-c", "grep -o ' %s[^ ]*' /proc/mounts | xargs -r -n1 umount -l" % self.root],
                       check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
