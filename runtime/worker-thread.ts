import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const FROM_SOURCE = extname(fileURLToPath(import.meta.url)) === '.ts';

/**
 * Starts one of the runtime's worker threads from its module (`new URL('./x.ts', import.meta.url)`
 * in the caller). Compiled, that module is the sibling .js file; from the TypeScript sources it goes
 * through runtime/worker-from-source.mjs, which registers tsx first.
 */
export function startWorkerThread(module: URL, workerData: unknown): Worker {
  if (!FROM_SOURCE) return new Worker(new URL(module.href.replace(/\.ts$/, '.js')), { workerData });
  return new Worker(new URL('./worker-from-source.mjs', import.meta.url), { workerData, argv: [module.href] });
}
