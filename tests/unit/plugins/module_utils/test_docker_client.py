"""Pure parts of the Docker client wrapper: option spec, endpoint handling, error messages."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import docker_client as dc


# Real error texts as docker SDK 7.1 / requests produce them (captured from this engine).
MISSING = ("DockerException: Error while fetching server API version: ('Connection aborted.', "
           "FileNotFoundError(2, 'No such file or directory'))")
DENIED = ("DockerException: Error while fetching server API version: ('Connection aborted.', "
          "PermissionError(13, 'Permission denied'))")
REFUSED = ("DockerException: Error while fetching server API version: HTTPConnectionPool(host='127.0.0.1', "
           "port=1): Max retries exceeded with url: /version (Caused by NewConnectionError(\"HTTPConnection"
           "(host='127.0.0.1', port=1): Failed to establish a new connection: [Errno 111] Connection refused\"))")
TLS = ("SSLError: HTTPSConnectionPool(host='h', port=2376): Max retries exceeded (Caused by SSLError("
       "SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))")
TOO_NEW = "APIError: 400 Client Error: Bad Request (\"client version 1.45 is too new. Maximum supported API version is 1.41\")"
TOO_OLD = "InvalidVersion: API versions below 1.24 are no longer supported by this library."
TIMEOUT = "ReadTimeout: UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=60)"
DNS = ("ConnectionError: HTTPConnectionPool(host='nohost', port=2375): Max retries exceeded (Caused by "
       "NameResolutionError(\"Failed to resolve 'nohost' ([Errno -2] Name or service not known)\"))")
BAD = "DockerException: Invalid bind address format: foo"


@pytest.mark.parametrize("error, kind", [
    (MISSING, "socket_missing"),
    (DENIED, "permission_denied"),
    (REFUSED, "refused"),
    (TLS, "tls"),
    (TOO_NEW, "api_too_new"),
    (TOO_OLD, "api_too_old"),
    (TIMEOUT, "timeout"),
    (DNS, "unresolvable"),
    (BAD, "bad_host"),
    ("something else entirely", "other"),
    (FileNotFoundError(2, "No such file or directory"), "socket_missing"),
    (PermissionError(13, "Permission denied"), "permission_denied"),
])
def test_classify_engine_error(error, kind):
    assert dc.classify_engine_error(error) == kind


@pytest.mark.parametrize("endpoint, error, must_contain", [
    ("unix:///nonexistent.sock", MISSING,
     ["no Docker engine answers at unix:///nonexistent.sock", "/nonexistent.sock does not exist",
      "is dockerd running?", "docker_host/DOCKER_HOST"]),
    ("unix:///var/run/docker.sock", DENIED,
     ["permission denied on /var/run/docker.sock", "add the user to the docker group", "become"]),
    ("tcp://127.0.0.1:1", REFUSED,
     ["no Docker engine answers at tcp://127.0.0.1:1", "connection refused", "is dockerd running?"]),
    ("tcp://h:2376", TLS, ["TLS with the Docker engine at tcp://h:2376 failed", "CERTIFICATE_VERIFY_FAILED",
                           "ca_path", "tls_verify"]),
    ("unix:///var/run/docker.sock", TOO_NEW, ["older than the requested API", "1.45 is too new", "api_version"]),
    ("unix:///var/run/docker.sock", TOO_OLD, ["not supported", "api_version"]),
    ("unix:///var/run/docker.sock", TIMEOUT, ["did not answer within 60 s", "timeout/DOCKER_TIMEOUT"]),
    ("tcp://nohost:2375", DNS, ["cannot resolve the host of docker_host tcp://nohost:2375"]),
    ("foo", BAD, ["docker_host foo is not a valid Docker endpoint"]),
    ("unix:///x.sock", "weird", ["cannot talk to the Docker engine at unix:///x.sock: weird"]),
])
def test_engine_error_message_names_endpoint_and_remedy(endpoint, error, must_contain):
    msg = dc.engine_error_message(endpoint, error)
    for fragment in must_contain:
        assert fragment in msg


def test_engine_error_message_uses_the_configured_timeout():
    assert "within 7 s" in dc.engine_error_message("unix:///x.sock", TIMEOUT, timeout=7)


def test_engine_error_message_shortens_huge_errors():
    assert len(dc.engine_error_message("unix:///x", "x" * 5000)) < 400


@pytest.mark.parametrize("server, minimum, problem", [
    ("1.41", None, False),
    ("1.41", "1.41", False),
    ("1.41", "1.25", False),
    ("1.41", "1.44", True),
    ("1.9", "1.10", True),   # numeric, not string, comparison
    (None, "1.44", False),
])
def test_api_version_problem(server, minimum, problem):
    msg = dc.api_version_problem("unix:///s", server, minimum)
    assert bool(msg) is problem
    if problem:
        assert "unix:///s" in msg and minimum in msg and server in msg


@pytest.mark.parametrize("given, expected", [
    (None, "unix:///var/run/docker.sock"),
    ("", "unix:///var/run/docker.sock"),
    ("/run/user/1000/docker.sock", "unix:///run/user/1000/docker.sock"),
    ("unix:///x.sock", "unix:///x.sock"),
    ("tcp://1.2.3.4:2376", "tcp://1.2.3.4:2376"),
    ("ssh://me@host", "ssh://me@host"),
])
def test_normalize_docker_host(given, expected):
    assert dc.normalize_docker_host(given) == expected


@pytest.mark.parametrize("endpoint, path", [
    ("unix:///var/run/docker.sock", "/var/run/docker.sock"),
    ("tcp://h:1", None),
    (None, None),
])
def test_socket_path(endpoint, path):
    assert dc.socket_path(endpoint) == path


@pytest.mark.parametrize("params, expected", [
    ({}, None),
    ({"tls": False, "tls_verify": False}, None),
    ({"tls": True}, {"verify": False}),
    ({"tls": True, "ca_path": "/ca.pem"}, {"verify": False}),   # CA only matters when verifying
    ({"tls_verify": True, "ca_path": "/ca.pem"}, {"verify": True, "ca_cert": "/ca.pem"}),
    ({"tls": True, "client_cert": "/c.pem", "client_key": "/k.pem"},
     {"verify": False, "client_cert": ("/c.pem", "/k.pem")}),
    ({"tls": True, "client_cert": "/c.pem"}, {"verify": False}),  # a cert without its key is useless
])
def test_tls_settings(params, expected):
    assert dc.tls_settings(params) == expected


def test_argument_spec_is_a_deep_copy_merged_with_extra():
    spec = dc.docker_argument_spec(project_dir=dict(type="path", required=True))
    assert set(dc.DOCKER_COMMON_OPTIONS) <= set(spec)
    assert spec["project_dir"] == {"type": "path", "required": True}
    spec["timeout"]["default"] = 1
    assert dc.DOCKER_COMMON_OPTIONS["timeout"]["default"] == 60


@pytest.mark.parametrize("option, env_name", [
    ("docker_host", "DOCKER_HOST"),
    ("tls", "DOCKER_TLS"),
    ("tls_verify", "DOCKER_TLS_VERIFY"),
    ("api_version", "DOCKER_API_VERSION"),
    ("timeout", "DOCKER_TIMEOUT"),
])
def test_env_fallbacks(option, env_name):
    strategy, args = dc.DOCKER_COMMON_OPTIONS[option]["fallback"]
    assert args == [env_name]


@pytest.mark.parametrize("option, filename", [
    ("ca_path", "ca.pem"), ("client_cert", "cert.pem"), ("client_key", "key.pem"),
])
def test_cert_path_fallback(monkeypatch, option, filename):
    strategy, args = dc.DOCKER_COMMON_OPTIONS[option]["fallback"]
    monkeypatch.setenv("DOCKER_CERT_PATH", "/certs")
    assert strategy(*args) == "/certs/" + filename
    monkeypatch.delenv("DOCKER_CERT_PATH")
    with pytest.raises(dc.AnsibleFallbackNotFound):
        strategy(*args)


def test_env_fallback_is_used_by_ansible_validation(monkeypatch):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    monkeypatch.setenv("DOCKER_TIMEOUT", "5")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    result = ArgumentSpecValidator(dc.docker_argument_spec()).validate({})
    assert result.error_messages == []
    assert result.validated_parameters["docker_host"] == "tcp://10.0.0.1:2375"
    assert result.validated_parameters["timeout"] == 5
    assert result.validated_parameters["tls_verify"] is False


@pytest.mark.parametrize("options, expected", [
    (None, False),
    ([], False),
    (["name=apparmor", "name=seccomp,profile=default", "name=cgroupns"], False),
    (["name=seccomp,profile=default", "name=userns"], True),
    (["name=seccomp,profile=default", "name=rootless", "name=cgroupns"], True),
    (["name=usernsx"], False),
])
def test_remaps_ids(options, expected):
    assert dc.remaps_ids(options) is expected
