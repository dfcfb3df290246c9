# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose's environment handling: `.env` files and `${VAR}` interpolation (pure functions).

Follows the Compose specification: `$$` escapes a dollar; `$VAR`, `${VAR}`, `${VAR:-default}`,
`${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}` and `${VAR+replacement}`,
with nested substitutions inside defaults. Values read here can be secrets: callers keep them
out of results and logs.
"""
from __future__ import annotations

import re

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A `${...}` expression is malformed."""


class Interpolator:
    """Substitute variables from `lookup` into compose values.

    Unset variables become "" (as Compose does, with a warning): their names collect in
    `missing`. A `${VAR:?msg}` on an unset variable is an error in Compose; here it also
    becomes "" and the message collects in `required_errors`, so a read-only inventory of a
    stack still works while the caller can report it.
    """

    def __init__(self, lookup):
        self.lookup = dict(lookup or {})
        self.missing = set()
        self.required_errors = []

    def value(self, obj):
        """Interpolate every string inside mappings and lists (keys are left as they are)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {key: self.value(item) for key, item in obj.items()}
        if isinstance(obj, list):
            return [self.value(item) for item in obj]
        return obj

    def text(self, text):
        out = []
        i, length = 0, len(text)
        while i < length:
            char = text[i]
            if char != "$":
                out.append(char)
                i += 1
                continue
            nxt = text[i + 1] if i + 1 < length else ""
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                end = _closing_brace(text, i + 2)
                if end < 0:
                    raise InterpolationError("invalid interpolation format for %r: unclosed '${'" % text)
                out.append(self._braced(text[i + 2:end], text))
                i = end + 1
            else:
                match = _NAME.match(text, i + 1)
                if not match:
                    out.append("$")
                    i += 1
                    continue
                out.append(self._get(match.group(0)))
                i = match.end()
        return "".join(out)

    def _get(self, name):
        if name in self.lookup:
            return self.lookup[name]
        self.missing.add(name)
        return ""

    def _braced(self, body, whole):
        match = _NAME.match(body)
        if not match:
            raise InterpolationError("invalid interpolation format for %r: bad variable name in '${%s}'" % (whole, body))
        name, rest = match.group(0), body[match.end():]
        if not rest:
            return self._get(name)
        for operator in _OPERATORS:
            if rest.startswith(operator):
                return self._apply(name, operator, rest[len(operator):])
        raise InterpolationError("invalid interpolation format for %r: unknown operator in '${%s}'" % (whole, body))

    def _apply(self, name, operator, argument):
        is_set = name in self.lookup
        value = self.lookup.get(name, "")
        present = bool(value) if operator.startswith(":") else is_set
        if operator in (":-", "-"):
            return value if present else self.text(argument)
        if operator in (":+", "+"):
            return self.text(argument) if present else ""
        # ":?" and "?": required variable
        if present:
            return value
        self.required_errors.append("required variable %s is missing a value: %s" % (name, self.text(argument)))
        return ""


def _closing_brace(text, start):
    """Index of the `}` closing a `${` whose body starts at `start`, honouring nested `${`."""
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def interpolate(obj, lookup):
    """Convenience: interpolate obj with lookup and return it (errors/missing are dropped)."""
    return Interpolator(lookup).value(obj)


_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*[=:]\s?(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "\\$"}


def parse_dotenv(text, lookup=None):
    """Parse a `.env` file's text into a dict the way Compose reads it.

    `KEY=value`, `export KEY=value`, comments, 'single quoted' (literal, may span lines),
    "double quoted" (escapes and ${VAR} expansion, may span lines), unquoted values with
    ` # comment` stripped and expansion. Expansion sees earlier keys of the file, then
    `lookup` (normally the process environment).
    """
    result = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            continue  # Compose rejects such lines; an inventory skips them
        key, raw = match.group(1), match.group(2)
        scope = dict(lookup or {})
        scope.update(result)
        if raw[:1] in ("'", '"'):
            quote = raw[0]
            body = raw[1:]
            while _unescaped_quote(body, quote) < 0 and index < len(lines):
                body += "\n" + lines[index]
                index += 1
            end = _unescaped_quote(body, quote)
            value = body[:end] if end >= 0 else body
            if quote == '"':
                value = _unescape(value)
                value = Interpolator(scope).text(value.replace("\\$", "$$"))
        else:
            value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
            value = Interpolator(scope).text(value)
        result[key] = value
    return result


def _unescaped_quote(body, quote):
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _unescape(value):
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in _ESCAPES:
            out.append(_ESCAPES[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def read_dotenv(path, lookup=None):
    """parse_dotenv of a file (UTF-8, BOM tolerated)."""
    with open(path, encoding="utf-8-sig") as handle:
        return parse_dotenv(handle.read(), lookup)
