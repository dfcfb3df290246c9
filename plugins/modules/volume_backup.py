#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: volume_backup
short_description: Archive the Docker volumes of a compose project, crash-safely and verifiably
version_added: "0.1.0"
description:
  - Archives every volume of a compose project (found by the C(com.docker.compose.project) label), or
    the volumes listed in O(volumes), into O(backup_dir)C(/volumes/<volume>.tar.zst).
  - Each volume is read through the Engine API from a helper container that is B(created, never started),
    with the volume mounted read-only, using an image already present on the engine (an image of the
    project's own containers, or O(helper_image)); nothing is ever pulled. The helper is removed on every path.
    As root on the engine's host, GNU tar reads the volume's directory instead (O(method)).
  - The tar stream is hashed (SHA-256 of the raw tar), compressed, hashed again (SHA-256 of the file) and
    written in 1 MiB chunks, so memory stays bounded whatever the volume size. A stream without the tar
    end-of-archive marker (dropped connection) fails the backup.
  - Archives are written as C(*.partial) files (0600, C(O_EXCL|O_NOFOLLOW)), fsynced, renamed, and the
    directory fsynced. A failed run removes what it wrote; stale C(*.partial) files of a crashed run are
    removed by the next run once it holds the run lock.
  - Containers that write to a volume are stopped (or paused) for the time of that volume's archive and
    started again in C(finally), on every path, errors included; health is then awaited. Each stop, start,
    pause and unpause is reported separately.
  - Progress lines (bytes, MB/s) are appended to O(backup_dir)C(/backup.log).
  - The module does not write the manifest. Pass RV(volumes) to M(homeiq.phase0.backup_manifest), which
    commits the backup by writing C(manifest.json) last.
  - "Test-only fault injection, never for production: the environment variables E(PHASE0_TEST_FAIL_AFTER_STOP=1),
    E(PHASE0_TEST_ENOSPC_AFTER_BYTES=<n>) and E(PHASE0_TEST_SLOW_ARCHIVE_MS=<ms>) of the module process make it
    fail after stopping containers, fail with ENOSPC after n bytes, or slow down, so tests can prove recovery."
extends_documentation_fragment:
  - homeiq.phase0.docker
options:
  project_name:
    description:
      - Compose project whose volumes are backed up (volumes labelled C(com.docker.compose.project=<name>)).
      - Required unless O(volumes) is given. Also names the run lock and the helper containers.
    type: str
  volumes:
    description:
      - Explicit volume names to back up instead of all volumes of the project. A name that does not exist fails the task.
    type: list
    elements: str
  exclude:
    description:
      - Shell-style patterns; volumes whose full name or compose short name (C(com.docker.compose.volume) label)
        matches one are skipped.
    type: list
    elements: str
    default: []
  backup_dir:
    description:
      - The backup directory of this run, normally C(<output>/backups/phase0_<YYYYmmdd_HHMMSS>). Created 0700 if missing.
      - The run lock lives in its parent directory, one per project, so two runs into the same output directory exclude each other.
    type: path
    required: true
  compression:
    description:
      - V(zstd) writes C(.tar.zst) (the C(zstandard) package, multi-threaded), V(gzip) writes C(.tar.gz), V(none) writes C(.tar).
    type: str
    choices: [zstd, gzip, none]
    default: zstd
  compression_level:
    description:
      - Compression level; default 3 for zstd and 6 for gzip.
    type: int
  threads:
    description:
      - zstd worker threads. With O(method=api), V(0) means every CPU core but one (at least one), because the
        engine builds the tar stream on the same host and needs a core of its own (on 2 cores, 1 thread backed up
        1.1 GB in 4.8 s at 60 MB peak memory, 2 threads took 6.4 s at 173 MB; see docs/benchmarks.md).
      - With O(method=host), V(0) means every core, in 2 MiB jobs (GNU tar costs a fifth of the engine's CPU).
    type: int
    default: 0
  method:
    description:
      - Where each volume's tar stream comes from (the same names as M(homeiq.phase0.volume_restore)'s O(method)).
      - V(api) always uses the Engine API (C(get_archive) on the helper container). It works with any engine,
        remote or rootless.
      - V(host) runs GNU tar on the volume's directory on this host, while the helper container holds the volume.
        On 2 cores it backed up the 1 GiB benchmark volume in about 3.1 s against 4.5 s (medians of 3, docs/benchmarks.md), and
        it writes the same member list as the engine (C(./) names, types, modes, numeric owners, sizes, whole-second
        mtimes, link targets, C(security.capability)). A file that shrinks while GNU tar reads it fails the backup (tar
        would pad it with zeros); any other change while it is read records the copy as C(consistency=none).
        It needs root, a local engine (unix socket) that does not remap user ids (no userns-remap, not rootless), a
        C(local) volume without driver options, no file system mounted inside the volume's directory (the engine
        mounts volumes recursively, so its archive holds such a mount's files), GNU tar 1.28 or later, and the
        engine's stat of the volume root (mtime to the nanosecond and mode) must match the directory. When a check fails, the task fails with
        C(error_kind=method) and names the check, before any container is stopped (the stat comparison, which needs
        the helper, comes right before that volume's archive).
      - V(auto) uses V(host) for each volume that passes every check and V(api) for the others; each entry of
        RV(volumes) (C(method), C(method_reason)) and C(backup.log) say which one was used and why.
    type: str
    choices: [auto, api, host]
    default: auto
  consistency:
    description:
      - How to treat running containers that mount a volume read-write.
      - V(auto) uses each container's label C(homeiq.phase0.consistency=<stop|pause|live>), and otherwise stops
        it (the label C(docker-volume-backup.stop-during-backup=true) also means stop; an explicit V(false) keeps that
        container running and copies live, with a warning).
      - V(stop) stops them for the time of the archive and starts them again; V(pause) pauses and unpauses them
        (pre-backup hooks run before the pause); V(live) copies while they run, records C(consistency=live) and warns.
      - An explicit value applies to every container and wins over labels.
      - A container label C(homeiq.phase0.backup-pre) (or C(docker-volume-backup.archive-pre)) is a shell command run
        in that container before it is stopped or paused; a non-zero exit fails the backup of its volumes.
    type: str
    choices: [auto, stop, pause, live]
    default: auto
  helper_image:
    description:
      - Image for the helper container. It must already be present on the engine; it is never pulled and never started.
      - Default is an image of a container that uses the volume, or of any container of the project, running or not.
    type: str
  stop_timeout:
    description:
      - Seconds a container gets to stop before it is killed. Default is the container's own C(StopTimeout)
        (compose C(stop_grace_period)), else 10.
    type: int
  health_timeout:
    description:
      - Seconds to wait, after a restart, for a container to come back to the health it had when it was stopped.
      - A container that was C(healthy) must be C(healthy) again, one without a healthcheck C(running); one that
        was already C(unhealthy) (or still C(starting)) only has to be running again, and still being unhealthy is
        a warning, not a failure. Containers that do not come back are reported and fail the task (the archives are kept).
    type: int
    default: 120
  lock_timeout:
    description:
      - Seconds to wait for a concurrent run of the same project and output directory to finish. After that the
        task fails with a message starting with C(locked:). A lock left by a dead process on this host is broken and reported.
    type: float
    default: 0
  space_margin:
    description:
      - Refuse to start when free space at O(backup_dir) is below the estimated volume size times this factor.
        Sizes come from the engine (C(docker system df)) or, as root on the engine host, from the volumes' directories.
        V(0) disables the check.
    type: float
    default: 1.1
author:
  - homeiq.phase0 contributors (@homeiq)
attributes:
  check_mode:
    support: full
    description: Writes nothing; reports the plan (sizes, archives, containers that would be stopped, the method per volume) and the same C(changed).
  diff_mode:
    support: none
    description: Writes new archive files only, so there is no diff.
notes:
  - The archives hold the volume root as C(./) with numeric owners, modes, symlinks, hardlinks and whole-second mtimes;
    extended attributes other than C(security.capability) and sparse holes are not preserved, whichever the source.
"""

EXAMPLES = r"""
- name: Back up every volume of the project
  homeiq.phase0.volume_backup:
    project_name: homeiq
    backup_dir: "{{ phase0_output_dir }}/backups/phase0_{{ ts }}"
  register: volume_backup

- name: Back up two volumes with gzip, pausing writers
  homeiq.phase0.volume_backup:
    volumes: [homeiq_influxdb_data, homeiq_sqlite_data]
    backup_dir: /srv/backups/phase0_20260204_111804
    compression: gzip
    consistency: pause
    lock_timeout: 30

- name: Commit the backup (manifest written last)
  homeiq.phase0.backup_manifest:
    backup_dir: "{{ volume_backup.backup_dir }}"
    project: homeiq
    volumes: "{{ volume_backup.volumes }}"
"""

RETURN = r"""
backup_dir:
  description: The backup directory written to.
  returned: always
  type: str
volumes:
  description:
    - One entry per archived volume, ready for M(homeiq.phase0.backup_manifest).
    - "Keys: name, archive (relative path), path, compression, compression_level, threads, sha256 and bytes (of the
      compressed file), raw_sha256 and raw_bytes (of the tar stream), members, file_bytes, duration_s, mb_per_s,
      labels, driver, options (the driver options, null without any; a value that looks secret, also inside
      C(o), is recorded as C(<redacted>)), consistency (stop, pause, live, idle or none), helper_image, method (api or host), method_reason
      (requested, or why not host), containers, warnings, created, estimated_bytes, sqlite_files
      (when any)."
  returned: success
  type: list
  elements: dict
containers:
  description: Every container action (pre-hook, stop, start, pause, unpause) with its own outcome (ok, seconds, error).
  returned: always
  type: list
  elements: dict
health:
  description:
    - For every restarted container, the state it reached (status healthy, running, unhealthy, exited, paused, timeout,
      error), its health before the stop (before), whether that is good enough (ok) and after how long (seconds).
  returned: when containers were restarted
  type: list
  elements: dict
plan:
  description:
    - What the run does or would do; per volume the archive, estimated bytes, consistency and the containers to stop or pause.
    - In check mode each volume also has C(method) and C(method_reason), the method the run would use as far as it is
      known without a helper container (V(host) still depends on the engine's stat of the volume root, compared when the
      backup runs). With O(method=host), check mode fails where the run would, with C(error_kind=method).
  returned: always
  type: dict
estimated_bytes:
  description: Estimated size of the selected volumes' data.
  returned: always
  type: int
free_bytes:
  description: Free bytes at the backup directory before the run.
  returned: always
  type: int
excluded:
  description: Volumes skipped by O(exclude).
  returned: always
  type: list
  elements: str
cleaned_partials:
  description: Stale C(*.partial) files of earlier, interrupted runs that were removed.
  returned: success
  type: list
  elements: str
removed_dead_run_archives:
  description:
    - Archives that an earlier run, killed before it could clean up (SIGKILL, a host reset), had
      renamed to their final names in a backup directory that has no C(manifest.json). This run
      removed them, so no complete-looking archive outlives its run. Only paths the dead run
      recorded in its lock, below its C(volumes/) directory, are ever touched.
  returned: success
  type: list
  elements: str
recovered_containers:
  description: Containers a crashed earlier run had left stopped or paused, started or unpaused again by this run.
  returned: success
  type: list
  elements: dict
error_kind:
  description: On failure, what failed (locked, space, enospc, truncated, engine, hook, helper_image, unhealthy, interrupted, io, method).
  returned: failure
  type: str
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import HAS_ZSTD, ZSTD_IMPORT_ERROR
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec)
from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_engine import (
    BackupFailed, BackupRun, check_space, free_bytes, gather)


def argument_spec():
    return docker_argument_spec(
        project_name=dict(type="str"),
        volumes=dict(type="list", elements="str"),
        exclude=dict(type="list", elements="str", default=[]),
        backup_dir=dict(type="path", required=True),
        compression=dict(type="str", choices=["zstd", "gzip", "none"], default="zstd"),
        compression_level=dict(type="int"),
        threads=dict(type="int", default=0),
        method=dict(type="str", choices=["auto", "api", "host"], default="auto"),
        consistency=dict(type="str", choices=["auto", "stop", "pause", "live"], default="auto"),
        helper_image=dict(type="str"),
        stop_timeout=dict(type="int"),
        health_timeout=dict(type="int", default=120),
        lock_timeout=dict(type="float", default=0),
        space_margin=dict(type="float", default=1.1),
    )


def public_plan(plan):
    """The plan without internals, for the result."""
    containers = plan["containers"]
    return {
        "volumes": [{"name": v["name"], "archive": v["archive"], "estimated_bytes": v["estimated_bytes"],
                     "consistency": v["consistency"], "driver": v["driver"],
                     "writers": [{"name": w["name"], "method": w["method"], "state": w["state"]} for w in v["writers"]]}
                    for v in plan["volumes"]],
        "stop": [containers[cid]["name"] for group in plan["groups"] for cid in group["stop"]],
        "pause": [containers[cid]["name"] for group in plan["groups"] for cid in group["pause"]],
        "groups": [{"volumes": g["volumes"], "stop": [containers[c]["name"] for c in g["stop"]],
                    "pause": [containers[c]["name"] for c in g["pause"]]} for g in plan["groups"]],
    }


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("project_name", "volumes")])
    params = module.params
    if params["compression"] == "zstd" and not HAS_ZSTD:
        module.fail_json(msg=missing_required_lib("zstandard"), exception=ZSTD_IMPORT_ERROR)
    backup_dir = os.path.abspath(params["backup_dir"])
    docker = Phase0DockerClient(module)
    api = docker.api
    try:
        plan, facts = gather(api, params["project_name"], params["volumes"], params["exclude"],
                             params["consistency"], params["compression"])
    except Exception as exc:  # pylint: disable=broad-except  # engine errors become a clear failure
        docker.fail("could not list volumes and containers: %s" % exc, error_kind="engine",
                    exception=traceback.format_exc())
    if facts["missing"]:
        docker.fail("volume(s) not found on the engine: %s" % ", ".join(facts["missing"]), error_kind="engine")
    existing = backup_dir
    while not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    free = free_bytes(existing)
    common = {"backup_dir": backup_dir, "plan": public_plan(plan), "estimated_bytes": facts["estimated_bytes"],
              "free_bytes": free, "excluded": facts["excluded"], "size_source": facts["size_source"]}
    warned = set()
    for warning in plan["warnings"] + [w for v in plan["volumes"] for w in v["warnings"]]:
        if warning not in warned:
            warned.add(warning)
            module.warn(warning)
    changed = bool(plan["volumes"])
    try:
        check_space(existing, facts, params["space_margin"])
    except BackupFailed as exc:
        module.fail_json(msg=exc.msg, error_kind=exc.kind, **dict(common, **exc.result))
    if not changed:
        module.exit_json(changed=changed, volumes=[], containers=[], **common)
    options = dict(params)
    options.update(project=params["project_name"], stall_timeout=max(120, int(params["timeout"] or 60)),
                   _project_images=facts["project_images"])
    run = BackupRun(api, plan, backup_dir, options, replan=lambda: gather(
        api, params["project_name"], params["volumes"], params["exclude"], params["consistency"],
        params["compression"])[0])
    if module.check_mode:
        try:
            predicted = run.predicted_methods()
        except BackupFailed as exc:
            module.fail_json(msg=exc.msg, error_kind=exc.kind, changed=False,
                             **dict(dict(common, volumes=[], containers=[]), **exc.result))
        for volume in common["plan"]["volumes"]:
            volume["method"], volume["method_reason"] = predicted[volume["name"]]
        module.exit_json(changed=changed, volumes=[], containers=[], **common)
    try:
        result = run.run()
    except BackupFailed as exc:
        for warning in exc.result.pop("warnings", []):
            if warning not in warned:
                warned.add(warning)
                module.warn(warning)
        common["plan"] = public_plan(run.plan)
        module.fail_json(msg=exc.msg, error_kind=exc.kind, changed=exc.kind != "locked",
                         **dict(common, **exc.result))
    for warning in result.pop("warnings", []):
        if warning not in warned:
            warned.add(warning)
            module.warn(warning)
    common["plan"] = public_plan(run.plan)  # planned again when a stale lock's containers were recovered
    module.exit_json(changed=True, **dict(common, **result))


if __name__ == "__main__":
    main()
