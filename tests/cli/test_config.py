"""Where kiln finds kilnd and its key, and what it says when it cannot."""
import os
import socket
import time

from conftest import Kiln, assert_one_line_error


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_one_clear_line(kiln):
    url = f"http://127.0.0.1:{closed_port()}"
    t0 = time.monotonic()
    r = kiln("--url", url, "sandboxes", "ls")
    assert time.monotonic() - t0 < 5
    assert r.returncode == 1
    line = assert_one_line_error(r.stderr, f"cannot reach kilnd at {url}", "Connection refused",
                                 "is kilnd running?")
    assert r.stdout == ""
    # Also for run, repl and with --json (errors never go to stdout as JSON).
    for args in (["run", "-"], ["repl"], ["--json", "usage"]):
        r = kiln("--url", url, *args, input="print(1)\n")
        assert r.returncode == 1, args
        assert_one_line_error(r.stderr, "cannot reach kilnd")
        assert r.stdout == ""
    r = kiln("--url", "http://no-such-host.invalid:8420", "usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "unknown host 'no-such-host.invalid'")
    r = kiln("--url", "https://127.0.0.1:8420", "usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "use http://")


def test_url_precedence_flag_env_config(kilnd, home):
    k = Kiln(kilnd.url, home)
    dead = f"http://127.0.0.1:{closed_port()}"
    cfg = os.path.join(home, ".config", "kiln", "config.toml")
    # The config file alone.
    write(cfg, f'# kiln settings\nurl = "{kilnd.url}"\n')
    r = k("usage", env={"KILN_URL": None})
    assert r.returncode == 0, r.stderr
    # The environment beats the file.
    r = k("usage", env={"KILN_URL": dead})
    assert r.returncode == 1 and dead in r.stderr
    # The flag beats both.
    r = k("--url", kilnd.url, "usage", env={"KILN_URL": dead})
    assert r.returncode == 0, r.stderr
    # Nothing at all: the default URL (nothing listens there in the tests, or
    # it is some other kilnd: either way kiln must try 127.0.0.1:8420).
    os.remove(cfg)
    r = k("usage", env={"KILN_URL": None})
    assert r.returncode == 0 or "http://127.0.0.1:8420" in r.stderr
    # XDG_CONFIG_HOME moves the file.
    write(os.path.join(home, "xdg", "kiln", "config.toml"), f'url = "{kilnd.url}"\n')
    r = k("usage", env={"KILN_URL": None, "XDG_CONFIG_HOME": os.path.join(home, "xdg")})
    assert r.returncode == 0, r.stderr


def test_bad_config_files_are_reported(kilnd, home):
    k = Kiln(kilnd.url, home)
    cfg = os.path.join(home, ".config", "kiln", "config.toml")
    write(cfg, 'url = "http://x"\nurll = "typo"\n')
    r = k("usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "config.toml:2", "unknown setting 'urll'")
    write(cfg, "url = [1, 2\n")
    r = k("usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "config.toml:")
    write(cfg, "api_key = 42\n")
    r = k("usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "'api_key' must be a string")
    r = k("--config", os.path.join(home, "missing.toml"), "usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "missing.toml")


def test_api_keys_from_flag_env_and_config(keyed_daemon, home):
    d, key = keyed_daemon
    k = Kiln(d.url, home)
    # No key: 401, one line, and where a key can go.
    r = k("sandboxes", "ls")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "401", "--api-key-file", "KILN_API_KEY")
    # A wrong key.
    r = k("sandboxes", "ls", env={"KILN_API_KEY": "kiln_wrong"})
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "401")
    # From the environment.
    r = k("usage", "--json", env={"KILN_API_KEY": key})
    assert r.returncode == 0, r.stderr
    assert '"workspace": "clitest"' in r.stdout
    # From a key file given on the command line: beats a wrong environment.
    key_file = write(os.path.join(home, "key.txt"), key + "\n")
    r = k("--api-key-file", key_file, "usage", env={"KILN_API_KEY": "kiln_wrong"})
    assert r.returncode == 0, r.stderr
    # From the config file, as api_key and as api_key_file.
    cfg = os.path.join(home, ".config", "kiln", "config.toml")
    write(cfg, f'api_key = "{key}"\n')
    assert k("usage").returncode == 0
    write(cfg, 'api_key_file = "~/key.txt"\n')
    assert k("usage").returncode == 0
    # The environment beats the config file.
    r = k("usage", env={"KILN_API_KEY": "kiln_wrong"})
    assert r.returncode == 1
    # A key file that is not there.
    r = k("--api-key-file", os.path.join(home, "nope"), "usage")
    assert r.returncode == 1
    assert_one_line_error(r.stderr, "API key file")
    # A whole run with the key.
    r = k("run", "-", input="print('authorized')\n", env={"KILN_API_KEY": key})
    assert (r.returncode, r.stdout) == (0, "authorized\n"), r.stderr


def test_usage_errors_exit_1(kiln):
    for args, needle in ((["bogus"], "unknown command 'bogus'"),
                         (["sandboxes"], "sandboxes: A subcommand is required"),
                         (["sandboxes", "inspect"], "sandboxes inspect: id is required"),
                         (["run", "--timeout", "0", "x.py"], "run: --timeout"),
                         (["drive", "put", "--scope", "forever", "x"], "drive put: --scope"),
                         (["--url"], "--url")):
        r = kiln(*args)
        assert r.returncode == 1, args
        assert_one_line_error(r.stderr, needle)
