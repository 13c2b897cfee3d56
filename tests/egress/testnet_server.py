"""The test hosts' HTTP server, run inside the test's network namespace.

GET /hello            -> "hello from <Host>"
GET /big?n=N          -> N bytes
GET /redirect?to=URL  -> 302 to URL
GET /stats            -> JSON {path: count} of requests seen (for the test)
GET /files/<path>     -> a file under the folder given as argv[2] (the test's
                         package index and npm registry: packages.py)
"""
import http.server
import json
import os
import socketserver
import sys
import threading
import urllib.parse

SEEN = {}
FILES = os.path.realpath(sys.argv[2]) if len(sys.argv) > 2 else ""
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path != "/stats":
            with LOCK:
                key = self.headers.get("Host", "") + u.path
                SEEN[key] = SEEN.get(key, 0) + 1
        if u.path == "/hello":
            body = ("hello from " + self.headers.get("Host", "")).encode()
        elif u.path == "/big":
            n = int(q["n"][0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = b"x" * 65536
            while n > 0:
                self.wfile.write(chunk[:min(n, len(chunk))])
                n -= min(n, len(chunk))
            return
        elif u.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", q["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif u.path.startswith("/files/") and FILES:
            full = os.path.realpath(os.path.join(FILES, urllib.parse.unquote(u.path[7:])))
            if os.path.isdir(full):
                full = os.path.join(full, "index.html")
            if not full.startswith(FILES + os.sep) or not os.path.isfile(full):
                self.send_error(404)
                return
            with open(full, "rb") as f:
                body = f.read()
            kind = {".html": "text/html", ".whl": "application/octet-stream",
                    ".tgz": "application/octet-stream"}.get(os.path.splitext(full)[1],
                                                           "application/json")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        elif u.path == "/stats":
            with LOCK:
                body = json.dumps(SEEN).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
