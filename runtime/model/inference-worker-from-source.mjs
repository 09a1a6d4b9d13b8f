// Entry of the inference worker when the runtime runs from its TypeScript sources (tests, benchmarks,
// `tsx runtime/main.ts`): the main thread's loader hooks do not reach a worker's entry module, so
// register tsx here, then load the worker. Compiled builds start inference-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./inference-worker.ts');
