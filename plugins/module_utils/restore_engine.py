# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine-side steps of volume restore (docker-py APIClient); no decisions here.

Interface:
    inspect_volume(api, name) -> volume dict or None
    create_volume(api, name, driver='local', labels=None, options=None) -> volume dict
    running_users(api, volume_name) -> names of running containers that mount it
    local_images(api) -> set of ids and 'repo:tag' references present on the engine (never pulls)
    pick_helper_image(api, preferred, candidates) -> image reference present locally, or raises ValueError
    HelperContainer(api, image, mounts={path: volume}, command=None, labels=None)
        context manager: a created (not started) container, removed on exit. Used for the archive
        API (put_archive/get_archive work on a created container) and, with .run(), to empty a volume.
        .put(path, reader) -> True   (streams the file object; docker-py never holds it whole)
        .tree_state(path) -> restore_digest.TreeState of the directory's tree
        .is_empty(path) -> bool
        .run(timeout) -> exit code (start, wait, keep the container for its logs)
        .logs() -> str
    empty_volume(api, image, volume, timeout=600) -> None, raises RuntimeError with the helper's output
"""
from __future__ import annotations

import tarfile

from ansible_collections.homeiq.phase0.plugins.module_utils.restore_digest import ChunkReader, tree_state
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_plan import HELPER_LABEL

try:
    from docker.errors import NotFound
    from docker.types import Mount
except ImportError:  # pragma: no cover - the module reports missing_required_lib first
    NotFound = Mount = None

NEVER_STARTED = ["/phase0-restore-helper-is-never-started"]
# Empties a volume without following symlinks out of it: rm -rf removes links, not targets.
EMPTY_COMMAND = ["sh", "-c", "rm -rf /target/..?* /target/.[!.]* /target/* && test -z \"$(ls -A /target)\""]


def inspect_volume(api, name):
    try:
        return api.inspect_volume(name)
    except NotFound:
        return None


def create_volume(api, name, driver="local", labels=None, options=None):
    return api.create_volume(name=name, driver=driver or "local", driver_opts=options or None,
                             labels=labels or None)


def running_users(api, volume_name):
    containers = api.containers(filters={"volume": volume_name, "status": "running"})
    return sorted(((c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/")) for c in containers)


def local_images(api):
    present = set()
    for image in api.images():
        present.add(image["Id"])
        present.update(tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>")
    return present


def pick_helper_image(api, preferred, candidates):
    present = local_images(api)
    if preferred:
        if preferred in present or ("%s:latest" % preferred) in present:
            return preferred
        raise ValueError("helper_image %s is not present on the engine (restore never pulls)" % preferred)
    for candidate in candidates:
        if candidate and candidate in present:
            return candidate
    ids = sorted(i for i in present if i.startswith("sha256:"))
    if ids:
        return ids[0]
    raise ValueError("no image is present on the engine to create the restore helper container from; "
                     "set helper_image to a local image")


class HelperContainer:
    def __init__(self, api, image, mounts, command=None, labels=None):
        self.api = api
        mount_list = [Mount(path, volume, type="volume") for path, volume in sorted(mounts.items())]
        config = api.create_host_config(mounts=mount_list, network_mode="none")
        created = api.create_container(
            image, entrypoint=command[:1] if command else NEVER_STARTED, command=command[1:] if command else None,
            host_config=config, network_disabled=True, labels=dict(labels or {}, **{HELPER_LABEL: "1"}))
        self.id = created["Id"]

    def put(self, path, reader):
        return self.api.put_archive(self.id, path, reader)

    def _stream(self, path):
        chunks, _stat = self.api.get_archive(self.id, path.rstrip("/") + "/.", chunk_size=1 << 20)
        return chunks

    def tree_state(self, path):
        return tree_state(ChunkReader(self._stream(path)))

    def is_empty(self, path):
        chunks = self._stream(path)
        try:
            with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as tar:
                for index, _member in enumerate(tar):
                    if index >= 1:  # the first member is the directory itself
                        return False
            return True
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def run(self, timeout=600):
        self.api.start(self.id)
        return self.api.wait(self.id, timeout=timeout).get("StatusCode")

    def logs(self):
        return self.api.logs(self.id, stdout=True, stderr=True, tail=50).decode("utf-8", "replace")

    def remove(self):
        try:
            self.api.remove_container(self.id, force=True)
        except NotFound:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def empty_volume(api, image, volume, timeout=600):
    with HelperContainer(api, image, {"/target": volume}, command=EMPTY_COMMAND) as helper:
        code = helper.run(timeout=timeout)
        if code != 0:
            raise RuntimeError("emptying volume %s with a helper container from image %s failed (exit %s): %s. "
                               "The helper image needs sh and rm; set helper_image to one that has them"
                               % (volume, image, code, helper.logs().strip()[-500:]))
