import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by Nimbus itself at `/` (src/services/admin/console-files.ts).
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
