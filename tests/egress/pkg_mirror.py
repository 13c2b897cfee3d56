"""Builds the test's package mirrors into a folder the test host serves:
a PEP 503 simple index with one wheel (built here from source with
Debian's pip and setuptools, offline) and an npm registry with one package
(packed here with npm). Nothing is fetched from anywhere."""
import base64
import hashlib
import json
import os
import subprocess
import tempfile

PIP_NAME, PIP_VALUE = "kilnpkg", 42
NPM_NAME, NPM_VALUE = "kiln-npm-pkg", "npm ok"


def build(root, npm_base_url):
    """Fills `root` with simple/ and npm/; npm_base_url is the registry URL
    sandboxes use (tarball links are absolute)."""
    work = tempfile.mkdtemp(prefix="kiln-eg-pkgsrc-")
    # -- the wheel
    src = os.path.join(work, "pip")
    os.makedirs(src)
    with open(os.path.join(src, "setup.py"), "w") as f:
        f.write(f"from setuptools import setup\nsetup(name='{PIP_NAME}', version='1.0', "
                f"py_modules=['{PIP_NAME}'])\n")
    with open(os.path.join(src, f"{PIP_NAME}.py"), "w") as f:
        f.write(f"VALUE = {PIP_VALUE}\n")
    dist = os.path.join(root, "dist")
    os.makedirs(dist)
    subprocess.run(["/usr/bin/python3", "-m", "pip", "wheel", "--no-deps", "--no-index",
                    "--no-build-isolation", "-q", "-w", dist, src], check=True,
                   capture_output=True, timeout=120)
    (wheel,) = os.listdir(dist)
    with open(os.path.join(dist, wheel), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    os.makedirs(os.path.join(root, "simple", PIP_NAME))
    with open(os.path.join(root, "simple", "index.html"), "w") as f:
        f.write(f'<!DOCTYPE html><html><body><a href="{PIP_NAME}/">{PIP_NAME}</a></body></html>\n')
    with open(os.path.join(root, "simple", PIP_NAME, "index.html"), "w") as f:
        f.write(f'<!DOCTYPE html><html><body><a href="../../dist/{wheel}#sha256={sha}">{wheel}'
                f'</a></body></html>\n')
    # -- the npm package
    pkg = os.path.join(work, "npm")
    os.makedirs(pkg)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": NPM_NAME, "version": "1.0.0", "main": "index.js"}, f)
    with open(os.path.join(pkg, "index.js"), "w") as f:
        f.write(f"module.exports = {json.dumps(NPM_VALUE)};\n")
    tarballs = os.path.join(root, "npm", "-")
    os.makedirs(tarballs)
    subprocess.run(["npm", "pack", "--silent", "--pack-destination", tarballs], cwd=pkg,
                   check=True, capture_output=True, timeout=120)
    tgz = f"{NPM_NAME}-1.0.0.tgz"
    with open(os.path.join(tarballs, tgz), "rb") as f:
        data = f.read()
    meta = {
        "name": NPM_NAME,
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {
            "name": NPM_NAME, "version": "1.0.0", "main": "index.js",
            "dist": {"tarball": f"{npm_base_url.rstrip('/')}/-/{tgz}",
                     "shasum": hashlib.sha1(data).hexdigest(),
                     "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()},
        }},
    }
    with open(os.path.join(root, "npm", NPM_NAME), "w") as f:
        json.dump(meta, f)
