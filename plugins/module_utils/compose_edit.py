# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set a service's healthcheck in compose YAML text, changing nothing else.

A full ruamel.yaml round trip re-indents sequences and re-flows lines, so instead we let
ruamel.yaml's composer find the exact character span of each value we change and splice new
text into those spans only. Every other byte (comments, key order, quoting, blank lines) stays
as it was. The result is parsed again and must equal the original document with only the
healthcheck keys changed; otherwise the edit is refused.

Values given here are what the compose file should contain: a `test` list or string, durations
as compose strings ('30s') or seconds, retries as an int. `escape_dollars` turns a literal
command into compose text (a `$` must be written `$$`, or compose interpolates it).
"""
from __future__ import annotations

import copy
import functools
import json
import re
import traceback

from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import (
    format_duration,
    normalize_test,
    parse_duration,
)

try:
    import yaml as pyyaml
except ImportError:  # pragma: no cover - ruamel.yaml's own safe loader is used instead
    pyyaml = None

try:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    HAS_RUAMEL = True
    RUAMEL_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_RUAMEL = False
    RUAMEL_IMPORT_ERROR = traceback.format_exc()

HEALTHCHECK_KEYS = ("test", "interval", "timeout", "retries", "start_period", "start_interval")
DURATION_KEYS = ("interval", "timeout", "start_period", "start_interval")
# The order keys are written in when a healthcheck block is created.
_KEY_ORDER = ("test", "interval", "timeout", "retries", "start_period", "start_interval", "disable")


class ComposeEditError(Exception):
    """The edit cannot be made safely; the message says why and what to do instead."""


class EditResult:
    def __init__(self, text, changed, before, after, changed_keys):
        self.text = text
        self.changed = changed
        self.before = before
        self.after = after
        self.changed_keys = changed_keys


def escape_dollars(test):
    """A literal command as compose text: `$` -> `$$` (compose would interpolate a single `$`)."""
    if isinstance(test, str):
        return test.replace("$", "$$")
    return [str(part).replace("$", "$$") for part in test]


def normalize_changes(changes):
    """Validate and canonicalize the keys to set: durations -> compose strings, test -> list."""
    out = {}
    for key, value in (changes or {}).items():
        if value is None:
            continue
        if key not in HEALTHCHECK_KEYS:
            raise ComposeEditError("unsupported healthcheck key %r (supported: %s)" % (key, ", ".join(HEALTHCHECK_KEYS)))
        if key == "test":
            test = normalize_test(value)
            if not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
                raise ComposeEditError("test must be a list starting with CMD, CMD-SHELL or NONE, or a string; got %r"
                                       % (value,))
            out[key] = test
        elif key == "retries":
            try:
                out[key] = int(value)
            except (TypeError, ValueError):
                raise ComposeEditError("retries must be an integer, got %r" % (value,))
        else:
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                raise ComposeEditError("%s: %s" % (key, exc))
            out[key] = value if isinstance(value, str) else format_duration(seconds)
    return out


def same_value(key, current, desired):
    """Is the compose value `current` already what `desired` asks for (idempotence)?"""
    if current is None:
        return False
    if key == "test":
        return normalize_test(current) == normalize_test(desired)
    if key == "retries":
        try:
            return int(current) == int(desired)
        except (TypeError, ValueError):
            return False
    try:
        return parse_duration(current) == parse_duration(desired)
    except ValueError:
        return False


# --- rendering ------------------------------------------------------------------------------

def _render_scalar(value, quote=None):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if quote == "'":
        return "'" + text.replace("'", "''") + "'"
    if quote == '"' or not re.match(r"^[0-9A-Za-z][0-9A-Za-z._-]*$", text):
        return json.dumps(text, ensure_ascii=False)
    return text


def render_value(key, value, quote=None):
    """Compose text for one healthcheck value, on one line."""
    if key == "test" and isinstance(value, list):
        return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in value) + "]"
    return _render_scalar(value, quote)


def _render_block_seq(items, column, newline="\n"):
    lines = ["- " + json.dumps(str(v), ensure_ascii=False) for v in items]
    return (newline + " " * column).join(lines)


# --- locating nodes --------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _compose(text):
    """ruamel.yaml's node tree of `text`, with the exact marks of every node (cached: read-only use)."""
    return YAML(typ="rt").compose(text)


@functools.lru_cache(maxsize=4)
def _load_plain_cached(text):
    return _load_plain_uncached(text)


def _load_plain_uncached(text):
    """The plain data of `text`, parsed by PyYAML (libyaml when present) as an independent second parser;
    ruamel.yaml's safe loader when PyYAML is missing."""
    if pyyaml is None:
        return YAML(typ="safe", pure=True).load(text)
    loader = getattr(pyyaml, "CSafeLoader", pyyaml.SafeLoader)
    return pyyaml.load(text, Loader=loader)  # nosec B506 - a SafeLoader


def load_plain(text):
    """Plain data (dicts, lists, scalars) of YAML text."""
    return _load_plain_uncached(text)


def _load_plain(text):
    return copy.deepcopy(_load_plain_cached(text))


def _get(mapping_node, key):
    """(key_node, value_node) of `key` in a MappingNode, else (None, None)."""
    for key_node, value_node in mapping_node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None, None


def content_end(text, node):
    """Index just past the last character that belongs to a node (block nodes end at the next token)."""
    if isinstance(node, ScalarNode):
        start = node.start_mark.index
        return start + len(text[start:node.end_mark.index].rstrip())
    if getattr(node, "flow_style", False):
        return node.end_mark.index
    if isinstance(node, SequenceNode):
        return content_end(text, node.value[-1]) if node.value else node.end_mark.index
    if isinstance(node, MappingNode):
        return content_end(text, node.value[-1][1]) if node.value else node.end_mark.index
    return node.end_mark.index


def _line_end(text, index):
    """Index of the end of the line holding `index` (before its CR LF or LF)."""
    newline = text.find("\n", index)
    if newline < 0:
        return len(text)
    return newline - 1 if newline > 0 and text[newline - 1] == "\r" else newline


def _newline(text):
    return "\r\n" if "\r\n" in text else "\n"


def _value_position(text, key_node):
    """Index of the first non-blank character after `key:` (where an alias `*x` would be)."""
    index = key_node.end_mark.index
    while index < len(text) and text[index] in " \t":
        index += 1
    if index < len(text) and text[index] == ":":
        index += 1
    while index < len(text) and text[index] in " \t":
        index += 1
    return index


# --- the edit ------------------------------------------------------------------------------

def _find_service(root, service):
    if not isinstance(root, MappingNode):
        raise ComposeEditError("the file is not a YAML mapping")
    dummy, services = _get(root, "services")
    if services is None or not isinstance(services, MappingNode):
        raise ComposeEditError("the file has no services mapping")
    dummy, svc = _get(services, service)
    if svc is None:
        raise ComposeEditError("service %r is not defined in this file" % service)
    if not isinstance(svc, MappingNode) or getattr(svc, "flow_style", False):
        raise ComposeEditError("service %r is not a block mapping; use the override mode" % service)
    return svc


def _child_indent(text, svc):
    """Column of the service's keys and the indentation step the file uses below them."""
    column = svc.value[0][0].start_mark.column
    for key, value in svc.value:
        if value.start_mark.index < key.start_mark.index:
            continue  # an alias: the node lives elsewhere in the file
        if isinstance(value, MappingNode) and value.value and not getattr(value, "flow_style", False):
            step = value.value[0][0].start_mark.column - column
            if step > 0:
                return column, step
    return column, 2


def set_healthcheck(text, service, changes):
    """Return an EditResult: `text` with `services.<service>.healthcheck` keys set to `changes`.

    Raises ComposeEditError when the change cannot be made without touching other lines or
    other services (anchors, flow-style service, the service is not in this text).
    """
    if not HAS_RUAMEL:
        raise ComposeEditError("ruamel.yaml is required")
    changes = normalize_changes(changes)
    original = _load_plain(text)
    services = (original or {}).get("services") or {}
    if service not in services:
        raise ComposeEditError("service %r is not defined in this file" % service)
    current = copy.deepcopy((services.get(service) or {}).get("healthcheck") or {})
    if current.get("disable"):
        raise ComposeEditError("the healthcheck of %r is disabled (disable: true); remove that first" % service)
    todo = dict((k, v) for k, v in changes.items() if not same_value(k, current.get(k), v))
    expected_hc = copy.deepcopy(current)
    expected_hc.update(changes)
    if not todo:
        return EditResult(text, False, current, current, [])

    root = _compose(text)
    svc = _find_service(root, service)
    new_text = _splice(text, svc, service, todo, expected_hc)

    expected = copy.deepcopy(original)
    expected["services"][service]["healthcheck"] = expected_hc
    if _load_plain_uncached(new_text) != expected:
        raise ComposeEditError("the edited file does not parse to the intended document; nothing was changed "
                               "(unusual YAML layout around the healthcheck of %r: use the override mode)" % service)
    return EditResult(new_text, True, current, expected_hc, sorted(todo))


def _splice(text, svc, service, todo, expected_hc):
    key_node, hc_node = _get(svc, "healthcheck")
    if key_node is None:
        # No healthcheck written in the service (maybe merged in with `<<:`): write it whole.
        column, step = _child_indent(text, svc)
        lines = [" " * column + "healthcheck:"]
        for key in _ordered(expected_hc):
            lines.append(" " * (column + step) + "%s: %s" % (key, render_value(key, expected_hc[key])))
        at = _line_end(text, content_end(text, svc))
        return text[:at] + _newline(text) + _newline(text).join(lines) + text[at:]
    position = _value_position(text, key_node)
    if text[position:position + 1] == "*":
        raise ComposeEditError("the healthcheck of %r is a YAML alias shared with other services; edit the "
                               "anchor by hand or use the override mode" % service)
    if hc_node.anchor:
        raise ComposeEditError("the healthcheck of %r carries a YAML anchor that other services may use; use the "
                               "override mode" % service)
    if not isinstance(hc_node, MappingNode):
        raise ComposeEditError("the healthcheck of %r is not a mapping" % service)
    if getattr(hc_node, "flow_style", False) or not hc_node.value:
        flow = "{" + ", ".join("%s: %s" % (k, render_value(k, expected_hc[k])) for k in _ordered(expected_hc)) + "}"
        return text[:hc_node.start_mark.index] + flow + text[content_end(text, hc_node):]

    edits = []  # (start, end, replacement)
    column = hc_node.value[0][0].start_mark.column
    for key, value in todo.items():
        knode, vnode = _get(hc_node, key)
        if knode is None:
            continue
        vpos = _value_position(text, knode)
        if text[vpos:vpos + 1] in ("*", "&"):
            raise ComposeEditError("healthcheck.%s of %r uses a YAML anchor or alias; use the override mode"
                                   % (key, service))
        if isinstance(vnode, SequenceNode) and not vnode.flow_style and isinstance(value, list):
            replacement = _render_block_seq(value, vnode.start_mark.column, _newline(text))
        else:
            quote = vnode.style if isinstance(vnode, ScalarNode) and vnode.style in ("'", '"') else None
            replacement = render_value(key, value, quote)
        edits.append((vnode.start_mark.index, content_end(text, vnode), replacement))
    missing = [k for k in _ordered(todo) if _get(hc_node, k)[0] is None]
    if missing:
        at = _line_end(text, content_end(text, hc_node))
        block = "".join(_newline(text) + " " * column + "%s: %s" % (k, render_value(k, todo[k])) for k in missing)
        edits.append((at, at, block))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _ordered(mapping):
    known = [k for k in _KEY_ORDER if k in mapping]
    return known + sorted(k for k in mapping if k not in _KEY_ORDER)


def changed_line_numbers(before, after):
    """1-based numbers of the lines of `before` replaced or deleted in `after`; for an insertion, the
    number of the line it follows."""
    import difflib
    lines = []
    matcher = difflib.SequenceMatcher(a=before.splitlines(True), b=after.splitlines(True), autojunk=False)
    for tag, a1, a2, dummy, dummy2 in matcher.get_opcodes():
        if tag == "insert":
            lines.append(a1)  # lines were inserted after line a1 (1-based)
        elif tag != "equal":
            lines.extend(range(a1 + 1, a2 + 1))
    return lines
