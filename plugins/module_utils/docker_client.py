# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Docker client for every module: shared options, connection, clear failure messages.

Modules build their argument_spec with `docker_argument_spec(**their_options)` and get a
connected client with `Phase0DockerClient(module)`. When the engine cannot be reached the
module fails with a message that names the endpoint and says what to do
(`engine_error_message`, a pure function). Per-container work runs concurrently through
`bounded_map` (its own module, so code without Docker does not import the SDK).
"""
from __future__ import annotations

import copy
import os
import re
import traceback

from ansible.module_utils.basic import AnsibleFallbackNotFound, env_fallback, missing_required_lib

try:
    import docker
    import docker.errors
    import docker.tls
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only where the SDK is missing
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 60


def cert_path_fallback(filename):
    """Ansible fallback: `$DOCKER_CERT_PATH/<filename>` when DOCKER_CERT_PATH is set.

    The Docker CLI reads ca.pem, cert.pem and key.pem from that directory; we do the same.
    """
    directory = os.environ.get("DOCKER_CERT_PATH")
    if not directory:
        raise AnsibleFallbackNotFound
    return os.path.join(directory, filename)


DOCKER_COMMON_OPTIONS = dict(
    docker_host=dict(type="str", default=DEFAULT_DOCKER_HOST, aliases=["docker_url"],
                     fallback=(env_fallback, ["DOCKER_HOST"])),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    tls_verify=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS_VERIFY"])),
    ca_path=dict(type="path", fallback=(cert_path_fallback, ["ca.pem"])),
    client_cert=dict(type="path", fallback=(cert_path_fallback, ["cert.pem"])),
    client_key=dict(type="path", no_log=False, fallback=(cert_path_fallback, ["key.pem"])),
    api_version=dict(type="str", default="auto", fallback=(env_fallback, ["DOCKER_API_VERSION"])),
    timeout=dict(type="int", default=DEFAULT_TIMEOUT, fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
)


def docker_argument_spec(**extra):
    """The shared connection options (deep copy) merged with a module's own options."""
    spec = copy.deepcopy(DOCKER_COMMON_OPTIONS)
    spec.update(copy.deepcopy(extra))
    return spec


# --- pure helpers -----------------------------------------------------------------------

def normalize_docker_host(docker_host):
    """Accept a bare socket path as the CLI does; everything else is passed through."""
    host = (docker_host or "").strip() or DEFAULT_DOCKER_HOST
    if host.startswith("/"):
        return "unix://" + host
    return host


def socket_path(endpoint):
    """The filesystem path of a unix:// endpoint, else None."""
    if endpoint and endpoint.startswith("unix://"):
        return endpoint[len("unix://"):]
    return None


def version_tuple(version):
    """'1.41' -> (1, 41); anything unparsable -> ()."""
    parts = []
    for part in str(version or "").split("."):
        if not part.isdigit():
            return ()
        parts.append(int(part))
    return tuple(parts)


def api_version_problem(endpoint, server_api_version, min_api_version):
    """A failure message when the engine's API is older than a module needs, else None."""
    if not min_api_version or not server_api_version:
        return None
    if version_tuple(server_api_version) >= version_tuple(min_api_version):
        return None
    return ("the Docker engine at %s speaks API %s, this module needs API %s or newer: "
            "upgrade Docker Engine on that host or point docker_host/DOCKER_HOST at a newer engine"
            % (endpoint, server_api_version, min_api_version))


_START_HINT = "is dockerd running? start it (systemctl start docker) or set docker_host/DOCKER_HOST"

# (name, pattern over the error text, message template). First match wins, so the specific
# causes come before the generic ones. Templates see endpoint, path, timeout and error.
_ENGINE_ERRORS = (
    ("permission_denied", r"permission denied|PermissionError|Errno 13",
     "permission denied on {path_or_endpoint}: the user running this module cannot open the "
     "Docker socket; add the user to the docker group (then log in again) or use become"),
    ("socket_missing", r"FileNotFoundError|No such file or directory|Errno 2\b",
     "no Docker engine answers at {endpoint}: the socket {path_or_endpoint} does not exist; " + _START_HINT),
    ("refused", r"Connection refused|ConnectionRefused|Errno 111",
     "no Docker engine answers at {endpoint}: connection refused; " + _START_HINT),
    ("tls", r"SSL|TLS|certificate|CERTIFICATE|wrong version number",
     "TLS with the Docker engine at {endpoint} failed ({error}); check tls, tls_verify, ca_path, "
     "client_cert and client_key (or DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), and that the endpoint "
     "really serves TLS"),
    ("api_too_new", r"client version \S+ is too new|Maximum supported API version",
     "the Docker engine at {endpoint} is older than the requested API ({error}); set api_version "
     "to 'auto' or to a version the engine supports, or upgrade Docker Engine"),
    ("api_too_old", r"below \S+ are no longer supported|client version \S+ is too old|"
                    r"Minimum supported API version",
     "the Docker API version requested for {endpoint} is not supported ({error}); set api_version "
     "to 'auto' or upgrade Docker Engine"),
    ("timeout", r"timed out|Timeout|timeout",
     "the Docker engine at {endpoint} did not answer within {timeout} s; it may be overloaded or "
     "hung: check dockerd, or raise timeout/DOCKER_TIMEOUT"),
    ("unresolvable", r"Name or service not known|nodename nor servname|getaddrinfo|"
                     r"Temporary failure in name resolution",
     "cannot resolve the host of docker_host {endpoint}; fix docker_host/DOCKER_HOST"),
    ("bad_host", r"Invalid bind address|invalid.*(url|host)|URLSchemeUnknown|No connection adapters",
     "docker_host {endpoint} is not a valid Docker endpoint ({error}); use unix:///path/to/docker.sock, "
     "tcp://host:port or ssh://user@host"),
)


def classify_engine_error(error):
    """The name of the first `_ENGINE_ERRORS` row matching the error text, or 'other'."""
    text = error if isinstance(error, str) else "%s: %s" % (type(error).__name__, error)
    for name, pattern, dummy in _ENGINE_ERRORS:
        if re.search(pattern, text):
            return name
    return "other"


def engine_error_message(endpoint, error, timeout=None):
    """Turn a connection error into a message naming the endpoint and what to do."""
    text = error if isinstance(error, str) else "%s: %s" % (type(error).__name__, error)
    kind = classify_engine_error(text)
    values = dict(endpoint=endpoint, path_or_endpoint=socket_path(endpoint) or endpoint,
                  timeout=timeout if timeout is not None else DEFAULT_TIMEOUT, error=_short(text))
    for name, dummy, template in _ENGINE_ERRORS:
        if name == kind:
            return template.format(**values)
    return "cannot talk to the Docker engine at {endpoint}: {error}".format(**values)


def _short(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tls_settings(params):
    """The docker.tls.TLSConfig keyword arguments for the options, or None for plain text."""
    if not (params.get("tls") or params.get("tls_verify")):
        return None
    settings = {"verify": bool(params.get("tls_verify"))}
    cert, key = params.get("client_cert"), params.get("client_key")
    if cert and key:
        settings["client_cert"] = (cert, key)
    if params.get("tls_verify") and params.get("ca_path"):
        settings["ca_cert"] = params["ca_path"]
    return settings


def remaps_ids(security_options):
    """True when `docker info`'s SecurityOptions say the engine maps user ids (userns-remap,
    rootless): files in its volume directories are then owned by host ids, while the Engine API's
    archives carry the container's ids, so no fast path may read or write those directories."""
    for option in security_options or ():
        for field in str(option).split(","):
            if field in ("name=userns", "name=rootless"):
                return True
    return False


# --- the client ---------------------------------------------------------------------------

class Phase0DockerClient:
    """Connected Docker clients for a module, or a clean module failure.

    .api is a docker.APIClient, .client a docker.DockerClient sharing it (one connection pool,
    one API version negotiation), .endpoint the docker_host used, .server_api_version the
    engine's API version.
    """

    def __init__(self, module, min_api_version=None):
        self.module = module
        params = module.params
        self.endpoint = normalize_docker_host(params.get("docker_host"))
        self.timeout = params.get("timeout") or DEFAULT_TIMEOUT
        if not HAS_DOCKER:
            module.fail_json(msg=missing_required_lib("docker"), exception=DOCKER_IMPORT_ERROR)
        try:
            tls_kwargs = tls_settings(params)
            tls_config = docker.tls.TLSConfig(**tls_kwargs) if tls_kwargs else False
            self.client = docker.DockerClient(
                base_url=self.endpoint, version=params.get("api_version") or "auto",
                timeout=self.timeout, tls=tls_config)
            self.api = self.client.api
            self.api.ping()
            self.server_api_version = self.api.version().get("ApiVersion")
        # every failure cause, whatever its type, becomes a message naming the endpoint
        except Exception as exc:  # pylint: disable=broad-except
            self.fail(engine_error_message(self.endpoint, exc, self.timeout),
                      error_kind=classify_engine_error(exc), exception=traceback.format_exc())
        problem = api_version_problem(self.endpoint, self.server_api_version, min_api_version)
        if problem:
            self.fail(problem, error_kind="api_too_old")

    def fail(self, msg, **kwargs):
        """module.fail_json with the endpoint in the result, so every failure names it."""
        kwargs.setdefault("docker_host", self.endpoint)
        self.module.fail_json(msg=msg, **kwargs)

    def close(self):
        try:
            self.client.close()
        # closing is best effort
        except Exception:  # pylint: disable=broad-except
            pass
