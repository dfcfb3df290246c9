# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot tags for the images a compose project runs, and putting them back. Pure logic.

Interface:
    split_reference(ref) -> (repository, tag)   'reg:5000/a/b:1.2@sha256:..' -> ('reg:5000/a/b', '1.2');
        no tag -> 'latest'; an image id (sha256:...) -> (None, None)
    snapshot_records(containers, images_by_id, snapshot_tag) -> list of records, one per (repository, tag):
        {repository, tag, id, snapshot_tag ('<repository>:<snapshot_tag>'), services}
        containers: engine container summaries (Image, ImageID, Labels); images_by_id: {id: inspect dict}.
        When one repository is run with several tags, each gets '<repository>:<snapshot_tag>-<tag>'.
        A container created from an image id uses the image's first RepoTag; an image without any
        tag gets repository 'phase0-snapshot/<service>' so it still gets a name that protects it.
    tag_action(record, current_id_of_snapshot) -> 'unchanged' | 'tag'
    restore_actions(records, ids_of) -> list of {record, action ('unchanged'|'retag'|'load'|'missing')}
        ids_of(ref) -> image id the engine resolves for ref, or None.
    archive_name(record) -> 'images/<repository>_<snapshot-tag>_<id12>.tar.zst' (file-system safe)
"""
from __future__ import annotations

import re

DEFAULT_SNAPSHOT_TAG = "pre-rebuild"
SERVICE_LABEL = "com.docker.compose.service"


def split_reference(ref):
    if not ref or ref.startswith("sha256:") or re.match(r"^[0-9a-f]{64}$", ref):
        return None, None
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:]
    return name, "latest"


def _safe(text):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def snapshot_records(containers, images_by_id, snapshot_tag):
    records = {}
    for container in sorted(containers, key=lambda c: (c.get("Labels") or {}).get(SERVICE_LABEL, "")):
        image_id = container.get("ImageID")
        service = (container.get("Labels") or {}).get(SERVICE_LABEL) or (container.get("Names") or ["?"])[0].lstrip("/")
        if not image_id or image_id not in images_by_id:
            continue
        repository, tag = split_reference(container.get("Image"))
        if repository is None:
            tags = [t for t in images_by_id[image_id].get("RepoTags") or [] if t != "<none>:<none>"]
            tags = [t for t in tags if split_reference(t)[1] != snapshot_tag] or tags
            repository, tag = split_reference(tags[0]) if tags else ("phase0-snapshot/" + _safe(service), None)
        key = (repository, tag)
        record = records.get(key)
        if record is None:
            record = records[key] = {"repository": repository, "tag": tag, "id": image_id,
                                     "snapshot_tag": "%s:%s" % (repository, snapshot_tag), "services": []}
        if service not in record["services"]:
            record["services"].append(service)
    result = [records[key] for key in sorted(records, key=lambda k: (k[0], k[1] or ""))]
    per_repository = {}
    for record in result:
        per_repository[record["repository"]] = per_repository.get(record["repository"], 0) + 1
    for record in result:
        # Two tags of one repository (app:1 and app:2) must not fight over one snapshot tag.
        if per_repository[record["repository"]] > 1 and record["tag"]:
            record["snapshot_tag"] = "%s:%s-%s" % (record["repository"], snapshot_tag, _safe(record["tag"]))
    return result


def tag_action(record, current_id_of_snapshot):
    return "unchanged" if current_id_of_snapshot == record["id"] else "tag"


def restore_actions(records, ids_of):
    actions = []
    for record in records:
        original = "%s:%s" % (record["repository"], record["tag"]) if record.get("tag") else None
        if original and ids_of(original) == record["id"]:
            action = "unchanged"
        elif ids_of(record["snapshot_tag"]) == record["id"] or ids_of(record["id"]) == record["id"]:
            action = "retag" if original else "unchanged"
        elif record.get("archive"):
            action = "load"
        else:
            action = "missing"
        actions.append({"record": record, "action": action})
    return actions


def archive_name(record):
    short = record["id"].split(":", 1)[-1][:12]
    return "images/%s_%s_%s.tar.zst" % (_safe(record["repository"]), _safe(record["snapshot_tag"].rsplit(":", 1)[1]),
                                        short)
