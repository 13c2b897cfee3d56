"""AsyncSandbox / AsyncClient: the same surface, awaited; cancellation."""
import asyncio
import time

import pytest

import kiln
from kiln import AsyncClient, AsyncSandbox

from conftest import invalid_request
from test_files import PeakRSS, make_file, same_file

MiB = 1 << 20


def run(coro):
    return asyncio.run(coro)


def test_lifecycle_and_run_code(daemon):
    async def main():
        async with await AsyncSandbox.create(metadata={"k": "v"}) as s:
            assert s.info.metadata == {"k": "v"}
            ex = await s.run_code("print('hi')\n6 * 7")
            assert ex.text == "42" and ex.logs.stdout == ["hi\n"]
            fig = await s.run_code("import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()")
            assert fig.results[0].png.startswith(b"\x89PNG")
            err = (await s.run_code("raise KeyError('k')")).error
            assert err.name == "KeyError" and err.line == 1
            assert (await s.get_info()).usage.executions == 3
            await s.set_timeout(400)
            again = await AsyncSandbox.connect(s.id)
            assert again.id == s.id and await again.is_running()
            sid = s.id
        with pytest.raises(kiln.NotFoundError):
            await AsyncSandbox.connect(sid)
        async with AsyncClient() as c:
            assert (await c.health())["status"] == "ok"
            assert isinstance(await c.list_sandboxes(), list)
    run(main())


def test_callbacks_live_sync_and_async(daemon):
    async def main():
        async with await AsyncSandbox.create() as s:
            t0 = time.monotonic()
            seen, errors = [], []

            async def on_err(e):
                await asyncio.sleep(0)
                errors.append(e)

            ex = await s.run_code(
                "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.4)\n1/0",
                on_stdout=lambda m: seen.append((time.monotonic() - t0, m.text)),
                on_error=on_err)
            end = time.monotonic() - t0
            assert [t for _, t in seen] == ["0\n", "1\n", "2\n"]
            assert seen[0][0] < end - 0.7
            assert errors and errors[0].name == "ZeroDivisionError" and ex.error is errors[0]
            stream = await s.stream_code("print('a')\n5")
            items = [i async for i in stream]
            assert [type(i).__name__ for i in items] == ["OutputMessage", "Result"]
            assert stream.execution.text == "5"
    run(main())


def test_cancel_interrupts_run_and_sandbox_stays_usable(daemon):
    async def main():
        async with await AsyncSandbox.create() as s:
            await s.run_code("state = 'kept'")
            first = asyncio.Event()
            task = asyncio.create_task(s.run_code(
                "import time\nprint('started', flush=True)\ntime.sleep(30)\nprint('never')",
                on_stdout=lambda m: first.set()))
            await asyncio.wait_for(first.wait(), 10)
            t0 = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # kilnd interrupts the run when the connection closes: the context
            # is free again almost at once, with its state.
            while True:
                try:
                    ex = await s.run_code("state")
                    break
                except kiln.ConflictError:
                    assert time.monotonic() - t0 < 5, "the run was not interrupted"
                    await asyncio.sleep(0.05)
            assert ex.text == "'kept'" and time.monotonic() - t0 < 5
            # asyncio.wait_for cancels the same way.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(s.run_code("import time\ntime.sleep(30)"), 0.5)
            for _ in range(100):
                try:
                    assert (await s.run_code("1 + 1")).text == "2"
                    break
                except kiln.ConflictError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("context stayed busy")
    run(main())


def test_contexts_commands_files(daemon, tmp_path):
    async def main():
        async with await AsyncSandbox.create() as s:
            c = await s.create_code_context("javascript")
            await s.run_code("globalThis.n = 4", context=c)
            assert (await s.run_code("n * 2", context=c)).results[0].json == 8
            assert c.id in [x.id for x in await s.list_code_contexts()]
            assert (await s.get_code_context(c.id)).language == "javascript"
            assert (await s.restart_code_context(c)).id == c.id
            await s.remove_code_context(c)
            with pytest.raises(kiln.NotFoundError):
                await s.get_code_context(c)
            with invalid_request(), pytest.raises(kiln.BadRequestError):
                await s.run_code("1", language="cobol")

            r = await s.commands.run("echo a; echo b >&2; exit 2")
            assert (r.exit_code, r.stdout, r.stderr) == (2, "a\n", "b\n")
            lines = []
            r2 = await s.commands.run("echo x; sleep 0.2; echo y", on_stdout=lambda m: lines.append(m.text))
            assert lines == ["x\n", "y\n"] and r2.exit_code == 0
            assert (await s.commands.run("sleep 3", timeout=0.3)).error == "timeout"
            h = await s.commands.run("echo started; sleep 60", background=True)
            assert h.pid in [x.pid for x in await s.commands.list()]
            # Killed once it runs: a kill in its first instants can miss it
            # (a kilnd race, see the SDK report).
            while "started" not in ((await h.info()).stdout or ""):
                await asyncio.sleep(0.05)
            await h.kill()
            assert not (await h.wait(5)).running

            await s.files.write("a/b.txt", "hi")
            assert await s.files.read("a/b.txt") == "hi"
            assert await s.files.read("a/b.txt", "bytes") == b"hi"
            assert [e.name for e in await s.files.list("a")] == ["b.txt"]
            assert await s.files.exists("a/b.txt") and not await s.files.exists("a/c")
            assert await s.files.make_dir("m/n") == "/home/user/m/n"

            async def gen():
                for i in range(3):
                    yield f"{i}".encode()
            await s.files.write("gen.txt", gen())
            assert await s.files.read("gen.txt") == "012"
            await s.files.remove("a")
            with pytest.raises(kiln.NotFoundError):
                await s.files.read("a/b.txt")
            src = make_file(tmp_path / "mid.csv", 40 * MiB)
            with PeakRSS() as up:
                assert (await s.files.upload_file(src, "mid.csv")).size == 40 * MiB
            with PeakRSS() as down:
                assert await s.files.download_file("mid.csv", tmp_path / "back.csv") == 40 * MiB
            assert same_file(src, tmp_path / "back.csv")
            assert up.growth < 16 * MiB and down.growth < 16 * MiB, (up.growth, down.growth)
            async with await s.files.read("mid.csv", "stream") as st:
                first = [c async for c in st][:1]
            assert len(first[0]) > 0
    run(main())


def test_workspace_calls(daemon):
    async def main():
        async with AsyncClient() as c, await AsyncSandbox.create() as s:
            f = await c.drive.write("/a/x.csv", "a\n1\n")
            assert f.size == 4
            with pytest.raises(kiln.ConflictError):
                await c.drive.write("/a/x.csv", "a\n")
            assert await c.drive.read("/a/x.csv") == "a\n1\n"
            assert [x.path for x in await c.drive.list("/a")] == ["/a/x.csv"]
            assert await s.files.copy_from_drive("/a/x.csv", "x.csv") == 4
            assert (await s.files.copy_to_drive("x.csv", "/a/y.csv")).size == 4
            await c.drive.remove("/a/x.csv")
            await c.drive.remove("/a/y.csv")
            ran = await c.actions.execute_code("open('o.txt','w').write('z')")
            assert ran.success and await c.actions.fetch_file(ran.files[0]) == b"z"
            pf = await c.actions.process_file("analyze", file="a\n1\n", file_name="t.csv")
            assert pf.result["shape"] == [1, 1]
            assert "charts" in [k.name for k in await c.skills.list()]
            assert (await c.skills.get("charts")).files
            assert await c.skills.read_file("charts", "SKILL.md")
            assert not (await c.validate("def f(:")).valid
            rep = await c.test("def sq(x): return x*x", [{"call": "sq(3)", "expected": 9}])
            assert rep.passed == 1
            assert (await c.usage()).executions >= 1
        with pytest.raises(kiln.ConnectionError):
            await AsyncClient("http://127.0.0.1:9", max_retries=0).health()
    run(main())
