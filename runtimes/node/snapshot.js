'use strict';
/*
 * Builds the V8 startup snapshot TypeScript runners start from (make setup):
 *
 *     node --snapshot-blob runtimes/node/typescript.blob --build-snapshot runtimes/node/snapshot.js
 *
 * Loading and first use of the TypeScript compiler is most of a TypeScript
 * context's start (~300 ms here). The snapshot holds the compiler already
 * evaluated and warmed up by a few transpiles, so a runner started from it
 * (kiln-init adds `--snapshot-blob` when the file exists) skips that.
 * Nothing else is in it: when the snapshot starts, runner.js (its argv[1])
 * loads fresh from the file, exactly as without a snapshot, and takes the
 * compiler from globalThis.__kilnTypescript.
 *
 * A snapshot builder's require() knows only Node's built-in modules, so
 * typescript.js is evaluated here in a CommonJS wrapper of its own.
 */

const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');

const file = path.join(__dirname, 'node_modules', 'typescript', 'lib', 'typescript.js');
const mod = { exports: {} };
const wrapper = vm.runInThisContext(
  '(function (exports, require, module, __filename, __dirname) {' + fs.readFileSync(file, 'utf8') + '\n})',
  { filename: file },
);
wrapper(mod.exports, require, mod, file, path.dirname(file));
const ts = mod.exports;
if (typeof ts.transpileModule !== 'function') throw new Error('typescript did not load from ' + file);

// What the runner asks of it per cell (runner.js: transpile()).
const sample = [
  'interface P { x: number; y?: string }',
  'const f = async <T,>(a: T[], n: number = 2): Promise<T | undefined> => a[n];',
  'class C<T> implements P { x = 1; constructor(private readonly t: T) {} get v(): T { return this.t; } }',
  'enum E { A, B = "b" } import { a } from "b"; export type Q = keyof P; let z = f([1, 2], 1) as unknown;',
  'await f([new C<string>("s").v]); z',
].join('\n');
for (let i = 0; i < 4; i++) {
  ts.transpileModule(sample, {
    fileName: 'cell.ts',
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      sourceMap: true,
      inlineSources: true,
    },
  });
}
globalThis.__kilnTypescript = ts;
// A deserialized snapshot's console module has no Console class (Node 20);
// the runner builds its console from this one.
globalThis.__kilnConsole = require('console').Console;

v8.startupSnapshot.setDeserializeMainFunction(() => {
  const { createRequire } = require('module');
  const runner = process.argv[1];
  createRequire(runner)(runner);
});
