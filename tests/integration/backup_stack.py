"""A tiny compose-labelled "stack" on the real engine for volume_backup tests, without compose.

    stack = BackupStack(docker_client, prefix)
    stack.volume("db", fill=FILL_MIXED.format(mb=20))      -> '<prefix>_db' (labelled like compose)
    stack.container("api", {"<prefix>_db": True}, labels={...}, healthcheck={...}) -> Container (running)
    stack.cleanup()
    tree(path) -> {relpath: (type, mode, uid, gid, size, sha256|target, mtime)}  (what a restore must reproduce)
    run_module_async(module, args, env) -> Popen of `ansible localhost -m`
    helpers_left(client, project) -> helper containers still present

Containers run busybox with network 'none' and a shell loop that exits on SIGTERM, so stops are fast.
"""
import hashlib
import json
import os
import stat
import subprocess
import time

from helpers import BIN, ROOT, _env

IMAGE = "phase0-fixture/busybox"
LOOP = "trap 'exit 0' TERM; while :; do sleep 0.2; done"
# Mixed content with everything a restore must bring back: owners, modes, links, a FIFO.
FILL_MIXED = ("mkdir -p /data/sub /data/empty && dd if=/dev/urandom of=/data/sub/random.bin bs=1048576 count={mb} "
              "2>/dev/null && seq 1 200000 > /data/text.txt && ln -s text.txt /data/link && "
              "ln /data/text.txt /data/hard && chown 70:70 /data/text.txt && chmod 2775 /data/sub && "
              "chmod 1777 /data/empty && mkfifo /data/fifo && chown 999:999 /data/sub")


class BackupStack:
    def __init__(self, client, prefix):
        self.client = client
        self.project = prefix
        self.volumes = []
        self.containers = []

    def labels(self, **extra):
        labels = {"com.docker.compose.project": self.project}
        labels.update(extra)
        return labels

    def volume(self, short, fill=None, driver_opts=None):
        name = "%s_%s" % (self.project, short)
        self.client.volumes.create(name, labels=self.labels(**{"com.docker.compose.volume": short}),
                                   driver_opts=driver_opts)
        self.volumes.append(name)
        if fill:
            self.client.containers.run(IMAGE, ["sh", "-c", fill], remove=True, network_mode="none",
                                       volumes={name: {"bind": "/data", "mode": "rw"}})
        return name

    def container(self, short, volumes, labels=None, healthcheck=None, command=None):
        container = self.client.containers.run(
            IMAGE, ["sh", "-c", command or LOOP], detach=True, name="%s-%s" % (self.project, short),
            network_mode="none", labels=self.labels(**dict({"com.docker.compose.service": short}, **(labels or {}))),
            volumes=dict((name, {"bind": "/data" if index == 0 else "/data%d" % index, "mode": "rw" if rw else "ro"})
                         for index, (name, rw) in enumerate(volumes.items())),
            healthcheck=healthcheck)
        self.containers.append(container)
        return container

    def state(self, container):
        container.reload()
        return container.attrs["State"]

    def mountpoint(self, volume):
        return self.client.api.inspect_volume(volume)["Mountpoint"]

    def cleanup(self):
        for container in self.containers:
            try:
                container.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
        for helper in helpers_left(self.client, self.project):
            helper.remove(force=True, v=True)
        for name in self.volumes:
            try:
                self.client.volumes.get(name).remove(force=True)
            except Exception:  # noqa: BLE001
                pass


def helpers_left(client, project):
    return client.containers.list(all=True, filters={"label": ["homeiq.phase0.helper=volume_backup",
                                                               "homeiq.phase0.helper-project=%s" % project]})


def _digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree(root):
    """Everything a restore promises about a directory tree, keyed by relative path."""
    found = {}
    inodes = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                kind, content = "symlink", os.readlink(path)
            elif stat.S_ISDIR(info.st_mode):
                kind, content = "dir", None
            elif stat.S_ISREG(info.st_mode):
                kind, content = "file", _digest(path)
                inodes.setdefault(info.st_ino, []).append(rel)
            else:
                kind, content = "special:%o" % stat.S_IFMT(info.st_mode), None
            mtime = int(info.st_mtime)
            found[rel] = (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                          info.st_size if kind == "file" else None, content, mtime)
    found["<hardlinks>"] = sorted(sorted(paths) for paths in inodes.values() if len(paths) > 1)
    return found


def run_module_async(module, args, env=None):
    cmd = [os.path.join(BIN, "ansible"), "localhost", "-m", module, "-a", json.dumps(args)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(dict({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"},
                                          **(env or {}))))


def communicate_or_explain(proc, timeout, log_path, pid=None):
    """proc.communicate(timeout); past it, fail with what the run was doing: the tail of its
    backup.log and the kernel's wait channel of each thread of the module process."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        threads = []
        for task in sorted(os.listdir("/proc/%d/task" % pid)) if pid and os.path.isdir("/proc/%d" % pid) else ():
            try:
                with open("/proc/%d/task/%s/wchan" % (pid, task)) as handle:
                    threads.append("%s:%s" % (task, handle.read().strip()))
            except OSError:
                continue
        try:
            with open(log_path) as handle:
                log_tail = handle.read().splitlines()[-15:]
        except OSError as exc:
            log_tail = [str(exc)]
        proc.kill()
        proc.communicate()
        raise AssertionError("the module did not end within %s s; threads (wchan) %s; backup.log ends:\n%s"
                             % (timeout, threads, "\n".join(log_tail)))


def parse_result(stdout):
    data = json.loads(stdout[stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def wait_for(predicate, timeout=60, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %s s" % timeout)
