"""Fixtures for the egress suite: a network namespace holding the test hosts
(an HTTP server on a veth pair), a hosts file kilnd resolves from instead of
DNS, and a kilnd allowed to reach the test subnet. Nothing leaves the
machine: the only routes kilnd's proxy can use lead into the namespace, and
every name resolves from the hosts file (a name not in it does not resolve).

Addresses: 10.250.K.0/29 on the veth (host .1, namespace .2 and .6);
kilnd --egress-allow-cidr 10.250.K.0/30 makes .2 reachable, .6 stays a
private address the proxy must refuse although a route to it exists.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from kilnd import Kilnd  # noqa: E402
import pkg_mirror  # noqa: E402
from openapi import spec  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PID = os.getpid()
K = PID % 200
NS = f"kiln-eg-{PID}"
VH, VN = f"keh{PID % 100000}", f"ken{PID % 100000}"
HOST_IP = f"10.250.{K}.1"
ALLOWED_IP = f"10.250.{K}.2"   # inside the operator's CIDR
OUTSIDE_IP = f"10.250.{K}.6"   # routable, but private and not listed
PORT = 8080
# The operator's package mirrors (served from TestNet.files by the test host).
PIP_INDEX = f"http://pypi.test:{PORT}/files/simple/"
NPM_REGISTRY = f"http://npm.test:{PORT}/files/npm/"


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


class TestNet:
    def __init__(self):
        self.hosts = tempfile.NamedTemporaryFile("w", prefix="kiln-eg-hosts-", delete=False).name
        self.set_hosts({})
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        subprocess.run(["ip", "link", "del", VH], capture_output=True)
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", VH, "type", "veth", "peer", "name", VN)
        sh("ip", "link", "set", VN, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_IP}/29", "dev", VH)
        sh("ip", "link", "set", VH, "up")
        for a in (ALLOWED_IP, OUTSIDE_IP):
            sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{a}/29", "dev", VN)
        sh("ip", "netns", "exec", NS, "ip", "link", "set", VN, "up")
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        self.files = tempfile.mkdtemp(prefix="kiln-eg-files-")
        pkg_mirror.build(self.files, NPM_REGISTRY)
        self.server = subprocess.Popen(
            ["ip", "netns", "exec", NS, sys.executable, os.path.join(HERE, "testnet_server.py"),
             str(PORT), self.files])
        deadline = time.time() + 10
        while True:
            try:
                requests.get(f"http://{ALLOWED_IP}:{PORT}/stats", timeout=1)
                break
            except requests.RequestException:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def set_hosts(self, names):
        """names: {name: address}; the file kilnd reads on every lookup."""
        base = {
            "allowed.test": ALLOWED_IP, "other.test": ALLOWED_IP, "api.allowed.test": ALLOWED_IP,
            "outside.test": OUTSIDE_IP, "meta.test": "169.254.169.254", "loop.test": "127.0.0.1",
            "lan.test": "192.168.77.7", "cgnat.test": "100.64.0.9",
            "pypi.test": ALLOWED_IP, "npm.test": ALLOWED_IP,
        }
        base.update(names)
        tmp = self.hosts + ".new"
        with open(tmp, "w") as f:
            for n, a in base.items():
                f.write(f"{a} {n}\n")
        os.replace(tmp, self.hosts)

    def stats(self):
        return requests.get(f"http://{ALLOWED_IP}:{PORT}/stats", timeout=5).json()

    def close(self):
        self.server.terminate()
        self.server.wait(5)
        subprocess.run(["ip", "link", "del", VH], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
        os.unlink(self.hosts)
        shutil.rmtree(self.files, ignore_errors=True)


@pytest.fixture(scope="session")
def testnet():
    t = TestNet()
    yield t
    t.close()


class Api:
    def __init__(self, d):
        self.d = d
        self.url = d.url
        self.http = requests.Session()

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 120)
        r = self.http.request(method, self.url + path, **kw)
        # Every JSON answer about a sandbox or its network fits docs/openapi.yaml.
        if "/v1/sandboxes" in path and "/files" not in path and r.headers.get(
                "Content-Type", "").startswith("application/json"):
            spec().validate_response(method, path, r.status_code, r.json())
        return r

    def create(self, **body):
        r = self.req("POST", "/v1/sandboxes", json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()["id"]

    def run(self, sid, cmd, timeout_s=60):
        r = self.req("POST", f"/v1/sandboxes/{sid}/commands",
                     json={"cmd": cmd, "timeout_s": timeout_s})
        assert r.status_code == 200, r.text
        return r.json()

    def py(self, sid, code):
        r = self.req("POST", f"/v1/sandboxes/{sid}/execute", json={"code": code})
        assert r.status_code == 200, r.text
        j = r.json()
        assert not j.get("error"), j
        return "".join(j["logs"]["stdout"])

    def log(self, sid):
        r = self.req("GET", f"/v1/sandboxes/{sid}/network/log")
        assert r.status_code == 200, r.text
        return r.json()

    def patch(self, sid, network):
        return self.req("PATCH", f"/v1/sandboxes/{sid}/network", json={"network": network})


@pytest.fixture(scope="session")
def kilnd(testnet):
    n = 0
    d = Kilnd("--egress-allow-cidr", f"10.250.{K}.0/30", "--egress-hosts", testnet.hosts,
              uid_base=4_000_000 + (PID % 200) * 2000 + n * 200, pool_size=1, name="egress")
    yield Api(d)
    d.stop()


@pytest.fixture(scope="session")
def mirrored(testnet):
    """A kilnd whose sandboxes install from the test's mirrors."""
    d = Kilnd("--egress-allow-cidr", f"10.250.{K}.0/30", "--egress-hosts", testnet.hosts,
              "--pip-index-url", PIP_INDEX, "--npm-registry", NPM_REGISTRY,
              uid_base=4_000_000 + (PID % 200) * 2000 + 200, pool_size=1, name="egress")
    yield Api(d)
    d.stop()


@pytest.fixture
def sandbox(kilnd):
    made = []

    def make(**body):
        sid = kilnd.create(**body)
        made.append(sid)
        return sid

    yield make
    for sid in made:
        kilnd.req("DELETE", f"/v1/sandboxes/{sid}")
