"""The in-container measuring program, run here with this Python against a local HTTP server.

It is the same program the module sends into containers; running it on the host checks its
timer, the process-group kill at the limit, status codes, refusals and the /proc port reader.
"""
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_incontainer import (
    MEASURE_SCRIPT,
    measure_request,
    parse_measure_output,
    parse_verified,
    parse_proc_net_tcp,
    parse_shell_tools,
)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(3)
        code = {"/ok": 200, "/bad": 500, "/slow": 200, "/q?x=1&y=2": 201, "/?only=query": 202}.get(self.path, 404)
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"x")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def run(probe=None, binary=None, tools=(), resolve=(), fetch=(), probe_limit=5, dns_limit=5, fetch_limit=1):
    request = measure_request(probe, binary, tools, resolve, fetch, probe_limit, dns_limit, fetch_limit)
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", MEASURE_SCRIPT, request], capture_output=True, check=False, timeout=60)
    result = parse_measure_output(proc.stdout)
    assert result is not None, proc.stderr
    return result, time.monotonic() - began


def test_probe_exit_code_output_and_timer():
    result, dummy = run(probe=["sh", "-c", "echo hello; exit 3"])
    manual = result["manual_probe"]
    assert manual["exit_code"] == 3 and manual["output"].strip() == "hello" and not manual["timed_out"]
    assert 0 <= manual["seconds"] < 2


def test_probe_limit_kills_the_whole_process_group():
    """`sh -c 'sleep 30'`: the grandchild holds the pipe; without a group kill we would wait 30 s."""
    result, wall = run(probe=["sh", "-c", "sleep 30; echo late"], probe_limit=0.5)
    manual = result["manual_probe"]
    assert manual["timed_out"] is True and manual["exit_code"] is None
    assert 0.5 <= manual["seconds"] < 3
    assert wall < 10


def test_missing_binary_is_an_exec_error():
    result, dummy = run(probe=["no-such-probe-binary-xyz", "--check"], binary="no-such-probe-binary-xyz")
    assert result["manual_probe"]["exec_error_kind"] == "not_found"
    assert result["probe_binary"] == {"name": "no-such-probe-binary-xyz", "path": None, "checked": True}


def test_output_is_capped_like_docker():
    result, dummy = run(probe=[sys.executable, "-c", "print('y' * 10000)"])
    assert len(result["manual_probe"]["output"]) == 4096


def test_tools_found_on_path():
    result, dummy = run(tools=["sh", "no-such-tool-xyz"])
    assert result["tools"]["sh"] and os.path.basename(result["tools"]["sh"]) == "sh"
    assert result["tools"]["no-such-tool-xyz"] is None


def test_fetch_statuses_refusal_and_timeout(server):
    dead = closed_port()
    result, dummy = run(fetch=[("direct", "http://127.0.0.1:%d/ok" % server),
                               ("bad", "http://127.0.0.1:%d/bad" % server),
                               ("missing", "http://127.0.0.1:%d/nope" % server),
                               ("dead", "http://127.0.0.1:%d/ok" % dead),
                               ("slow", "http://127.0.0.1:%d/slow" % server)], fetch_limit=1)
    by = dict((f["purpose"], f) for f in result["fetches"])
    assert by["direct"]["status"] == 200 and by["direct"]["seconds"] < 1
    assert by["bad"]["status"] == 500
    assert by["missing"]["status"] == 404
    assert by["dead"]["status"] is None and by["dead"]["error_kind"] == "refused"
    assert by["slow"]["status"] is None and by["slow"]["error_kind"] == "timeout"


def test_resolve_localhost_and_listening_ports(server):
    result, dummy = run(resolve=[("localhost", server)])
    lookup = result["dns"][0]
    assert lookup["name"] == "localhost" and "127.0.0.1" in lookup["addresses"] and lookup["seconds"] < 5
    if result.get("listening_ports") is not None:  # /proc/net/tcp exists on Linux
        assert server in result["listening_ports"]


def test_parse_proc_net_tcp():
    text = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            "   0: 00000000:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
            "   1: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
            "   2: 0100007F:1F41 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n")
    assert parse_proc_net_tcp(text) == [53, 8001]


def test_parse_shell_tools():
    assert parse_shell_tools("curl /usr/bin/curl\nsh /bin/sh\n", ["curl", "wget"]) == {"curl": "/usr/bin/curl",
                                                                                       "wget": None}


@pytest.mark.parametrize("stdout, ok", [
    (b'{"helper": "python", "tools": {}}', True),
    (b'noise {"helper": "python"}', True),
    (b"OCI runtime exec failed", False),
    (b'{"other": 1}', False),
    (b"{broken", False),
    (b"", False),
])
def test_parse_measure_output(stdout, ok):
    assert (parse_measure_output(stdout) is not None) is ok


def test_request_is_json():
    request = json.loads(measure_request(["CMD"], None, ["curl"], [("a", 1)], [("direct", "http://x/")], 1, 2, 3))
    assert request["resolve"] == [["a", 1]] and request["fetch"] == [["direct", "http://x/"]]


def test_fetch_sends_path_and_query_and_drops_the_fragment(server):
    """The fetch is a plain HTTP GET over a socket: the request line must carry path and query as given."""
    result, dummy = run(fetch=[("query", "http://127.0.0.1:%d/q?x=1&y=2#frag" % server),
                               ("bare_query", "http://127.0.0.1:%d?only=query" % server),
                               ("userinfo", "http://user@127.0.0.1:%d/ok" % server)])
    by = dict((f["purpose"], f) for f in result["fetches"])
    assert by["query"]["status"] == 201 and by["query"]["tool"] == "python-socket"
    assert by["bare_query"]["status"] == 202
    assert by["userinfo"]["status"] == 200


def test_fetch_of_something_that_is_not_http_is_an_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer():
        conn, dummy = listener.accept()
        conn.recv(1024)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    result, dummy = run(fetch=[("direct", "http://127.0.0.1:%d/health" % listener.getsockname()[1])])
    listener.close()
    fetched = result["fetches"][0]
    assert fetched["status"] is None and fetched["error_kind"] == "other" and "not an HTTP answer" in fetched["error"]


def test_fetch_over_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")

    class V6Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    try:
        httpd = V6Server(("::1", 0), Handler)
    except OSError as exc:
        pytest.skip("no IPv6 loopback here: %s" % exc)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        result, dummy = run(fetch=[("direct", "http://[::1]:%d/bad" % httpd.server_address[1])])
    finally:
        httpd.shutdown()
    assert result["fetches"][0]["status"] == 500


def test_helper_runs_isolated_from_the_apps_python_environment(tmp_path):
    """-I -S: a PYTHONPATH with a module shadowing `json` (as an app image might set) does not break the helper."""
    (tmp_path / "json.py").write_text("raise SystemExit('shadowed json imported')\n")
    request = measure_request(["sh", "-c", "exit 0"], None, (), (), (), 5, 1, 1)
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", MEASURE_SCRIPT, request], capture_output=True,
                          check=False, timeout=60, env=dict(os.environ, PYTHONPATH=str(tmp_path)), cwd=str(tmp_path))
    result = parse_measure_output(proc.stdout)
    assert result is not None, proc.stderr
    assert result["manual_probe"]["exit_code"] == 0


def dialogue(reply, probe=None, probe_limit=5):
    """Run MEASURE_SCRIPT in dialogue mode the way exec_dialogue does: read a line, answer one."""
    request = measure_request(probe, None, (), (), (), probe_limit, 1, 1, ports=False, dialogue=True)
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", MEASURE_SCRIPT, request], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    assert parse_measure_output(first) is not None, first
    out, dummy = proc.communicate(reply, timeout=30)
    return first, out, proc.returncode


def test_dialogue_runs_the_probe_it_is_answered_with():
    argv = [sys.executable, "-c", "import sys; print('second turn'); sys.exit(3)"]
    first, rest, code = dialogue(json.dumps({"probe": argv, "limit": 5}).encode() + b"\n", probe=["true"])
    assert code == 0
    assert json.loads(first)["manual_probe"]["exit_code"] == 0
    verified = parse_verified(rest)
    assert verified["exit_code"] == 3 and "second turn" in verified["output"] and not verified["timed_out"]


@pytest.mark.parametrize("reply", [b"\n", b"", b"not json\n", b"[1, 2]\n", b'{"probe": []}\n'])
def test_dialogue_without_a_probe_ends_quietly(reply):
    dummy, rest, code = dialogue(reply)
    assert code == 0 and parse_verified(rest) is None and rest.strip() == b""


def test_dialogue_probe_is_killed_at_its_limit():
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    began = time.monotonic()
    dummy, rest, dummy_code = dialogue(json.dumps({"probe": argv, "limit": 0.5}).encode() + b"\n")
    verified = parse_verified(rest)
    assert verified["timed_out"] and verified["exit_code"] is None
    assert time.monotonic() - began < 10


@pytest.mark.parametrize("rest, expected", [
    (b"", None),
    (b'{"verified": {"exit_code": 0}}\n', {"exit_code": 0}),
    (b'noise\n{"verified": {"exit_code": 1}}\n', {"exit_code": 1}),
    (b'{"verified": "not a dict"}\n', None),
    ('{"verified": {"exit_code": 2}}', {"exit_code": 2}),
])
def test_parse_verified(rest, expected):
    assert parse_verified(rest) == expected
