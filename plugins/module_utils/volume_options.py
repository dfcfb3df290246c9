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
        options: the engine's volume `Options` (dict or None). The whole value of a key that looks
        secret (redact.is_secret_name) becomes REDACTED; in every other string value, the value of
        each `key=value` item with such a key (items split at single commas: Linux mount options
        write a comma inside a value as `,,`), a URL's password (`scheme://user:pass@`) and a URL
        query parameter with such a name (or `sig`, a SAS signature) become REDACTED.
        None or {} -> None.
    redacted_keys(options) -> sorted list of what was withheld ('password', 'o:password',
        'device:URL password')
    creation_problem(volume_name, options) -> None, or the message for a volume that cannot be
        created from the recorded options (some were withheld).
"""
from __future__ import annotations

import re

from ansible_collections.homeiq.phase0.plugins.module_utils.redact import REDACTED, is_secret_name

# Single commas separate mount options; ",," is a comma inside a value (CIFS passwords).
_ITEM_SPLIT = re.compile(r"(?<!,),(?!,)")
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/:@\s,]*:)([^@/\s]+)(@)")
_QUERY_PARAM = re.compile(r"([?&;])([^=&;#?]+)=([^&;#]*)")
_MORE_SECRET_PARAMS = ("sig",)
_WITHHELD_ITEM = re.compile(r"([^,=&?;:/@]+)=" + re.escape(REDACTED))


def _secret_param(name):
    name = name.strip()
    return is_secret_name(name) or name.lower() in _MORE_SECRET_PARAMS


def _redact_query(match):
    if _secret_param(match.group(2)):
        return "%s%s=%s" % (match.group(1), match.group(2), REDACTED)
    return match.group(0)


def _redact_text(text):
    items = []
    for item in _ITEM_SPLIT.split(text):
        key, sep, dummy = item.partition("=")
        if sep and _secret_param(key):
            items.append("%s=%s" % (key, REDACTED))
            continue
        item = _URL_PASSWORD.sub(lambda match: match.group(1) + REDACTED + match.group(3), item)
        items.append(_QUERY_PARAM.sub(_redact_query, item))
    return ",".join(items)


def record_driver_options(options):
    if not options:
        return None
    recorded = {}
    for key, value in sorted(options.items()):
        if is_secret_name(key):
            recorded[key] = REDACTED
        elif isinstance(value, str):
            recorded[key] = _redact_text(value)
        else:
            recorded[key] = value
    return recorded


def redacted_keys(options):
    hidden = []
    for key, value in sorted((options or {}).items()):
        if not isinstance(value, str) or REDACTED not in value:
            continue
        if value == REDACTED:
            hidden.append(key)
            continue
        hidden.extend("%s:%s" % (key, name) for name in _WITHHELD_ITEM.findall(value))
        if ":%s@" % REDACTED in value:
            hidden.append("%s:URL password" % key)
    return hidden


def creation_problem(volume_name, options):
    hidden = redacted_keys(options)
    if not hidden:
        return None
    return ("volume %s does not exist; it was backed up with driver options that hold a secret (%s), which "
            "backups never record: create it yourself with its real options (docker volume create --driver "
            "... --opt ...), then run the restore again to fill it" % (volume_name, ", ".join(hidden)))
