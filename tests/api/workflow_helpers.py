"""Helpers for the agent-workflow API tests (keys, Drive, actions, usage).

Everything here talks to loopback only.
"""
import base64
import http.client
import http.server
import os
import re
import signal
import socket
import subprocess
import threading
import uuid
from datetime import datetime, timezone

import requests

from conftest import KILND, ApiCalls, Daemon, remove_parent_cgroups

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC = b"%PDF-"
XLSX_MAGIC = b"PK\x03\x04"


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- admin commands -----------------------------------------------------------

def admin(data_dir, *args, check=True):
    """Runs `kilnd <args> --data-dir DIR`; returns the CompletedProcess."""
    p = subprocess.run([KILND, *args, "--data-dir", data_dir], capture_output=True,
                       text=True, timeout=30)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return p


def create_key(data_dir, workspace):
    """Creates a key; returns (key, key_id)."""
    p = admin(data_dir, "keys", "create", "--workspace", workspace)
    key = p.stdout.strip()
    assert key and "\n" not in key and " " not in key, p.stdout
    m = re.search(r"created (\S+) for workspace", p.stderr)
    assert m, p.stderr
    return key, m.group(1)


def revoke_key(data_dir, key_id):
    p = subprocess.run([KILND, "keys", "revoke", key_id, "--data-dir", data_dir],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p


def set_credits(data_dir, workspace, seconds):
    return admin(data_dir, "credits", "set", "--workspace", workspace, "--seconds", str(seconds))


# -- a client that sends a key --------------------------------------------------

class Client(ApiCalls):
    """HTTP calls to a daemon with an API key (Bearer by default)."""

    def __init__(self, d, key=None, style="bearer"):
        self.d = d
        self.key = key
        self.style = style

    def headers(self, extra=None):
        h = {}
        if self.key is not None:
            if self.style == "bearer":
                h["Authorization"] = f"Bearer {self.key}"
            else:
                h["X-API-Key"] = self.key
        h.update(extra or {})
        return h

    def req(self, method, path, headers=None, **kw):
        return self.d.req(method, path, headers=self.headers(headers), **kw)

    def drive_put(self, path, data, scope=None, replace=None):
        q = {"path": path}
        if scope is not None:
            q["scope"] = scope
        if replace is not None:
            q["replace"] = "true" if replace else "false"
        return self.req("PUT", "/v1/drive/content", params=q, data=data)

    def drive_get(self, path):
        return self.req("GET", "/v1/drive/content", params={"path": path})

    def drive_list(self, prefix):
        return self.req("GET", "/v1/drive", params={"prefix": prefix})

    def drive_delete(self, path):
        return self.req("DELETE", "/v1/drive", params={"path": path})

    def action(self, action, **arguments):
        return self.post("/v1/actions", {"action": action, "arguments": arguments})

    def usage(self, **params):
        r = self.get("/v1/usage", params=params)
        assert r.status_code == 200, r.text
        return r.json()


def b64(data):
    return base64.b64encode(data).decode()


def utc_today():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def raw_get(port, path, headers=None, host="127.0.0.1"):
    """GET with the path sent exactly as given (no dot-segment clean-up)."""
    c = http.client.HTTPConnection(host, port, timeout=60)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def raw_post(port, path, body, headers=None):
    """POST raw bytes (used for invalid UTF-8 bodies)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        h = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        h.update(headers or {})
        c.request("POST", path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# -- module-scoped daemons --------------------------------------------------------

def start_daemon(*args, **kw):
    return Daemon(*args, **kw)


def stop_daemon(d):
    try:
        d.stop(signal.SIGTERM)
    except Exception:
        try:
            d.stop(signal.SIGKILL)
        except Exception:
            pass
    remove_parent_cgroups(d.cgroup_parent)


# -- a loopback HTTP server counting hits ---------------------------------------------

class CountingServer:
    """http.server in a thread; serves `files` (path -> bytes), counts every hit.
    `redirect` (path -> url) answers 302 to that url."""

    def __init__(self, host="127.0.0.1", files=None, redirect=None, family=socket.AF_INET):
        self.hits = []
        files = files or {}
        redirect = redirect or {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                if self.path in redirect:
                    self.send_response(302)
                    self.send_header("Location", redirect[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = family

        self.httpd = Server((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def host_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def find_blob(data_dir, sha256):
    """Paths under data_dir whose file name contains the sha256 (blob files)."""
    out = []
    for root, _dirs, files in os.walk(data_dir):
        for f in files:
            if sha256 in f:
                out.append(os.path.join(root, f))
    return out


def download(url):
    """Fetches a signed link with a bare client: no key, no session."""
    assert url.startswith("http://127.0.0.1:"), url
    return requests.get(url, timeout=60)
