"""--help for every command, and the bash and zsh completion scripts."""
import re
import shutil
import subprocess

import pytest

from conftest import KILN

COMMANDS = [
    [], ["run"], ["repl"], ["sandboxes"], ["sandboxes", "ls"], ["sandboxes", "inspect"],
    ["sandboxes", "create"], ["sandboxes", "rm"], ["files"], ["files", "ls"], ["files", "get"],
    ["files", "put"], ["files", "rm"], ["drive"], ["drive", "ls"], ["drive", "get"],
    ["drive", "put"], ["drive", "rm"], ["skills"], ["skills", "ls"], ["skills", "show"],
    ["usage"], ["validate"], ["completion"], ["man"],
]


def kiln(*args):
    return subprocess.run([KILN, *args], capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "kiln")
def test_help_for_every_command(cmd):
    r = kiln(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("Usage: kiln" + "".join(" " + c for c in cmd))
    assert "-h,--help" in r.stdout
    if cmd:
        # Global options are named in every command's help.
        assert "--url URL, --api-key-file FILE, --config FILE, --json" in r.stdout
    else:
        for option in ("--url", "--api-key-file", "--config", "--json", "--version"):
            assert option in r.stdout


def test_help_lists_the_options_run_takes():
    out = kiln("run", "--help").stdout
    for option in ("--lang", "--sandbox", "--keep", "--out-dir", "--timeout", "--env"):
        assert option in out
    assert "Exit status:" in out and "130" in out


def test_version():
    r = kiln("--version")
    assert (r.returncode, r.stdout) == (0, "kiln 0.1.0\n")


def bash_complete(line):
    """What bash completion offers for `line` (the word being typed last)."""
    words = line.split(" ")
    script = kiln("completion", "bash").stdout
    prog = (script + "\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")\n"
            f"COMP_CWORD={len(words) - 1}\n_kiln\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return sorted(x for x in r.stdout.splitlines() if x)


def test_bash_completion():
    assert "repl" in bash_complete("kiln ")
    assert bash_complete("kiln sa") == ["sandbox", "sandboxes"]
    assert bash_complete("kiln sandboxes i") == ["inspect"]
    assert bash_complete("kiln sandboxes ") == ["create", "inspect", "ls", "rm"]
    assert bash_complete("kiln --json drive ") == ["get", "ls", "put", "rm"]
    assert bash_complete("kiln run --k") == ["--keep"]
    # Global options after the command too.
    assert bash_complete("kiln files ls --ur") == ["--url"]
    assert bash_complete("kiln run --lang t") == ["typescript"]
    assert bash_complete("kiln drive put --scope p") == ["persistent"]
    assert bash_complete("kiln completion ") == ["bash", "zsh"]
    # A file argument: nothing from kiln, so bash falls back to file names.
    assert bash_complete("kiln run ana") == []


def test_zsh_completion_script():
    script = kiln("completion", "zsh").stdout
    assert script.startswith("#compdef kiln\n")
    for word in ("'inspect:Show one sandbox", "'--keep:Keep the new sandbox", "(\"/drive/put\")"):
        assert word in script
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed (make setup installs it)")
    r = subprocess.run([zsh, "-n", "-c", script], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    # Loaded for real after compinit: it registers itself for kiln.
    prog = ("autoload -Uz compinit && compinit -u -D\n" + script +
            "\nprint -r -- ${_comps[kiln]}\n")
    r = subprocess.run([zsh, "-f", "-c", prog], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "_kiln"


def test_completion_scripts_follow_the_command_tree():
    bash = kiln("completion", "bash").stdout
    nodes = re.search(r"case \"\$node/\$w\" in\n\s+(\S+)\) node=", bash).group(1).split("|")
    assert sorted(nodes) == sorted(["/" + "/".join(c) for c in COMMANDS if c] +
                                   ["/sandbox"] + ["/sandbox/" + c[1] for c in COMMANDS
                                                   if c[:1] == ["sandboxes"] and len(c) == 2])


def test_man_page():
    r = kiln("man")
    assert r.returncode == 0, r.stderr
    page = r.stdout
    assert page.startswith(".TH KILN 1 ")
    for cmd in COMMANDS:
        if cmd and cmd[0] not in ("completion", "man") and len(cmd) == 2 or cmd == ["run"]:
            assert f'.SS "kiln {" ".join(cmd)}' in page, cmd
    assert ".SS \"kiln run FILE\"" in page
    for section in (".SH OPTIONS", ".SH ENVIRONMENT", ".SH FILES", ".SH EXIT STATUS"):
        assert section in page
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed")
    r = subprocess.run([man, "-l", "-"], input=page, capture_output=True, text=True,
                       timeout=20, env={"PATH": "/usr/bin:/bin", "MANPAGER": "cat",
                                        "MANWIDTH": "100", "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stderr
    assert "kiln sandboxes inspect ID" in r.stdout
    assert "--api-key-file" in r.stdout
