"""The package installs offline, its README quick-start runs as written, and
it passes mypy --strict."""
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)


def quick_start():
    with open(os.path.join(PKG, "README.md"), encoding="utf-8") as f:
        text = f.read()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_quick_start_is_five_lines():
    assert len(quick_start().rstrip("\n").split("\n")) == 5


def test_offline_install_and_quick_start(daemon, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info",
                                                           "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index",
                          "--no-build-isolation", str(src)], capture_output=True, text=True,
                         timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    script = tmp_path / "quick.py"
    script.write_text(quick_start())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["KILN_URL"] = daemon.url
    out = subprocess.run([str(venv / "bin" / "python"), str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello\n42\n"
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import kiln; print(kiln.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert str(venv) in where.stdout


def test_mypy_strict(tmp_path):
    # As the oldest supported Python (3.9) sees it.
    out = subprocess.run(["mypy", "--strict", "--python-version", "3.9", "--cache-dir",
                          str(tmp_path / "cache"), os.path.join(PKG, "src", "kiln")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout


def test_every_public_name_has_a_docstring():
    sys.path.insert(0, os.path.join(PKG, "src"))
    import inspect
    import kiln
    missing = []
    for name in kiln.__all__:
        obj = getattr(kiln, name)
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (inspect.isfunction(member) or
                                                isinstance(member, (property, classmethod,
                                                                    staticmethod))):
                    continue
                fn = member.fget if isinstance(member, property) else \
                    getattr(member, "__func__", member)
                if not inspect.getdoc(fn):
                    missing.append(f"{name}.{attr}")
    assert not missing, missing
