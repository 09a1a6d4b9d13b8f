#!/usr/bin/env node
// kubectl runs any `kubectl-<name>` on PATH as `kubectl <name>`; npm links this file there
// (`npm link`, `npm install -g .`). In a checkout the TypeScript sources run through tsx, so the
// plugin is never older than the code; an install without dev dependencies runs the tsc output
// (`npm run build`) instead.
const sources = import.meta.resolve('../cli/main.ts');
const compiled = import.meta.resolve('../dist/cli/main.js');

let register;
try {
  ({ register } = await import('tsx/esm/api'));
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
}
if (register) {
  register();
  await import(sources);
} else {
  await import(compiled);
}
