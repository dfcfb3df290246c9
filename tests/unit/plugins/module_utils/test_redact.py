"""Redaction: env lists keep names and lose values; secrets vanish from free text and objects."""
import json

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.redact import (
    REDACTED,
    Redactor,
    is_secret_name,
    looks_like_token,
    parse_env_file_text,
)

TARGET_ENV = ["DB_PASSWORD=hunter2", "DATABASE_URL=postgres://u:s3cr3t@db/x", "Api_Key=abc", "PORT=8001",
              "SERVICE_NAME=data-api", "PATH=/usr/local/bin:/usr/bin", "LOG_LEVEL=INFO"]


def redactor():
    r = Redactor()
    r.add_env_list(TARGET_ENV)
    return r


def test_env_list_keeps_names_only():
    assert Redactor.env_list(TARGET_ENV + ["NO_VALUE"]) == [
        "DB_PASSWORD=<redacted>", "DATABASE_URL=<redacted>", "Api_Key=<redacted>", "PORT=<redacted>",
        "SERVICE_NAME=<redacted>", "PATH=<redacted>", "LOG_LEVEL=<redacted>", "NO_VALUE"]


@pytest.mark.parametrize("secret", ["hunter2", "s3cr3t", "abc", "postgres://u:s3cr3t@db/x"])
def test_targets_23_secrets_vanish_from_text(secret):
    text = "connecting with %s ... failed (%s)" % (secret, secret)
    out = redactor().text(text)
    assert secret not in out
    assert "<redacted:" in out


def test_non_secret_values_stay_readable_in_text():
    out = redactor().text("data-api listening on 8001 at INFO, PATH /usr/local/bin:/usr/bin")
    assert out == "data-api listening on 8001 at INFO, PATH /usr/local/bin:/usr/bin"


def test_longest_value_wins_so_no_part_is_left():
    r = Redactor()
    r.add("A_TOKEN", "abcd")
    r.add("B_TOKEN", "abcdefgh")
    assert r.text("xx abcdefgh yy abcd") == "xx <redacted:B_TOKEN> yy <redacted:A_TOKEN>"


def test_dotenv_values_are_hunted_whatever_their_name(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# demo\nHA_TOKEN=demo-secret-token-do-not-leak\nHOMEIQ_HOST=10.1.2.3\nexport QUOTED='a b c d'\n"
                   "LOG_LEVEL=INFO\nDEBUG=true\nPORT=8001\n")
    r = Redactor()
    assert r.add_env_file(str(env)) is True
    out = r.text("token demo-secret-token-do-not-leak host 10.1.2.3 q a b c d level INFO debug true port 8001")
    assert "demo-secret-token-do-not-leak" not in out and "10.1.2.3" not in out and "a b c d" not in out
    assert "level INFO debug true port 8001" in out
    assert r.add_env_file(str(tmp_path / "missing")) is False


def test_token_like_values_are_hunted_under_any_name():
    r = Redactor()
    r.add("SOMETHING", "sk4f9a8b7c6d5e4f3a2b1")
    assert "sk4f9a8b7c6d5e4f3a2b1" not in r.text("value sk4f9a8b7c6d5e4f3a2b1")


def test_exempt_public_names():
    r = Redactor()
    r.add("POSTGRES_PASSWORD", "homeiq")
    r.exempt(["homeiq"])
    assert r.text("homeiq-postgres-1") == "homeiq-postgres-1"


def test_obj_redacts_inspect_like_structures():
    r = redactor()
    inspect = {
        "Config": {"Env": TARGET_ENV, "Cmd": ["app", "--password", "hunter2"],
                   "Labels": {"dsn": "postgres://u:s3cr3t@db/x"}},
        "Args": ["--key=abc"],
        "State": {"Health": {"Log": [{"Output": "auth failed for hunter2", "ExitCode": 1}]}},
        "environment": {"DB_PASSWORD": "hunter2", "EMPTY": None},
        "Count": 3,
    }
    out = r.obj(inspect)
    dumped = json.dumps(out)
    for secret in ("hunter2", "s3cr3t", "=abc"):
        assert secret not in dumped
    assert out["Config"]["Env"][0] == "DB_PASSWORD=" + REDACTED
    assert out["environment"] == {"DB_PASSWORD": REDACTED, "EMPTY": None}
    assert out["Count"] == 3
    assert inspect["Config"]["Env"][0] == "DB_PASSWORD=hunter2"  # a copy, the input is untouched


def test_bytes_and_none():
    r = redactor()
    assert r.text(None) is None
    assert "hunter2" not in r.text(b"pw hunter2")


@pytest.mark.parametrize("name, secret", [
    ("DB_PASSWORD", True), ("Api_Key", True), ("HA_TOKEN", True), ("AWS_SECRET_ACCESS_KEY", True),
    ("PGPASS", True), ("SERVICE_NAME", False), ("PORT", False), ("LOG_LEVEL", False),
])
def test_is_secret_name(name, secret):
    assert is_secret_name(name) is secret


@pytest.mark.parametrize("value, token", [
    ("sk4f9a8b7c6d5e4f3a2b1", True), ("ghp_A1b2C3d4E5f6G7h8", True), ("/usr/local/bin:/usr/bin9", False),
    ("short1", False), ("just-a-long-word-without-digits", False), ("has spaces 1234567890abc", False),
])
def test_looks_like_token(value, token):
    assert looks_like_token(value) is token


def test_parse_env_file_text():
    text = "A=1\n# c\nexport B = two\nC=\"q v\"\nD='x'\nE=val # comment\nnot a line\n\nF=\n"
    assert parse_env_file_text(text) == {"A": "1", "B": "two", "C": "q v", "D": "x", "E": "val", "F": ""}
