"""docs/variables.md is generated from the roles' argument specs, and the specs match the defaults.

Regenerate the page with `.venv/bin/python docs/gen_variables.py` (docs/gen_variables.py).
"""
import glob
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SPEC = importlib.util.spec_from_file_location("gen_variables", os.path.join(ROOT, "docs", "gen_variables.py"))
gen = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gen)

ROLES = gen.role_names()

# Documented in a role's argument specs with a default, but read by a playbook, not by the role, so the
# role has no defaults/main.yml entry for them (the playbook applies the default).
PLAYBOOK_LEVEL = {
    ("restore", "rollback_confirm"): "playbooks/rollback.yml's guard: rollback_confirm | default(false)",
    ("restore", "rollback_verify_timeout"): "playbooks/rollback.yml: rollback_verify_timeout | default(300)",
    ("restore", "rollback_require_healthy"): "playbooks/rollback.yml: rollback_require_healthy | default(false)",
}


def _public_defaults(role):
    return dict((k, v) for k, v in gen.role_defaults(role).items() if not k.startswith("__"))


def _options(role):
    return gen.argument_specs(role).get("options") or {}


def test_variables_md_is_current():
    with open(gen.OUTPUT, "r", encoding="utf-8") as handle:
        written = handle.read()
    assert written == gen.render(), (
        "docs/variables.md is stale (the roles' meta/argument_specs.yml changed): run `%s` and commit "
        "docs/variables.md" % gen.COMMAND)


def test_every_role_is_on_the_page():
    text = gen.render()
    for role in ROLES:
        assert "`homeiq.phase0.%s`" % role in text or role == "_common"
        assert role in gen.ROLE_PLAYBOOKS, "say which playbooks run %s in ROLE_PLAYBOOKS of docs/gen_variables.py" % role


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented(role):
    missing = sorted(set(_public_defaults(role)) - set(_options(role)))
    assert not missing, ("roles/%s/defaults/main.yml sets %s, which roles/%s/meta/argument_specs.yml does not "
                         "document" % (role, ", ".join(missing), role))


@pytest.mark.parametrize("role", ROLES)
def test_every_documented_default_is_a_role_default(role):
    defaults = _public_defaults(role)
    missing = sorted(name for name, option in _options(role).items()
                     if name not in defaults and "default" in option and not option.get("required")
                     and (role, name) not in PLAYBOOK_LEVEL)
    assert not missing, ("roles/%s/meta/argument_specs.yml gives %s a default that roles/%s/defaults/main.yml "
                         "does not set" % (role, ", ".join(missing), role))


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_equal_role_defaults(role):
    defaults = _public_defaults(role)
    wrong = []
    for name, option in _options(role).items():
        if name in defaults and not option.get("required"):
            documented = option.get("default")
            if documented != defaults[name] or type(documented) is not type(defaults[name]):
                wrong.append("%s: argument_specs %r, defaults/main.yml %r" % (name, documented, defaults[name]))
    assert not wrong, "roles/%s: %s" % (role, "; ".join(wrong))


def test_playbook_level_exceptions_are_still_needed():
    for (role, name), why in PLAYBOOK_LEVEL.items():
        assert name in _options(role), "%s is no longer documented by %s: drop it from PLAYBOOK_LEVEL" % (name, role)
        assert name not in _public_defaults(role), "%s now has a role default: drop it from PLAYBOOK_LEVEL" % name


# A variable a playbook reads with `| default(...)` is optional operator input: it must be documented.
_OPTIONAL_READ = re.compile(r"(?<![.\w])([a-z][a-z0-9_]*)\s*\|\s*default\(")


def test_variables_the_playbooks_read_are_documented():
    documented = set()
    for role in ROLES:
        documented.update(_options(role))
    undocumented = []
    for path in sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))):
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
        for name in sorted(set(_OPTIONAL_READ.findall(text))):
            if name.startswith("ansible_") or name in documented:
                continue
            undocumented.append("%s (%s)" % (name, os.path.relpath(path, ROOT)))
    assert not undocumented, ("read by a playbook but documented in no roles/*/meta/argument_specs.yml: %s"
                              % ", ".join(undocumented))
