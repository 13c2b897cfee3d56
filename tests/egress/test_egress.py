"""Controlled internet access (issue 13): the policy path from user code in a
sandbox through kilnd's proxy to test hosts in a network namespace."""
import json
import subprocess
import time

import pytest
import requests

from conftest import ALLOWED_IP, OUTSIDE_IP, PORT

H = f"http://allowed.test:{PORT}"


def curl(kilnd, sid, url, *flags):
    r = kilnd.run(sid, "curl -fsS --max-time 20 " + " ".join(flags) + f" '{url}'")
    return r["exit_code"], r["stdout"], r["stderr"]


def fetch_py(kilnd, sid, url):
    """urllib through the environment's proxy; prints ok:<body> or err:<message>."""
    return kilnd.py(sid, f"""
import os, urllib.request
os.environ['no_proxy'] = os.environ['NO_PROXY'] = ''  # literals like 127.0.0.1 too
try:
    print('ok:' + urllib.request.urlopen({url!r}, timeout=20).read().decode())
except Exception as e:
    print('err:' + str(e))
""").strip()


def entries(kilnd, sid, host=None):
    return [e for e in kilnd.log(sid)["entries"] if host is None or e["host"] == host]


def healthy(kilnd):
    assert kilnd.req("GET", "/healthz").status_code == 200


# ---------------------------------------------------------------- none

def test_none_blocks_everything_and_sees_only_lo(kilnd, sandbox, testnet):
    sid = sandbox()
    before = testnet.stats()
    t0 = time.time()
    code, out, err = curl(kilnd, sid, f"{H}/hello")
    assert code != 0 and "403" in err, (code, out, err)
    code, out, err = curl(kilnd, sid, f"https://allowed.test/")
    assert code != 0 and "403" in err, (code, out, err)
    r = fetch_py(kilnd, sid, f"{H}/hello")
    assert r.startswith("err:") and "no network access" in r, r
    assert time.time() - t0 < 10, "refusals must be fast"
    res = json.loads(kilnd.py(sid, f"""
import json, socket, errno
out = {{'dev': open('/proc/net/dev').read(), 'route': open('/proc/net/route').read()}}
for ip in ({ALLOWED_IP!r}, '169.254.169.254', '8.8.8.8'):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect((ip, {PORT})); out[ip] = 'connected'
    except OSError as e:
        out[ip] = errno.errorcode.get(e.errno, str(e))
    finally:
        s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b'x', ('8.8.8.8', 53)); out['udp'] = 'sent'
except OSError as e:
    out['udp'] = errno.errorcode.get(e.errno, str(e))
print(json.dumps(out))
"""))
    ifaces = [l.split(":")[0].strip() for l in res["dev"].splitlines()[2:] if ":" in l]
    assert ifaces == ["lo"], ifaces
    assert [r for r in res["route"].splitlines()[1:] if r.strip()] == [], res["route"]
    for ip in (ALLOWED_IP, "169.254.169.254", "8.8.8.8"):
        assert res[ip] == "ENETUNREACH", res
    assert res["udp"] == "ENETUNREACH", res
    assert testnet.stats() == before, "a request reached the test host"
    log = entries(kilnd, sid)
    assert log and all(e["decision"] == "denied" and e["rule"] == "none" for e in log), log
    healthy(kilnd)


# ---------------------------------------------------------------- allowed

def test_allowlisted_host_works_from_each_client(kilnd, sandbox, testnet):
    sid = sandbox(network={"allow": [f"allowed.test:{PORT}"]})
    code, out, err = curl(kilnd, sid, f"{H}/hello")
    assert code == 0 and out == f"hello from allowed.test:{PORT}", (out, err)
    # -p: a CONNECT tunnel (what HTTPS uses), here carrying plain HTTP.
    code, out, err = curl(kilnd, sid, f"{H}/hello", "-p")
    assert code == 0 and out.startswith("hello from allowed.test"), (out, err)
    assert fetch_py(kilnd, sid, f"{H}/hello").startswith("ok:hello from allowed.test")
    out = kilnd.py(sid, f"import requests; print(requests.get('{H}/hello', timeout=20).text)")
    assert out.strip().startswith("hello from allowed.test"), out
    log = entries(kilnd, sid, "allowed.test")
    assert len(log) == 4, log
    for e in log:
        assert e["decision"] == "allowed" and e["rule"] == f"allowed.test:{PORT}", e
        assert e["address"] == ALLOWED_IP and e["port"] == PORT and e["bytes_down"] > 0, e
        assert e["workspace"] == "default" and e["sandbox"] == sid
    assert {e["kind"] for e in log} == {"http", "connect"}
    # The port is part of the rule.
    code, _, err = curl(kilnd, sid, "http://allowed.test:8081/hello")
    assert code != 0 and "403" in err
    assert entries(kilnd, sid)[-1]["decision"] == "denied"


def test_wildcard_and_deny_rules(kilnd, sandbox, testnet):
    sid = sandbox(network={"allow": ["*.allowed.test", "other.test"], "deny": ["other.test"]})
    code, out, _ = curl(kilnd, sid, f"http://api.allowed.test:{PORT}/hello")
    assert code == 0 and out.startswith("hello from api.allowed.test"), out
    # "*.x" is below x, not x itself.
    code, _, err = curl(kilnd, sid, f"{H}/hello")
    assert code != 0 and "403" in err
    r = fetch_py(kilnd, sid, f"http://other.test:{PORT}/hello")
    assert "denied by rule" in r and "other.test" in r, r
    log = entries(kilnd, sid)
    assert [e["decision"] for e in log] == ["allowed", "denied", "denied"], log
    assert log[2]["rule"] == "other.test"


# ---------------------------------------------------------------- refused

@pytest.mark.parametrize("host,what", [
    ("outside.test", "private"),   # a route exists; the policy refuses
    ("lan.test", "private"),
    ("meta.test", "metadata"),
    ("loop.test", "loopback"),
    ("cgnat.test", "cgnat"),
    ("169.254.169.254", "metadata"),
    ("127.0.0.1", "loopback"),
    (OUTSIDE_IP, "private"),
])
def test_private_and_metadata_refused_even_if_allowed(kilnd, sandbox, testnet, host, what):
    sid = sandbox(network={"allow": [host, "*.test"]})
    before = testnet.stats()
    r = fetch_py(kilnd, sid, f"http://{host}:{PORT}/hello")
    assert r.startswith("err:") and what in r, r
    e = entries(kilnd, sid)[-1]
    assert e["decision"] == "denied" and e["rule"] == "address" and what in e["reason"], e
    assert testnet.stats() == before
    healthy(kilnd)


def test_internet_mode_refuses_private(kilnd, sandbox, testnet):
    sid = sandbox(network="internet")
    # The operator listed the test subnet's /30: reachable under "internet".
    assert fetch_py(kilnd, sid, f"{H}/hello").startswith("ok:")
    r = fetch_py(kilnd, sid, f"http://outside.test:{PORT}/hello")
    assert "private" in r, r


def test_redirect_to_unlisted_host_refused(kilnd, sandbox, testnet):
    sid = sandbox(network={"allow": ["allowed.test"]})
    before = testnet.stats().get(f"other.test:{PORT}/hello", 0)
    out = kilnd.py(sid, f"""
import requests
try:
    r = requests.get('{H}/redirect?to=http://other.test:{PORT}/hello', timeout=20)
    print('status', r.status_code, r.text[:80])
except Exception as e:
    print('err', e)
""")
    assert "403" in out and "allow list" in out, out
    log = entries(kilnd, sid)
    assert [(e["host"], e["decision"]) for e in log[-2:]] == [
        ("allowed.test", "allowed"), ("other.test", "denied")], log
    assert testnet.stats().get(f"other.test:{PORT}/hello", 0) == before


def test_dns_rebinding_refused(kilnd, sandbox, testnet):
    sid = sandbox(network={"allow": ["rebind.test"]})
    testnet.set_hosts({"rebind.test": ALLOWED_IP})
    try:
        assert fetch_py(kilnd, sid, f"http://rebind.test:{PORT}/hello").startswith("ok:")
        # The answer changes to the metadata address, then to loopback.
        testnet.set_hosts({"rebind.test": "169.254.169.254"})
        assert "metadata" in fetch_py(kilnd, sid, f"http://rebind.test:{PORT}/hello")
        testnet.set_hosts({"rebind.test": f"127.0.0.1"})
        assert "loopback" in fetch_py(kilnd, sid, f"http://rebind.test:{PORT}/hello")
        # A mixed answer: only the checked address is used.
        testnet.set_hosts({})
        with open(testnet.hosts, "a") as f:
            f.write(f"127.0.0.1 rebind.test\n{ALLOWED_IP} rebind.test\n")
        assert fetch_py(kilnd, sid, f"http://rebind.test:{PORT}/hello").startswith("ok:")
        log = entries(kilnd, sid)
        assert [(e["decision"], e["address"]) for e in log] == [
            ("allowed", ALLOWED_IP), ("denied", "169.254.169.254"), ("denied", "127.0.0.1"),
            ("allowed", ALLOWED_IP)], log
    finally:
        testnet.set_hosts({})
    healthy(kilnd)


# ---------------------------------------------------------------- runtime changes

HOLD = f"""
import socket, time
s = socket.create_connection(('127.0.0.1', 3128), timeout=30)
s.sendall(b'CONNECT allowed.test:{PORT} HTTP/1.1\\r\\nHost: allowed.test:{PORT}\\r\\n\\r\\n')
head = s.recv(4096)
open('/tmp/tunnel', 'w').write(head.decode())
t0 = time.time()
try:
    data = s.recv(4096)
    res = 'eof' if data == b'' else 'data'
except OSError as e:
    res = 'error ' + str(e)
open('/tmp/tunnel', 'a').write('|' + res + '|%.1f' % (time.time() - t0))
"""


def test_patch_adds_removes_and_closes_open_connections(kilnd, sandbox, testnet):
    sid = sandbox(network={"allow": []})
    assert "allow list" in fetch_py(kilnd, sid, f"{H}/hello")
    r = kilnd.patch(sid, {"allow": ["allowed.test", "other.test"]})
    assert r.status_code == 200 and r.json()["network"]["allow"] == ["allowed.test", "other.test"]
    assert fetch_py(kilnd, sid, f"{H}/hello").startswith("ok:")
    # An open tunnel to allowed.test, held by a background command.
    kilnd.req("PUT", f"/v1/sandboxes/{sid}/files/content?path=/tmp/hold.py", data=HOLD.encode())
    r = kilnd.req("POST", f"/v1/sandboxes/{sid}/commands",
                  json={"cmd": "python3 /tmp/hold.py", "background": True})
    assert r.status_code == 201, r.text
    for _ in range(100):
        if kilnd.req("GET", f"/v1/sandboxes/{sid}/network").json()["open_connections"] == 1:
            break
        time.sleep(0.05)
    assert kilnd.req("GET", f"/v1/sandboxes/{sid}/network").json()["open_connections"] == 1
    # Removing other.test keeps the tunnel; removing allowed.test closes it.
    r = kilnd.patch(sid, {"allow": ["allowed.test"]})
    assert r.json()["connections_closed"] == 0
    assert "allow list" in fetch_py(kilnd, sid, f"http://other.test:{PORT}/hello")
    t0 = time.time()
    r = kilnd.patch(sid, {"allow": ["other.test"]})
    assert r.status_code == 200 and r.json()["connections_closed"] == 1, r.text
    text = ""
    for _ in range(100):
        text = kilnd.run(sid, "cat /tmp/tunnel")["stdout"]
        if text.count("|") == 2:
            break
        time.sleep(0.05)
    assert text.startswith("HTTP/1.1 200") and "|eof|" in text, text
    assert time.time() - t0 < 5
    assert "allow list" in fetch_py(kilnd, sid, f"{H}/hello")
    closed = [e for e in entries(kilnd, sid) if e.get("closed_by_policy")]
    assert len(closed) == 1 and closed[0]["host"] == "allowed.test" and not closed[0]["open"]
    # A bad PATCH is 400 and changes nothing.
    for bad in ("host", {"allow": ["*"]}, {"allow": "x"}, {"allow": [1]}, {"nope": []}):
        assert kilnd.patch(sid, bad).status_code == 400, bad
    assert kilnd.req("GET", f"/v1/sandboxes/{sid}").json()["network"] == {
        "allow": ["other.test"], "deny": []}


def test_workspace_ceiling_narrows_never_widens(kilnd, sandbox, testnet):
    """The operator's ceiling (kilnd network-ceiling): a sandbox's policy may
    narrow it, never widen it, at create and on PATCH; another workspace's
    ceiling changes nothing here; clearing it lifts it at once."""
    d = kilnd.d
    ceiling = {"allow": [f"allowed.test:{PORT}", "*.allowed.test"], "deny": ["api.allowed.test"]}
    out = d.admin("network-ceiling", "set", "--workspace", "default", "--policy",
                  json.dumps(ceiling))
    assert "network ceiling" in out, out
    d.admin("network-ceiling", "set", "--workspace", "team-b", "--policy", '"none"')
    try:
        listed = d.admin("network-ceiling", "list")
        assert "default" in listed and "team-b" in listed, listed
        # Wider than the ceiling: 400 naming the rule, and no sandbox made.
        before = len(kilnd.req("GET", "/v1/sandboxes").json()["sandboxes"])
        for wide, needle in (("internet", "internet"),
                             ({"allow": ["other.test"], "deny": ["api.allowed.test"]}, "other.test"),
                             ({"allow": [f"allowed.test:{PORT}"]}, "api.allowed.test")):
            r = kilnd.req("POST", "/v1/sandboxes", json={"network": wide})
            assert r.status_code == 400 and needle in r.json()["error"]["message"], r.text
        assert len(kilnd.req("GET", "/v1/sandboxes").json()["sandboxes"]) == before
        # Within it: made, and the allowed host answers.
        sid = sandbox(network={"allow": [f"allowed.test:{PORT}"], "deny": ["api.allowed.test"]})
        assert fetch_py(kilnd, sid, f"{H}/hello").startswith("ok:hello from allowed.test")
        # PATCH cannot widen it either; the policy stays as it was.
        r = kilnd.patch(sid, {"allow": ["other.test"], "deny": ["api.allowed.test"]})
        assert r.status_code == 400 and "ceiling" in r.json()["error"]["message"], r.text
        assert kilnd.req("GET", f"/v1/sandboxes/{sid}").json()["network"]["allow"] == [
            f"allowed.test:{PORT}"]
        assert "allow list" in fetch_py(kilnd, sid, f"http://other.test:{PORT}/hello")
        # "none" is always within a ceiling.
        assert kilnd.patch(sid, "none").status_code == 200
        # A malformed ceiling is refused by the admin command and not stored.
        bad = subprocess.run([d.kilnd, "network-ceiling", "set", "--workspace", "default",
                              "--policy", '{"allow": ["*"]}', "--data-dir", d.data_dir],
                             capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0 and "kilnd:" in bad.stderr, bad
        assert kilnd.req("POST", "/v1/sandboxes", json={"network": "internet"}).status_code == 400
    finally:
        d.admin("network-ceiling", "clear", "--workspace", "default")
        d.admin("network-ceiling", "clear", "--workspace", "team-b")
    # Cleared: "internet" is allowed again, without a restart.
    sandbox(network="internet")
    healthy(kilnd)


@pytest.mark.parametrize("network", [
    "host", "all", {"allow": ["*"]}, {"allow": ["a..b"]}, {"allow": ["10.0.0.1/8"]},
    {"allow": ["x.org:0"]}, {"allow": ["x.org:99999"]}, {"allow": "pypi.org"}, {"other": []}, 5,
])
def test_bad_policies_are_400(kilnd, network):
    r = kilnd.req("POST", "/v1/sandboxes", json={"network": network})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


# ---------------------------------------------------------------- isolation, accounting

def test_two_sandboxes_never_see_each_others_traffic(kilnd, sandbox, testnet):
    a = sandbox(network={"allow": ["allowed.test"]})
    b = sandbox(network={"allow": ["other.test"]})
    assert fetch_py(kilnd, a, f"{H}/hello").startswith("ok:")
    assert "allow list" in fetch_py(kilnd, b, f"{H}/hello")
    assert fetch_py(kilnd, b, f"http://other.test:{PORT}/hello").startswith("ok:")
    la, lb = entries(kilnd, a), entries(kilnd, b)
    assert [(e["host"], e["decision"]) for e in la] == [("allowed.test", "allowed")]
    assert [(e["host"], e["decision"]) for e in lb] == [
        ("allowed.test", "denied"), ("other.test", "allowed")]
    # A's proxy port in B's namespace is B's own proxy: B's policy applies.
    assert all(e["sandbox"] == a for e in la) and all(e["sandbox"] == b for e in lb)


def test_bytes_metered_and_usage(kilnd, sandbox, testnet):
    sid = sandbox(network={"allow": ["allowed.test"]})
    n = 5_000_000
    r = kilnd.run(sid, f"curl -sS -o /tmp/big -w '%{{size_download}} %{{size_header}}' "
                       f"'{H}/big?n={n}'")
    assert r["exit_code"] == 0, r
    body, header = map(int, r["stdout"].split())
    assert body == n
    e = entries(kilnd, sid)[-1]
    assert not e["open"]
    assert abs(e["bytes_down"] - (body + header)) <= (body + header) * 0.01, (e, body, header)
    assert e["bytes_up"] > 0 and e["duration_ms"] >= 0
    info = kilnd.req("GET", f"/v1/sandboxes/{sid}").json()
    assert info["usage"]["egress_bytes"] == e["bytes_up"] + e["bytes_down"]
    metrics = kilnd.req("GET", "/metrics").text
    assert 'kiln_egress_connections_total{decision="allowed"}' in metrics
    assert 'kiln_egress_connections_total{decision="denied"}' in metrics


# ---------------------------------------------------------------- attacks

def test_proxy_abuse_leaves_kilnd_and_neighbour_intact(kilnd, sandbox, testnet):
    neighbour = sandbox(network={"allow": ["allowed.test"]})
    sid = sandbox()
    out = kilnd.py(sid, """
import socket, errno, json
res = {}
# Take the proxy's port: refused (kilnd's socket holds it).
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(('127.0.0.1', 3128)); s.listen(1); res['bind'] = 'bound'
except OSError as e:
    res['bind'] = errno.errorcode.get(e.errno, str(e))
# Oversized header, garbage, a smuggled absolute URL and 200 idle connections.
def talk(data):
    c = socket.create_connection(('127.0.0.1', 3128), timeout=15)
    try:
        c.sendall(data)
        return c.recv(200).decode(errors='replace').split('\\r\\n')[0]
    except OSError as e:
        return 'error ' + str(e)
    finally:
        c.close()
res['huge'] = talk(b'GET http://a.test/ HTTP/1.1\\r\\nX: ' + b'a' * 70000 + b'\\r\\n\\r\\n')
res['garbage'] = talk(b'\\x16\\x03\\x01garbage\\r\\n\\r\\n')
res['userinfo'] = talk(b'GET http://allowed.test@169.254.169.254/ HTTP/1.1\\r\\n\\r\\n')
res['connect_meta'] = talk(b'CONNECT 169.254.169.254:80 HTTP/1.1\\r\\n\\r\\n')
idle = [socket.create_connection(('127.0.0.1', 3128)) for _ in range(600)]  # over the cap of 256
res['after_cap'] = talk(b'CONNECT 10.0.0.1:80 HTTP/1.1\\r\\n\\r\\n')
for c in idle:
    c.close()
import time
time.sleep(0.5)
res['recovered'] = talk(b'CONNECT 169.254.169.254:80 HTTP/1.1\\r\\n\\r\\n')
print(json.dumps(res))
""")
    res = json.loads(out)
    assert res["bind"] == "EADDRINUSE", res
    assert res["huge"] == "" or "error" in res["huge"] or " 4" in res["huge"], res
    assert not res["garbage"].startswith("HTTP/1.1 2"), res
    assert res["userinfo"].startswith("HTTP/1.1 4"), res
    assert res["connect_meta"].startswith("HTTP/1.1 403"), res
    assert not res["after_cap"].startswith("HTTP/1.1 2"), res
    assert res["recovered"].startswith("HTTP/1.1 403"), res  # the proxy serves again
    healthy(kilnd)
    assert fetch_py(kilnd, neighbour, f"{H}/hello").startswith("ok:")
    assert [e["sandbox"] for e in entries(kilnd, neighbour)] == [neighbour]
