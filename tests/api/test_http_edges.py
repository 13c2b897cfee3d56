"""HTTP edge cases found by fuzzing (fuzz/regressions/http/): every request
gets an answer, also when it is both oversized and unparsable."""
import socket


def raw(kilnd, head, send_body=b""):
    with socket.create_connection(("127.0.0.1", kilnd.port), timeout=10) as s:
        s.sendall(head + send_body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_oversized_body_with_a_bad_query_is_answered(kilnd):
    data = raw(kilnd, b"POST /v1/sandboxes?x=%00 HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b'"too_large"' in data


def test_content_length_beyond_every_limit_is_413_not_a_dropped_connection(kilnd, sandbox):
    head = (f"PUT /v1/sandboxes/{sandbox['id']}/files/content?path=big HTTP/1.1\r\n"
            "Host: x\r\nContent-Length: 60000000\r\n\r\n").encode()
    data = raw(kilnd, head, b"x" * 1000)
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    # The daemon is fine afterwards.
    assert kilnd.get("/healthz").status_code == 200
