'use strict';
/*
 * Kiln in-sandbox JavaScript / TypeScript REPL runner.
 *
 * Started by kiln-init (the sandbox's PID 1) as
 *
 *     /usr/bin/node /opt/kiln/runtimes/node/runner.js --language javascript
 *     /usr/bin/node /opt/kiln/runtimes/node/runner.js --language typescript
 *
 * with fd 3 a connected AF_UNIX SOCK_STREAM control socket speaking JSON
 * lines, fd 0 = /dev/null and fds 1/2 pipes that kiln-init relays as
 * stdout/stderr.  The protocol is the one of runtimes/python/runner.py:
 *
 *   runner -> init  {"type":"ready","language":"javascript","pid":N}
 *   init -> runner  {"type":"execute","code":"...","env":{"K":"V"}}
 *   runner -> init  {"type":"result","is_main_result":false, <mime fields>}  (0..n)
 *                   {"type":"error","name":..,"value":..,"traceback":..,"line":..} (0..1)
 *                   {"type":"result","is_main_result":true, <mime fields>}   (0..1)
 *                   {"type":"done","execution_count":N}                      (exactly 1)
 *
 * EOF on the control socket makes the runner exit.
 *
 * Cells run in Node's main context (as in the `node` REPL), so objects from
 * cells and from required modules share one realm.  Each cell is parsed with
 * acorn and rewritten, keeping every line where it was:
 *
 *   - the cell becomes the body of `(async () => { ... })()` (the prefix sits
 *     on line 1, the suffix on a line of its own after the code), so
 *     top-level `await` works everywhere;
 *   - top-level `let`/`const`/`var` turn into assignments to global `var`s
 *     (declared after the wrapper), `class X {}` into `X = class X {};` and
 *     function declarations are copied to the global object, so every
 *     top-level binding persists across cells and cells can be re-run;
 *   - static `import` declarations become `await import(...)` assignments
 *     (default interop for CommonJS), `export` keywords are dropped;
 *   - a trailing expression statement gets `return ` in front — its value,
 *     awaited if it is a promise, is the main result.
 *
 * TypeScript cells are first transpiled with `typescript` (transpileModule:
 * types stripped, not checked); stack positions are mapped back to the
 * TypeScript source through the source map it emits.
 *
 * Only cheap built-in modules load before the ready message; acorn (and
 * typescript for TypeScript runners) load right after it. A TypeScript
 * runner started from the snapshot snapshot.js builds finds the compiler
 * loaded already.
 */

const fs = require('fs');
const process = globalThis.process;

const CONTROL_FD = 3;
const RUNNER_FILE = __filename;
const JSON_CAP = 4 << 20; // a main result's "json" is left out beyond this size

// ---------------------------------------------------------------- low-level IO

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(sleepCell, 0, 0, ms);
}

// A write cut short by a SIGINT that terminated the running script (V8
// TerminateExecution unwinds without running finally blocks) is completed
// afterwards, so a control message is never left half-written.
let pendingWrite = null;

function writeAll(fd, data) {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const w = { fd, buf, off: 0 };
  pendingWrite = w;
  while (w.off < buf.length) {
    let n;
    try {
      n = fs.writeSync(fd, buf, w.off, buf.length - w.off);
    } catch (e) {
      if (e && e.code === 'EAGAIN') {
        sleepMs(1);
        continue;
      }
      if (e && e.code === 'EINTR') continue;
      pendingWrite = null;
      throw e;
    }
    w.off += n;
  }
  pendingWrite = null;
}

function finishPendingWrite() {
  const w = pendingWrite;
  pendingWrite = null;
  if (w && w.off < w.buf.length) {
    try {
      writeAll(w.fd, w.buf.subarray(w.off));
    } catch (e) {
      // the reader is gone
    }
  }
}

function writeStd(fd, chunk, encoding) {
  let buf;
  if (typeof chunk === 'string') buf = Buffer.from(chunk, encoding && Buffer.isEncoding(encoding) ? encoding : 'utf8');
  else if (Buffer.isBuffer(chunk)) buf = chunk;
  else if (ArrayBuffer.isView(chunk)) buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  else buf = Buffer.from(String(chunk), 'utf8');
  try {
    writeAll(fd, buf);
  } catch (e) {
    // EPIPE etc.: output is lost, the runner carries on
  }
}

function sendRaw(line) {
  try {
    writeAll(CONTROL_FD, line);
  } catch (e) {
    exitNow(0); // kiln-init is gone
  }
}

let language = 'javascript';
const realExit = typeof process.reallyExit === 'function' ? process.reallyExit.bind(process) : process.exit.bind(process);
function exitNow(code) {
  finishPendingWrite();
  realExit(code);
}

function parseArgs(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--language' && i + 1 < argv.length) language = argv[++i];
    else if (a.startsWith('--language=')) language = a.slice('--language='.length);
  }
  if (language === 'js' || language === 'node') language = 'javascript';
  if (language === 'ts') language = 'typescript';
  if (language !== 'javascript' && language !== 'typescript') {
    writeStd(2, 'kiln runner: unknown language ' + JSON.stringify(language) + '\n');
    realExit(2);
  }
}

// ---------------------------------------------------------------- main()

function main() {
  parseArgs(process.argv.slice(2));
  try {
    fs.fstatSync(CONTROL_FD);
  } catch (e) {
    writeStd(2, 'kiln runner: no control socket on fd ' + CONTROL_FD + '\n');
    realExit(2);
  }
  installStdio();
  sendRaw('{"type":"ready","language":"' + language + '","pid":' + process.pid + '}\n');
  // The rest loads while kiln-init gets around to sending the first execute.
  setup();
  serve();
}

// Everything below is loaded after the ready message.
let vm, util, path, Module, acorn, ts;
let stringify, parseJSON;

function installStdio() {
  const { Writable } = require('stream');
  // A runner started from a snapshot finds no console.Console (Node 20):
  // snapshot.js keeps the class for it.
  const Console = require('console').Console || globalThis.__kilnConsole;
  delete globalThis.__kilnConsole;
  const mk = (fd) => {
    const s = new Writable({
      decodeStrings: false,
      write(chunk, encoding, cb) {
        writeStd(fd, chunk, encoding);
        cb();
      },
      writev(chunks, cb) {
        for (const c of chunks) writeStd(fd, c.chunk, c.encoding);
        cb();
      },
    });
    s.fd = fd;
    s._type = 'pipe';
    s._isStdio = true;
    s.isTTY = false;
    s.destroySoon = s.destroy;
    s._destroy = (err, cb) => cb(err); // never closes the fd
    return s;
  };
  const out = mk(1);
  const err = mk(2);
  // Node's own process.stdout for a pipe is a libuv stream that switches the
  // (shared, inherited) pipe to O_NONBLOCK and may queue writes; these write
  // synchronously, so output is on the pipe before any control message.
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: false, get: () => out, set: undefined });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: false, get: () => err, set: undefined });
  const con = new Console({ stdout: out, stderr: err, colorMode: false });
  Object.defineProperty(globalThis, 'console', { configurable: true, enumerable: false, writable: true, value: con });
}

function setup() {
  vm = require('vm');
  util = require('util');
  path = require('path');
  Module = require('module');
  stringify = JSON.stringify;
  parseJSON = JSON.parse;
  acorn = require('acorn');
  if (language === 'typescript') {
    // Already loaded when the runner started from its snapshot (snapshot.js).
    ts = globalThis.__kilnTypescript || require('typescript');
    delete globalThis.__kilnTypescript;
  }

  // Experimental-feature warning for the import() loader used by cells.
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    const text = typeof warning === 'string' ? warning : warning && warning.message;
    if (typeof text === 'string' && text.includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return undefined;
    return emitWarning.call(this, warning, ...rest);
  };

  process.on('SIGINT', onSigint);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandledRejection);

  // process.exit() in a cell must not end the runner.
  process.exit = function exit(code) {
    const c = code === undefined || code === null ? (process.exitCode === undefined ? 0 : process.exitCode) : code;
    const e = new Error(String(c));
    e.name = 'SystemExit';
    e.code = c;
    throw e;
  };

  setupGlobals();

  if (ts) {
    // Warm the transpiler up (its first call is much slower than later ones).
    try {
      transpileTs('let __kiln_warmup: number = 1;\n', 0);
    } catch (e) {
      // reported on first use
    }
  }
}

// ---------------------------------------------------------------- globals

const kiln = Object.create(null);
let replModule = null;
let currentRequire = null;
let requireCwd = null;

function refreshRequire() {
  let cwd;
  try {
    cwd = process.cwd();
  } catch (e) {
    return;
  }
  if (cwd === requireCwd) return;
  const base = path.join(cwd, '[kiln]');
  const req = Module.createRequire(base);
  if (currentRequire === null || globalThis.require === currentRequire) {
    globalThis.require = req;
  }
  const mod = globalThis.module;
  if (mod && mod === replModule) {
    mod.filename = base;
    mod.paths = Module._nodeModulePaths(cwd);
  }
  currentRequire = req;
  requireCwd = cwd;
}

function setupGlobals() {
  const g = globalThis;
  const def = (name, value) =>
    Object.defineProperty(g, name, { configurable: true, enumerable: false, writable: true, value });

  kiln.dflt = (m) => (m !== null && typeof m === 'object' && 'default' in m ? m.default : m);
  kiln.named = (m, k) => {
    if (m === null || m === undefined) return undefined;
    if (k in m) return m[k];
    const d = m.default;
    if (d !== null && (typeof d === 'object' || typeof d === 'function')) return d[k];
    return undefined;
  };
  kiln.imp = async (promise, n, line) => {
    try {
      return await promise;
    } catch (e) {
      if (e !== null && typeof e === 'object') {
        try {
          Object.defineProperty(e, '__kilnImport', { configurable: true, enumerable: false, value: [n, line] });
        } catch (x) {
          // frozen error
        }
      }
      throw e;
    }
  };
  Object.defineProperty(g, '__kiln', { configurable: false, enumerable: false, writable: false, value: kiln });

  let cwd = '/';
  try {
    cwd = process.cwd();
  } catch (e) {
    // keep '/'
  }
  const mod = new Module('[kiln]', null);
  mod.filename = path.join(cwd, '[kiln]');
  mod.paths = Module._nodeModulePaths(cwd);
  mod.loaded = true;
  replModule = mod;
  def('module', mod);
  def('exports', mod.exports);
  def('__dirname', cwd);
  def('__filename', mod.filename);
  refreshRequire();
  def('display', display);

  // As in the node REPL: built-in modules are globals, loaded on first use.
  for (const name of Module.builtinModules) {
    if (name.includes('/') || name.startsWith('_') || name in g) continue;
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) continue;
    Object.defineProperty(g, name, {
      configurable: true,
      enumerable: false,
      get() {
        const value = globalThis.require(name);
        Object.defineProperty(g, name, { configurable: true, enumerable: false, writable: true, value });
        return value;
      },
      set(value) {
        Object.defineProperty(g, name, { configurable: true, enumerable: true, writable: true, value });
      },
    });
  }
}

// ---------------------------------------------------------------- control socket

const queue = [];
let busy = false;

function serve() {
  const net = require('net');
  let sock;
  try {
    sock = new net.Socket({ fd: CONTROL_FD, readable: true, writable: false });
  } catch (e) {
    writeStd(2, 'kiln runner: cannot use fd ' + CONTROL_FD + ': ' + e.message + '\n');
    exitNow(2);
    return;
  }
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let msg;
      try {
        msg = parseJSON(line);
      } catch (e) {
        continue;
      }
      if (msg && typeof msg === 'object' && !Array.isArray(msg)) queue.push(msg);
    }
    pump();
  });
  const bye = () => exitNow(0);
  sock.on('end', bye);
  sock.on('close', bye);
  sock.on('error', bye);
}

async function pump() {
  if (busy) return;
  busy = true;
  try {
    while (queue.length) {
      const msg = queue.shift();
      if (msg.type === 'execute') await handleExecute(msg);
    }
  } finally {
    busy = false;
  }
}

function wellFormed(k, v) {
  return typeof v === 'string' && typeof v.toWellFormed === 'function' ? v.toWellFormed() : v;
}

function send(msg) {
  let text;
  try {
    text = stringify(msg, wellFormed);
  } catch (e) {
    const m = Object.assign({}, msg);
    delete m.json;
    text = stringify(m, wellFormed);
  }
  sendRaw(text + '\n');
}

// ---------------------------------------------------------------- execution

let executionCount = 0;
let current = null; // the run in progress
let lastResult; // what the runner last stored in `_`

function interruptError() {
  const e = new Error('Execution interrupted by SIGINT');
  e.name = 'KeyboardInterrupt';
  e.kilnInterrupt = true;
  return e;
}

function onSigint() {
  const run = current;
  if (!run) return; // idle: nothing to interrupt
  run.interrupted = true;
  if (run.abort) run.abort(interruptError());
}

function ensureSigint() {
  if (!process.listeners('SIGINT').includes(onSigint)) process.on('SIGINT', onSigint);
}

function onUncaught(err) {
  finishPendingWrite();
  writeStd(2, 'Uncaught ' + describeError(err).traceback.replace(/\n*$/, '\n'));
}

function onUnhandledRejection(reason) {
  writeStd(2, 'Uncaught (in promise) ' + describeError(reason).traceback.replace(/\n*$/, '\n'));
}

function applyEnv(env) {
  const saved = new Map();
  if (!env || typeof env !== 'object') return saved;
  for (const k of Object.keys(env)) {
    const v = env[k];
    const old = Object.prototype.hasOwnProperty.call(process.env, k) ? process.env[k] : undefined;
    try {
      if (v === null || v === undefined) delete process.env[k];
      else process.env[k] = typeof v === 'string' ? v : String(v);
    } catch (e) {
      writeStd(2, 'kiln: cannot set environment variable ' + k + ': ' + e.message + '\n');
      continue;
    }
    if (!saved.has(k)) saved.set(k, old);
  }
  return saved;
}

function restoreEnv(saved) {
  for (const [k, old] of saved) {
    try {
      if (old === undefined) delete process.env[k];
      else process.env[k] = old;
    } catch (e) {
      // ignore
    }
  }
}

async function handleExecute(msg) {
  const n = ++executionCount;
  const run = { n, interrupted: false, abort: null };
  current = run;
  let code = msg.code;
  if (typeof code !== 'string') code = code === undefined || code === null ? '' : String(code);
  const saved = applyEnv(msg.env);
  let err = null;
  let main = null;
  try {
    ensureSigint();
    refreshRequire();
    const value = await runCell(code, n, run);
    if (value !== undefined) {
      if (!('_' in globalThis) || globalThis._ === lastResult) {
        globalThis._ = value;
        lastResult = value;
      }
      main = bundle(value);
    }
  } catch (e) {
    finishPendingWrite();
    err = makeError(e, n);
  }
  current = null;
  finishPendingWrite();
  restoreEnv(saved);
  if (main) send(Object.assign({ type: 'result', is_main_result: true }, main));
  if (err) send(err);
  send({ type: 'done', execution_count: n });
}

async function runCell(code, n, run) {
  const cell = compileCell(code, n);
  if (cell === null) return undefined;
  if (run.interrupted) throw interruptError();
  const interrupted = new Promise((resolve, reject) => {
    run.abort = reject;
  });
  let promise;
  try {
    promise = cell.script.runInThisContext({ breakOnSigint: true, displayErrors: false });
  } catch (e) {
    finishPendingWrite();
    throw e;
  }
  if (run.interrupted) throw interruptError();
  Promise.resolve(promise).catch(() => {});
  return await Promise.race([promise, interrupted]);
}

// ---------------------------------------------------------------- cells

const cells = new Map(); // n -> {file, display, userLines, prefixLen, map}
const ACORN_OPTS = {
  ecmaVersion: 'latest',
  sourceType: 'script',
  allowAwaitOutsideFunction: true,
  allowImportExportEverywhere: true,
  allowHashBang: true,
};

class CellSyntaxError extends Error {
  constructor(message, line, column, source, display) {
    super(message);
    this.name = 'SyntaxError';
    this.line = line;
    this.column = column;
    this.source = source;
    this.display = display;
  }
}

function compileCell(code, n) {
  let cwd = '/';
  try {
    cwd = process.cwd();
  } catch (e) {
    // deleted cwd: relative imports resolve against /
  }
  const ext = language === 'typescript' ? '.ts' : '.js';
  const display = 'cell-' + n + ext;
  const file = path.join(cwd, 'cell-' + n + '.js');
  const info = { n, file, display, userLines: 1, prefixLen: 0, map: null, source: code };
  cells.set(n, info);

  let js = code;
  let tsLastIsExpr = true;
  if (language === 'typescript') {
    const t = transpileTs(code, n);
    js = t.js;
    info.map = t.map;
    tsLastIsExpr = t.lastIsExpr;
  }
  if (!js.trim()) return null;

  const out = rewrite(js, info, tsLastIsExpr);
  info.userLines = out.userLines;
  info.prefixLen = out.prefixLen;
  info.shifts = out.shifts;
  let script;
  try {
    script = new vm.Script(out.code, {
      filename: file,
      importModuleDynamically: vm.constants && vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
        ? vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
        : (spec) => import(spec),
    });
  } catch (e) {
    if (e && e.name === 'SyntaxError' && typeof e.stack === 'string') {
      const m = /^(.*):(\d+)\r?\n/.exec(e.stack);
      let line = m && m[1] === file ? Number(m[2]) : null;
      if (line !== null) {
        const pos = mapPosition(info, line, 1);
        line = pos ? pos[0] : null;
      }
      throw new CellSyntaxError(e.message, line, null, code, display);
    }
    throw e;
  }
  return { script, info };
}

function blankKeepingNewlines(s) {
  return s.replace(/[^\n]/g, ' ');
}

function patternNames(p, out) {
  if (!p) return;
  switch (p.type) {
    case 'Identifier':
      out.add(p.name);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties) patternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out);
      break;
    case 'ArrayPattern':
      for (const el of p.elements) patternNames(el, out);
      break;
    case 'RestElement':
      patternNames(p.argument, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left, out);
      break;
    default:
      break;
  }
}

function rewrite(src, info, allowResult) {
  let code = src;
  if (code.startsWith('#!')) code = '//' + code.slice(2);

  let ast;
  let wrapped = false;
  // `{a: 1}` alone is an object, not a block (as in the node REPL).
  if (/^\s*\{/.test(code) && /\}\s*$/.test(code)) {
    try {
      ast = acorn.parse('(' + code + '\n)', ACORN_OPTS);
      code = '(' + code + '\n)';
      wrapped = true;
    } catch (e) {
      ast = null;
    }
  }
  if (!ast) {
    try {
      ast = acorn.parse(code, ACORN_OPTS);
    } catch (e) {
      if (e instanceof SyntaxError && e.loc) {
        const msg = e.message.replace(/\s*\(\d+:\d+\)$/, '');
        const pos = mapPosition(Object.assign({}, info, { prefixLen: wrapped ? 1 : 0, shifts: null, userLines: Infinity }), e.loc.line, e.loc.column + 1);
        throw new CellSyntaxError(msg, pos ? pos[0] : null, pos ? pos[1] : null, info.source, info.display);
      }
      throw e;
    }
  }

  const edits = []; // [start, end, text]
  const names = new Set();
  const fnNames = new Set();
  const edit = (start, end, text) => edits.push([start, end, text]);
  const keepNl = (start, end, text) => {
    const nl = (code.slice(start, end).match(/\n/g) || []).length;
    return text + '\n'.repeat(nl);
  };

  const declToAssign = (decl) => {
    const ds = decl.declarations;
    for (const d of ds) patternNames(d.id, names);
    for (const d of ds) {
      if (!d.init && decl.kind !== 'var') edit(d.end, d.end, ' = void 0');
    }
    edit(decl.start, ds[0].start, 'void (');
    edit(ds[ds.length - 1].end, decl.end, ');');
  };

  const forHead = (decl) => {
    // for (var x ...) -> for (x ...), x global
    if (decl && decl.type === 'VariableDeclaration' && decl.kind === 'var') {
      for (const d of decl.declarations) patternNames(d.id, names);
      edit(decl.start, decl.start + 3, '   ');
    }
  };

  // `var` anywhere outside functions is global in a script.
  const nested = (s) => {
    if (!s) return;
    switch (s.type) {
      case 'VariableDeclaration':
        if (s.kind === 'var') declToAssign(s);
        break;
      case 'BlockStatement':
        s.body.forEach(nested);
        break;
      case 'IfStatement':
        nested(s.consequent);
        nested(s.alternate);
        break;
      case 'ForStatement':
        forHead(s.init);
        nested(s.body);
        break;
      case 'ForInStatement':
      case 'ForOfStatement':
        forHead(s.left);
        nested(s.body);
        break;
      case 'WhileStatement':
      case 'DoWhileStatement':
      case 'LabeledStatement':
      case 'WithStatement':
        nested(s.body);
        break;
      case 'TryStatement':
        nested(s.block);
        if (s.handler) nested(s.handler.body);
        nested(s.finalizer);
        break;
      case 'SwitchStatement':
        for (const c of s.cases) c.consequent.forEach(nested);
        break;
      default:
        break;
    }
  };

  const declaration = (s) => {
    switch (s.type) {
      case 'VariableDeclaration':
        declToAssign(s);
        return true;
      case 'FunctionDeclaration':
        if (s.id) {
          names.add(s.id.name);
          fnNames.add(s.id.name);
        }
        return true;
      case 'ClassDeclaration':
        if (s.id) {
          names.add(s.id.name);
          edit(s.start, s.start, s.id.name + ' = ');
          edit(s.end, s.end, ';');
        }
        return true;
      default:
        return false;
    }
  };

  const importDecl = (s) => {
    const spec = stringify(String(s.source.value));
    let attrs = '';
    if (s.attributes && s.attributes.length) {
      const kv = s.attributes.map((a) => {
        const key = a.key.type === 'Identifier' ? a.key.name : a.key.value;
        return stringify(String(key)) + ': ' + stringify(String(a.value.value));
      });
      attrs = ', { with: { ' + kv.join(', ') + ' } }';
    }
    // A failed import has no stack frame in the cell: tag it with its line.
    const genLine = code.slice(0, s.start).split('\n').length;
    const imp = 'await __kiln.imp(import(' + spec + attrs + '), ' + info.n + ', ' + genLine + ')';
    let text;
    if (!s.specifiers.length) {
      text = 'void ' + imp + ';';
    } else {
      const parts = [];
      for (const sp of s.specifiers) {
        const local = sp.local.name;
        names.add(local);
        if (sp.type === 'ImportDefaultSpecifier') parts.push(local + ' = __kiln.dflt(__kiln_mod);');
        else if (sp.type === 'ImportNamespaceSpecifier') parts.push(local + ' = __kiln_mod;');
        else {
          const imported = sp.imported.type === 'Identifier' ? sp.imported.name : String(sp.imported.value);
          parts.push(local + ' = __kiln.named(__kiln_mod, ' + stringify(imported) + ');');
        }
      }
      text = '{ const __kiln_mod = ' + imp + '; ' + parts.join(' ') + ' }';
    }
    edit(s.start, s.end, keepNl(s.start, s.end, text));
  };

  // Statements that produce nothing (removed exports, `;`) do not count as
  // the cell's last statement.
  let last = null;
  for (const s of ast.body) {
    switch (s.type) {
      case 'ImportDeclaration':
        importDecl(s);
        last = s;
        break;
      case 'ExportNamedDeclaration':
        if (s.declaration) {
          edit(s.start, s.declaration.start, blankKeepingNewlines(code.slice(s.start, s.declaration.start)));
          declaration(s.declaration);
          last = s;
        } else {
          edit(s.start, s.end, keepNl(s.start, s.end, ';'));
        }
        break;
      case 'ExportAllDeclaration':
        edit(s.start, s.end, keepNl(s.start, s.end, ';'));
        break;
      case 'ExportDefaultDeclaration': {
        const d = s.declaration;
        if ((d.type === 'FunctionDeclaration' || d.type === 'ClassDeclaration') && d.id) {
          edit(s.start, d.start, blankKeepingNewlines(code.slice(s.start, d.start)));
          declaration(d);
        } else {
          edit(s.start, d.start, keepNl(s.start, d.start, 'void '));
          if (d.type === 'FunctionDeclaration' || d.type === 'ClassDeclaration') edit(d.end, d.end, ';');
        }
        last = s;
        break;
      }
      case 'EmptyStatement':
        break;
      default:
        if (!declaration(s)) nested(s);
        last = s;
    }
  }

  if (last && last.type === 'ExpressionStatement' && allowResult) {
    edit(last.start, last.start, 'return ');
  }

  // Copy function declarations to the global object (after any directive
  // prologue, so "use strict" keeps working).
  let fnCopy = '';
  for (const f of fnNames) fnCopy += 'this.' + f + ' = ' + f + '; ';
  let prologueEnd = -1;
  for (const s of ast.body) {
    if (s.type === 'ExpressionStatement' && typeof s.directive === 'string') prologueEnd = s.end;
    else break;
  }
  if (fnCopy && prologueEnd >= 0) {
    edit(prologueEnd, prologueEnd, ' ' + fnCopy);
    fnCopy = '';
  }

  edits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let body = '';
  let pos = 0;
  // Column shifts the edits cause, per output line: [[colAfterEdit, delta]]
  // (0-based columns; delta = output column - input column after it).
  const shifts = new Map();
  let line = 1;
  let lineStart = 0; // offset in body where `line` starts
  let delta = 0;
  const advance = (chunk) => {
    const nl = chunk.lastIndexOf('\n');
    if (nl >= 0) {
      line += (chunk.match(/\n/g) || []).length;
      lineStart = body.length + nl + 1;
      delta = 0;
    }
    body += chunk;
  };
  for (const [start, end, text] of edits) {
    if (start < pos) continue; // overlapping edit: cannot happen, be safe
    advance(code.slice(pos, start));
    const replaced = code.slice(start, end);
    advance(text);
    if (!replaced.includes('\n') && !text.includes('\n')) {
      delta += text.length - replaced.length;
      if (!shifts.has(line)) shifts.set(line, []);
      shifts.get(line).push([body.length - lineStart, delta]);
    }
    pos = end;
  }
  advance(code.slice(pos));

  const prefix = '(async () => { ' + fnCopy;
  let suffix = '\n})()';
  if (names.size) suffix += ';var ' + Array.from(names).join(', ') + ';';
  return {
    code: prefix + body + suffix,
    prefixLen: prefix.length + (wrapped ? 1 : 0),
    shifts,
    userLines: line,
  };
}

// ---------------------------------------------------------------- TypeScript

let tsOptions = null;

function transpileTs(code, n) {
  if (!tsOptions) {
    tsOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleDetection: ts.ModuleDetectionKind ? ts.ModuleDetectionKind.Force : undefined,
      experimentalDecorators: true,
      emitDecoratorMetadata: false,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      preserveConstEnums: true,
      removeComments: false,
      sourceMap: true,
      inlineSourceMap: false,
      inlineSources: false,
      newLine: ts.NewLineKind.LineFeed,
      jsx: ts.JsxEmit.Preserve,
      noEmitHelpers: false,
      importHelpers: false,
      noImplicitUseStrict: false,
    };
    for (const k of Object.keys(tsOptions)) if (tsOptions[k] === undefined) delete tsOptions[k];
  }
  let lastIsExpr = false;
  const capture = () => (sf) => {
    const st = sf.statements;
    let i = st.length - 1;
    while (i >= 0 && st[i].kind === ts.SyntaxKind.EmptyStatement) i--;
    lastIsExpr = i >= 0 && st[i].kind === ts.SyntaxKind.ExpressionStatement;
    return sf;
  };
  const display = 'cell-' + n + '.ts';
  const out = ts.transpileModule(code, {
    fileName: display,
    reportDiagnostics: true,
    compilerOptions: tsOptions,
    transformers: { before: [capture] },
  });
  for (const d of out.diagnostics || []) {
    if (d.category !== ts.DiagnosticCategory.Error || !d.file || d.start === undefined) continue;
    const lc = ts.getLineAndCharacterOfPosition(d.file, d.start);
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    throw new CellSyntaxError(msg, lc.line + 1, lc.character + 1, code, display);
  }
  let js = out.outputText.replace(/\n?\/\/# sourceMappingURL=\S*\s*$/, '\n');
  let map = null;
  try {
    map = decodeMappings(parseJSON(out.sourceMapText).mappings);
  } catch (e) {
    map = null;
  }
  return { js, map, lastIsExpr };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUES = new Map(Array.from(B64, (c, i) => [c, i]));

function decodeVLQ(seg) {
  const out = [];
  let value = 0;
  let shift = 0;
  for (const c of seg) {
    const digit = B64_VALUES.get(c);
    if (digit === undefined) break;
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

// generated line (0-based) -> [[genCol, srcLine, srcCol], ...] (0-based)
function decodeMappings(mappings) {
  const lines = [];
  let srcLine = 0;
  let srcCol = 0;
  for (const lineStr of mappings.split(';')) {
    const segs = [];
    let genCol = 0;
    if (lineStr) {
      for (const seg of lineStr.split(',')) {
        const v = decodeVLQ(seg);
        if (!v.length) continue;
        genCol += v[0];
        if (v.length >= 4) {
          srcLine += v[2];
          srcCol += v[3];
          segs.push([genCol, srcLine, srcCol]);
        }
      }
    }
    lines.push(segs);
  }
  return lines;
}

// Position in the generated script (1-based line and column) -> position in
// the user's cell, or null when it is in the runner's wrapper.
function mapPosition(info, line, col) {
  if (line < 1 || line > info.userLines) return null;
  if (line === 1 && col !== null) col = Math.max(1, col - info.prefixLen);
  const sh = col !== null && info.shifts ? info.shifts.get(line) : undefined;
  if (sh) {
    let d = 0;
    for (const [after, dl] of sh) {
      if (after <= col - 1) d = dl;
      else break;
    }
    col = Math.max(1, col - d);
  }
  if (!info.map) return [line, col];
  const segs = info.map[line - 1];
  if (!segs || !segs.length) return null;
  let best = segs[0];
  if (col !== null) {
    for (const s of segs) {
      if (s[0] <= col - 1) best = s;
      else break;
    }
  }
  const c = col === null ? null : best[2] + 1 + Math.max(0, col - 1 - best[0]);
  return [best[1] + 1, c];
}

// ---------------------------------------------------------------- errors

const CELL_RE = /cell-(\d+)\.js:(\d+):(\d+)/;

// Rewrite one stack frame line; returns {text, cell, line} or null to drop.
function rewriteFrame(frameLine) {
  const m = CELL_RE.exec(frameLine);
  if (m) {
    const info = cells.get(Number(m[1]));
    if (info) {
      const at = frameLine.indexOf(info.file + ':' + m[2] + ':' + m[3]);
      if (at >= 0) {
        const pos = mapPosition(info, Number(m[2]), Number(m[3]));
        if (!pos) return { drop: true, cell: info.n };
        const loc = info.display + ':' + pos[0] + (pos[1] ? ':' + pos[1] : '');
        const text = frameLine.slice(0, at) + loc + frameLine.slice(at + info.file.length + m[2].length + m[3].length + 2);
        return { text, cell: info.n, line: pos[0] };
      }
    }
  }
  if (frameLine.includes(RUNNER_FILE)) return { drop: true };
  return { text: frameLine };
}

function describeError(e, n) {
  let name;
  let value;
  let line = null;
  let traceback;

  if (e instanceof CellSyntaxError) {
    let tb = '';
    if (e.line) {
      tb += e.display + ':' + e.line + '\n';
      const srcLine = String(e.source).split('\n')[e.line - 1];
      if (srcLine !== undefined) {
        tb += srcLine + '\n';
        if (e.column) tb += ' '.repeat(Math.max(0, e.column - 1)) + '^\n';
      }
      tb += '\n';
    }
    tb += 'SyntaxError: ' + e.message;
    return { name: 'SyntaxError', value: e.message, traceback: tb, line: e.line || null };
  }

  if (e && typeof e === 'object' && (e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED' || e.kilnInterrupt === true)) {
    return {
      name: 'KeyboardInterrupt',
      value: 'Execution interrupted',
      traceback: 'KeyboardInterrupt: Execution interrupted',
      line: null,
    };
  }

  const isErr = e !== null && typeof e === 'object' && (util.types.isNativeError(e) || (typeof e.stack === 'string' && 'message' in e));
  if (!isErr) {
    try {
      value = String(e);
    } catch (x) {
      value = safeInspect(e);
    }
    return { name: 'Error', value, traceback: 'Uncaught ' + safeInspect(e), line: null };
  }

  try {
    name = e.name;
    if (typeof name !== 'string' || !name) name = (e.constructor && e.constructor.name) || 'Error';
  } catch (x) {
    name = 'Error';
  }
  try {
    value = e.message === undefined ? '' : String(e.message);
  } catch (x) {
    value = '';
  }
  let stack;
  try {
    stack = typeof e.stack === 'string' ? e.stack : null;
  } catch (x) {
    stack = null;
  }
  if (stack) {
    const lines = stack.split('\n');
    let firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
    if (firstFrame < 0) firstFrame = lines.length;
    const header = lines.slice(0, firstFrame);
    const frames = [];
    for (const l of lines.slice(firstFrame)) {
      const r = rewriteFrame(l);
      if (r.drop) continue;
      if (r.cell === undefined && /\(node:internal\/process\/task_queues[:)]/.test(r.text)) continue;
      frames.push(r);
    }
    let lastCell = -1;
    frames.forEach((f, i) => {
      if (f.cell !== undefined) lastCell = i;
      if (line === null && n !== undefined && f.cell === n && f.line) line = f.line;
    });
    const kept = lastCell >= 0 ? frames.slice(0, lastCell + 1) : frames.filter((f) => !/\(node:(vm|internal)/.test(f.text));
    traceback = header.concat(kept.map((f) => f.text)).join('\n');
    if (line === null && n !== undefined && Array.isArray(e.__kilnImport) && e.__kilnImport[0] === n) {
      const info = cells.get(n);
      const pos = info ? mapPosition(info, e.__kilnImport[1], null) : null;
      if (pos) {
        line = pos[0];
        traceback += '\n    at ' + info.display + ':' + line;
      }
    }
  } else {
    traceback = name + ': ' + value;
  }
  return { name, value, traceback, line };
}

function makeError(e, n) {
  let d;
  try {
    d = describeError(e, n);
  } catch (x) {
    d = { name: 'Error', value: '', traceback: '', line: null };
  }
  return { type: 'error', name: d.name, value: d.value, traceback: d.traceback, line: d.line };
}

// ---------------------------------------------------------------- display

const MIME_KEYS = {
  'text/plain': 'text',
  'text/html': 'html',
  'text/markdown': 'markdown',
  'image/svg+xml': 'svg',
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'application/pdf': 'pdf',
  'text/latex': 'latex',
  'application/json': 'json',
  'application/javascript': 'javascript',
};
const REPR_METHODS = [
  ['html', '_repr_html_'],
  ['markdown', '_repr_markdown_'],
  ['svg', '_repr_svg_'],
  ['png', '_repr_png_'],
  ['jpeg', '_repr_jpeg_'],
  ['latex', '_repr_latex_'],
  ['json', '_repr_json_'],
  ['javascript', '_repr_javascript_'],
  ['pdf', '_repr_pdf_'],
];
const BINARY_KEYS = new Set(['png', 'jpeg', 'pdf']);

function safeInspect(v) {
  try {
    return util.inspect(v, { colors: false, showProxy: true });
  } catch (e) {
    try {
      return Object.prototype.toString.call(v);
    } catch (x) {
      return '<value>';
    }
  }
}

function toJson(v) {
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return undefined;
  if (typeof v === 'number' && !Number.isFinite(v)) return undefined;
  if (v !== null && typeof v === 'object') {
    const t = util.types;
    if (t.isMap(v) || t.isSet(v) || t.isWeakMap(v) || t.isWeakSet(v) || t.isPromise(v) || t.isRegExp(v) ||
        t.isNativeError(v) || t.isTypedArray(v) || t.isAnyArrayBuffer(v) || t.isBoxedPrimitive(v) ||
        t.isDataView(v) || t.isGeneratorObject(v) || t.isModuleNamespaceObject(v)) return undefined;
    if (Array.isArray(v) && v.length > 1000000) return undefined;
  }
  try {
    const s = stringify(v);
    if (typeof s !== 'string' || s.length > JSON_CAP) return undefined;
    return parseJSON(s);
  } catch (e) {
    return undefined;
  }
}

function normalize(key, r) {
  if (r === null || r === undefined) return undefined;
  if (BINARY_KEYS.has(key)) {
    if (typeof r === 'string') return r; // already base64
    if (ArrayBuffer.isView(r)) return Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64');
    if (r instanceof ArrayBuffer) return Buffer.from(r).toString('base64');
    return undefined;
  }
  if (key === 'json') {
    if (typeof r === 'string') {
      try {
        return parseJSON(r);
      } catch (e) {
        return undefined;
      }
    }
    return toJson(r);
  }
  if (typeof r === 'string') return r;
  if (ArrayBuffer.isView(r)) return Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('utf8');
  if (Array.isArray(r) && r.every((x) => typeof x === 'string')) return r.join('');
  return undefined;
}

function warnRepr(meth, e) {
  let msg;
  try {
    msg = e && e.message !== undefined ? e.name + ': ' + e.message : String(e);
  } catch (x) {
    msg = '?';
  }
  writeStd(2, 'kiln: ' + meth + ' failed: ' + msg + '\n');
}

function fromMimebundle(b) {
  const data = {};
  if (!b || typeof b !== 'object') return data;
  for (const mime of Object.keys(b)) {
    const key = MIME_KEYS[mime] || (Object.values(MIME_KEYS).includes(mime) ? mime : undefined);
    if (!key) continue;
    const v = normalize(key, b[mime]);
    if (v !== undefined) data[key] = v;
  }
  return data;
}

function bundle(v) {
  let data = {};
  if (v !== null && typeof v === 'object') {
    let m;
    try {
      m = v._repr_mimebundle_;
    } catch (e) {
      m = undefined;
    }
    if (typeof m === 'function') {
      try {
        let r = m.call(v);
        if (Array.isArray(r)) r = r[0];
        data = fromMimebundle(r);
      } catch (e) {
        warnRepr('_repr_mimebundle_', e);
      }
    }
    for (const [key, meth] of REPR_METHODS) {
      if (key in data) continue;
      try {
        m = v[meth];
      } catch (e) {
        continue;
      }
      if (typeof m !== 'function') continue;
      try {
        const r = normalize(key, m.call(v));
        if (r !== undefined) data[key] = r;
      } catch (e) {
        warnRepr(meth, e);
      }
    }
  }
  if (!('text' in data)) data.text = safeInspect(v);
  if (!('json' in data)) {
    const j = toJson(v);
    if (j !== undefined) data.json = j;
  }
  return data;
}

function sendDisplay(data) {
  if (!data || typeof data !== 'object') return;
  send(Object.assign({ type: 'result', is_main_result: false }, data));
}

/**
 * display(value, ...) — show values as rich results, in order (Jupyter's
 * display()).  Objects may offer `_repr_html_()`, `_repr_markdown_()`,
 * `_repr_svg_()`, `_repr_png_()`, `_repr_json_()`, ... or
 * `_repr_mimebundle_()` returning {"text/html": ...}.
 * Helpers: display.html(s), display.markdown(s), display.svg(s),
 * display.png(bytesOrBase64), display.jpeg(...), display.json(v),
 * display.mime({"text/html": "..."}).
 */
function display(...values) {
  for (const v of values) sendDisplay(bundle(v));
}
const mimeHelper = (mime) => (value) => {
  const data = fromMimebundle({ [mime]: value });
  if (!('text' in data)) data.text = mime === 'application/json' ? safeInspect(value) : '<' + mime + '>';
  sendDisplay(data);
};
display.html = mimeHelper('text/html');
display.markdown = mimeHelper('text/markdown');
display.svg = mimeHelper('image/svg+xml');
display.png = mimeHelper('image/png');
display.jpeg = mimeHelper('image/jpeg');
display.latex = mimeHelper('text/latex');
display.json = mimeHelper('application/json');
display.mime = (b) => {
  const data = fromMimebundle(b);
  if (!('text' in data)) data.text = '';
  sendDisplay(data);
};

main();
