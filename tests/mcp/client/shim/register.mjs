// Node 20 lacks fs.globSync, which @modelcontextprotocol/conformance 0.1.16
// imports by name. Preloaded with `node --import ./shim/register.mjs`, this
// installs a resolve hook that gives that package (and only it) an `fs`
// with globSync added. On Node >= 22 it does nothing.
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') register('./resolve-fs.mjs', import.meta.url);
