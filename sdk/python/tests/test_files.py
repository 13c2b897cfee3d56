"""Sandbox files, including streaming large files both ways."""
import io
import os
import threading
import time

import pytest

import kiln

MiB = 1 << 20


def test_write_read_list_remove(sbx):
    e = sbx.files.write("d/a.txt", "héllo")
    assert e.path == "/home/user/d/a.txt" and e.size == len("héllo".encode())
    assert sbx.files.read("d/a.txt") == "héllo"
    assert sbx.files.read("/home/user/d/a.txt", "bytes") == "héllo".encode()
    sbx.files.write("d/b.bin", bytes(range(256)))
    with sbx.files.read("d/b.bin", "stream") as s:
        assert s.size == 256 and b"".join(s) == bytes(range(256))
    names = sorted(x.name for x in sbx.files.list("d"))
    assert names == ["a.txt", "b.bin"]
    assert sbx.files.list("d")[0].type == "file"
    assert "d" in [x.name for x in sbx.files.list()]
    assert sbx.files.exists("d/a.txt") and not sbx.files.exists("d/zzz")
    assert not sbx.files.exists("nodir/zzz")
    assert sbx.files.make_dir("x/y/z") == "/home/user/x/y/z"
    assert sbx.files.list("x/y")[0].type == "dir"
    sbx.files.remove("d")
    assert not sbx.files.exists("d")
    with pytest.raises(kiln.NotFoundError):
        sbx.files.read("d/a.txt")
    with pytest.raises(kiln.NotFoundError):
        sbx.files.remove("d")
    with pytest.raises(kiln.BadRequestError):
        sbx.files.write("/usr/x", "no")
    with pytest.raises(kiln.BadRequestError):
        sbx.files.read("x")  # a folder
    # The code sees what the API wrote, and the other way round.
    sbx.files.write("data.csv", "a,b\n1,2\n")
    assert sbx.run_code("open('data.csv').read()").text == "'a,b\\n1,2\\n'"
    sbx.run_code("open('made.txt', 'w').write('by code')")
    assert sbx.files.read("made.txt") == "by code"


def test_write_from_iterable_and_file_object(sbx, tmp_path):
    sbx.files.write("chunks.txt", (f"{i}\n".encode() for i in range(1000)))
    assert sbx.files.read("chunks.txt") == "".join(f"{i}\n" for i in range(1000))
    p = tmp_path / "local.txt"
    p.write_bytes(b"x" * 100000)
    with open(p, "rb") as f:
        assert sbx.files.write("local.txt", f).size == 100000
    buf = io.BytesIO()
    assert sbx.files.read("local.txt", "stream").save(buf) == 100000
    assert buf.getvalue() == b"x" * 100000
    out = tmp_path / "back.txt"
    assert sbx.files.download_file("local.txt", out) == 100000
    assert out.read_bytes() == b"x" * 100000


class PeakRSS:
    """Samples this process's resident set size while a transfer runs."""

    def __init__(self):
        self.base = self.now()
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.01)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.now())

    @property
    def growth(self):
        return self.peak - self.base


def make_file(path, size):
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for _ in range(size // MiB):
            f.write(block)
    return path


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(4 * MiB), fb.read(4 * MiB)
            if x != y:
                return False
            if not x:
                return True


def test_large_sandbox_file_streams_both_ways(sbx, tmp_path):
    # kiln-init moves a sandbox file in one frame of at most 64 MiB.
    size = 60 * MiB
    src = make_file(tmp_path / "big.csv", size)
    with PeakRSS() as up:
        assert sbx.files.upload_file(src, "big.csv", request_timeout=120).size == size
    dst = tmp_path / "back.csv"
    with PeakRSS() as down:
        assert sbx.files.download_file("big.csv", dst, request_timeout=120) == size
    assert same_file(src, dst)
    assert up.growth < 16 * MiB, up.growth
    assert down.growth < 16 * MiB, down.growth


def test_large_drive_file_streams_both_ways(client, tmp_path):
    size = 200 * MiB
    src = make_file(tmp_path / "big.csv", size)
    with PeakRSS() as up:
        f = client.drive.upload_file(src, "/big/py.csv", request_timeout=120)
    assert f.size == size
    dst = tmp_path / "back.csv"
    with PeakRSS() as down:
        assert client.drive.download_file("/big/py.csv", dst, request_timeout=120) == size
    assert same_file(src, dst)
    # Far less than the 200 MiB that moved.
    assert up.growth < 20 * MiB, up.growth
    assert down.growth < 20 * MiB, down.growth
    client.drive.remove("/big/py.csv")


def test_over_the_cap_is_too_large_however_sent(tmp_path):
    from kilnd import Kilnd
    small = Kilnd("--file-cap-bytes", str(MiB), name="sdkpy-cap")
    try:
        p = make_file(tmp_path / "two.csv", 2 * MiB)
        with kiln.Sandbox.create(url=small.url) as s:
            with pytest.raises(kiln.TooLargeError):
                s.files.upload_file(p, "two.csv")
            with pytest.raises(kiln.TooLargeError):
                s.files.write("two.csv", p.read_bytes())
            with pytest.raises(kiln.TooLargeError):
                s.files.write("two.csv", (b"x" * 65536 for _ in range(32)))
            with pytest.raises(kiln.TooLargeError):
                s.drive.upload_file(p, "/two.csv")
            assert s.files.write("ok.csv", "fits").size == 4
    finally:
        small.stop()
