"""AWX as code (awx/): surveys that AWX accepts, variables the collection documents.

`survey_spec_errors` re-implements the rules AWX applies to a survey_spec: the checks of
`JobTemplateSurveySpec._validate_spec_data` (awx/api/views) when the spec is saved, plus the
launch-time `_survey_element_validation` (awx/main/models/mixins.py) that AWX runs on each
default before it uses it. Rules AWX does not enforce but this project does are marked
"project rule". The validator is tested against broken specs first, so a pass means something.
"""
import glob
import os
import re
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX_DIR = os.path.join(ROOT, "awx")
PLAYBOOK = os.path.join(AWX_DIR, "configure.yml")
SURVEY_DIR = os.path.join(AWX_DIR, "surveys")
SURVEY_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SURVEY_DIR, "*.yml")))

# awx/api/views JobTemplateSurveySpec.ALLOWED_TYPES: question type -> Python type of its default.
ALLOWED_TYPES = {
    "text": str, "textarea": str, "password": str,
    "multiplechoice": str, "multiselect": str,
    "integer": int, "float": float,
}
TEXT_TYPES = ("text", "textarea", "password")
CHOICE_TYPES = ("multiplechoice", "multiselect")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _choices(item):
    # AWX accepts choices as a list or as one newline-separated string.
    choices = item.get("choices")
    if isinstance(choices, str):
        return [c for c in choices.splitlines() if c.strip()]
    return choices


def _defaults(item):
    default = item["default"]
    if isinstance(default, str):
        return [d for d in default.splitlines() if d.strip()]
    return list(default) if isinstance(default, list) else [default]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _default_errors(where, item):
    """AWX's launch-time checks, applied to the default (AWX drops a default that fails them)."""
    qtype, default = item["type"], item["default"]
    low, high = item.get("min"), item.get("max")
    if qtype in TEXT_TYPES:
        if low not in ("", None) and len(default) < low:
            return ["%s: default %r shorter than min %s" % (where, default, low)]
        if high not in ("", None) and len(default) > high:
            return ["%s: default %r longer than max %s" % (where, default, high)]
    elif qtype in ("integer", "float"):
        if low not in ("", None) and default < low:
            return ["%s: default %r below min %s" % (where, default, low)]
        if high not in ("", None) and default > high:
            return ["%s: default %r above max %s" % (where, default, high)]
    return []


def _question_errors(where, item):
    errors = []
    for field in ("type", "question_name", "variable", "required"):
        if field not in item:
            return ["%s: %r missing" % (where, field)]
    for field in ("type", "question_name", "variable"):
        if not isinstance(item[field], str):
            errors.append("%s: %r must be a string" % (where, field))
    if not isinstance(item["required"], bool):
        errors.append("%s: 'required' must be a boolean" % where)
    # AWX's API docs require a description for each question; the UI shows it as help text.
    if not isinstance(item.get("question_description"), str) or not item["question_description"].strip():
        errors.append("%s: 'question_description' missing" % where)
    if errors:
        return errors
    qtype = item["type"]
    if qtype not in ALLOWED_TYPES:
        return ["%s: type %r is not one of %s" % (where, qtype, ", ".join(ALLOWED_TYPES))]
    if not IDENTIFIER.match(item["variable"]):  # project rule: Ansible rejects other names
        errors.append("%s: variable %r is not a valid Ansible variable name" % (where, item["variable"]))
    for key in ("min", "max"):
        if key in item and item[key] is not None and not _is_int(item[key]):
            errors.append("%s: %r must be an integer" % (where, key))
    if _is_int(item.get("min")) and _is_int(item.get("max")) and item["min"] > item["max"]:
        errors.append("%s: min %s is greater than max %s" % (where, item["min"], item["max"]))  # project rule
    has_default = "default" in item and item["default"] != ""
    if has_default and (not isinstance(item["default"], ALLOWED_TYPES[qtype]) or isinstance(item["default"], bool)):
        errors.append("%s: default %r must be of type %s" % (where, item["default"], qtype))
        return errors
    if qtype in CHOICE_TYPES:
        choices = _choices(item)
        if choices is None:
            return errors + ["%s: type %s must specify choices" % (where, qtype)]
        if not isinstance(choices, list) or not choices or len(set(choices)) != len(choices) \
                or not all(isinstance(c, str) and c for c in choices):
            return errors + ["%s: choices must be distinct non-empty strings" % where]  # project rule
        if "default" in item:
            defaults = _defaults(item)
            if qtype == "multiplechoice" and len(defaults) > 1:
                errors.append("%s: multiplechoice can only have one default" % where)
            if any(d not in choices for d in defaults):
                errors.append("%s: default %r is not one of the choices %s" % (where, item["default"], choices))
    if isinstance(item.get("default"), str) and item["default"].startswith("$encrypted$") and qtype != "password":
        errors.append("%s: $encrypted$ is reserved for password defaults" % where)
    if qtype == "password" and item.get("default"):
        errors.append("%s: a password default would be committed to git" % where)  # project rule
    # Project rule: AWX sends "" for an optional text question left empty; min > 0 would reject it.
    if qtype in TEXT_TYPES and not item["required"] and _is_int(item.get("min")) and item["min"] > 0:
        errors.append("%s: optional question with min %s rejects the empty answer" % (where, item["min"]))
    if has_default and not errors:
        errors += _default_errors(where, item)
    return errors


def survey_spec_errors(spec):
    """Every reason AWX (or a project rule) would reject this survey_spec; [] when it is valid."""
    if not isinstance(spec, dict):
        return ["survey spec must be a mapping"]
    errors = []
    for field, expect, label in (("name", str, "string"), ("description", str, "string"), ("spec", list, "list")):
        if field not in spec:
            errors.append("field %r is missing from survey spec" % field)
        elif not isinstance(spec[field], expect):
            errors.append("expected %s for field %r" % (label, field))
    if errors:
        return errors
    if not spec["spec"]:
        return ["'spec' doesn't contain any items"]
    seen = set()
    for idx, item in enumerate(spec["spec"]):
        where = "question %d" % idx
        if not isinstance(item, dict):
            errors.append("%s is not a mapping" % where)
            continue
        errors += _question_errors(where, item)
        variable = item.get("variable")
        if variable in seen:
            errors.append("%s: variable %r duplicated" % (where, variable))
        seen.add(variable)
    return errors


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_survey(name):
    return _load(os.path.join(SURVEY_DIR, name))


def _configure_play():
    plays = _load(PLAYBOOK)
    assert len(plays) == 1, "awx/configure.yml is expected to hold one play"
    return plays[0]


def _tasks_using(module):
    return [t for t in _configure_play()["tasks"] if module in t]


def job_templates():
    return _configure_play()["vars"]["phase0_awx_job_templates"]


def documented_variables():
    """{variable: option spec} from every entry point of every roles/*/meta/argument_specs.yml."""
    documented = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))):
        for entry in (_load(path).get("argument_specs") or {}).values():
            for name, option in (entry.get("options") or {}).items():
                documented.setdefault(name, dict(option, _role=path.split(os.sep)[-3]))
    return documented


def set_variables():
    """Every variable a launch of the templates sets: survey variables and job template extra_vars."""
    variables = set()
    for name in SURVEY_FILES:
        variables.update(q["variable"] for q in load_survey(name)["spec"])
    for template in job_templates():
        variables.update(template.get("extra_vars") or {})
    return variables


# --- the validator itself must reject what AWX rejects -------------------------------------

def _question(**overrides):
    item = {"question_name": "Q", "question_description": "D", "variable": "phase0_x",
            "type": "text", "required": False}
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize("spec, expected", [
    ({"description": "d", "spec": [_question()]}, "field 'name' is missing"),
    ({"name": "n", "spec": [_question()]}, "field 'description' is missing"),
    ({"name": "n", "description": "d", "spec": {}}, "expected list for field 'spec'"),
    ({"name": "n", "description": "d", "spec": []}, "doesn't contain any items"),
    ({"name": "n", "description": "d", "spec": ["q"]}, "is not a mapping"),
    ({"name": "n", "description": "d", "spec": [_question(variable=_DROP)]}, "'variable' missing"),
    ({"name": "n", "description": "d", "spec": [_question(required="yes")]}, "'required' must be a boolean"),
    ({"name": "n", "description": "d", "spec": [_question(question_description=_DROP)]},
     "'question_description' missing"),
    ({"name": "n", "description": "d", "spec": [_question(type="boolean")]}, "type 'boolean' is not one of"),
    ({"name": "n", "description": "d", "spec": [_question(), _question()]}, "variable 'phase0_x' duplicated"),
    ({"name": "n", "description": "d", "spec": [_question(variable="phase0-x")]}, "not a valid Ansible variable"),
    ({"name": "n", "description": "d", "spec": [_question(type="integer", default="3")]},
     "default '3' must be of type integer"),
    ({"name": "n", "description": "d", "spec": [_question(type="float", default=3)]},
     "default 3 must be of type float"),
    ({"name": "n", "description": "d", "spec": [_question(type="text", default=True)]},
     "default True must be of type text"),
    ({"name": "n", "description": "d", "spec": [_question(min="1")]}, "'min' must be an integer"),
    ({"name": "n", "description": "d", "spec": [_question(min=5, max=2, required=True)]}, "greater than max"),
    ({"name": "n", "description": "d", "spec": [_question(type="multiplechoice")]}, "must specify choices"),
    ({"name": "n", "description": "d", "spec": [_question(type="multiplechoice", choices=["a", "a"])]},
     "distinct non-empty strings"),
    ({"name": "n", "description": "d", "spec": [_question(type="multiplechoice", choices=["a", "b"], default="c")]},
     "is not one of the choices"),
    ({"name": "n", "description": "d", "spec": [_question(type="multiplechoice", choices="a\nb", default="a\nb")]},
     "only have one default"),
    ({"name": "n", "description": "d", "spec": [_question(type="multiselect", choices=["a"], default="a\nz")]},
     "is not one of the choices"),
    # AWX wants a multiselect default as one newline-separated string, not a list.
    ({"name": "n", "description": "d", "spec": [_question(type="multiselect", choices=["a"], default=["a"])]},
     "must be of type multiselect"),
    ({"name": "n", "description": "d", "spec": [_question(default="$encrypted$abc")]}, "$encrypted$ is reserved"),
    ({"name": "n", "description": "d", "spec": [_question(type="password", default="hunter2")]},
     "committed to git"),
    ({"name": "n", "description": "d", "spec": [_question(min=1)]}, "rejects the empty answer"),
    ({"name": "n", "description": "d", "spec": [_question(required=True, min=3, default="ab")]},
     "shorter than min 3"),
    ({"name": "n", "description": "d", "spec": [_question(required=True, max=2, default="abc")]},
     "longer than max 2"),
    ({"name": "n", "description": "d", "spec": [_question(type="integer", min=1, max=5, default=9)]},
     "above max 5"),
])
def test_validator_rejects_what_awx_rejects(spec, expected):
    errors = survey_spec_errors(spec)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("spec", [
    {"name": "n", "description": "d", "spec": [_question()]},
    {"name": "n", "description": "d", "spec": [_question(type="multiplechoice", choices="a\nb", default="b")]},
    {"name": "n", "description": "d", "spec": [_question(type="multiselect", choices=["a", "b"], default="a\nb")]},
    {"name": "n", "description": "d", "spec": [_question(type="integer", min=1, max=5, default=5, required=True)]},
    {"name": "n", "description": "d", "spec": [_question(type="float", default="")]},
])
def test_validator_accepts_what_awx_accepts(spec):
    assert survey_spec_errors(spec) == []


# --- the surveys in awx/surveys/ -----------------------------------------------------------

def test_there_is_one_survey_per_template():
    used = sorted(t["survey"] for t in job_templates())
    assert used == SURVEY_FILES, "every survey file is used by exactly one job template"


@pytest.mark.parametrize("name", SURVEY_FILES)
def test_survey_is_valid_for_awx(name):
    assert survey_spec_errors(load_survey(name)) == []


@pytest.mark.parametrize("name", SURVEY_FILES)
def test_survey_asks_for_the_project_directory_first(name):
    first = load_survey(name)["spec"][0]
    assert (first["variable"], first["required"], first.get("default")) == ("phase0_project_dir", True, None)


def test_a_variable_is_asked_the_same_way_in_every_survey():
    by_variable = {}
    for name in SURVEY_FILES:
        for question in load_survey(name)["spec"]:
            if question["variable"] == "phase0_output_dir":
                # Rollback reads the backups from there, the others write there: other wording.
                question = {k: v for k, v in question.items() if k != "question_description"}
            by_variable.setdefault(question["variable"], []).append((name, question))
    for variable, asked in by_variable.items():
        assert all(q == asked[0][1] for _name, q in asked), "%s differs between %s" % (variable, [n for n, _question in asked])


def test_rollback_needs_an_explicit_yes():
    question = {q["variable"]: q for q in load_survey("rollback.yml")["spec"]}["rollback_confirm"]
    assert question["required"] is True
    assert "default" not in question, "a rollback must never be confirmed by a default"
    assert "yes" in question["choices"]


# Survey answers reach the playbooks as strings; a role reads a bool variable with `| bool`,
# so every choice must be one Ansible's boolean parser understands, and both sides offered.
def test_bool_variables_are_asked_as_ansible_booleans():
    documented = documented_variables()
    checked = []
    for name in SURVEY_FILES:
        for question in load_survey(name)["spec"]:
            if documented.get(question["variable"], {}).get("type") != "bool":
                continue
            checked.append(question["variable"])
            choices = _choices(question)
            assert question["type"] == "multiplechoice", question["variable"]
            assert all(c in BOOLEANS_TRUE or c in BOOLEANS_FALSE for c in choices), choices
            assert any(c in BOOLEANS_TRUE for c in choices) and any(c in BOOLEANS_FALSE for c in choices), choices
    if not checked:
        pytest.skip("no survey variable is documented as type bool yet")


# --- every variable a launch sets is a documented public variable ---------------------------

# Role documentation being written while these surveys were: remove an entry once its role
# documents the variable (strict: the test then XPASSes and fails, as a reminder).
NOT_YET_DOCUMENTED = {
}


def _documented_params():
    params = []
    for variable in sorted(set_variables()):
        marks = []
        if variable in NOT_YET_DOCUMENTED:
            marks = [pytest.mark.xfail(strict=True, reason="%s is to be documented in %s"
                                       % (variable, NOT_YET_DOCUMENTED[variable]))]
        params.append(pytest.param(variable, marks=marks, id=variable))
    return params


@pytest.mark.parametrize("variable", _documented_params())
def test_variable_set_by_awx_is_documented(variable):
    documented = documented_variables()
    assert variable in documented, (
        "%s is set by an AWX survey or job template but no roles/*/meta/argument_specs.yml documents it"
        % variable)


# --- the job templates and the workflow -----------------------------------------------------

def test_job_templates_run_the_public_playbooks():
    got = {t["name"]: (t["playbook"], t["job_tags"], t["extra_vars"]) for t in job_templates()}
    assert got == {
        "Phase 0 - full": ("playbooks/phase0.yml", "", {}),
        "Phase 0 - backup only": ("playbooks/phase0.yml", "backup", {}),
        "Phase 0 - diagnose only": ("playbooks/phase0.yml", "healthcheck", {"healthcheck_fix": False}),
        "Rollback": ("playbooks/rollback.yml", "", {}),
    }


def test_job_template_task_turns_the_surveys_on():
    (task,) = _tasks_using("awx.awx.job_template")
    args = task["awx.awx.job_template"]
    assert args["survey_enabled"] is True
    assert "surveys/' ~ item.survey" in args["survey_spec"] and "from_yaml" in args["survey_spec"]
    assert task["loop"] == "{{ phase0_awx_job_templates }}"
    assert args["notification_templates_error"] == ["{{ phase0_awx_notification }}"]


def test_workflow_runs_full_phase0_and_notifies_on_failure():
    (task,) = _tasks_using("awx.awx.workflow_job_template")
    workflow = task["awx.awx.workflow_job_template"]
    nodes = {n["identifier"]: n for n in workflow["workflow_nodes"]}
    first = nodes["phase0_full"]
    assert first["unified_job_template"]["name"] == "Phase 0 - full"
    assert first["unified_job_template"]["type"] == "job_template"
    (failure,) = first["related"]["failure_nodes"]
    review = nodes[failure["identifier"]]
    assert review["unified_job_template"]["type"] == "workflow_approval"
    # Nothing runs after a successful phase 0 and nothing else is on the failure path.
    assert not first["related"].get("success_nodes") and not review.get("related")
    # The approval request and a failed workflow both send the webhook.
    assert workflow["notification_templates_approvals"] == ["{{ phase0_awx_notification }}"]
    assert workflow["notification_templates_error"] == ["{{ phase0_awx_notification }}"]
    assert workflow["survey_enabled"] is True and "phase0_full.yml" in workflow["survey_spec"]
    assert workflow["destroy_current_nodes"] is True


def test_notification_is_a_webhook_with_a_configurable_url():
    (task,) = _tasks_using("awx.awx.notification_template")
    args = task["awx.awx.notification_template"]
    assert args["notification_type"] == "webhook"
    assert args["name"] == "{{ phase0_awx_notification }}"
    assert args["notification_configuration"]["url"] == "{{ phase0_awx_notify_url }}"
    assert _configure_play()["vars"]["phase0_awx_notify_url"] == "", "no webhook URL may be baked in"


def test_configure_playbook_passes_syntax_check():
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([binary, "--syntax-check", PLAYBOOK], capture_output=True, check=False, text=True, cwd=ROOT,
                          env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
