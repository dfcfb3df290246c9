"""Compose interpolation and .env parsing (pure), table-driven from the Compose specification."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_env import (
    InterpolationError, Interpolator, interpolate, parse_dotenv)

ENV = {"SET": "value", "EMPTY": "", "PORT": "8080"}


@pytest.mark.parametrize("text, expected", [
    ("plain", "plain"),
    ("$SET", "value"),
    ("${SET}", "value"),
    ("a-${SET}-b", "a-value-b"),
    ("$$SET", "$SET"),                       # $$ escapes
    ("cost: $$5", "cost: $5"),
    ("${UNSET}", ""),
    ("$UNSET/x", "/x"),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),              # ':-' treats empty as unset
    ("${EMPTY-dflt}", ""),                   # '-' only replaces unset
    ("${UNSET-dflt}", "dflt"),
    ("${SET:-dflt}", "value"),
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-${SET}}", "value"),           # nested default
    ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
    ("http://localhost:${PORT}/health", "http://localhost:8080/health"),
    ("${UNSET:-a:b}", "a:b"),
    ("50$", "50$"),                          # a lone dollar stays
    ("$1", "$1"),
])
def test_interpolate_text(text, expected):
    assert Interpolator(ENV).text(text) == expected


@pytest.mark.parametrize("text", ["${", "${SET", "${1BAD}", "${SET!x}", "${}"])
def test_malformed_expressions_raise(text):
    with pytest.raises(InterpolationError):
        Interpolator(ENV).text(text)


def test_missing_and_required_are_collected():
    interpolator = Interpolator(ENV)
    assert interpolator.text("${A}${B:-x}${SET}") == "x" + "value"
    assert interpolator.missing == {"A"}
    assert interpolator.text("${NEED:?set NEED please}") == ""
    assert interpolator.required_errors == ["required variable NEED is missing a value: set NEED please"]
    assert interpolator.text("${EMPTY?only unset fails}") == ""
    assert len(interpolator.required_errors) == 1


def test_interpolate_walks_values_not_keys():
    data = {"${SET}": ["${PORT}", 3, {"k": "${SET}"}], "n": None}
    assert interpolate(data, ENV) == {"${SET}": ["8080", 3, {"k": "value"}], "n": None}


@pytest.mark.parametrize("text, expected", [
    ("A=1", {"A": "1"}),
    ("export A=1", {"A": "1"}),
    ("# comment\n\nA=1\n", {"A": "1"}),
    ("A = spaced ", {"A": "spaced"}),
    ("A=1 # trailing comment", {"A": "1"}),
    ("A=a#b", {"A": "a#b"}),                             # '#' without space is data
    ("A='single $X # kept'", {"A": "single $X # kept"}),
    ('A="double ${B}"\nB=x', {"A": "double ", "B": "x"}),  # B not yet defined
    ('B=x\nA="double ${B}"', {"B": "x", "A": "double x"}),
    ('A="line1\\nline2"', {"A": "line1\nline2"}),
    ('A="quote \\" inside"', {"A": 'quote " inside'}),
    ('A="multi\nline"', {"A": "multi\nline"}),
    ("A='multi\nline'", {"A": "multi\nline"}),
    ('A="a \\$literal"', {"A": "a $literal"}),
    ("A=", {"A": ""}),
    ("A=${FROM_ENV:-d}", {"A": "env"}),
    ("not a line", {}),
    ("COMPOSE_PROJECT_NAME=demo", {"COMPOSE_PROJECT_NAME": "demo"}),
])
def test_parse_dotenv(text, expected):
    assert parse_dotenv(text, {"FROM_ENV": "env"}) == expected
