# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by every module that talks to Docker (`homeiq.phase0.docker`).

    Mirrors DOCKER_COMMON_OPTIONS in plugins/module_utils/docker_client.py exactly.
    """

    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine endpoint, for example V(unix:///var/run/docker.sock), V(tcp://192.0.2.10:2376)
        or V(ssh://user@host).
      - A bare socket path such as V(/run/user/1000/docker.sock) is accepted and means V(unix://) plus that path.
      - If not set in the task, the environment variable E(DOCKER_HOST) is used; if that is unset too, the default.
      - When no engine answers at this endpoint, the module fails with a message naming it and what to do.
    type: str
    default: unix:///var/run/docker.sock
    aliases:
      - docker_url
  tls:
    description:
      - Connect using TLS without verifying the engine's certificate.
      - If not set in the task, the environment variable E(DOCKER_TLS) is used.
      - O(tls_verify=true) implies TLS.
    type: bool
    default: false
  tls_verify:
    description:
      - Connect using TLS and verify the engine's certificate against O(ca_path).
      - If not set in the task, the environment variable E(DOCKER_TLS_VERIFY) is used.
    type: bool
    default: false
  ca_path:
    description:
      - Path to the CA certificate used to verify the engine's certificate when O(tls_verify=true).
      - If not set in the task and E(DOCKER_CERT_PATH) is set, C($DOCKER_CERT_PATH/ca.pem) is used.
    type: path
  client_cert:
    description:
      - Path to the client certificate presented to the engine (needs O(client_key) too).
      - If not set in the task and E(DOCKER_CERT_PATH) is set, C($DOCKER_CERT_PATH/cert.pem) is used.
    type: path
  client_key:
    description:
      - Path to the private key of O(client_cert). The option holds a path, not the key itself.
      - If not set in the task and E(DOCKER_CERT_PATH) is set, C($DOCKER_CERT_PATH/key.pem) is used.
    type: path
  api_version:
    description:
      - The Docker API version to speak, for example V(1.41). V(auto) negotiates the engine's version.
      - If not set in the task, the environment variable E(DOCKER_API_VERSION) is used.
    type: str
    default: auto
  timeout:
    description:
      - Seconds to wait for an answer from the engine for each API call.
      - If not set in the task, the environment variable E(DOCKER_TIMEOUT) is used.
    type: int
    default: 60
requirements:
  - docker (Python SDK) >= 7.0
notes:
  - Connection errors are reported with the endpoint and a remedy, for example
    "no Docker engine answers at unix:///var/run/docker.sock ... is dockerd running?" or
    "permission denied ... add the user to the docker group or use become".
"""
