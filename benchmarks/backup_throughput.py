#!/usr/bin/env python
"""Benchmark: volume_backup's streaming pipeline vs tar | zstd on the same volume, same run.

Makes a Docker volume of --size MiB (default 512) of mixed content: compressible log-like text,
random bytes and many small files (50k per GiB, 0-4 KiB, half text half random). It is written
straight into the volume's Mountpoint (needs root on the engine host; nothing is pulled, the
helper image is the busybox fixture). Then, on that same volume, side by side in one run:

  backup, our module   the volume_backup module process run the way Ansible runs it on the target
                       (`python -m ...volume_backup args.json`): start-up, engine calls, helper
                       container, the tar stream -> SHA-256 -> zstd -3 -> SHA-256 -> file, fsync,
                       rename. Peak RSS of that process from wait4(). Twice: `method: api`
                       (get_archive, the API path of P1) and `method: host` (GNU tar on the
                       volume's directory, the fast path of P2; what `auto` picks as root here).
  backup, pipeline     the same runs' own per-volume duration (the streaming pipeline alone).
  get_archive drain    the bare Engine API stream of the same helper mount, read and discarded
                       (the upper bound for anything that goes through the API).
  tar | zstd           `tar -C <Mountpoint> -cf - . | zstd -3 -T0 -o <file>` (reads the disk
                       directly, no API: the physical baseline).
  docker run tar czf   the first manual run's method: `docker run --rm -v <vol>:/data:ro -v
                       <dir>:/backup busybox tar czf /backup/x.tar.gz -C /data .` (--skip-czf).
  full verify          backup_verify's full read (archive_verify.verify_archive_full: decompress,
                       re-hash, walk every member) in a child process, vs `zstd -dc | tar -tvf -`;
                       also the call's own time inside that process (without start-up and imports),
                       and that call with check_members false (P5's decompress + re-hash + tar walk,
                       without judging each member as a restore would).
  restore              what volume_restore's host method does, in a child process: scan_archive
                       (both hashes and every member judged before any write), then
                       archive_extract.extract_archive (judged again while written, owners, modes,
                       links, mtimes; the compressed hash again) into a scratch dir, vs `zstd -dc |
                       tar -xpf - --numeric-owner` into another scratch dir; also the two passes'
                       own times inside that process.

CPU accounting: the engine's CPU (dockerd with the tar child it re-executes and reaps) during the
drain and during our backup, the drain's reader and the module process (rusage). Their sum over the
core count is the least wall time any API backup can take on this machine.

MB/s are raw tar MB (10^6 bytes of the uncompressed stream) per wall-clock second for every
method, so the columns compare. The data sits in the page cache for every method (it was just
written and is read once before timing), so this measures CPU and API cost, not the disk.
Usage: .venv/bin/python benchmarks/backup_throughput.py [--size 512] [--repeat 1] [--skip-czf]
       [--keep] [--threads 0]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

HELPER_IMAGE = "phase0-fixture/busybox"
MB = 1000.0 * 1000.0
MIB = 1 << 20
WORDS = ("GET POST PUT sensor temperature humidity influx write ok error warn info debug device "
         "homeassistant automation state changed entity light.kitchen switch.porch ms bytes user "
         "request response latency retry timeout queue worker batch commit sqlite websocket").split()


# --- data ---------------------------------------------------------------------------------

def text_block(rng, size):
    """Log-like lines: timestamps, words and numbers (zstd -3 gets roughly 3-5x on it)."""
    lines, total = [], 0
    while total < size:
        line = "2026-02-04T11:%02d:%02d.%03dZ %s %s id=%d value=%.3f took=%dms\n" % (
            rng.randrange(60), rng.randrange(60), rng.randrange(1000), rng.choice(WORDS),
            " ".join(rng.choice(WORDS) for _word in range(rng.randrange(3, 9))), rng.randrange(10 ** 6),
            rng.random() * 100, rng.randrange(2000))
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def fill(root, size_mib, seed=1):
    """Fill `root` with size_mib MiB: 50k small files per GiB, the rest half text, half random."""
    rng = random.Random(seed)
    text = text_block(rng, 8 * MIB)
    total = size_mib * MIB
    small_count = max(1, int(50000 * size_mib / 1024.0))
    written = 0
    os.makedirs(os.path.join(root, "small"), exist_ok=True)
    for index in range(small_count):
        directory = os.path.join(root, "small", "d%03d" % (index % 500))
        if index < 500:
            os.makedirs(directory, exist_ok=True)
        length = rng.randrange(0, 4097)
        data = os.urandom(length) if index % 2 else text[(index * 4099) % (len(text) - 4096):][:length]
        with open(os.path.join(directory, "f%06d.%s" % (index, "bin" if index % 2 else "log")), "wb") as handle:
            handle.write(data)
        written += length
    big = max(0, total - written)
    for kind in ("log", "bin"):
        left = big // 2
        part = 0
        while left > 0:
            size = min(left, 64 * MIB)
            with open(os.path.join(root, "%s%02d.%s" % ("text" if kind == "log" else "random", part, kind)),
                      "wb") as handle:
                done = 0
                while done < size:
                    step = min(MIB, size - done)
                    if kind == "log":
                        offset = rng.randrange(len(text) - step + 1)
                        handle.write(text[offset:offset + step])
                    else:
                        handle.write(os.urandom(step))
                    done += step
            left -= size
            part += 1
    return small_count


# --- measuring ----------------------------------------------------------------------------

def _dockerd_pid():
    """The benchmark fills the volume through its Mountpoint, so the engine runs on this host."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as handle:
                    if handle.read().strip() == "dockerd":
                        return int(entry)
            except OSError:
                continue
    raise SystemExit("no dockerd process on this host: the benchmark needs the engine running here")


def engine_cpu(pid):
    """CPU seconds of dockerd so far, with the children it reaped: the engine builds a volume's tar
    stream in a re-executed child process (about 60 % of the engine's cost), which only shows in
    dockerd's cutime/cstime once the request ended."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / float(os.sysconf("SC_CLK_TCK"))


def engine_cpu_during(fn):
    pid = _dockerd_pid()
    before = engine_cpu(pid)
    value = fn()
    return value, engine_cpu(pid) - before


LAST_CPU = [0.0]  # user + system CPU seconds of the last measured() process


def measured(cmd, **kwargs):
    """Run cmd; (seconds, peak RSS in MB of the process and the children it waited for, stdout)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    out = proc.stdout.read()
    err = proc.stderr.read()
    dummy_pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit("%s failed (%s): %s" % (cmd if isinstance(cmd, str) else " ".join(cmd), proc.returncode,
                                                 err.decode(errors="replace")[-2000:]))
    return elapsed, usage.ru_maxrss / 1024.0, out


def settle():
    """Write back what earlier steps left dirty (a restore leaves 1 GB), so no step pays for another."""
    subprocess.run(["sync"], check=True)


def shell(script):
    return measured(["bash", "-o", "pipefail", "-c", script])


def module_backup(volume, backup_dir, threads, method):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": {"volumes": [volume], "backup_dir": backup_dir,
                                           "helper_image": HELPER_IMAGE, "compression": "zstd",
                                           "threads": threads, "space_margin": 0, "method": method}}, handle)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    try:
        seconds, rss, out = measured([sys.executable, "-m",
                                      "ansible_collections.homeiq.phase0.plugins.modules.volume_backup",
                                      handle.name], env=env)
    finally:
        os.unlink(handle.name)
    result = json.loads(out)
    if result.get("failed"):
        raise SystemExit("volume_backup failed: %s" % result.get("msg"))
    if result["volumes"][0]["method"] != method:
        raise SystemExit("volume_backup used method %s, not %s (%s)" % (
            result["volumes"][0]["method"], method, result["volumes"][0]["method_reason"]))
    return seconds, rss, result["volumes"][0]


def drain(volume):
    """Bare get_archive of the same helper mount, read and thrown away (in this process)."""
    import docker
    from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_engine import (
        HELPER_ENTRYPOINT, HELPER_MOUNT, get_archive_chunks)
    from docker.types import Mount

    api = docker.APIClient(version="auto", timeout=120)
    helper = api.create_container(HELPER_IMAGE, entrypoint=HELPER_ENTRYPOINT, command=[], network_disabled=True,
                                  host_config=api.create_host_config(
                                      mounts=[Mount(HELPER_MOUNT, volume, type="volume", read_only=True)]))
    try:
        started, cpu = time.monotonic(), time.process_time()
        chunks, dummy = get_archive_chunks(api, helper["Id"], HELPER_MOUNT + "/.")
        total = 0
        for chunk in chunks:
            total += len(chunk)
        return time.monotonic() - started, total, time.process_time() - cpu
    finally:
        api.remove_container(helper["Id"], force=True)
        api.close()


CHILD_VERIFY = """
import json, sys, time
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_verify import verify_archive_full
started = time.monotonic()
problems, facts, warnings = verify_archive_full(sys.argv[1], json.loads(sys.argv[2]), check_members=sys.argv[3] == "1")
facts["seconds"] = time.monotonic() - started
assert not problems, problems
print(json.dumps(facts))
"""

CHILD_RESTORE = """
import json, sys, time
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_extract import extract_archive
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_stream import scan_archive
expected = json.loads(sys.argv[3])
started = time.monotonic()
report = scan_archive(sys.argv[1], expected=expected)
assert report.ok, report.problems
scanned = time.monotonic()
facts = extract_archive(sys.argv[1], sys.argv[2], keep_setuid=True, prevalidate=False, hash_raw=False,
                        expected=expected)
facts.update(scan_s=scanned - started, extract_s=time.monotonic() - scanned)
print(json.dumps(facts))
"""


def child(script, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    return measured([sys.executable, "-c", script] + list(args), env=env)


# --- main ---------------------------------------------------------------------------------

def row(label, seconds, raw_bytes, reference=None, rss=None, note=""):
    rate = raw_bytes / MB / seconds
    ratio = "" if reference is None else "%.2fx" % (reference / seconds)
    print("%-26s %8.2f s %9.1f MB/s %8s %9s  %s" % (label, seconds, rate, ratio,
                                                    "" if rss is None else "%.0f MB" % rss, note))
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="volume size in MiB (default 512)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are printed")
    parser.add_argument("--threads", type=int, default=0, help="zstd threads for our backup (0: all cores)")
    parser.add_argument("--skip-czf", action="store_true", help="skip the slow docker run tar czf method")
    parser.add_argument("--keep", action="store_true", help="keep the volume and the scratch directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: the volume is filled through its Mountpoint")

    import docker
    client = docker.from_env(timeout=300)
    client.images.get(HELPER_IMAGE)  # never pulled: `make images` builds it
    volume = "p0bench_backup_" + uuid.uuid4().hex[:6]
    work = tempfile.mkdtemp(prefix="phase0-backup-bench-", dir=os.environ.get("BENCH_DIR"))
    os.chmod(work, 0o700)
    client.volumes.create(volume)
    try:
        mountpoint = client.api.inspect_volume(volume)["Mountpoint"]
        t0 = time.monotonic()
        small = fill(mountpoint, args.size)
        subprocess.run(["sync"], check=True)
        print("volume %s: %d MiB, %d small files, filled in %.1f s; %d cores, load %.1f" % (
            volume, args.size, small, time.monotonic() - t0, os.cpu_count(), os.getloadavg()[0]))
        subprocess.run("tar -C %s -cf - . > /dev/null" % mountpoint, shell=True, check=True)  # warm cache

        rounds = []
        for index in range(args.repeat):
            r = {}
            backup_dir = os.path.join(work, "backups", "phase0_bench%02d" % index)
            host_dir = os.path.join(work, "backups", "phase0_host%02d" % index)

            def timed_backup(method, target, key):
                """One module backup with `method`; its figures go into r under `key`."""
                settle()
                (r[key], r[key + "_rss"], found), r[key + "_engine_cpu"] = engine_cpu_during(
                    lambda: module_backup(volume, target, args.threads, method))
                r[key + "_cpu"] = LAST_CPU[0]
                r[key + "_pipeline"] = found["duration_s"]
                r[key + "_ratio"] = found["raw_bytes"] / float(found["bytes"])
                return found

            # Alternate which method goes first, as for the extracts below.
            if index % 2 == 0:
                entry, host_entry = timed_backup("api", backup_dir, "module"), timed_backup("host", host_dir, "host")
            else:
                host_entry, entry = timed_backup("host", host_dir, "host"), timed_backup("api", backup_dir, "module")
            raw = entry["raw_bytes"]
            archive = os.path.join(backup_dir, entry["archive"])
            assert host_entry["members"] == entry["members"], (host_entry["members"], entry["members"])
            settle()
            (r["drain"], drained, r["drain_cpu"]), r["drain_engine_cpu"] = engine_cpu_during(lambda: drain(volume))
            assert drained == raw, (drained, raw)
            baseline = os.path.join(work, "baseline%02d.tar.zst" % index)
            settle()
            r["tar_zstd"], dummy_rss, dummy = shell("tar -C %s -cf - . | zstd -q -3 -T0 -o %s" % (mountpoint, baseline))
            r["ratio_base"] = raw / float(os.path.getsize(baseline))
            if not args.skip_czf:
                czf_dir = os.path.join(work, "czf%02d" % index)
                os.makedirs(czf_dir)
                r["czf"], dummy_rss, dummy = measured([
                    "docker", "run", "--rm", "--network", "none", "-v", "%s:/data:ro" % volume,
                    "-v", "%s:/backup" % czf_dir, HELPER_IMAGE, "tar", "czf", "/backup/x.tar.gz", "-C", "/data", "."])
                r["ratio_czf"] = raw / float(os.path.getsize(os.path.join(czf_dir, "x.tar.gz")))
                shutil.rmtree(czf_dir)
            expected = {key: entry[key] for key in ("sha256", "bytes", "raw_sha256", "raw_bytes", "members",
                                                    "file_bytes", "compression")}
            settle()
            r["verify"], r["verify_rss"], out = child(CHILD_VERIFY, archive, json.dumps(expected), "1")
            r["verify_call"] = json.loads(out)["seconds"]
            settle()
            dummy_seconds, dummy_rss, out = child(CHILD_VERIFY, archive, json.dumps(expected), "0")
            r["verify_walk"] = json.loads(out)["seconds"]
            settle()
            r["list"], dummy_rss, dummy = shell("zstd -dc %s | tar -tvf - > /dev/null" % archive)
            staging = os.path.join(work, "restore%02d" % index)
            plain = os.path.join(work, "untar%02d" % index)
            os.makedirs(staging)
            os.makedirs(plain)

            def ours(staging=staging, archive=archive, expected=expected):
                r["restore"], r["restore_rss"], out = child(CHILD_RESTORE, archive, staging, json.dumps(expected))
                facts = json.loads(out)
                r["restore_scan"], r["restore_extract"] = facts["scan_s"], facts["extract_s"]

            def gnu(plain=plain, archive=archive):
                r["untar"], dummy_rss, dummy = shell("zstd -dc %s | tar -xpf - --numeric-owner -C %s" % (archive, plain))

            # Alternate who goes first; the trees stay until the end (`work` is removed then): on the
            # dev machine ext4 spent file creation in recently_deleted() after a large delete (perf),
            # which slowed whichever extract came right after it by up to 3x.
            for extract in ((ours, gnu) if index % 2 == 0 else (gnu, ours)):
                settle()
                extract()
            os.unlink(baseline)
            shutil.rmtree(host_dir)
            print("round %d: backup api %.2f s, host %.2f s (pipelines %.2f, %.2f), drain %.2f s, "
                  "tar|zstd %.2f s, verify call %.2f s, zstd|tar -tv %.2f s, restore %.2f s (scan %.2f, extract %.2f), "
                  "tar -x %.2f s" % (
                      index + 1, r["module"], r["host"], r["module_pipeline"], r["host_pipeline"], r["drain"],
                      r["tar_zstd"], r["verify_call"], r["list"], r["restore"], r["restore_scan"],
                      r["restore_extract"], r["untar"]), flush=True)
            r["raw"] = raw
            r["members"] = entry["members"]
            rounds.append(r)

        med = dict((key, statistics.median(r[key] for r in rounds)) for key in rounds[0])
        raw = med["raw"]
        print("raw tar %.1f MB, %d members; compression ratio ours %.2f (host %.2f), tar|zstd %.2f%s; "
              "%d round(s), medians" % (
                  raw / MB, med["members"], med["module_ratio"], med["host_ratio"], med["ratio_base"],
                  ", tar czf %.2f" % med["ratio_czf"] if "ratio_czf" in med else "", len(rounds)))
        print("%-26s %10s %14s %8s %9s" % ("method", "time", "raw MB/s", "ours is", "peak RSS"))
        ours = row("backup: module, api", med["module"], raw, rss=med["module_rss"],
                   note="(method api; process: start-up, engine calls, helper, fsync)")
        row("  pipeline only", med["module_pipeline"], raw, note="(the module's own per-volume duration)")
        host = row("backup: module, host", med["host"], raw, rss=med["host_rss"],
                   note="(method host: GNU tar on the Mountpoint, what auto picks as root here)")
        row("  pipeline only", med["host_pipeline"], raw, note="(GNU tar -> the same pipeline)")
        drain_rate = row("get_archive drain", med["drain"], raw, reference=med["module"])
        base_rate = row("tar | zstd -3 -T0", med["tar_zstd"], raw, reference=med["host"])
        czf_rate = None
        if "czf" in med:
            czf_rate = row("docker run tar czf", med["czf"], raw, reference=med["module"])
        verify_rate = row("full verify: ours", med["verify"], raw, rss=med["verify_rss"],
                          note="(child process: start-up, imports, the call)")
        call_rate = row("full verify: the call", med["verify_call"], raw, note="(verify_archive_full alone)")
        walk_rate = row("  without member checks", med["verify_walk"], raw,
                        note="(check_members: false: decompress, re-hash, walk)")
        list_rate = row("zstd -dc | tar -tvf", med["list"], raw, reference=med["verify"])
        restore_rate = row("restore: ours", med["restore"], raw, rss=med["restore_rss"],
                           note="(child process: verify and judge first, then write)")
        row("  scan before any write", med["restore_scan"], raw, note="(scan_archive: both hashes, every member)")
        extract_rate = row("  extract pass", med["restore_extract"], raw,
                           note="(extract_archive into staging, judged again as written)")
        untar_rate = row("zstd -dc | tar -xp", med["untar"], raw, reference=med["restore"])
        print("restore/(zstd|tar -xp) %.2f, its extract pass alone %.2f (P6: >= 0.75)" % (
            restore_rate / untar_rate, extract_rate / untar_rate))
        print("targets: api/drain %.2f (P1 >= 0.85), host/drain %.2f (>= 0.85), "
              "host/tar|zstd %.2f (P2 >= 0.8), /tar czf %s and %s (>= 3), verify/(zstd|tar -tv) %.2f (>= 0.7), "
              "module peak RSS %.0f and %.0f MB (< 150)" % (
                  ours / drain_rate, host / drain_rate, host / base_rate,
                  "%.1f" % (ours / czf_rate) if czf_rate else "-", "%.1f" % (host / czf_rate) if czf_rate else "-",
                  verify_rate / list_rate, med["module_rss"], med["host_rss"]))
        print("verify/(zstd|tar -tv): the call alone %.2f, without member checks %.2f (P5: >= 0.7)" % (
            call_rate / list_rate, walk_rate / list_rate))
        cores = os.cpu_count() or 1
        print("CPU seconds: drain = engine %.2f + reader %.2f; our backup = engine %.2f + module %.2f; "
              "on %d cores the backup cannot take less than %.2f s, i.e. %.2fx the drain at best" % (
                  med["drain_engine_cpu"], med["drain_cpu"], med["module_engine_cpu"], med["module_cpu"], cores,
                  (med["module_engine_cpu"] + med["module_cpu"]) / cores,
                  med["drain"] / ((med["module_engine_cpu"] + med["module_cpu"]) / cores)))
        print("CPU seconds, method host: engine %.2f + module with GNU tar %.2f" % (
            med["host_engine_cpu"], med["host_cpu"]))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            client.volumes.get(volume).remove(force=True)
        else:
            print("kept volume %s and %s" % (volume, work))


if __name__ == "__main__":
    main()
