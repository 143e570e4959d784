import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The console is served by `burgee` at /ui/ (server/src/ui.rs); `npm run dev` proxies the API
// to a local `burgee serve` (BURGEE_URL, default http://127.0.0.1:8080).
export default defineConfig({
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline script or style in index.html: the server's CSP forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    proxy: { '/v1': process.env.BURGEE_URL ?? 'http://127.0.0.1:8080' },
  },
  test: { include: ['src/**/*.test.ts'] },
});
