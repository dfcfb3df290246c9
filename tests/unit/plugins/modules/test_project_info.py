"""project_info's documentation agrees with its argument_spec (types, defaults, choices, elements)."""
import yaml

from ansible_collections.homeiq.phase0.plugins.doc_fragments.docker import ModuleDocFragment
from ansible_collections.homeiq.phase0.plugins.modules import project_info


def documented_options():
    options = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(yaml.safe_load(project_info.DOCUMENTATION)["options"])
    return options


def test_every_option_is_documented_exactly():
    spec = project_info.argument_spec()
    docs = documented_options()
    assert set(spec) == set(docs)
    for name, option in spec.items():
        doc = docs[name]
        assert doc["type"] == option["type"], name
        assert doc.get("default") == option.get("default"), name
        assert doc.get("elements") == option.get("elements"), name
        assert doc.get("choices") == option.get("choices"), name
        assert sorted(doc.get("aliases") or []) == sorted(option.get("aliases") or []), name
        assert bool(doc.get("required")) == bool(option.get("required")), name


def test_examples_and_return_are_valid_yaml():
    assert yaml.safe_load(project_info.EXAMPLES)
    returned = yaml.safe_load(project_info.RETURN)
    contains = returned["project"]["contains"]
    assert {"name", "dir", "compose_files", "services", "containers", "volumes", "images", "networks"} <= set(contains)


def test_documentation_extends_the_docker_fragment():
    assert "homeiq.phase0.docker" in yaml.safe_load(project_info.DOCUMENTATION)["extends_documentation_fragment"]
