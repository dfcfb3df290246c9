# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep env and `.env` values out of everything we write or return.

A `Redactor` learns values (container env lists, `.env` files, plain mappings) and then
- replaces the value of every `NAME=value` env entry with `NAME=<redacted>` (names kept), and
- replaces occurrences of the values it hunts in free text (logs, probe output, command lines,
  labels) with `<redacted:NAME>`.

Which values are hunted in free text (hunting every env value would also replace service
names, ports and paths everywhere, making the evidence unreadable while hiding nothing):
- any value whose name says secret (PASSWORD, TOKEN, KEY, ...) of `secret_min_length` (3) or more;
- any value from a `.env` file of `min_length` (4) or more, except numbers, booleans and log levels;
- any env value that looks like a credential: a URL with a password (the URL and the password
  alone), or a token-like string (16+ characters mixing letters and digits, no spaces or paths).
Values that are public anyway (project, service and container names: `docker ps` shows them)
can be exempted with `exempt()`.
"""
from __future__ import annotations

import re

REDACTED = "<redacted>"
SECRET_NAME_RE = re.compile(
    r"PASS|PWD|SECRET|TOKEN|KEY|CRED|AUTH|PRIVATE|CERT|SALT|SIGN|COOKIE|SESSION|DSN|API|ACCESS|BEARER",
    re.IGNORECASE)
_BENIGN_RE = re.compile(
    r"^(?:[-+]?\d+(?:\.\d+)?|true|false|yes|no|on|off|none|null|debug|info|warn|warning|error|critical)$",
    re.IGNORECASE)
_URL_PASSWORD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*:([^@/\s]+)@")
_ENV_KEYS = ("Env", "env", "environment")
_ENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$")


def is_secret_name(name):
    return bool(SECRET_NAME_RE.search(name or ""))


def parse_env_file_text(text):
    """{NAME: value} from `.env` text as Compose reads it: comments, `export`, quotes, inline `#`."""
    values = {}
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE_RE.match(line)
        if not match:
            continue
        name, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def looks_like_token(value):
    """16+ characters of one word mixing letters and digits, not a path: an API key, a hash, a token."""
    value = (value or "").strip()
    return (len(value) >= 16 and not re.search(r"[\s/]", value) and bool(re.search(r"[A-Za-z]", value))
            and bool(re.search(r"\d", value)))


def split_env_entry(entry):
    """'NAME=value' -> (NAME, value); 'NAME' (no '=') -> (NAME, None)."""
    if "=" not in entry:
        return entry, None
    name, value = entry.split("=", 1)
    return name, value


class Redactor:
    """Learns secret values, then redacts text and JSON-like objects."""

    def __init__(self, min_length=4, secret_min_length=3):
        self.min_length = min_length
        self.secret_min_length = secret_min_length
        self._hunted = {}  # value -> name
        self._exempt = set()
        self._pattern = None

    # --- learning ---------------------------------------------------------------------
    def add(self, name, value, from_dotenv=False):
        """Learn one NAME=value; `from_dotenv` values are hunted whatever their name."""
        if value is None:
            return
        value = str(value)
        match = _URL_PASSWORD_RE.match(value)
        if match:
            self._learn(name, value, True)
            self._learn(name, match.group(1), True)
        elif is_secret_name(name) or looks_like_token(value):
            self._learn(name, value, True)
        elif from_dotenv:
            self._learn(name, value, False)

    def exempt(self, values):
        """Never hunt these strings (public names); a secret equal to one stays unredacted in text."""
        for value in values or []:
            if value:
                self._exempt.add(str(value))
                self._hunted.pop(str(value), None)
        self._pattern = None

    def _learn(self, name, value, secret):
        stripped = value.strip()
        if not stripped:
            return
        limit = self.secret_min_length if secret else self.min_length
        if len(stripped) < limit or (not secret and _BENIGN_RE.match(stripped)):
            return
        for candidate in (value, stripped):
            if candidate not in self._exempt:
                self._hunted.setdefault(candidate, name)
        self._pattern = None

    def add_env_list(self, entries):
        for entry in entries or []:
            name, value = split_env_entry(str(entry))
            self.add(name, value)

    def add_mapping(self, mapping):
        for name, value in (mapping or {}).items():
            self.add(name, value)

    def add_env_file(self, path):
        """Learn every value of a `.env` file; a missing file teaches nothing."""
        try:
            with open(path, "r", encoding="utf-8", errors="replace") as handle:
                for name, value in parse_env_file_text(handle.read()).items():
                    self.add(name, value, from_dotenv=True)
            return True
        except (IOError, OSError):
            return False

    @property
    def count(self):
        return len(self._hunted)

    # --- redacting ----------------------------------------------------------------------
    def _compiled(self):
        if self._pattern is None and self._hunted:
            ordered = sorted(self._hunted, key=len, reverse=True)  # longest first: no partial leftovers
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern

    def text(self, value):
        """Free text with every learned value replaced by <redacted:NAME>."""
        if value is None:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        pattern = self._compiled()
        if pattern is None:
            return value
        return pattern.sub(lambda m: "<redacted:%s>" % self._hunted[m.group(0)], value)

    @staticmethod
    def env_list(entries):
        """An env list with every value replaced; names kept."""
        out = []
        for entry in entries or []:
            name, value = split_env_entry(str(entry))
            out.append(name if value is None else "%s=%s" % (name, REDACTED))
        return out

    def obj(self, value, _key=None):
        """A redacted deep copy of a JSON-like object: env lists structurally, every string as text."""
        if isinstance(value, dict):
            if _key in _ENV_KEYS:
                return dict((k, REDACTED if v is not None else None) for k, v in value.items())
            return dict((k, self.obj(v, k)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            if _key in _ENV_KEYS and all(isinstance(v, str) for v in value):
                return self.env_list(value)
            return [self.obj(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.text(value)
        return value
