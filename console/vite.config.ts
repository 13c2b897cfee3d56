// Built by `make build` into build/console (KILN_CONSOLE_OUT overrides),
// which kilnd serves at / (index.html) and /console/ (everything else).
// `npx vite` serves the sources with the API proxied to a local kilnd.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/console/",
  build: {
    outDir: process.env.KILN_CONSOLE_OUT ?? "../build/console",
    emptyOutDir: true,
    // Nothing inlined as data: URLs, no inline module-preload script: the
    // page runs under script-src 'self' and style-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      "/v1": process.env.KILN_URL ?? "http://127.0.0.1:8420",
      "/healthz": process.env.KILN_URL ?? "http://127.0.0.1:8420",
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
