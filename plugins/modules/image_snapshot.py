#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_snapshot
short_description: Tag (and optionally save) the images a compose project runs, and put them back
version_added: 0.1.0
description:
  - With O(state=present), tags every image the project's containers run with a snapshot tag
    (C(<repository>:<snapshot_tag>), default C(pre-rebuild)) and returns repository, tag and image id
    of each, for the backup manifest. A rebuild that moves C(app:latest) leaves C(app:pre-rebuild) on
    the old image.
  - When one repository runs with several tags, each gets C(<repository>:<snapshot_tag>-<tag>).
  - With O(save=true) the images are also written with C(docker save) into O(backup_dir)C(/images/)
    as zstd archives, streamed, SHA-256 checksummed and published atomically, so even C(docker image prune -a)
    cannot destroy the rollback.
  - Idempotent - a snapshot tag that already names the same image id is no change, and an archive
    already saved for that image id is not written again (its SHA-256 and size are read from it and
    returned as when it was written). A symlink or anything but a regular file in its place fails the task.
  - With O(state=restored), puts the recorded tags back on the recorded image ids - from the snapshot
    tag when the engine still has the image, else with C(docker load) from the saved archive (its size
    and SHA-256 are verified first). An image that is neither present nor saved fails the task.
author:
  - homeiq.phase0 contributors (@homeiq)
extends_documentation_fragment:
  - homeiq.phase0.docker
attributes:
  check_mode:
    description: Decides exactly as a real run and reports it, without tagging, saving or loading.
    support: full
  diff_mode:
    description: Lists the tags that would move.
    support: full
options:
  state:
    description:
      - V(present) takes the snapshot; V(restored) puts the recorded tags back.
    type: str
    choices: [present, restored]
    default: present
  project_name:
    description:
      - Compose project whose containers' images are snapshotted. Required with O(state=present).
    type: str
  snapshot_tag:
    description:
      - The snapshot tag.
    type: str
    default: pre-rebuild
  save:
    description:
      - Also C(docker save) each image into O(backup_dir).
    type: bool
    default: false
  backup_dir:
    description:
      - The backup directory; saved images go to its C(images/) subdirectory (0700, files 0600).
      - Required with O(save=true), and with O(state=restored) when O(images) name archives.
    type: path
  images:
    description:
      - With O(state=restored), the image records of the manifest (its C(images) list) - C(repository),
        C(tag), C(id), C(snapshot_tag), and optionally C(archive), C(sha256), C(bytes).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Snapshot the images of the stack and keep copies in the backup
  homeiq.phase0.image_snapshot:
    project_name: homeiq
    save: true
    backup_dir: /srv/homeiq/backups/phase0_20260101_120000
  register: snapshot

- name: Roll the tags back to the snapshot
  homeiq.phase0.image_snapshot:
    state: restored
    images: "{{ manifest.images }}"
    backup_dir: /srv/homeiq/backups/phase0_20260101_120000
"""

RETURN = r"""
images:
  description: One record per image reference the project runs (present), or per record restored.
  returned: always
  type: list
  elements: dict
  contains:
    repository: {description: Repository., type: str, sample: phase0-fixture/busybox}
    tag: {description: The tag the containers run (null when they run an untagged image)., type: str, sample: latest}
    id: {description: Image id., type: str}
    snapshot_tag: {description: Full snapshot reference., type: str, sample: "phase0-fixture/busybox:pre-rebuild"}
    services: {description: Services that run it (present only)., type: list, elements: str}
    action: {description: "present - C(tag) or C(unchanged); restored - C(retag), C(load) or C(unchanged).", type: str}
    archive: {description: "Saved archive, relative to O(backup_dir) (with O(save=true)).", type: str}
    save_action: {description: "With O(save=true) - C(save) (written now) or C(unchanged) (an archive a run before saved).", type: str}
    sha256:
      description:
        - SHA-256 of the saved archive. For an archive a run before saved (C(save_action=unchanged)), read
          from the file, so it is the same as that run returned.
        - Not returned in check mode for an archive that would be written.
      type: str
    bytes:
      description:
        - Size of the saved archive - also for an archive a run before saved, read from the file.
        - Not returned in check mode for an archive that would be written.
      type: int
    raw_sha256:
      description: SHA-256 of the uncompressed C(docker save) stream. Only when the archive was written in this run.
      type: str
    raw_bytes:
      description: Size of the uncompressed stream. Only when the archive was written in this run.
      type: int
"""

import os
import stat
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import HAS_ZSTD, ZSTD_IMPORT_ERROR
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_verify import hash_file
from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import project_containers
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec)
from ansible_collections.homeiq.phase0.plugins.module_utils.image_archive import (
    image_id_of, load_image, save_image)
from ansible_collections.homeiq.phase0.plugins.module_utils.image_snapshot import (
    archive_name, restore_actions, snapshot_records, split_reference, tag_action)


def argument_spec():
    return docker_argument_spec(
        state=dict(type="str", default="present", choices=["present", "restored"]),
        project_name=dict(type="str"),
        snapshot_tag=dict(type="str", default="pre-rebuild"),
        save=dict(type="bool", default=False),
        backup_dir=dict(type="path"),
        images=dict(type="list", elements="dict"),
    )


def _tag(api, image_id, ref):
    repository, tag = split_reference(ref)
    api.tag(image_id, repository, tag, force=True)


def saved_archive(module, path):
    """None when no archive is at path yet; else the SHA-256 and size of the one a run before saved.

    The archive is read in chunks (bounded memory) and never written. Anything but a regular file
    (a symlink, a directory, ...) fails the task: it is not an archive this module saved.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        module.fail_json(msg="cannot look at the image archive path %s: %s" % (path, exc), images=[])
    if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
        module.fail_json(msg="%s exists and is %s, not a saved image archive; remove it or use another backup_dir"
                             % (path, "a symlink" if stat.S_ISLNK(mode) else "not a regular file"), images=[])
    try:
        sha256, size = hash_file(path)
    except OSError as exc:
        module.fail_json(msg="cannot read the saved image archive %s: %s" % (path, exc), images=[])
    return {"sha256": sha256, "bytes": size}


def take_snapshot(module, api):
    params = module.params
    containers = project_containers(api, params["project_name"])
    images_by_id = {}
    for image_id in sorted({c["ImageID"] for c in containers if c.get("ImageID")}):
        try:
            images_by_id[image_id] = api.inspect_image(image_id)
        except Exception:  # pylint: disable=broad-except  # a container whose image is gone cannot be snapshotted
            module.warn("image %s of project %s is gone from the engine; it cannot be snapshotted"
                        % (image_id, params["project_name"]))
    records = snapshot_records(containers, images_by_id, params["snapshot_tag"])
    if not records:
        module.warn("project %s has no containers: no image was snapshotted" % params["project_name"])
    # Decide everything first (check mode stops there), so a bad archive path fails before any tag moves.
    changed = False
    for record in records:
        record["action"] = tag_action(record, image_id_of(api, record["snapshot_tag"]))
        if params["save"]:
            record["archive"] = archive_name(record)
            saved = saved_archive(module, os.path.join(params["backup_dir"], record["archive"]))
            record["save_action"] = "save" if saved is None else "unchanged"
            record.update(saved or {})
        changed = changed or record["action"] != "unchanged" or record.get("save_action") == "save"
    if module.check_mode:
        return changed, records
    for record in records:
        if record["action"] != "unchanged":
            _tag(api, record["id"], record["snapshot_tag"])
        if record.get("save_action") == "save":
            record.update(save_image(api, record["snapshot_tag"], os.path.join(params["backup_dir"], record["archive"])))
    return changed, records


def restore_tags(module, api):
    params = module.params
    records = [dict(r) for r in params["images"] or []]
    for record in records:
        for key in ("repository", "id", "snapshot_tag"):
            if not record.get(key):
                module.fail_json(msg="image record %r lacks %s" % (record, key), images=[])
    actions = restore_actions(records, lambda ref: image_id_of(api, ref))
    missing = [a["record"]["snapshot_tag"] for a in actions if a["action"] == "missing"]
    if missing:
        module.fail_json(msg="images %s are neither on the engine nor saved in the backup; they cannot be "
                             "restored" % ", ".join(missing), images=records)
    changed = False
    for item in actions:
        record = item["record"]
        record["action"] = item["action"]
        if item["action"] == "unchanged":
            continue
        changed = True
        if module.check_mode:
            continue
        if item["action"] == "load":
            if not params["backup_dir"]:
                module.fail_json(msg="backup_dir is required to load saved images", images=records)
            record["loaded"] = load_image(api, os.path.join(params["backup_dir"], record["archive"]),
                                          record.get("sha256"), record.get("bytes"))
            if image_id_of(api, record["id"]) != record["id"]:
                module.fail_json(msg="loading %s did not give image %s" % (record["archive"], record["id"]),
                                 images=records)
        if record.get("tag"):
            _tag(api, record["id"], "%s:%s" % (record["repository"], record["tag"]))
        _tag(api, record["id"], record["snapshot_tag"])
    return changed, records


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("project_name",)),
                                        ("save", True, ("backup_dir",)),
                                        ("state", "restored", ("images",))])
    if not HAS_ZSTD and (module.params["save"] or module.params["state"] == "restored"):
        module.fail_json(msg=missing_required_lib("zstandard"), exception=ZSTD_IMPORT_ERROR)
    client = Phase0DockerClient(module)
    try:
        if module.params["state"] == "present":
            changed, records = take_snapshot(module, client.api)
        else:
            changed, records = restore_tags(module, client.api)
    except Exception as exc:  # pylint: disable=broad-except  # engine errors end as a clear failure
        client.fail("image snapshot (%s) failed: %s" % (module.params["state"], exc),
                    exception=traceback.format_exc(), images=[])
    extra = {}
    if module._diff:
        moving = [r for r in records if r.get("action") not in (None, "unchanged")]
        extra["diff"] = {"before": "".join("%s\n" % r["snapshot_tag"] for r in moving),
                         "after": "".join("%s -> %s\n" % (r["snapshot_tag"], r["id"]) for r in moving)}
    module.exit_json(changed=changed, images=records, **extra)


if __name__ == "__main__":
    main()
