"""kilnd's process model: sandboxes are cloned by a single-threaded spawner
forked at start-up, while kilnd itself runs its event loop plus a blocking
pool (so no fsync or cgroup wait ever runs on the event loop)."""
import os
import time


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(status(d)["PPid"]) == pid:
                    out.append(int(d))
            except (FileNotFoundError, KeyError, ValueError):
                pass
    return out


def test_sandboxes_are_cloned_by_a_single_threaded_spawner(kilnd):
    kilnd_pid = kilnd.proc.pid
    spawners = [p for p in children(kilnd_pid) if status(p)["Name"].strip() == "kilnd-spawner"]
    assert len(spawners) == 1, [status(p)["Name"] for p in children(kilnd_pid)]
    spawner = spawners[0]
    # kilnd has threads (event loop + blocking pool); the spawner has one.
    assert int(status(kilnd_pid)["Threads"]) >= 3, status(kilnd_pid)["Threads"]
    assert int(status(spawner)["Threads"]) == 1
    sid = kilnd.create_sandbox()["id"]
    assert kilnd.execute(sid, "1")["error"] is None
    # Every sandbox's PID 1 (kiln-init, uid 999 inside) is the spawner's child.
    names = [status(p)["Name"].strip() for p in children(spawner)]
    assert "kiln-init" in names, names
    # (A sandbox the pool is making may still be the spawner's clone,
    # between clone and exec.)
    assert set(names) <= {"kiln-init", "kilnd-spawner"}, names
    # Still one thread after cloning.
    assert int(status(spawner)["Threads"]) == 1
    kilnd.delete(f"/v1/sandboxes/{sid}")


def test_the_spawner_ends_with_the_daemon(fresh_daemon):
    d = fresh_daemon(pool_size=1)
    spawner = [p for p in children(d.proc.pid) if status(p)["Name"].strip() == "kilnd-spawner"][0]
    sid = d.create_sandbox()["id"]
    assert d.execute(sid, "1")["error"] is None
    d.proc.kill()
    d.proc.wait(10)
    deadline = time.time() + 5
    while time.time() < deadline and os.path.exists(f"/proc/{spawner}"):
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{spawner}"), "the spawner outlived kilnd"
