"""Package installs (issue 13 item 5): pip and npm from the operator's
mirrors (--pip-index-url, --npm-registry, served by the test host in its
network namespace), as the sandbox user, never into /usr; the packages
list at create."""
import pytest

from conftest import ALLOWED_IP, PORT
from pkg_mirror import NPM_NAME, NPM_VALUE, PIP_NAME, PIP_VALUE


@pytest.fixture
def msandbox(mirrored):
    made = []

    def make(**body):
        sid = mirrored.create(**body)
        made.append(sid)
        return sid

    yield make
    for sid in made:
        mirrored.req("DELETE", f"/v1/sandboxes/{sid}")


def live(api):
    return len(api.req("GET", "/v1/sandboxes").json()["sandboxes"])


def test_pip_install_from_the_mirror_as_the_user(mirrored, msandbox):
    """network "none": the mirror, and only the mirror, is reachable; the
    package lands in ~/.local and the context that was already running
    imports it without a restart."""
    sid = msandbox()
    assert mirrored.py(sid, "1 + 1\nprint('warm')").strip() == "warm"  # context started first
    r = mirrored.run(sid, f"pip install {PIP_NAME}", timeout_s=120)
    assert r["exit_code"] == 0, r
    assert mirrored.py(sid, f"import {PIP_NAME}\nprint({PIP_NAME}.VALUE, {PIP_NAME}.__file__)"
                       ).split() == [str(PIP_VALUE),
                                     f"/home/user/.local/lib/python3.11/site-packages/{PIP_NAME}.py"]
    r = mirrored.run(sid, f"test ! -e /usr/lib/python3/dist-packages/{PIP_NAME}.py && "
                          f"touch /usr/lib/x 2>&1; python3 -c 'import {PIP_NAME}'")
    assert r["exit_code"] == 0 and "Read-only file system" in r["stdout"], r
    # Nothing else is reachable: the same host by another name is refused.
    r = mirrored.run(sid, f"curl -fsS --max-time 10 http://allowed.test:{PORT}/hello")
    assert r["exit_code"] != 0 and "403" in r["stderr"], r
    log = mirrored.log(sid)["entries"]
    assert {e["host"] for e in log if e["decision"] == "allowed"} == {"pypi.test"}, log
    assert all(e["rule"] == "mirror" for e in log if e["decision"] == "allowed"), log
    assert all(e["address"] == ALLOWED_IP for e in log if e["decision"] == "allowed")


def test_pip_in_a_subprocess_of_the_cell_that_imports_it(mirrored, msandbox):
    sid = msandbox()
    out = mirrored.py(sid, f"""
import subprocess, sys
subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '{PIP_NAME}'], check=True)
import {PIP_NAME}
print({PIP_NAME}.VALUE)
""")
    assert out.strip().splitlines()[-1] == str(PIP_VALUE), out


def test_npm_install_in_home(mirrored, msandbox):
    sid = msandbox()
    r = mirrored.run(sid, f"npm install {NPM_NAME}", timeout_s=120)
    assert r["exit_code"] == 0, r
    r = mirrored.run(sid, f"node -e \"console.log(require('{NPM_NAME}'))\"")
    assert r["stdout"].strip() == NPM_VALUE, r
    r = mirrored.run(sid, f"ls /home/user/node_modules/{NPM_NAME}/index.js")
    assert r["exit_code"] == 0, r


def test_a_deny_rule_naming_the_mirror_wins(mirrored, msandbox):
    sid = msandbox(network={"allow": [], "deny": ["pypi.test"]})
    r = mirrored.run(sid, f"pip install {PIP_NAME}", timeout_s=120)
    assert r["exit_code"] != 0, r
    assert [e["decision"] for e in mirrored.log(sid)["entries"]][:1] == ["denied"]


def test_packages_at_create(mirrored, msandbox):
    sid = msandbox(packages={"pip": [PIP_NAME], "npm": [NPM_NAME]})
    assert mirrored.py(sid, f"import {PIP_NAME}; print({PIP_NAME}.VALUE)").strip() == str(PIP_VALUE)
    r = mirrored.req("POST", f"/v1/sandboxes/{sid}/contexts", json={"language": "javascript"})
    assert r.status_code == 201, r.text
    r = mirrored.req("POST", f"/v1/sandboxes/{sid}/execute",
                     json={"code": f"require('{NPM_NAME}')", "context_id": r.json()["id"]})
    assert r.status_code == 200 and NPM_VALUE in str(r.json()["results"]), r.text


def test_a_missing_package_is_a_clear_error_and_no_sandbox(mirrored):
    before = live(mirrored)
    r = mirrored.req("POST", "/v1/sandboxes", json={"packages": {"pip": ["nosuchpkg-kiln"]}})
    assert r.status_code == 422, r.text
    msg = r.json()["error"]["message"]
    assert "pip install failed" in msg and "nosuchpkg-kiln" in msg, msg
    assert live(mirrored) == before


@pytest.mark.parametrize("packages", [
    {"pip": ["-r/etc/passwd"]}, {"pip": ["a b"]}, {"pip": ["x';id;'"]}, {"pip": ["$(id)"]},
    {"pip": "kilnpkg"}, {"pip": [1]}, {"pip": [""]}, {"apt": ["curl"]}, ["kilnpkg"],
    {"pip": ["p"] * 65}, {"npm": ["x" * 201]},
])
def test_bad_package_lists_are_400(mirrored, packages):
    before = live(mirrored)
    r = mirrored.req("POST", "/v1/sandboxes", json={"packages": packages})
    assert r.status_code == 400, r.text
    assert live(mirrored) == before
