#!/usr/bin/env node
// The `ringfaas` command. In a checkout (devDependencies installed) the TypeScript sources run
// through tsx, so there is no build step; where tsx is not installed (a production install:
// `npm ci --omit=dev`, the platform image) the compiled CLI of `npm run build` runs instead.
let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch {
  register = undefined;
}
if (register !== undefined) {
  register();
  await import('./cli.ts');
} else {
  try {
    await import('../dist/bin/cli.js');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    process.stderr.write('ringfaas: neither tsx (npm install) nor the compiled CLI (npm run build) is available\n');
    process.exit(1);
  }
}
