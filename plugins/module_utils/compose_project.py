# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Compose project as Compose sees it: name, files, services and where each is defined.

`resolve_project` is pure (files in, model out): it finds the compose files like Compose,
resolves the project name with Compose's precedence, follows `include:` and records for each
service the file that defines it (later jobs patch healthchecks in that file). The engine side
(`project_containers`, `project_volumes`, ...) lists a project's resources by the
`com.docker.compose.project` label, one list call each.
"""
from __future__ import annotations

import os
import re
import traceback

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core on the controller
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_env import (
    InterpolationError, Interpolator, read_dotenv)

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
VOLUME_LABEL = "com.docker.compose.volume"
NETWORK_LABEL = "com.docker.compose.network"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"

# Compose's discovery order: the first existing default file, plus the first override file.
DEFAULT_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDE_FILE_NAMES = ("compose.override.yml", "compose.override.yaml",
                               "docker-compose.override.yml", "docker-compose.override.yaml")

# Keys whose list value replaces the earlier one on merge (Compose merges other lists).
_REPLACED_LISTS = frozenset(("command", "entrypoint", "test", "profiles", "cap_add", "cap_drop"))


class ComposeProjectError(ValueError):
    """The compose project cannot be resolved; the message says which file and why."""


# --- project name ---------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[a-z0-9_-]")


def normalize_project_name(name):
    """Compose's NormalizeProjectName: lowercase, keep [a-z0-9_-], drop leading '_' and '-'."""
    kept = "".join(_NAME_CHARS.findall((name or "").lower()))
    return kept.lstrip("_-")


def is_valid_project_name(name):
    """True when Compose accepts the name as given (-p, COMPOSE_PROJECT_NAME)."""
    return bool(name) and normalize_project_name(name) == name


def choose_project_name(project_dir, explicit=None, env_name=None, dotenv_name=None, file_name=None):
    """Compose's precedence; returns (name, source).

    1. the explicit name (`-p`), 2. COMPOSE_PROJECT_NAME from the environment, 3. from the
    project's .env, 4. the top-level `name:` of the compose files (normalised), 5. the project
    directory's basename (normalised). Names from 1-3 must already be valid, as Compose
    refuses them otherwise. Measured against Compose 2.40: env beats `name:`.
    """
    for source, value in (("explicit", explicit), ("env", env_name), ("dotenv", dotenv_name)):
        if value:
            if not is_valid_project_name(value):
                raise ComposeProjectError(
                    "invalid project name %r (from %s): must consist only of lowercase alphanumeric "
                    "characters, hyphens and underscores, and start with a letter or number"
                    % (value, _NAME_SOURCES[source]))
            return value, source
    from_file = normalize_project_name(file_name)
    if from_file:
        return from_file, "compose_file"
    from_dir = normalize_project_name(os.path.basename(os.path.normpath(project_dir or "")))
    if from_dir:
        return from_dir, "directory"
    raise ComposeProjectError(
        "cannot derive a project name from the directory %r: set project_name" % (project_dir,))


_NAME_SOURCES = {"explicit": "project_name", "env": "the COMPOSE_PROJECT_NAME environment variable",
                 "dotenv": "COMPOSE_PROJECT_NAME in the project's .env"}


# --- file discovery -------------------------------------------------------------------

def discover_compose_files(project_dir):
    """Compose's default files in project_dir: [main] or [main, override]; [] when none."""
    found = []
    for names in (DEFAULT_FILE_NAMES, DEFAULT_OVERRIDE_FILE_NAMES):
        for name in names:
            path = os.path.join(project_dir, name)
            if os.path.isfile(path):
                found.append(path)
                break
        if not found:
            return []
    return found


def split_compose_file_env(value, separator=None):
    """COMPOSE_FILE's list: separated by COMPOSE_PATH_SEPARATOR, else os.pathsep."""
    return [part for part in (value or "").split(separator or os.pathsep) if part]


def absolute(path, base):
    path = os.path.expanduser(path)
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


# --- YAML with Compose's !reset and !override tags ---------------------------------------

class _Reset:
    """`!reset`: drop the earlier value on merge."""


class _Override:
    """`!override value`: replace the earlier value on merge instead of merging."""

    def __init__(self, value):
        self.value = value


_LOADER = []


def _compose_loader():
    """A SafeLoader that also knows Compose's !reset and !override tags (built on first use, so
    importing this file does not need PyYAML)."""
    if not _LOADER:
        class ComposeLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
            pass

        ComposeLoader.add_constructor("!reset", _construct_reset)
        ComposeLoader.add_constructor("!override", _construct_override)
        _LOADER.append(ComposeLoader)
    return _LOADER[0]


def _construct_reset(loader, node):
    return _Reset()


def _construct_override(loader, node):
    if isinstance(node, yaml.MappingNode):
        return _Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return _Override(loader.construct_sequence(node, deep=True))
    return _Override(loader.construct_scalar(node))


def load_yaml_documents(path):
    """Every non-empty document of a compose file, each a mapping."""
    if not HAS_YAML:
        raise ComposeProjectError("reading compose files needs the PyYAML Python library, which is missing")
    try:
        with open(path, encoding="utf-8") as handle:
            # a SafeLoader subclass: no arbitrary objects
            docs = [doc for doc in yaml.load_all(handle, Loader=_compose_loader()) if doc is not None]
    except OSError as exc:
        raise ComposeProjectError("cannot read compose file %s: %s" % (path, exc.strerror or exc))
    except yaml.YAMLError as exc:
        raise ComposeProjectError("compose file %s is not valid YAML: %s" % (path, exc))
    for doc in docs:
        if not isinstance(doc, dict):
            raise ComposeProjectError("compose file %s: top-level object must be a mapping" % path)
    return docs


def merge_model(base, override, key=None):
    """Compose-style override merge of two YAML values (mappings merge, most lists append)."""
    if isinstance(override, _Reset):
        return None
    if isinstance(override, _Override):
        return _strip_tags(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            if isinstance(value, _Reset):
                merged.pop(name, None)
            elif name in merged:
                merged[name] = merge_model(merged[name], value, name)
            else:
                merged[name] = _strip_tags(value)
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED_LISTS:
        merged = list(base)
        for item in override:
            if item not in merged:
                merged.append(_strip_tags(item))
        return merged
    return _strip_tags(override)


def _strip_tags(value):
    if isinstance(value, _Override):
        return _strip_tags(value.value)
    if isinstance(value, dict):
        return {k: _strip_tags(v) for k, v in value.items() if not isinstance(v, _Reset)}
    if isinstance(value, list):
        return [_strip_tags(v) for v in value if not isinstance(v, _Reset)]
    return value


def _interpolate_tagged(interpolator, value):
    if isinstance(value, _Override):
        return _Override(_interpolate_tagged(interpolator, value.value))
    if isinstance(value, dict):
        return {k: _interpolate_tagged(interpolator, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_tagged(interpolator, v) for v in value]
    if isinstance(value, str):
        return interpolator.text(value)
    return value


# --- the model ------------------------------------------------------------------------

class ServiceSource:
    """Where a service comes from: `file` defines it first, `files` all mention it in merge
    order, `healthcheck_file` is the last file that sets its healthcheck (None: no file does)."""

    def __init__(self, file):
        self.file = file
        self.files = [file]
        self.healthcheck_file = None

    def add(self, file):
        if file not in self.files:
            self.files.append(file)

    def to_dict(self):
        return {"file": self.file, "files": list(self.files), "healthcheck_file": self.healthcheck_file}


class ComposeProject:
    """A resolved compose project (no secrets in `to_dict`; `services` holds the raw model)."""

    def __init__(self, name, name_source, directory, files):
        self.name = name
        self.name_source = name_source
        self.dir = directory
        self.files = list(files)
        self.included_files = []
        self.services = {}          # name -> merged, interpolated service mapping
        self.service_sources = {}   # name -> ServiceSource
        self.volumes = {}           # top-level volumes: key -> mapping
        self.networks = {}
        self.dotenv_file = None
        self.warnings = []

    @property
    def all_files(self):
        return self.files + [f for f in self.included_files if f not in self.files]

    def service_file(self, service):
        """The file that defines `service` (patch its healthcheck there), or None."""
        source = self.service_sources.get(service)
        return source.file if source else None

    def volume_names(self):
        """Declared volume key -> the engine's volume name (Compose's `<project>_<key>` rule)."""
        names = {}
        for key, spec in self.volumes.items():
            spec = spec or {}
            if spec.get("name"):
                names[key] = spec["name"]
            elif spec.get("external"):
                names[key] = key
            else:
                names[key] = "%s_%s" % (self.name, key)
        return names

    def to_dict(self):
        """A result-safe summary: names and paths, never environment values."""
        return {
            "name": self.name,
            "name_source": self.name_source,
            "dir": self.dir,
            "compose_files": list(self.files),
            "included_files": list(self.included_files),
            "dotenv_file": self.dotenv_file,
            "services": {name: dict(self.service_sources[name].to_dict(),
                                    image=(self.services[name] or {}).get("image"),
                                    profiles=list((self.services[name] or {}).get("profiles") or []),
                                    has_healthcheck=_has_healthcheck(self.services[name]))
                         for name in sorted(self.services)},
            "volumes": self.volume_names(),
            "networks": sorted(self.networks),
        }


def _has_healthcheck(service):
    check = (service or {}).get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test != ["NONE"]


# --- loading --------------------------------------------------------------------------

class _Layer:
    """What one set of files (the project, or one include) yields."""

    def __init__(self):
        self.model = {}
        self.sources = {}
        self.included = []


class _Loader:
    def __init__(self, project):
        self.project = project
        self.missing = set()
        self.required_errors = []

    def load(self, files, working_dir, lookup, chain):
        layer = _Layer()
        for path in files:
            if path in chain:
                raise ComposeProjectError("include cycle detected: %s" % " -> ".join(chain + [path]))
            for doc in load_yaml_documents(path):
                self._load_document(layer, doc, path, working_dir, lookup, chain + [path])
        return layer

    def _load_document(self, layer, doc, path, working_dir, lookup, chain):
        interpolator = Interpolator(lookup)
        try:
            doc = {key: (value if key == "include" else _interpolate_tagged(interpolator, value))
                   for key, value in doc.items()}
        except InterpolationError as exc:
            raise ComposeProjectError("%s: %s" % (path, exc))
        self.missing |= interpolator.missing
        self.required_errors.extend("%s: %s" % (path, err) for err in interpolator.required_errors)

        imported = _Layer()
        for entry in _include_entries(doc.pop("include", None), path):
            self._include(imported, entry, path, working_dir, lookup, chain)

        own_services = doc.get("services") or {}
        if not isinstance(own_services, dict):
            raise ComposeProjectError("%s: `services` must be a mapping" % path)
        for name, service in own_services.items():
            if name in layer.sources:          # an earlier file of the same layer: an override
                layer.sources[name].add(path)
            else:
                if name in imported.sources:
                    self.project.warnings.append(
                        "service %s is defined in %s and also in %s, which includes it; Compose refuses "
                        "such a conflict" % (name, path, imported.sources[name].file))
                layer.sources[name] = ServiceSource(path)
            if isinstance(service, dict) and "healthcheck" in service:
                layer.sources[name].healthcheck_file = path
        for name, source in imported.sources.items():
            if name in own_services:
                continue
            if name in layer.sources:          # merged over an earlier file's service
                for file in source.files:
                    layer.sources[name].add(file)
                if source.healthcheck_file:
                    layer.sources[name].healthcheck_file = source.healthcheck_file
            else:
                layer.sources[name] = source
        for section in ("services", "volumes", "networks", "secrets", "configs"):
            for name, value in (imported.model.get(section) or {}).items():
                current = doc.get(section) or {}
                if name in current:
                    if section != "services" and current[name] != value:
                        self.project.warnings.append(
                            "%s.%s in %s conflicts with the one imported from an included file; "
                            "Compose refuses such a conflict" % (section, name, path))
                    continue
                current[name] = value
                doc[section] = current
        layer.included.extend(f for f in imported.included if f not in layer.included)
        layer.model = merge_model(layer.model, doc) or {}

    def _include(self, imported, entry, including_file, working_dir, lookup, chain):
        paths = [absolute(p, working_dir) for p in entry["path"]]
        for candidate in paths:
            if not os.path.isfile(candidate):
                raise ComposeProjectError("%s includes %s, which does not exist" % (including_file, candidate))
        if entry.get("project_directory"):
            include_dir = absolute(entry["project_directory"], working_dir)
        else:
            include_dir = os.path.dirname(paths[0])
        env_files = [absolute(f, working_dir) for f in entry.get("env_file") or []]
        if not env_files:
            default_env = os.path.join(include_dir, ".env")
            env_files = [default_env] if os.path.isfile(default_env) else []
        from_files = {}
        for env_file in env_files:
            if not os.path.isfile(env_file):
                self.project.warnings.append(
                    "%s: env_file %s of the include of %s does not exist (Compose would refuse to load)"
                    % (including_file, env_file, paths[0]))
                continue
            from_files.update(read_dotenv(env_file, lookup))
        child_lookup = dict(from_files)
        child_lookup.update(lookup)  # the including project's environment wins, as in Compose
        child = self.load(paths, include_dir, child_lookup, chain)
        for path in paths + child.included:
            if path not in imported.included:
                imported.included.append(path)
        for section in ("services", "volumes", "networks", "secrets", "configs"):
            for name, value in (child.model.get(section) or {}).items():
                target = imported.model.setdefault(section, {})
                if name in target and target[name] != value:
                    if section == "services":
                        self.project.warnings.append(
                            "service %s is defined in %s and in %s; Compose refuses such a conflict"
                            % (name, imported.sources[name].file, child.sources[name].file))
                    else:
                        self.project.warnings.append(
                            "%s.%s is defined differently in %s and an earlier include; Compose refuses "
                            "such a conflict (\"conflicts with imported resource\")" % (section, name, paths[0]))
                    continue
                target[name] = value
        for name, source in child.sources.items():
            imported.sources.setdefault(name, source)


def _include_entries(raw, path):
    """Normalise `include:` to [{path: [..], project_directory, env_file: [..]}]."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ComposeProjectError("%s: `include` must be a list" % path)
    entries = []
    for item in raw:
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not item.get("path"):
            raise ComposeProjectError("%s: each `include` entry needs a path" % path)
        entries.append({
            "path": _as_list(item["path"]),
            "project_directory": item.get("project_directory"),
            "env_file": _as_list(item.get("env_file")),
        })
    return entries


def _as_list(value):
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _top_level_name(files, lookup):
    """The last non-empty top-level `name:` of the files, interpolated."""
    name = None
    for path in files:
        for doc in load_yaml_documents(path):
            if doc.get("name"):
                name = str(doc["name"])
    if name is None:
        return None
    try:
        return Interpolator(lookup).text(name)
    except InterpolationError as exc:
        raise ComposeProjectError("top-level name %r: %s" % (name, exc))


def resolve_project(project_dir, project_name=None, compose_files=None, env=None, env_files=None):
    """Resolve a compose project from its directory, the way `docker compose` would.

    project_dir: the project directory (relative compose_files and env_files are relative to it).
    project_name: explicit name (like `-p`), validated like Compose does.
    compose_files: list of files; default COMPOSE_FILE, else Compose's default discovery.
    env: the environment (default os.environ); the project's `.env` (or env_files) adds to it,
      the environment winning, as in Compose.
    Raises ComposeProjectError with a message naming the file at fault.
    """
    project_dir = os.path.abspath(os.path.expanduser(project_dir))
    if not os.path.isdir(project_dir):
        raise ComposeProjectError("project directory %s does not exist" % project_dir)
    environ = dict(os.environ if env is None else env)

    dotenv, dotenv_file = {}, None
    candidates = [absolute(f, project_dir) for f in env_files] if env_files else [os.path.join(project_dir, ".env")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            dotenv.update(read_dotenv(candidate, environ))
            dotenv_file = candidate
        elif env_files:
            raise ComposeProjectError("env file %s does not exist" % candidate)
    lookup = dict(dotenv)
    lookup.update(environ)

    if compose_files:
        files = [absolute(f, project_dir) for f in compose_files]
    elif lookup.get("COMPOSE_FILE"):
        files = [absolute(f, project_dir)
                 for f in split_compose_file_env(lookup["COMPOSE_FILE"], lookup.get("COMPOSE_PATH_SEPARATOR"))]
    else:
        files = discover_compose_files(project_dir)
        if not files:
            raise ComposeProjectError(
                "no compose file in %s: expected one of %s, or set compose_files"
                % (project_dir, ", ".join(DEFAULT_FILE_NAMES)))
    for path in files:
        if not os.path.isfile(path):
            raise ComposeProjectError("compose file %s does not exist" % path)

    name, source = choose_project_name(
        project_dir, explicit=project_name, env_name=environ.get("COMPOSE_PROJECT_NAME"),
        dotenv_name=dotenv.get("COMPOSE_PROJECT_NAME"), file_name=_top_level_name(files, lookup))
    lookup["COMPOSE_PROJECT_NAME"] = name  # Compose exposes it to interpolation

    project = ComposeProject(name, source, project_dir, files)
    project.dotenv_file = dotenv_file
    loader = _Loader(project)
    layer = loader.load(files, project_dir, lookup, [])
    project.included_files = [f for f in layer.included if f not in files]
    project.services = dict(layer.model.get("services") or {})
    project.service_sources = {name: layer.sources[name] for name in project.services if name in layer.sources}
    project.volumes = dict(layer.model.get("volumes") or {})
    project.networks = dict(layer.model.get("networks") or {})
    if loader.missing:
        project.warnings.append("variables not set, defaulting to a blank string: %s"
                                % ", ".join(sorted(loader.missing)))
    project.warnings.extend(loader.required_errors)
    return project


# --- engine side ------------------------------------------------------------------------

def project_filters(project_name, **extra):
    """Docker API filters selecting a project's resources by Compose's label."""
    filters = {"label": ["%s=%s" % (PROJECT_LABEL, project_name)]}
    filters.update(extra)
    return filters


def project_containers(api, project_name, all=True):  # pylint: disable=redefined-builtin
    """Container summaries (one list call) of the project; `all` includes stopped ones."""
    return api.containers(all=all, filters=project_filters(project_name))


def project_volumes(api, project_name):
    """Volume records (one list call) labeled with the project."""
    return (api.volumes(filters=project_filters(project_name)) or {}).get("Volumes") or []


def project_networks(api, project_name):
    """Network records (one list call) labeled with the project."""
    return api.networks(filters=project_filters(project_name))


def project_images(api, project_name, containers=None):
    """Images of the project (one list call): those built by Compose for it (labeled) plus
    those its containers run."""
    used = {c.get("ImageID") for c in containers or [] if c.get("ImageID")}
    images = []
    for image in api.images(all=False):
        labels = image.get("Labels") or {}
        if image.get("Id") in used or labels.get(PROJECT_LABEL) == project_name:
            images.append(image)
    return images


def container_name(summary):
    names = summary.get("Names") or []
    return names[0].lstrip("/") if names else summary.get("Id", "")[:12]


_HEALTH_IN_STATUS = (("(health: starting)", "starting"), ("(unhealthy)", "unhealthy"), ("(healthy)", "healthy"))


def health_from_status(status):
    """Health from a container summary's Status ('Up 5 minutes (healthy)'); None when it has no
    healthcheck or is not running."""
    for marker, health in _HEALTH_IN_STATUS:
        if marker in (status or ""):
            return health
    return None


def summarize(values, empty=None):
    """One word for a set of per-container values: the value if they agree, 'mixed' if not."""
    distinct = sorted(set(values), key=str)
    if not distinct:
        return empty
    return distinct[0] if len(distinct) == 1 else "mixed"
