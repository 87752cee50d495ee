import { defineConfig } from "vite";

// The build goes into the API function's folder, so the Lambda bundle (a copy of functions/api/)
// carries it; functions/api/dashboard.py serves it.
// Relative URLs everywhere (`base: "./"`): the page is served at `/` locally and under the REST API's
// stage (`/v1/`) in AWS; the server's `<base href>` in index.html says which.
export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../functions/api/static",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    // The API reference (docs.html, served at /api/docs) carries Swagger UI, about 1.4 MB.
    chunkSizeWarningLimit: 1600,
    rollupOptions: { input: ["index.html", "docs.html"] },
  },
  server: {
    // `npm run dev` against a running `make dev`.
    proxy: { "/api": "http://localhost:3016" },
  },
});
