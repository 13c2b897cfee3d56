"""Pool sandboxes whose Python context imported the heavy modules before the
pool counted them ready (--python-preload, issue 14): a user's first
`import pandas` there finds it in sys.modules. What the user sees of it
must be nothing else: an empty namespace, no trace in the environment,
and a bare context wherever the preload would not fit or is not wanted."""

import subprocess

PRELOAD = "numpy,pandas,matplotlib.pyplot"
PROBE = ("import os, sys\n"
         "(sorted(m for m in ('numpy', 'pandas', 'matplotlib.pyplot') if m in sys.modules),"
         " 'KILN_PRELOAD' in os.environ, [k for k in globals() if not k.startswith('_')])")


def probe(d, sid):
    r = d.execute(sid, PROBE)
    assert r["error"] is None, r["error"]
    return r["results"][-1]["text"]


def test_a_pool_sandbox_has_pandas_loaded_and_nothing_else_shows(fresh_daemon):
    d = fresh_daemon(pool_size=1, python_preload=PRELOAD)
    d.wait_pool_full(timeout=120)
    sid = d.create_sandbox()["id"]
    # Loaded; the variable KILN_PRELOAD is gone; only the probe's own names.
    assert probe(d, sid) == "(['matplotlib.pyplot', 'numpy', 'pandas'], False, ['os', 'sys'])"
    # The warm-up's figure is closed: the user's first figure is number 1.
    r = d.execute(sid, "import matplotlib.pyplot as plt\nplt.get_fignums(), plt.figure().number")
    main = [x["text"] for x in r["results"] if x.get("is_main_result")]
    assert main == ["([], 1)"], r
    r = d.execute(sid, "plt.close('all')\ndel plt")
    assert r["error"] is None, r["error"]
    r = d.execute(sid, "import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    assert r["error"] is None and "<table" in r["results"][-1]["html"], r
    # pyplot was imported through the runner's hook, so show() still emits
    # the chart as a result.
    r = d.execute(sid, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert r["error"] is None, r["error"]
    assert any(x.get("png", "").startswith("iVBOR") for x in r["results"]), r["results"]
    # A restarted context starts bare: the user is waiting for it.
    ctx = d.get(f"/v1/sandboxes/{sid}/contexts").json()["contexts"][0]["id"]
    assert d.post(f"/v1/sandboxes/{sid}/contexts/{ctx}/restart").status_code == 200
    assert probe(d, sid) == "([], False, ['os', 'sys'])"
    assert d.delete(f"/v1/sandboxes/{sid}").status_code == 204


def test_smaller_memory_cold_creates_and_missing_modules_get_a_working_context(fresh_daemon):
    d = fresh_daemon(pool_size=1, python_preload="no_such_module_kiln,pandas")
    d.wait_pool_full(timeout=120)
    # Below the default memory limit the preloaded ~90 MiB would eat the
    # user's budget: such a create gets a bare sandbox, and the pool keeps
    # its member.
    small = d.create_sandbox(limits={"memory_mb": 128})["id"]
    assert probe(d, small) == "([], False, ['os', 'sys'])"
    r = d.execute(small, "import no_such_module_kiln")
    assert r["error"]["name"] == "ModuleNotFoundError", r
    # The pool member: the missing module was skipped, pandas is there.
    pooled = d.create_sandbox()["id"]
    assert probe(d, pooled) == "(['numpy', 'pandas'], False, ['os', 'sys'])"
    r = d.execute(pooled, "import no_such_module_kiln")
    assert r["error"]["name"] == "ModuleNotFoundError", r
    for sid in (small, pooled):
        assert d.delete(f"/v1/sandboxes/{sid}").status_code == 204
    # Without a pool nothing is preloaded (the user waits for a cold start).
    cold = fresh_daemon(pool_size=0, python_preload=PRELOAD)
    sid = cold.create_sandbox()["id"]
    assert probe(cold, sid) == "([], False, ['os', 'sys'])"


def test_a_bad_module_name_is_refused_at_start(fresh_daemon):
    d = fresh_daemon(pool_size=0, python_preload="os;import x", start=False)
    r = subprocess.run(d.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert r.returncode != 0
    assert b"not a Python module name" in r.stdout, r.stdout[-500:]
