// node:fs plus a globSync built on the npm glob package (POSIX paths, cwd
// option honoured), for Node versions without fs.globSync.
import fs from 'node:fs';
import { globSync as globPackageSync } from 'glob';

export * from 'node:fs';

export function globSync(pattern, options = {}) {
  return globPackageSync(pattern, { cwd: options.cwd ?? process.cwd(), posix: true });
}

export default { ...fs, globSync };
