# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find the Python and Node.js versions of every container of a compose project.

One listing call for the project's containers, one image inspect per distinct image (its env
carries PYTHON_VERSION / NODE_VERSION in the official images), then, only for runtimes the env
did not name, one exec per running container, concurrently with a bound. Every exec has a hard
deadline: the stream is read with select() against a monotonic deadline, because docker-py's
own reader polls without any timeout and would hang the module on a stuck container.

Rows come out as plain dicts (`audit_rows`), evaluated against the policy by `apply_policy`.
"""
from __future__ import annotations

import select
import struct
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
    SERVICE_LABEL, ONEOFF_LABEL, container_name, project_containers)
from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import (
    ENV_VERSION_KEYS, RUNTIMES, STATUS_NO_RUNTIME, STATUS_STOPPED, STATUS_UNKNOWN, evaluate, major_minor,
    parse_runtime_output, priority_for, versions_from_env)

# Commands tried per runtime, in order; the first that prints a version wins.
PROBE_COMMANDS = {"python": ("python3", "python"), "node": ("node",)}

PROBE_MODES = ("env_then_exec", "exec", "env")

OUTPUT_LIMIT = 64 * 1024
MARK = "@@phase0@@"

# --- exec with a deadline -----------------------------------------------------------------


def _raw_socket(sock):
    """The object select() and recv() work on, for the socket docker-py hands back."""
    for attr in ("_sock",):
        inner = getattr(sock, attr, None)
        if inner is not None:
            return inner
    return sock


def _recv(sock, size):
    if hasattr(sock, "recv"):
        return sock.recv(size)
    return sock.read(size)


def demux_frames(data):
    """Split Docker's multiplexed exec stream (8-byte headers) into (stdout, stderr, rest)."""
    out, err = bytearray(), bytearray()
    pos = 0
    while len(data) - pos >= 8:
        stream, size = struct.unpack(">BxxxL", data[pos:pos + 8])
        if len(data) - pos - 8 < size:
            break
        chunk = data[pos + 8:pos + 8 + size]
        (err if stream == 2 else out).extend(chunk)
        pos += 8 + size
    return bytes(out), bytes(err), data[pos:]


def exec_capture(api, container, cmd, timeout, limit=OUTPUT_LIMIT):
    """Run cmd in a container; return dict(exit_code, output, timed_out, seconds).

    stdout and stderr are merged (a `--version` may print to either). Reading stops at the
    deadline even when the process inside never ends; the process is then left to the
    container (the API cannot kill an exec), which the result says.
    """
    started = time.monotonic()
    deadline = started + timeout
    exec_id = api.exec_create(container, cmd, stdout=True, stderr=True, tty=False)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw = _raw_socket(sock)
    buf = b""
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, dummy_w, dummy_x = select.select([raw], [], [], remaining)
            if not ready:
                timed_out = True
                break
            chunk = _recv(raw, 65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > limit + 8 * 64:
                break
    finally:
        try:
            sock.close()
        except Exception:  # closing is best effort; pylint: disable=broad-except
            pass
        response = getattr(sock, "_response", None)
        if response is not None:
            try:
                response.close()
            except Exception:  # pylint: disable=broad-except
                pass
    out, err, dummy_rest = demux_frames(buf)
    output = (out + err)[:limit].decode("utf-8", "replace")
    exit_code = None
    if not timed_out:
        try:
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception:  # the output is what matters; pylint: disable=broad-except
            exit_code = None
    return {"exit_code": exit_code, "output": output, "timed_out": timed_out,
            "seconds": round(time.monotonic() - started, 3)}


def shell_script(groups):
    """One sh script: per group of candidate commands, `--version` of the first one on PATH.

    Each answer follows a marker line naming the command, so one exec serves every runtime
    and a missing binary costs a `command -v`, not a failed spawn.
    """
    parts = []
    for commands in groups:
        parts.append('for c in %s; do if command -v "$c" >/dev/null 2>&1; then echo "%s $c"; "$c" --version 2>&1; '
                     'break; fi; done' % (" ".join(commands), MARK))
    return "; ".join(parts)


def split_marked_output(text):
    """{command: its output} from the output of `shell_script`."""
    found, current = {}, None
    for line in (text or "").splitlines():
        if line.startswith(MARK + " "):
            current = line[len(MARK) + 1:].strip()
            found[current] = ""
        elif current is not None:
            found[current] += line + "\n"
    return found


def _shell_missing(result):
    """The exec could not start sh (distroless, scratch images)."""
    text = result["output"]
    return result["exit_code"] in (126, 127) and MARK not in text and (
        "executable file not found" in text or "no such file" in text.lower() or "OCI runtime" in text)


def probe_runtimes(api, container, runtimes, timeout):
    """{runtime: {version, command}} for the runtimes found by exec, plus notes.

    One `sh -c` exec asks every runtime; in an image without a shell, one exec per command.
    """
    groups = [(runtime, tuple(PROBE_COMMANDS.get(runtime, (runtime,)))) for runtime in runtimes]
    found, notes = {}, []
    if not groups:
        return found, notes
    result = exec_capture(api, container, ["sh", "-c", shell_script([g for dummy, g in groups])], timeout)
    if result["timed_out"]:
        notes.append("exec probe timed out after %s s" % timeout)
        return found, notes
    if not _shell_missing(result):
        outputs = split_marked_output(result["output"])
        for runtime, commands in groups:
            for command in commands:
                version = parse_runtime_output(runtime, outputs.get(command))
                if version:
                    found[runtime] = {"version": version, "command": command}
                    break
        return found, notes
    for runtime, commands in groups:
        for command in commands:
            try:
                single = exec_capture(api, container, [command, "--version"], timeout)
            except Exception as exc:  # one command failing is data; pylint: disable=broad-except
                notes.append("exec %s --version failed: %s" % (command, _short(exc)))
                break
            if single["timed_out"]:
                notes.append("exec %s --version timed out after %s s" % (command, timeout))
                break
            version = parse_runtime_output(runtime, single["output"])
            if version:
                found[runtime] = {"version": version, "command": command}
                break
    return found, notes


def _short(exc, limit=200):
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- the audit ----------------------------------------------------------------------------

def image_env_versions(api, image_ids, workers, env_keys=None):
    """{image_id: {runtime: version}} from each image's Config.Env (one inspect per image)."""
    def inspect(image_id):
        info = api.inspect_image(image_id)
        return versions_from_env((info.get("Config") or {}).get("Env"), env_keys)
    versions = {}
    for outcome in bounded_map(inspect, sorted(set(i for i in image_ids if i)), workers):
        versions[outcome.item] = outcome.value if outcome.ok else {}
    return versions


def container_facts(summary):
    """The non-secret identity of a container summary."""
    labels = summary.get("Labels") or {}
    return {
        "service": labels.get(SERVICE_LABEL) or container_name(summary),
        "container": container_name(summary),
        "container_id": (summary.get("Id") or "")[:12],
        "image": summary.get("Image") or "",
        "image_id": summary.get("ImageID") or "",
        "state": summary.get("State") or "",
        "oneoff": labels.get(ONEOFF_LABEL) == "True",
    }


def plan_container(fact, env_versions, runtimes, mode):
    """(runtimes known from the image env, runtimes to ask the binaries for) for one container.

    env_then_exec trusts an image env that names a runtime (the official images set it) and
    execs only into containers whose env names none; exec asks every running container for
    every runtime; env never execs. Stopped containers can only be read from the env.
    """
    env_known = dict((r, v) for r, v in env_versions.items() if r in runtimes)
    running = fact["state"] == "running"
    if mode == "env" or not running:
        return env_known, []
    if mode == "exec":
        return {}, list(runtimes)
    return env_known, ([] if env_known else list(runtimes))


def _probe(api, container, runtimes, timeout):
    try:
        found, notes = probe_runtimes(api, container, runtimes, timeout)
    except Exception as exc:  # one container failing is data; pylint: disable=broad-except
        return {}, ["exec probe failed: %s" % _short(exc)], False
    return found, notes, not notes


def run_probes(api, facts, plans, timeout, workers, scope):
    """Exec results per container name: (found, notes, probed_in).

    With scope 'image' one running container per image (and runtime set) is probed and its
    answer holds for every container of that image: the binary lives in the image, not in the
    container. When that probe fails, the other containers of the image are probed one by one.
    """
    groups = {}
    for fact in facts:
        to_exec = plans[fact["container"]][1]
        if to_exec:
            key = (fact["image_id"], tuple(to_exec)) if scope == "image" else (fact["container"],)
            groups.setdefault(key, []).append(fact)
    results = {}

    def probe_group(members):
        return _probe(api, members[0]["container"], plans[members[0]["container"]][1], timeout)

    retry = []
    for outcome in bounded_map(probe_group, list(groups.values()), workers):
        members = outcome.item
        found, notes, ok = outcome.value
        leader = members[0]["container"]
        results[leader] = (found, notes, leader)
        if ok:
            for member in members[1:]:
                results[member["container"]] = (found, [], leader)
        else:
            retry.extend(members[1:])
    for outcome in bounded_map(lambda f: _probe(api, f["container"], plans[f["container"]][1], timeout), retry, workers):
        found, notes, dummy_ok = outcome.value
        results[outcome.item["container"]] = (found, notes, outcome.item["container"])
    return results


def findings_for(fact, plan, probe_result):
    """The per-runtime findings of one container and the notes explaining them."""
    env_known, to_exec = plan
    findings, notes = [], []
    for runtime, version in sorted(env_known.items()):
        findings.append({"runtime": runtime, "version": version, "source": "env",
                         "command": ENV_VERSION_KEYS.get(runtime, "")})
    if probe_result is not None:
        found, probe_notes, probed_in = probe_result
        notes.extend(probe_notes)
        for runtime in to_exec:
            if runtime in found:
                findings.append({"runtime": runtime, "version": found[runtime]["version"], "source": "exec",
                                 "command": found[runtime]["command"]})
        if findings and probed_in != fact["container"]:
            notes.append("read in %s (same image)" % probed_in)
    return findings, notes


def audit_rows(api, project_name, runtimes=RUNTIMES, mode="env_then_exec", timeout=10, workers=8,
               include_oneoff=False, scope="image"):
    """Rows for every container of the project (running or not), before the policy is applied."""
    summaries = project_containers(api, project_name, all=True)
    facts = [container_facts(s) for s in summaries]
    if not include_oneoff:
        facts = [f for f in facts if not f["oneoff"]]
    facts.sort(key=lambda f: f["container"])
    # Inspected in every mode: a stopped container can only be read from its image's env.
    env_by_image = image_env_versions(api, [f["image_id"] for f in facts], workers)
    plans = dict((f["container"], plan_container(f, env_by_image.get(f["image_id"], {}), list(runtimes), mode))
                 for f in facts)
    probes = run_probes(api, facts, plans, timeout, workers, scope)
    rows = []
    for fact in facts:
        findings, notes = findings_for(fact, plans[fact["container"]], probes.get(fact["container"]))
        rows.extend(rows_for_container(fact, findings, notes))
    rows.sort(key=lambda r: (r["service"], r["container"], r["runtime"]))
    return rows


def rows_for_container(fact, findings, notes):
    """Flat rows: one per runtime found; one 'none'/'unknown' row when nothing was found."""
    base = dict((k, fact[k]) for k in ("service", "container", "container_id", "image", "image_id", "state"))
    note = "; ".join(notes)
    running = fact["state"] == "running"
    if not running:
        state = fact["state"] or "not running"
        stopped_note = ("container is %s: version from the image env only" % state if findings
                        else "container is %s: not probed, and its image env names no runtime" % state)
        note = "; ".join(n for n in (stopped_note, note) if n)
    rows = []
    for finding in findings:
        row = dict(base, note=note)
        row.update(finding)
        rows.append(row)
    if not rows:
        row = dict(base, runtime="none", version=None, source="none", command="", note=note)
        if not running:
            row.update(runtime="unknown", status=STATUS_STOPPED)
        elif notes:
            row.update(runtime="unknown", status=STATUS_UNKNOWN)
        else:
            row.update(status=STATUS_NO_RUNTIME, note="no python or node runtime found")
        rows.append(row)
    return rows


def apply_policy(rows, minimums, rules, default_priority):
    """Add status, minimum, priority and major_minor to every row (new list)."""
    out = []
    for row in rows:
        row = dict(row)
        row["priority"] = priority_for(row["service"], rules, default_priority)
        row["major_minor"] = major_minor(row.get("version"))
        if row["runtime"] in ("none", "unknown"):
            row.setdefault("status", STATUS_UNKNOWN)
            row["minimum"] = None
        else:
            row["status"], row["minimum"] = evaluate(row["runtime"], row.get("version"), minimums)
        out.append(row)
    return out
