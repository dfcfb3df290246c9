# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`docker save` into the backup and `docker load` back, streamed and checksummed like volumes.

Interface:
    image_id_of(api, ref) -> image id the engine resolves for ref (tag or id), or None
    save_image(api, ref, path, codec='zstd', threads=0) -> dict(sha256, bytes, raw_sha256, raw_bytes, seconds)
        api.get_image(ref) chunks -> archive_stream (hash, compress) -> AtomicWriter(path): the file
        appears complete or not at all.
    load_image(api, path, expected_sha256=None, expected_bytes=None) -> list of loaded image ids/tags
        verifies size and SHA-256 of the compressed file first (one pass), then streams the
        decompressed tar to the engine's load endpoint (a generator: never read whole).
    verify_file(path, expected_sha256, expected_bytes) -> None or a problem string
"""
from __future__ import annotations

import hashlib
import json
import os
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import DecompressingReader, detect_codec
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_stream import archive_stream, iter_file_chunks
from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import AtomicWriter, ensure_private_dir

CHUNK = 1 << 20

try:
    from docker.errors import ImageNotFound, NotFound
except ImportError:  # pragma: no cover - the module reports missing_required_lib first
    ImageNotFound = NotFound = Exception


def image_id_of(api, ref):
    try:
        return api.inspect_image(ref).get("Id")
    except (ImageNotFound, NotFound):
        return None


def save_image(api, ref, path, codec="zstd", threads=0):
    ensure_private_dir(os.path.dirname(path))
    started = time.monotonic()
    chunks = api.get_image(ref, chunk_size=CHUNK)
    with AtomicWriter(path) as writer:
        result = archive_stream(chunks, writer, codec=codec, threads=threads)
        writer.commit()
    return {"sha256": result.sha256, "bytes": result.bytes, "raw_sha256": result.raw_sha256,
            "raw_bytes": result.raw_bytes, "seconds": round(time.monotonic() - started, 3)}


def verify_file(path, expected_sha256, expected_bytes):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for block in iter_file_chunks(handle, CHUNK):
            digest.update(block)
            size += len(block)
    if expected_bytes is not None and size != int(expected_bytes):
        return "%s is %d bytes, the manifest says %s" % (path, size, expected_bytes)
    if expected_sha256 and digest.hexdigest() != expected_sha256:
        return "%s has SHA-256 %s, the manifest says %s" % (path, digest.hexdigest(), expected_sha256)
    return None


def _decompressed(path):
    with open(path, "rb") as handle:
        codec = detect_codec(handle.read(4))
        handle.seek(0)
        reader = DecompressingReader(handle, codec, read_size=CHUNK)
        while True:
            data = reader.read(CHUNK)
            if not data:
                return
            yield data


def load_image(api, path, expected_sha256=None, expected_bytes=None):
    problem = verify_file(path, expected_sha256, expected_bytes)
    if problem:
        raise ValueError(problem)
    loaded = []
    for line in api.load_image(_decompressed(path)) or []:
        if isinstance(line, (bytes, str)):
            try:
                line = json.loads(line)
            except ValueError:
                continue
        if line.get("error"):
            raise ValueError("docker load of %s failed: %s" % (path, line["error"]))
        stream = (line.get("stream") or "").strip()
        if stream.startswith("Loaded image"):
            loaded.append(stream.split(":", 1)[1].strip())
    return loaded
