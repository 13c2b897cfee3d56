// Resolve hook: `fs` imported from inside the conformance package resolves
// to fs-globsync.mjs.
const replacement = new URL('./fs-globsync.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const fromConformance = (context.parentURL ?? '').includes('/@modelcontextprotocol/conformance/');
  if (fromConformance && (specifier === 'fs' || specifier === 'node:fs')) {
    return { url: replacement, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
