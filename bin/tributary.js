#!/usr/bin/env node
// Entry point of `npx tributary` / `npm start`: runs the compiled gateway.
import('../dist/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('tributary: dist/ is missing; run `npm run build` (npm start does it for you)');
    process.exit(1);
  }
  throw err;
});
