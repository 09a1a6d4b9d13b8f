import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root directory, for scripts and tests that read or write its files. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
