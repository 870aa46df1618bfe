/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// Django serves dist/index.html for every non-API route and the assets via
// whitenoise under /static/. The dev server proxies /api to a local backend.
export default defineConfig({
  base: "/static/",
  resolve: {
    // vtk.js (inside @cornerstonejs/core) pulls in xmlbuilder2, which extends Node's EventEmitter
    alias: { events: fileURLToPath(new URL("./node_modules/events/events.js", import.meta.url)) },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 4000,
  },
  optimizeDeps: {
    exclude: ["@cornerstonejs/dicom-image-loader"],
    include: ["dicom-parser"],
  },
  worker: {
    format: "es",
  },
  server: {
    port: 5173,
    proxy: {
      "/api": process.env.RADLABEL_BACKEND ?? "http://127.0.0.1:8010",
    },
  },
  test: {
    include: ["src/**/*.spec.ts"],
    environment: "node",
  },
});
