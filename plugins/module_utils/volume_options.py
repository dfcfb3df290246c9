# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A volume's driver options as a backup records them, and whether a restore can reuse them. Pure.

A restore that has to create a missing volume needs its driver options (a bind device, NFS or
CIFS mount options), or the volume comes back as a plain local one. Those options can hold a
secret (`o: username=u,password=p` for CIFS), and the backup's entries travel through module
results and Ansible variables, so a secret value is never recorded: it is replaced by REDACTED,
and a restore refuses to create such a volume instead of creating it without its credentials.

Interface:
    REDACTED = '<redacted>'
    record_driver_options(options) -> dict or None
        options: the engine's volume `Options` (dict or None). Values of keys that look secret
        (redact.is_secret_name), and `key=value` items with such a key inside the comma-separated
        `o` option, become REDACTED. None or {} -> None.
    redacted_keys(options) -> sorted list of what was withheld ('password', 'o:password')
    creation_problem(volume_name, options) -> None, or the message for a volume that cannot be
        created from the recorded options (some were withheld).
"""
from __future__ import annotations

from ansible_collections.homeiq.phase0.plugins.module_utils.redact import REDACTED, is_secret_name

MOUNT_OPTIONS_KEY = "o"


def _mount_option_items(text):
    return text.split(",") if text else []


def _redact_mount_options(text):
    items = []
    for item in _mount_option_items(text):
        key, sep, dummy = item.partition("=")
        items.append("%s=%s" % (key, REDACTED) if sep and is_secret_name(key) else item)
    return ",".join(items)


def record_driver_options(options):
    if not options:
        return None
    recorded = {}
    for key, value in sorted(options.items()):
        if is_secret_name(key):
            recorded[key] = REDACTED
        elif key == MOUNT_OPTIONS_KEY and isinstance(value, str):
            recorded[key] = _redact_mount_options(value)
        else:
            recorded[key] = value
    return recorded


def redacted_keys(options):
    hidden = []
    for key, value in sorted((options or {}).items()):
        if value == REDACTED:
            hidden.append(key)
        elif key == MOUNT_OPTIONS_KEY and isinstance(value, str):
            hidden.extend("%s:%s" % (key, item.partition("=")[0]) for item in _mount_option_items(value)
                          if item.partition("=")[2] == REDACTED)
    return hidden


def creation_problem(volume_name, options):
    hidden = redacted_keys(options)
    if not hidden:
        return None
    return ("volume %s does not exist and was created with driver options that hold a secret (%s), which "
            "backups never record: create it yourself with its real options (docker volume create --driver "
            "... --opt ...), then run the restore again to fill it" % (volume_name, ", ".join(hidden)))
