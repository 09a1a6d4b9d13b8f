// Entry of the runtime's worker threads when the runtime runs from its TypeScript sources (tests,
// benchmarks, `tsx runtime/main.ts`): the main thread's loader hooks do not reach a worker's entry
// module, so register tsx here, then load the worker module named by the first worker argument.
// Compiled builds start the worker's .js module directly (runtime/worker-thread.ts).
import { argv } from 'node:process';
import { register } from 'tsx/esm/api';

register();
await import(argv[2]);
