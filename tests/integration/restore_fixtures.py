"""Build backup directories for restore tests without the backup modules: a tar made here, compressed
with the collection's own codec, and a complete manifest (or a deliberately broken one).

    make_backup(root, volumes, backup_id=None, complete=True, images=None) -> backup_dir
        volumes: {volume_name: tar bytes or a path to a raw tar file, or (tar, labels)}
    tar_bytes(build) -> bytes: build(tar) adds members to an open tarfile (PAX format)
    member(name, kind='file', data=b'', **attrs) -> (TarInfo, fileobj)
"""
import hashlib
import io
import json
import os
import tarfile
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_stream import archive_stream, iter_file_chunks
from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import AtomicWriter
from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import build_manifest, write_backup_manifest


def member(name, kind="file", data=b"", linkname="", mode=0o644, uid=0, gid=0, mtime=1700000000,
           devmajor=0, devminor=0):
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, mtime
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                 "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chardev": tarfile.CHRTYPE,
                 "blockdev": tarfile.BLKTYPE}[kind]
    info.linkname = linkname
    info.devmajor, info.devminor = devmajor, devminor
    if kind == "file":
        info.size = len(data)
        return info, io.BytesIO(data)
    return info, None


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, fileobj in members:
            if fileobj is not None:
                fileobj.seek(0)  # members are module-level constants reused by several tests
            tar.addfile(info, fileobj)
    return buf.getvalue()


def make_backup(root, volumes, backup_id=None, complete=True, images=None, project="p0test"):
    backup_id = backup_id or time.strftime("phase0_%Y%m%d_%H%M%S")
    backup_dir = os.path.join(str(root), backup_id)
    os.makedirs(os.path.join(backup_dir, "volumes"), mode=0o700, exist_ok=True)
    entries = []
    for name, spec in volumes.items():
        tar, labels = spec if isinstance(spec, tuple) else (spec, {})
        archive = os.path.join("volumes", name + ".tar.zst")
        source = open(tar, "rb") if isinstance(tar, str) else io.BytesIO(tar)
        with source, AtomicWriter(os.path.join(backup_dir, archive)) as writer:
            result = archive_stream(iter_file_chunks(source), writer, codec="zstd", prefetch=0)
            writer.commit()
        entries.append({"name": name, "archive": archive, "sha256": result.sha256, "bytes": result.bytes,
                        "raw_sha256": result.raw_sha256, "raw_bytes": result.raw_bytes,
                        "members": result.members, "file_bytes": result.file_bytes,
                        "labels": labels, "driver": "local", "consistency": "stop"})
    manifest = build_manifest(backup_id, project, volumes=entries, images=images or [], host="test")
    if complete:
        write_backup_manifest(backup_dir, manifest)
    else:
        manifest["complete"] = False
        with open(os.path.join(backup_dir, "manifest.json"), "w") as handle:
            json.dump(manifest, handle)
    return backup_dir


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
