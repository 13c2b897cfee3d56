"""Kiln in-sandbox Bash runner: one persistent bash per context.

Started by kiln-init (the sandbox's PID 1) as

    /usr/bin/python3 -u /opt/kiln/runtimes/bash/runner.py

with fd 3 a connected AF_UNIX SOCK_STREAM control socket speaking JSON lines,
fd 0 = /dev/null and fds 1/2 pipes that kiln-init relays as stdout/stderr.
The runner is its own process group (kiln-init's setpgid); bash and everything
it starts stay in that group, so kiln-init's SIGKILL of the group on a hard
timeout takes the whole context down.

Protocol (one JSON object per line; the same as the Python runner's):
  runner -> init  {"type":"ready","language":"bash","pid":N}     (N = runner pid)
  init -> runner  {"type":"execute","code":"...","env":{"K":"V"}}
  runner -> init  {"type":"error","name":..,"value":..,"traceback":"","line":null} (0..1)
                  {"type":"done","execution_count":N,"exit_code":S}          (exactly 1)
EOF on the control socket makes the runner kill bash and exit.

Errors: a non-zero status of the cell (its last command) gives
  {"name":"CommandError","value":"exit status S"};
SIGINT to the runner while a cell runs interrupts it like Ctrl-C in a terminal
(the shell and its state survive) and gives {"name":"KeyboardInterrupt"};
a cell that ends the shell (`exit 3`, `set -e` and a failure, a signal) gives
  {"name":"CommandError","value":"exit status 3 (the shell exited; the context was restarted)"}
and a fresh shell takes over (state lost).

How bash is driven
------------------
bash runs as `bash --noprofile --norc --noediting +m -i`: interactive, because
only an interactive shell answers SIGINT by abandoning the whole current
command (loops and functions included) and going back to read the next one,
instead of exiting (no trap) or carrying on with the next command (trap).
Its stdin is a pipe from this runner; fds 1/2 are the runner's own, so output
streams straight to kiln-init; fd 63 is a pipe on which bash reports:
  "R <pid>"        the shell is initialised (start-up)
  "S <n>"          cell n has been parsed and is starting
  "P <n> <status>" PROMPT_COMMAND, run whenever bash is back at its (empty)
                   prompt: the cell is over, normally or interrupted.
Each cell is written to /tmp/.kiln-bash-<pid>/cell-<n>.sh (0600, directory
0700) and run with
  { __kiln_n=n; printf 'S n\n' >&63; } 2>/dev/null; K='v'... source FILE </dev/null 63>&-
`source` keeps cd, variables, functions, aliases and options; the K='v'
prefix is bash's temporary environment: exported for the cell only and undone
afterwards (even when interrupted); </dev/null gives commands reading stdin
an immediate EOF instead of the runner's command pipe; 63>&- keeps the report
pipe out of the cell's processes.  SIGINT is passed on (to the whole process
group, as a terminal's Ctrl-C would be) only once "S n" has arrived, so it can
never cut the command line itself.
"""

import os
import sys

CONTROL_FD = 3
REPORT_FD = 63  # in bash: where it reports to the runner
STDERR_FD = 62  # in bash, during start-up only: the real stderr
INIT_TIMEOUT = 10.0
INTERRUPT_REPEAT = 0.5  # s between repeated SIGINTs while a cell will not stop

# PROMPT_COMMAND and PS* would disturb the protocol or print prompts; TMOUT
# would make the idle interactive shell exit.
_BASH_ENV_DROP = ("PROMPT_COMMAND", "PS0", "PS1", "PS2", "BASH_ENV", "ENV", "HISTFILE", "TMOUT")

# First line bash reads.  Its stderr is /dev/null until here, which hides the
# "no job control in this shell" start-up notices of an interactive shell
# without a terminal.
_INIT = (
    "exec 2>&%(err)d %(err)d>&-; "
    "set +o history +H; unset HISTFILE MAILCHECK MAIL MAILPATH TMOUT; "
    "PS1=; PS2=; PS0=; shopt -s expand_aliases; "
    "__kiln_n=; "
    "PROMPT_COMMAND='{ __kiln_last=$?; "
    "printf \"P %%s %%s\\n\" \"$__kiln_n\" \"$__kiln_last\" >&%(rep)d; __kiln_n=; } 2>/dev/null'; "
    "readonly PROMPT_COMMAND; "
    "printf 'R %%s\\n' \"$$\" >&%(rep)d\n"
) % {"err": STDERR_FD, "rep": REPORT_FD}


def _bash_path():
    for p in ("/usr/bin/bash", "/bin/bash"):
        if os.access(p, os.X_OK):
            return p
    return "bash"


def _quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def _is_name(k):
    if not k or not (k[0].isascii() and (k[0].isalpha() or k[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in k)


def _detach_tty():
    """Drop a controlling terminal, if any (not in the sandbox; in tests run
    from a terminal).  Otherwise `bash -i` would open /dev/tty and take job
    control: own process groups that SIGINT to ours would not reach."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        import fcntl
        import termios

        fcntl.ioctl(fd, termios.TIOCNOTTY)
    except Exception:
        pass
    finally:
        os.close(fd)


class ShellDied(Exception):
    pass


class Shell:
    """One bash process and its pipes."""

    def __init__(self):
        import fcntl
        import signal

        r0, w0 = os.pipe()
        rr, wr = os.pipe()
        nul = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        # Park every source fd above the targets so the dup2s cannot collide.
        fds = []
        for fd in (r0, w0, rr, wr, nul):
            fds.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64 + len(fds)))
            os.close(fd)
        r0, w0, rr, wr, nul = fds
        env = {k: v for k, v in os.environ.items() if k not in _BASH_ENV_DROP}
        actions = [
            (os.POSIX_SPAWN_DUP2, 2, STDERR_FD),
            (os.POSIX_SPAWN_DUP2, nul, 2),
            (os.POSIX_SPAWN_DUP2, r0, 0),
            (os.POSIX_SPAWN_DUP2, wr, REPORT_FD),
        ]
        sigdef = [signal.SIGINT, signal.SIGPIPE, signal.SIGQUIT, signal.SIGTERM, signal.SIGCHLD]
        if hasattr(signal, "SIGXFSZ"):
            sigdef.append(signal.SIGXFSZ)
        bash = _bash_path()
        try:
            spawn = os.posix_spawn if os.path.isabs(bash) else os.posix_spawnp
            self.pid = spawn(
                bash,
                ["bash", "--noprofile", "--norc", "--noediting", "+m", "-i"],
                env,
                file_actions=actions,
                setsigdef=sigdef,
                setsigmask=(),
            )
        finally:
            os.close(r0)
            os.close(wr)
            os.close(nul)
        self.cmd_fd = w0
        self.rep_fd = rr
        os.set_blocking(rr, False)
        self.rbuf = b""
        self.status = None  # wait status once reaped
        self.write(_INIT)

    def write(self, text):
        data = text.encode("utf-8", "surrogateescape")
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.cmd_fd, view)
                view = view[n:]
        except (BrokenPipeError, OSError):
            pass  # bash is gone; the death is noticed via SIGCHLD

    def read_reports(self):
        """Complete report lines available now (split into fields)."""
        while True:
            try:
                chunk = os.read(self.rep_fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not chunk:
                break
            self.rbuf += chunk
        lines = []
        while b"\n" in self.rbuf:
            line, self.rbuf = self.rbuf.split(b"\n", 1)
            lines.append(line.decode("ascii", "replace").split(" "))
        return lines

    def poll(self):
        """True if bash has exited (and reap it)."""
        if self.status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return True
        if pid == 0:
            return False
        self.status = status
        return True

    def kill(self):
        import signal

        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = 0
        self.close()

    def close(self):
        for fd in (self.cmd_fd, self.rep_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.cmd_fd = self.rep_fd = -1

    def exit_description(self):
        """(exit_code, text) for the reaped shell."""
        import signal

        st = self.status or 0
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = "signal %d" % sig
            return 128 + sig, "killed by %s" % name
        return os.WEXITSTATUS(st), "exit status %d" % os.WEXITSTATUS(st)


class Runner:
    def __init__(self, fd):
        import select
        import signal
        import time

        self.fd = fd
        self.pid = os.getpid()
        self.select = select.select
        self.monotonic = time.monotonic
        self.interrupt_at = 0.0
        self.signal = signal
        self.execution_count = 0
        self.ctl_buf = b""
        self.ctl_eof = False
        self.shell = None
        self.workdir = None
        # Current execution.
        self.current = 0  # cell number being run, 0 when idle
        self.started = False  # "S n" received
        self.interrupt_pending = False
        self.interrupted = False
        self.early_interrupt = False  # SIGINT came with an unread execute
        self.idle_death = None  # how bash died while no cell was running
        # SIGCHLD (bash died) and SIGINT wake the select() through this pipe.
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda s, f: None)
        signal.signal(signal.SIGINT, self.on_sigint)

    # ----------------------------------------------------------------- shell

    def make_workdir(self):
        import stat

        base = "/tmp/.kiln-bash-%d" % self.pid
        path = base
        for i in range(100):
            try:
                os.mkdir(path, 0o700)
                return path
            except FileExistsError:
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                    os.chmod(path, 0o700)
                    return path
            path = "%s-%d" % (base, i + 1)
        raise OSError("cannot create a private directory under /tmp")

    def start_shell(self):
        """Start bash and wait until it has run its initialisation."""
        import time

        self.shell = sh = Shell()
        deadline = time.monotonic() + INIT_TIMEOUT
        while True:
            for fields in sh.read_reports():
                if fields[0] == "R":
                    return
            if sh.poll():
                sh.read_reports()
                code, how = sh.exit_description()
                raise ShellDied("bash exited during start-up (%s)" % how)
            left = deadline - time.monotonic()
            if left <= 0:
                sh.kill()
                raise ShellDied("bash did not start within %d s" % INIT_TIMEOUT)
            self.select([sh.rep_fd, self.wake_r], [], [], left)
            self.drain_wake()

    def drain_wake(self):
        try:
            while os.read(self.wake_r, 4096):
                pass
        except OSError:
            pass

    def on_sigint(self, signum, frame):
        if not self.current:
            # Idle: nothing to interrupt, unless an execute has already been
            # sent (kiln-init writes it, then may interrupt at once): that
            # cell is interrupted as soon as it starts.
            try:
                if b"\n" in self.ctl_buf or self.select([self.fd], [], [], 0)[0]:
                    self.early_interrupt = True
            except (OSError, ValueError):
                pass
            return
        if not self.started:
            self.interrupt_pending = True  # the command line is not parsed yet
            return
        self.deliver_interrupt()

    def deliver_interrupt(self):
        """Ctrl-C: SIGINT to the whole process group, except this runner."""
        sig = self.signal
        self.interrupted = True
        self.interrupt_pending = False
        self.interrupt_at = self.monotonic()
        old = sig.signal(sig.SIGINT, sig.SIG_IGN)
        try:
            os.killpg(0, sig.SIGINT)
        except OSError:
            try:
                os.kill(self.shell.pid, sig.SIGINT)
            except OSError:
                pass
        finally:
            sig.signal(sig.SIGINT, old)

    # -------------------------------------------------------- control socket

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def send(self, msg):
        data = json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
        try:
            self._write_all(data.encode("utf-8", "replace") + b"\n")
        except OSError:
            self.ctl_eof = True

    def read_ctl(self):
        try:
            chunk = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.ctl_eof = True
        self.ctl_buf += chunk

    def next_message(self):
        while b"\n" in self.ctl_buf:
            line, self.ctl_buf = self.ctl_buf.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                msg = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(msg, dict):
                return msg
        return None

    # ------------------------------------------------------------- serving

    def serve(self):
        while True:
            msg = self.next_message()
            if msg is not None:
                if msg.get("type") != "execute":
                    self.early_interrupt = False
                else:
                    self.execute(msg)
                    if self.ctl_eof and not self.ctl_buf:
                        return
                continue
            if self.ctl_eof:
                return
            sh = self.shell
            r, _, _ = self.select([self.fd, self.wake_r, sh.rep_fd], [], [])
            if self.wake_r in r:
                self.drain_wake()
            if sh.rep_fd in r:
                sh.read_reports()  # stray prompt reports while idle
            if sh.poll():
                # bash died between cells (killed from outside): replace it,
                # and say so with the next execution's output.
                self.idle_death = sh.exit_description()[1]
                sh.close()
                self.start_shell()
            if self.fd in r:
                self.read_ctl()

    def cell_command(self, n, path, env):
        prefix = []
        for k, v in env.items():
            k = str(k)
            if v is None:
                continue
            v = v if isinstance(v, str) else str(v)
            if not _is_name(k):
                sys.stderr.write("kiln: cannot set environment variable %r: not a valid name\n" % k)
                continue
            if "\0" in v:
                sys.stderr.write("kiln: environment variable %r: NUL characters removed\n" % k)
                v = v.replace("\0", "")
            prefix.append("%s=%s " % (k, _quote(v)))
        return "{ __kiln_n=%d; printf 'S %d\\n' >&%d; } 2>/dev/null; %ssource %s </dev/null %d>&-\n" % (
            n, n, REPORT_FD, "".join(prefix), _quote(path), REPORT_FD)

    def write_cell(self, n, code):
        name = "cell-%d.sh" % n
        for attempt in (0, 1):
            if self.workdir is None or attempt:
                self.workdir = self.make_workdir()  # (re)created if removed
            path = os.path.join(self.workdir, name)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                continue
            try:
                data = code.encode("utf-8", "replace")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            return path
        raise OSError("cannot write the cell file under %s" % self.workdir)

    def execute(self, msg):
        self.execution_count += 1
        n = self.execution_count
        code = msg.get("code")
        if not isinstance(code, str):
            code = "" if code is None else str(code)
        env = msg.get("env")
        env = env if isinstance(env, dict) else {}

        error = None
        exit_code = 0
        path = None
        if self.idle_death:
            sys.stderr.write("kiln: the shell exited between executions (%s); "
                             "the context was restarted and its state lost\n" % self.idle_death)
            sys.stderr.flush()
            self.idle_death = None
        try:
            path = self.write_cell(n, code)
        except OSError as e:
            error = {"name": "OSError", "value": "kiln: %s" % e}
            exit_code = 1
        if path is not None:
            exit_code, error = self.run_cell(n, path, env)
            try:
                os.unlink(path)  # source has read it whole
            except OSError:
                pass
        if error is not None:
            error = {"type": "error", "name": error["name"], "value": error["value"],
                     "traceback": "", "line": None}
            self.send(error)
        self.send({"type": "done", "execution_count": n, "exit_code": exit_code})

    def run_cell(self, n, path, env):
        sh = self.shell
        self.started = False
        self.interrupt_pending = False
        self.interrupted = False
        if self.early_interrupt:
            # Interrupted before it was even read: do not start it at all.
            self.early_interrupt = False
            return 130, {"name": "KeyboardInterrupt", "value": ""}
        self.current = n
        try:
            sh.write(self.cell_command(n, path, env))
            status = None
            while status is None:
                for fields in sh.read_reports():
                    if fields[0] == "S" and fields[1:] == [str(n)]:
                        self.started = True
                        if self.interrupt_pending:
                            self.deliver_interrupt()
                    elif fields[0] == "P" and len(fields) == 3 and fields[1] == str(n):
                        try:
                            status = int(fields[2])
                        except ValueError:
                            status = 1
                        break
                if status is not None:
                    break
                if sh.poll():
                    code, how = sh.exit_description()
                    sh.close()
                    self.current = 0
                    self.start_shell()
                    return code, {
                        "name": "CommandError",
                        "value": "%s (the shell exited; the context was restarted)" % how,
                    }
                fds = [sh.rep_fd, self.wake_r]
                if not self.ctl_eof:
                    fds.append(self.fd)
                timeout = None
                if self.interrupted:
                    # A SIGINT can be lost (e.g. landing in a child between
                    # fork and exec, or in a child that shrugs it off): say it
                    # again, as an impatient user would.  kiln-init SIGKILLs
                    # the group 2 s after its first interrupt anyway.
                    timeout = max(0.0, self.interrupt_at + INTERRUPT_REPEAT - self.monotonic())
                r, _, _ = self.select(fds, [], [], timeout)
                if not r and self.interrupted and self.started:
                    self.deliver_interrupt()
                if self.wake_r in r:
                    self.drain_wake()
                if self.fd in r:
                    self.read_ctl()
                    if self.ctl_eof:
                        return 130, None  # the context is going away
        finally:
            self.current = 0
            self.started = False
            self.interrupt_pending = False
        if status != 0 and self.interrupted:
            return status, {"name": "KeyboardInterrupt", "value": ""}
        if status != 0:
            return status, {"name": "CommandError", "value": "exit status %d" % status}
        return 0, None

    def shutdown(self):
        sig = self.signal
        if self.shell is not None:
            self.shell.kill()
        # Background jobs left in our process group go too (interactive bash
        # without job control runs them with SIGINT ignored, not SIGTERM).
        try:
            sig.signal(sig.SIGTERM, sig.SIG_IGN)
            sig.signal(sig.SIGHUP, sig.SIG_IGN)
            os.killpg(0, sig.SIGHUP)
            os.killpg(0, sig.SIGTERM)
        except OSError:
            pass
        if self.workdir:
            try:
                for name in os.listdir(self.workdir):
                    os.unlink(os.path.join(self.workdir, name))
                os.rmdir(self.workdir)
            except OSError:
                pass


def main():
    try:
        os.set_inheritable(CONTROL_FD, False)  # not for bash and its children
    except OSError:
        sys.stderr.write("kiln runner: no control socket on fd %d\n" % CONTROL_FD)
        sys.exit(2)
    _detach_tty()
    runner = Runner(CONTROL_FD)
    try:
        runner.start_shell()
        global json
        import json

        runner._write_all(b'{"type":"ready","language":"bash","pid":%d}\n' % os.getpid())
        runner.serve()
    except ShellDied as e:
        sys.stderr.write("kiln runner: %s\n" % e)
        runner.shutdown()
        os._exit(1)
    except BaseException:
        import traceback

        traceback.print_exc()
        runner.shutdown()
        os._exit(1)
    runner.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
