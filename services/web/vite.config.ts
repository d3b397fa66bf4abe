import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

// Built into the Python package, which serves it at / (taskboard/api/web.py).
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: "../taskboard/web_dist",
    emptyOutDir: true,
    // No inline scripts or styles: the page's CSP allows only files from its own origin.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000", "/ws": { target: "ws://127.0.0.1:8000", ws: true } },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
