# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify a backup directory against its manifest and SHA256SUMS, naming every bad file.

quick: every file the manifest lists exists, has the recorded size and SHA-256, and SHA256SUMS
       agrees with the manifest and with the files (no decompression).
full:  quick, plus for every volume archive a trial read: decompress, re-hash the raw tar, walk
       every member header (archive_tarscan) and compare raw SHA-256, raw bytes, member count
       and file bytes with the manifest. A truncated member, a cut stream, a bit flip anywhere
       fail it. Members a restore would refuse (tar_validate) are reported as warnings.

Interface:
    verify_backup(backup_dir, mode='quick', workers=2, check_members=True) -> report dict:
        {backup_id, backup_dir, mode, ok, files: [FileReport...], bad_files: [relpath...],
         problems: ['<relpath>: <what>' ...], warnings: [...], bytes_read, duration_s}
        raises manifest.IncompleteBackup when there is no complete manifest (nothing to verify).
    verify_file(path, sha256, size) -> (ok, problems, actual_sha256, actual_bytes)
    verify_archive_full(path, entry, check_members=True, chunk_size=1 MiB) -> (problems, facts, warnings)
        facts: sha256, bytes, raw_sha256, raw_bytes, members, file_bytes, codec
The full read runs in three threads: file read + compressed hash | decompress + tar walk | raw
hash. Hashing and zstd release the GIL, so the tar walk (pure Python, 50k members a second or
so) overlaps both hashes on two cores.
"""
from __future__ import annotations

import hashlib
import os
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import (
    CodecError, DecompressingReader, detect_codec)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import (
    TarFormatError, TarScanner)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_threads import (
    BackgroundHasher, ThreadedFileReader)
from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    SUMS_NAME, ManifestError, load_manifest, manifest_files, parse_sha256sums)
from ansible_collections.homeiq.phase0.plugins.module_utils.tar_validate import (
    TarMemberValidator, UnsafeMember)

CHUNK_SIZE = 1 << 20
MAX_MEMBER_WARNINGS = 20


def _open_regular(path):
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    return os.fdopen(fd, "rb", buffering=0)


def hash_file(path, chunk_size=CHUNK_SIZE):
    digest = hashlib.sha256()
    total = 0
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    with _open_regular(path) as handle:
        while True:
            count = handle.readinto(view)
            if not count:
                break
            digest.update(view[:count])
            total += count
    return digest.hexdigest(), total


def verify_file(path, sha256, size):
    problems = []
    try:
        actual, total = hash_file(path)
    except FileNotFoundError:
        return False, ["missing"], None, None
    except OSError as exc:
        return False, ["cannot read (%s)" % exc.strerror], None, None
    if total != size:
        problems.append("size %d, manifest says %d" % (total, size))
    if actual != sha256:
        problems.append("sha256 %s, manifest says %s" % (actual, sha256))
    return not problems, problems, actual, total


def _drain(source, chunk_size):
    try:
        while source.read(chunk_size):
            pass
    except OSError:
        pass


def _sniff(path):
    with _open_regular(path) as handle:
        return detect_codec(handle.read(8))


def verify_archive_full(path, entry, check_members=True, chunk_size=CHUNK_SIZE):
    """Trial-read one volume archive; returns (problems, facts, warnings)."""
    problems, warnings = [], []
    unsafe = []
    validator = TarMemberValidator() if check_members else None

    def on_member(member):
        try:
            validator.check(member)
        except UnsafeMember as exc:
            unsafe.append("%r: %s" % (exc.name, exc.reason))

    scanner = TarScanner(on_member=on_member if validator else None)
    try:
        codec = _sniff(path)
    except OSError as exc:
        return ["cannot read (%s)" % exc.strerror], {}, warnings
    expected_codec = entry.get("compression")
    if expected_codec and expected_codec != codec:
        problems.append("compressed with %s, manifest says %s" % (codec, expected_codec))
    source = ThreadedFileReader(_open_regular(path), chunk_size)
    raw_digest = BackgroundHasher()
    try:
        reader = DecompressingReader(source, codec, read_size=chunk_size)
        while True:
            data = reader.read(chunk_size)
            if not data:
                break
            raw_digest.update(data)
            scanner.feed(data)
        scanner.finish()
    except (CodecError, TarFormatError) as exc:
        problems.append(str(exc))
        _drain(source, chunk_size)  # hash the whole file anyway, so its sha256 is reported right
    except OSError as exc:
        problems.append("read error: %s" % exc)
    finally:
        source.close()
        raw_sha256 = raw_digest.hexdigest()
    facts = {"codec": codec, "sha256": source.sha256, "bytes": source.bytes,
             "raw_sha256": raw_sha256, "raw_bytes": scanner.raw_bytes,
             "members": scanner.members, "file_bytes": scanner.file_bytes}
    if source.bytes != entry.get("bytes"):
        problems.append("size %d, manifest says %s" % (source.bytes, entry.get("bytes")))
    if source.sha256 != entry.get("sha256"):
        problems.append("sha256 %s, manifest says %s" % (source.sha256, entry.get("sha256")))
    for key, label in (("raw_sha256", "raw tar sha256"), ("raw_bytes", "raw tar bytes"),
                       ("members", "member count"), ("file_bytes", "file bytes")):
        if entry.get(key) is not None and facts[key] != entry[key]:
            problems.append("%s %s, manifest says %s" % (label, facts[key], entry[key]))
    if unsafe:
        warnings.append("%d member(s) a restore would refuse without extra options: %s"
                        % (len(unsafe), "; ".join(unsafe[:MAX_MEMBER_WARNINGS])))
    return problems, facts, warnings


def _check_sums_file(backup_dir, manifest):
    """SHA256SUMS must list exactly the manifest's files with the same hashes."""
    path = os.path.join(backup_dir, SUMS_NAME)
    try:
        with _open_regular(path) as handle:
            entries = parse_sha256sums(handle.read(16 << 20).decode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        return {SUMS_NAME: ["missing"]}
    except (OSError, ManifestError) as exc:
        return {SUMS_NAME: [str(exc)]}
    problems = {}
    listed = dict((name, digest) for digest, name in entries)
    for relpath, digest, dummy in manifest_files(manifest):
        if relpath not in listed:
            problems.setdefault(relpath, []).append("not listed in %s" % SUMS_NAME)
        elif listed[relpath] != digest:
            problems.setdefault(relpath, []).append("%s says sha256 %s, manifest says %s"
                                                    % (SUMS_NAME, listed[relpath], digest))
    known = set(item[0] for item in manifest_files(manifest))
    extra = sorted(set(listed) - known)
    if extra:
        problems.setdefault(SUMS_NAME, []).append("lists files the manifest does not: %s" % ", ".join(extra))
    return problems


def verify_backup(backup_dir, mode="quick", workers=2, check_members=True):
    """Verify a backup directory (see module doc). Raises IncompleteBackup without a manifest."""
    if mode not in ("quick", "full"):
        raise ValueError("mode must be quick or full")
    started = time.monotonic()
    manifest = load_manifest(backup_dir)
    volume_entries = dict((entry["archive"], entry) for entry in manifest.get("volumes", ()))
    sums_problems = _check_sums_file(backup_dir, manifest)

    def check(item):
        relpath, digest, size = item
        full_path = os.path.join(backup_dir, relpath)
        report = {"path": relpath, "kind": "volume" if relpath in volume_entries else "file",
                  "expected_sha256": digest, "expected_bytes": size, "problems": [], "warnings": []}
        if os.path.islink(full_path):
            report["problems"].append("is a symlink")
        elif mode == "full" and relpath in volume_entries:
            problems, facts, warnings = verify_archive_full(full_path, volume_entries[relpath], check_members)
            report.update(sha256=facts.get("sha256"), bytes=facts.get("bytes"), members=facts.get("members"),
                          raw_bytes=facts.get("raw_bytes"), warnings=warnings)
            report["problems"].extend(problems)
        else:
            dummy, problems, actual, total = verify_file(full_path, digest, size)
            report.update(sha256=actual, bytes=total)
            report["problems"].extend(problems)
        report["problems"].extend(sums_problems.get(relpath, []))
        report["ok"] = not report["problems"]
        return report

    outcomes = bounded_map(check, manifest_files(manifest), workers=max(1, workers))
    files = []
    for outcome in outcomes:
        if outcome.ok:
            files.append(outcome.value)
        else:
            relpath = outcome.item[0]
            files.append({"path": relpath, "ok": False, "problems": ["verify crashed: %s" % outcome.error],
                          "warnings": []})
    problems = []
    for report in files:
        problems.extend("%s: %s" % (report["path"], text) for text in report["problems"])
    for text in sums_problems.get(SUMS_NAME, []):
        problems.append("%s: %s" % (SUMS_NAME, text))
    bad = [report["path"] for report in files if not report["ok"]]
    if SUMS_NAME in sums_problems:
        bad.append(SUMS_NAME)
    warnings = ["%s: %s" % (report["path"], text) for report in files for text in report["warnings"]]
    return {
        "backup_id": manifest.get("backup_id"), "backup_dir": backup_dir, "mode": mode,
        "ok": not problems, "files": files, "bad_files": bad, "problems": problems,
        "warnings": warnings, "bytes_read": sum(report.get("bytes") or 0 for report in files),
        "duration_s": round(time.monotonic() - started, 3),
    }
