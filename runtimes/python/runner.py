"""Kiln in-sandbox Python REPL runner.

Started by kiln-init (the sandbox's PID 1) as

    /usr/bin/python3 -u /opt/kiln/runtimes/python/runner.py

with fd 3 a connected AF_UNIX SOCK_STREAM control socket speaking JSON lines,
fd 0 = /dev/null and fds 1/2 pipes that kiln-init relays as stdout/stderr.

Protocol (one JSON object per line):
  runner -> init  {"type":"ready","language":"python","pid":N}
  init -> runner  {"type":"execute","code":"...","env":{"K":"V"}}
  runner -> init  {"type":"result","is_main_result":false, <mime fields>}  (0..n)
                  {"type":"error","name":..,"value":..,"traceback":..,"line":..} (0..1)
                  {"type":"result","is_main_result":true, <mime fields>}   (0..1)
                  {"type":"done","execution_count":N}                      (exactly 1)
EOF on the control socket makes the runner exit.

Only the standard library is used, and only cheap modules are imported before
the ready message is sent.  matplotlib is never imported by the runner: it is
hooked only when the user's code imports matplotlib.pyplot.
"""

import os
import sys

CONTROL_FD = 3
_RUNNER_FILE = None  # set in main(); frames from this file are hidden

# Mime type -> result field.
MIME_KEYS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
}
# Fallback _repr_*_ methods, in the order IPython consults them.
REPR_METHODS = (
    ("html", "_repr_html_"),
    ("markdown", "_repr_markdown_"),
    ("svg", "_repr_svg_"),
    ("png", "_repr_png_"),
    ("jpeg", "_repr_jpeg_"),
    ("latex", "_repr_latex_"),
    ("json", "_repr_json_"),
    ("javascript", "_repr_javascript_"),
    ("pdf", "_repr_pdf_"),
)
BINARY_KEYS = frozenset(("png", "jpeg", "pdf"))
CO_COROUTINE = 0x0080
PYCF_ALLOW_TOP_LEVEL_AWAIT = 0x2000


class _Quitter:
    """Replacement for site's exit()/quit(): raise SystemExit without closing
    sys.stdin (site's version closes it, and with it fd 0)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


class Runner:
    def __init__(self, fd):
        self.fd = fd
        self.pid = os.getpid()
        self.execution_count = 0
        self.executing = False  # user code (or its rendering) is running
        self.in_send = False  # main thread is writing a control message
        self.pending_interrupt = False
        self.future_flags = 0
        self.loop = None  # asyncio loop for top-level await, created lazily
        self.rbuf = b""
        self.main_thread = None
        self.send_lock = None
        self.ns = None
        self.sigint_handler = None

    # ------------------------------------------------------------------ setup

    def setup_signals(self):
        try:
            import _signal as sigmod
        except ImportError:  # pragma: no cover
            import signal as sigmod
        self._sigmod = sigmod
        runner = self

        def on_sigint(signum, frame):
            if not runner.executing:
                return  # idle, or between cells: nothing to interrupt
            if runner.in_send:
                # Never break a control message in half; raise right after.
                runner.pending_interrupt = True
                return
            raise KeyboardInterrupt

        self.sigint_handler = on_sigint
        sigmod.signal(sigmod.SIGINT, on_sigint)

    def ensure_sigint(self):
        try:
            if self._sigmod.getsignal(self._sigmod.SIGINT) is not self.sigint_handler:
                self._sigmod.signal(self._sigmod.SIGINT, self.sigint_handler)
        except Exception:
            pass

    def setup(self):
        """Everything not needed for the ready message (imports included)."""
        import _thread
        import builtins
        import types

        global json, ast, linecache, base64, io
        import ast
        import base64
        import io
        import json
        import linecache

        self.main_thread = _thread.get_ident()
        self.get_ident = _thread.get_ident
        self.send_lock = _thread.allocate_lock()

        # A fresh __main__ module for the user's code: pickling of classes and
        # functions defined in cells resolves __main__.X against it, and
        # libraries that check for an interactive session (no __main__.__file__)
        # see one.
        self._runner_main = sys.modules.get("__main__")
        mod = types.ModuleType("__main__")
        mod.__dict__.update(
            {
                "__name__": "__main__",
                "__doc__": None,
                "__package__": None,
                "__spec__": None,
                "__loader__": None,
                "__builtins__": builtins,
            }
        )
        sys.modules["__main__"] = mod
        self.ns = mod.__dict__

        builtins.display = self.display
        builtins.exit = _Quitter("exit")
        builtins.quit = _Quitter("quit")

        # Behave like the interactive interpreter: cwd first on sys.path, not
        # the runner's own directory.
        sys.argv = [""]
        if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(
            os.path.abspath(_RUNNER_FILE)
        ):
            sys.path[0] = ""
        elif "" not in sys.path:
            sys.path.insert(0, "")

        os.environ.setdefault("MPLBACKEND", "Agg")
        self.install_pyplot_hook()
        _watch_user_site()

    # --------------------------------------------------------- control socket

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def flush_std(self):
        seen = []
        for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if s is None or any(s is x for x in seen):
                continue
            seen.append(s)
            try:
                s.flush()
            except Exception:
                pass

    def encode(self, msg):
        try:
            text = json.dumps(msg, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (ValueError, TypeError, RecursionError):
            msg = dict(msg)
            msg.pop("json", None)
            text = json.dumps(msg, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
        # Lone surrogates cannot be UTF-8 encoded; replace them.
        return text.encode("utf-8", "replace") + b"\n"

    def send(self, msg):
        if os.getpid() != self.pid:
            return  # a forked child (multiprocessing); the socket is not its own
        self.flush_std()
        data = self.encode(msg)
        is_main = self.get_ident() == self.main_thread
        with self.send_lock:
            if is_main:
                self.in_send = True
            try:
                self._write_all(data)
            finally:
                if is_main:
                    self.in_send = False
        if is_main and self.pending_interrupt and self.executing:
            self.pending_interrupt = False
            raise KeyboardInterrupt

    def read_message(self):
        """Next JSON line from the control socket, or None on EOF."""
        while True:
            nl = self.rbuf.find(b"\n")
            if nl >= 0:
                line, self.rbuf = self.rbuf[:nl], self.rbuf[nl + 1 :]
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line.decode("utf-8", "replace"))
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    return msg
                continue
            try:
                chunk = os.read(self.fd, 1 << 16)
            except KeyboardInterrupt:
                continue  # a stray SIGINT with a user-installed handler
            except OSError:
                return None
            if not chunk:
                return None
            self.rbuf += chunk

    def serve(self):
        while True:
            msg = self.read_message()
            if msg is None:
                return
            if msg.get("type") == "execute":
                self.handle_execute(msg)

    # -------------------------------------------------------------- execution

    def handle_execute(self, msg):
        self.execution_count += 1
        n = self.execution_count
        self.error_sent = False
        try:
            try:
                code = msg.get("code")
                if not isinstance(code, str):
                    code = "" if code is None else str(code)
                env = msg.get("env")
                self.execute(code, env if isinstance(env, dict) else {}, n)
            except BaseException as e:  # e.g. a SIGINT landing between steps
                self.executing = False
                if not self.error_sent:
                    self.send_error(self.make_error(e, "<cell-%d>" % n))
        finally:
            self.executing = False
            self.pending_interrupt = False
            self.send({"type": "done", "execution_count": n})

    def send_error(self, err):
        if err is not None and not self.error_sent:
            self.error_sent = True
            self.send(err)

    def execute(self, code, env, n):
        filename = "<cell-%d>" % n
        saved_env = self.apply_env(env)
        err = None
        self.pending_interrupt = False
        self.ensure_sigint()
        self.check_pyplot()
        try:
            self.executing = True
            main = None
            try:
                value = self.run_code(code, filename)
                if value is not None:
                    self.ns["_"] = value
                    main = self.bundle(value)
                    value = None
            except BaseException as e:
                err = self.make_error(e, filename)
                e = None
            try:
                if main is not None:
                    main["type"] = "result"
                    main["is_main_result"] = True
                    self.send(main)
            except BaseException as e:
                err = err or self.make_error(e, filename)
                e = None
            try:
                self.check_pyplot()
                self.emit_open_figures()
            except BaseException as e:
                err = err or self.make_error(e, filename)
                e = None
        finally:
            self.executing = False
            self.restore_env(saved_env)
            self.repair_stdin()
        self.send_error(err)

    def run_code(self, code, filename):
        """Run a cell; return the value of its last expression (or None)."""
        flags = self.future_flags | PYCF_ALLOW_TOP_LEVEL_AWAIT
        tree = compile(code, filename, "exec", flags | ast.PyCF_ONLY_AST, dont_inherit=True)
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)

        last = None
        body = tree.body
        if body and isinstance(body[-1], ast.Expr) and not self.suppressed(code, body[-1]):
            last = body.pop()
        mod = compile(ast.Module(body=body, type_ignores=[]), filename, "exec", flags, dont_inherit=True)
        self.record_future(mod)
        expr = None
        if last is not None:
            expr = compile(ast.Expression(body=last.value), filename, "eval", flags, dont_inherit=True)
        self.run_maybe_async(mod)
        if expr is None:
            return None
        return self.run_maybe_async(expr)

    def run_maybe_async(self, codeobj):
        if not codeobj.co_flags & CO_COROUTINE:
            return eval(codeobj, self.ns)
        import asyncio

        if self.loop is None or self.loop.is_closed():
            self.loop = asyncio.new_event_loop()
        task = self.loop.create_task(eval(codeobj, self.ns))
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            task.cancel()
            raise

    @staticmethod
    def suppressed(code, node):
        """A trailing ';' after the last expression hides its value (IPython)."""
        try:
            line = code.splitlines()[node.end_lineno - 1].encode("utf-8")
        except (IndexError, TypeError):
            return False
        rest = line[node.end_col_offset :].lstrip()
        return rest.startswith(b";")

    def record_future(self, codeobj):
        # `from __future__ import x` in a cell applies to later cells too.
        try:
            import __future__

            for name in __future__.all_feature_names:
                flag = getattr(__future__, name).compiler_flag
                if codeobj.co_flags & flag:
                    self.future_flags |= flag
        except Exception:
            pass

    @staticmethod
    def apply_env(env):
        saved = {}
        for k, v in env.items():
            k = str(k)
            old = os.environ.get(k)
            try:
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v if isinstance(v, str) else str(v)
            except (ValueError, OSError) as e:
                sys.stderr.write("kiln: cannot set environment variable %r: %s\n" % (k, e))
                continue
            if k not in saved:
                saved[k] = old
        return saved

    @staticmethod
    def restore_env(saved):
        for k, old in saved.items():
            try:
                if old is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = old
            except (ValueError, OSError):
                pass

    @staticmethod
    def repair_stdin():
        """User code that closed sys.stdin must not leave fd 0 free."""
        s = sys.stdin
        try:
            if s is not None and not s.closed:
                return
        except Exception:
            return
        try:
            os.fstat(0)
        except OSError:
            fd = os.open(os.devnull, os.O_RDONLY)
            if fd != 0:
                os.dup2(fd, 0)
                os.close(fd)
        try:
            sys.stdin = open(0, "r", closefd=False)
        except OSError:
            pass

    # ----------------------------------------------------------------- errors

    def make_error(self, e, filename):
        try:
            return self._make_error(e, filename)
        except BaseException:  # formatting failed (e.g. out of memory)
            try:
                name = type(e).__name__
            except BaseException:
                name = "Exception"
            if isinstance(e, MemoryError):
                name = "OutOfMemoryError"
            return {"type": "error", "name": name, "value": "", "traceback": "", "line": None}

    def _make_error(self, e, filename):
        import traceback

        name = type(e).__name__
        line = None
        if isinstance(e, MemoryError):
            name = "OutOfMemoryError"
        if isinstance(e, SystemExit):
            value = str(e.code)
        elif isinstance(e, SyntaxError) and e.filename == filename:
            value = str(e.msg)
            line = e.lineno
        else:
            try:
                value = str(e)
            except Exception:
                value = "<exception str() failed>"
        if line is None:
            tb = e.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_filename == filename:
                    line = tb.tb_lineno
                tb = tb.tb_next
        if isinstance(e, MemoryError):
            import gc

            gc.collect()
        try:
            te = traceback.TracebackException(type(e), e, e.__traceback__, compact=True)
            self._clean_tb(te, set())
            text = "".join(te.format())
        except Exception:
            text = "%s: %s\n" % (name, value)
        if isinstance(line, bool) or not isinstance(line, int):
            line = None
        return {"type": "error", "name": name, "value": value, "traceback": text, "line": line}

    def _clean_tb(self, te, seen):
        """Drop the runner's frames (and, when the cell is on the stack, the
        machinery that called it, e.g. asyncio) from a TracebackException."""
        import traceback

        if te is None or id(te) in seen:
            return
        seen.add(id(te))
        frames = [f for f in te.stack if f.filename != _RUNNER_FILE]
        for i, f in enumerate(frames):
            if f.filename.startswith("<cell-"):
                frames = frames[i:]
                break
        te.stack = traceback.StackSummary.from_list(frames)
        self._clean_tb(te.__cause__, seen)
        self._clean_tb(te.__context__, seen)
        for sub in getattr(te, "exceptions", None) or ():
            self._clean_tb(sub, seen)

    # ---------------------------------------------------------------- display

    def display(self, *objs, include=None, exclude=None, metadata=None, transient=None,
                display_id=None, raw=False, clear=False, **kwargs):
        """Show objects as rich results, like IPython's display()."""
        for obj in objs:
            if raw:
                if not isinstance(obj, dict):
                    continue
                data = self.from_mimebundle(obj)
                if not data:
                    continue
                data.setdefault("text", "")
            else:
                data = self.bundle(obj, include, exclude)
            msg = {"type": "result", "is_main_result": False}
            msg.update(data)
            self.send(msg)
        return None

    @staticmethod
    def repr_method(obj, name):
        """Like IPython's _safe_get_formatter_method."""
        if isinstance(obj, type):
            return None  # a class's _repr_html_ is an unbound function
        try:
            m = getattr(obj, name, None)
        except Exception:
            return None
        if not callable(m):
            return None
        try:
            canary = getattr(obj, "_ipython_canary_method_should_not_exist_", None)
        except Exception:
            canary = None
        if callable(canary):
            return None  # proxy objects claiming to have every attribute
        return m

    def warn_repr(self, obj, meth, e):
        try:
            sys.stderr.write(
                "kiln: %s.%s failed: %s: %s\n" % (type(obj).__name__, meth, type(e).__name__, e)
            )
        except Exception:
            pass

    def bundle(self, obj, include=None, exclude=None):
        """Mime fields (text, html, png, ...) for obj."""
        fig_mod = sys.modules.get("matplotlib.figure")
        if fig_mod is not None and isinstance(obj, getattr(fig_mod, "Figure", ())):
            return self.figure_bundle(obj)

        data = {}
        m = self.repr_method(obj, "_repr_mimebundle_")
        if m is not None:
            try:
                r = m(include=include, exclude=exclude)
            except Exception as e:
                self.warn_repr(obj, "_repr_mimebundle_", e)
                r = None
            if isinstance(r, tuple) and r:
                r = r[0]
            if isinstance(r, dict):
                data.update(self.from_mimebundle(r))
        for key, meth in REPR_METHODS:
            if key in data:
                continue
            m = self.repr_method(obj, meth)
            if m is None:
                continue
            try:
                r = m()
            except Exception as e:
                self.warn_repr(obj, meth, e)
                continue
            if isinstance(r, tuple) and r:
                r = r[0]
            v = self.normalize(key, r)
            if v is not None:
                data[key] = v
        if "text" not in data:
            data["text"] = self.safe_repr(obj)
        if include:
            inc = {MIME_KEYS.get(k, k) for k in include}
            data = {k: v for k, v in data.items() if k in inc or k == "text"}
        if exclude:
            exc = {MIME_KEYS.get(k, k) for k in exclude}
            data = {k: v for k, v in data.items() if k not in exc or k == "text"}
        return data

    def from_mimebundle(self, bundle):
        data = {}
        for mime, val in bundle.items():
            key = MIME_KEYS.get(mime)
            if key is None:
                continue
            v = self.normalize(key, val)
            if v is not None:
                data[key] = v
        return data

    def normalize(self, key, r):
        if r is None:
            return None
        if key in BINARY_KEYS:
            if isinstance(r, (bytes, bytearray, memoryview)):
                return base64.b64encode(bytes(r)).decode("ascii")
            if isinstance(r, str):
                return r  # already base64, as in IPython mime bundles
            return None
        if key == "json":
            if isinstance(r, (str, bytes)):
                try:
                    r = json.loads(r)
                except ValueError:
                    return None
            try:
                return self.jsonable(r, 0)
            except Exception:
                return None
        if isinstance(r, (bytes, bytearray)):
            return bytes(r).decode("utf-8", "replace")
        if isinstance(r, list) and all(isinstance(x, str) for x in r):
            return "".join(r)  # nbformat-style multi-line string
        if isinstance(r, str):
            return r
        return None

    def jsonable(self, v, depth):
        if depth > 200:
            raise ValueError("too deep")
        if v is None or isinstance(v, (bool, int, str)):
            return v
        if isinstance(v, float):
            return v if v == v and v not in (float("inf"), float("-inf")) else None
        if isinstance(v, dict):
            return {str(k): self.jsonable(x, depth + 1) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self.jsonable(x, depth + 1) for x in v]
        return str(v)

    @staticmethod
    def safe_repr(obj):
        try:
            r = repr(obj)
            if isinstance(r, str):
                return r
        except Exception as e:
            try:
                return "<%s object at %#x (repr() failed: %s: %s)>" % (
                    type(obj).__name__, id(obj), type(e).__name__, e)
            except Exception:
                pass
        try:
            return "<%s object at %#x>" % (type(obj).__name__, id(obj))
        except Exception:
            return "<object>"

    # ------------------------------------------------------------- matplotlib

    def figure_bundle(self, fig):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        data = {"text": self.safe_repr(fig), "png": base64.b64encode(buf.getvalue()).decode("ascii")}
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            try:
                plt.close(fig)  # emitted once; not again at the end of the cell
            except Exception:
                pass
        return data

    def emit_open_figures(self):
        """Send every figure pyplot still has open, then close it."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        helpers = sys.modules.get("matplotlib._pylab_helpers")
        if helpers is None:
            return
        managers = sorted(helpers.Gcf.figs.items(), key=lambda kv: kv[0])
        for _num, manager in managers:
            fig = manager.canvas.figure
            try:
                data = self.figure_bundle(fig)
            finally:
                try:
                    plt.close(fig)
                except Exception:
                    pass
            msg = {"type": "result", "is_main_result": False}
            msg.update(data)
            self.send(msg)

    def patch_pyplot(self, plt):
        if getattr(plt, "_kiln_patched", False):
            return
        runner = self
        orig = getattr(plt, "show", None)

        def show(*args, **kwargs):
            """Display all open figures (Kiln: sent as results, then closed)."""
            runner.emit_open_figures()

        show.__wrapped__ = orig
        plt.show = show
        plt._kiln_patched = True

    def check_pyplot(self):
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            try:
                self.patch_pyplot(plt)
            except Exception:
                pass

    def install_pyplot_hook(self):
        """Patch matplotlib.pyplot.show as soon as pyplot is imported, without
        importing matplotlib ourselves."""
        runner = self

        class PyplotHook:
            @staticmethod
            def find_spec(fullname, path=None, target=None):
                if fullname != "matplotlib.pyplot":
                    return None
                for finder in sys.meta_path:
                    if isinstance(finder, PyplotHook):
                        continue
                    find = getattr(finder, "find_spec", None)
                    if find is None:
                        continue
                    spec = find(fullname, path, target)
                    if spec is not None:
                        break
                else:
                    return None
                loader = spec.loader
                orig_exec = getattr(loader, "exec_module", None)
                if orig_exec is None:
                    return spec

                def exec_module(module):
                    orig_exec(module)
                    try:
                        runner.patch_pyplot(module)
                    except Exception:
                        pass

                try:
                    loader.exec_module = exec_module
                except Exception:
                    pass
                return spec

            @staticmethod
            def invalidate_caches():
                pass

        sys.meta_path.insert(0, PyplotHook())


def _configure_std_streams():
    for name, fd in (("stdout", 1), ("stderr", 2)):
        s = getattr(sys, name)
        if s is None:
            continue
        try:
            # Line buffered, as in a terminal: print("x") reaches kiln-init as
            # one "x\n" chunk rather than two writes; a partial line is sent
            # when the runner flushes (before every control message).
            s.reconfigure(encoding="utf-8", errors="backslashreplace", write_through=False,
                          line_buffering=True)
        except Exception:
            try:
                s.reconfigure(errors="backslashreplace", write_through=False, line_buffering=True)
            except Exception:
                pass
    if sys.stdin is None:
        Runner.repair_stdin()


def _watch_user_site():
    """Makes `pip install X` (pip falls back to ~/.local) importable at once.

    site.py puts the user site folder on sys.path only if it exists when the
    interpreter starts, and a missing sys.path entry is remembered as "no
    finder" until importlib.invalidate_caches(). A sandbox's first install
    creates the folder while this context runs, from a command or from a
    subprocess of the very cell that imports it next; so the folder goes on
    sys.path now (where site.py would put it: before the system's
    packages, so an installed version wins) with a finder that waits for it.
    """
    import importlib.machinery
    import site

    path = site.getusersitepackages()
    if not site.ENABLE_USER_SITE or not isinstance(path, str) or path in sys.path:
        return

    class PendingFinder:
        def __init__(self):
            self.finder = None

        def find_spec(self, fullname, target=None):
            if self.finder is None:
                if not os.path.isdir(path):
                    return None
                self.finder = importlib.machinery.FileFinder(
                    path,
                    (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
                    (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
                    (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
                )
            return self.finder.find_spec(fullname, target)

        def invalidate_caches(self):
            if self.finder is not None:
                self.finder.invalidate_caches()

    def hook(entry):
        if entry == path:
            return PendingFinder()
        raise ImportError(entry)

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.pop(path, None)
    at = next((i for i, p in enumerate(sys.path) if p.endswith(("dist-packages", "site-packages"))),
              len(sys.path))
    sys.path.insert(at, path)


def _preload(modules):
    """Imports each module into sys.modules only: the user's namespace stays
    empty.  A module that is missing or fails is skipped; the user's own
    import of it reports the error where it can be read."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: B036 - SystemExit from a module too
            sys.modules.pop(name, None)
    _warm_up()


def _warm_up():
    """Does once, unseen, what a first cell would otherwise pay for: pandas
    imports its HTML and text formatters on a DataFrame's first display, and
    matplotlib loads its font cache and PNG writer on a figure's first save.
    Nothing is left behind: no figure stays open, no name is bound."""
    try:
        pd = sys.modules.get("pandas")
        if pd is not None:
            df = pd.DataFrame({"a": [1], "b": ["x"]})
            df._repr_html_()
            repr(df)
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            import io

            fig = plt.figure()
            fig.gca().plot([1, 2])
            fig.savefig(io.BytesIO(), format="png")
            plt.close("all")
    except Exception:  # a warm-up that fails leaves the cold path; that works
        pass


def main():
    global _RUNNER_FILE
    _RUNNER_FILE = main.__code__.co_filename
    try:
        os.set_inheritable(CONTROL_FD, False)  # not for os.system() children
    except OSError:
        sys.stderr.write("kiln runner: no control socket on fd %d\n" % CONTROL_FD)
        sys.exit(2)
    runner = Runner(CONTROL_FD)
    runner.setup_signals()
    _configure_std_streams()
    preload = os.environ.pop("KILN_PRELOAD", "")
    if preload:
        # A pool sandbox's context: nobody waits for it, so it gets ready
        # for the user's first cell (`import pandas` becomes a dict lookup).
        runner.setup()
        _preload(preload.split(","))
    ready = '{"type":"ready","language":"python","pid":%d}\n' % os.getpid()
    runner._write_all(ready.encode("ascii"))
    if not preload:
        # The rest (json, ast, ...) loads while kiln-init gets around to
        # sending the first execute.
        runner.setup()
    try:
        runner.serve()
    finally:
        runner.flush_std()
        # Exit without waiting for user threads or atexit handlers: the
        # context is gone once its control socket is.
        os._exit(0)


if __name__ == "__main__":
    main()
