import { MAIN_THREAD_RUN_BUDGET_MS } from '../contract.ts';
import type { ModelRunner } from './runner.ts';
import type { ExecutionProvider } from './session.ts';
import type { ModelSignature } from './signature.ts';
import type { NamedTensors } from './tensor.ts';

/** The largest run timed at start; a run's cost per row is taken from it. */
const PROBE_ROWS = 64;

/** Where runs compute, decided once at start. */
export interface Placement {
  /** Runs of at most this many rows compute on the main thread, larger ones in the worker. */
  readonly mainThreadRows: number;
  /** Why, for the start's log line. */
  readonly reason: string;
}

type SampleFeeds = (rows: number) => NamedTensors;

/** The fastest of `times` runs, each with new feeds (a worker takes over the buffers it is sent). */
async function fastestRunMs(runner: ModelRunner, feeds: () => NamedTensors, times: number): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < times; i++) {
    const input = feeds();
    const started = performance.now();
    await runner.run(input);
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

/**
 * Why `auto` cannot judge a run's length by its rows, or undefined when it can: then every run stays
 * in the worker thread. A run's cost follows its rows only when every other dim is fixed and no input
 * is strings; a GPU session held twice would take twice the device's memory; with several runs at
 * once, runs on both threads would share the cores twice over.
 */
export function workerOnlyBecause(signature: ModelSignature, provider: ExecutionProvider, maxConcurrentRuns: number): string | undefined {
  if (provider !== 'cpu') return `the model runs on ${provider}, held once`;
  if (maxConcurrentRuns > 1) return `MODELSHIP_MAX_CONCURRENT_RUNS is ${maxConcurrentRuns}`;
  for (const spec of signature.inputs) {
    if (spec.datatype === 'BYTES') return `input "${spec.name}" is BYTES: a run's cost depends on its strings, not only its rows`;
    if ((signature.batchable ? spec.shape.slice(1) : spec.shape).some((dim) => dim < 0)) {
      return `input "${spec.name}" has a dynamic dim${signature.batchable ? ' beyond the first' : ''}: a run's cost depends on more than its rows`;
    }
  }
  return undefined;
}

/** What the start's timed runs measured. */
export interface RunTimes {
  readonly batchable: boolean;
  /** The fastest of a few one-row runs. */
  readonly oneRowMs: number;
  /** Rows of the largest timed run (1 when the model does not batch or a larger run failed). */
  readonly probeRows: number;
  readonly probeMs: number;
  /** Why a larger run was not timed, when it failed. */
  readonly probeFailure?: string;
}

/**
 * The most rows a run can have and still be expected within MAIN_THREAD_RUN_BUDGET_MS, no more than
 * the largest timed run (a longer run is not extrapolated), and why.
 */
export function placementFor({ batchable, oneRowMs, probeRows, probeMs, probeFailure }: RunTimes): Placement {
  const perRowMs = probeMs / probeRows;
  const rows = oneRowMs < MAIN_THREAD_RUN_BUDGET_MS ? Math.max(1, Math.min(probeRows, Math.floor(MAIN_THREAD_RUN_BUDGET_MS / perRowMs))) : 0;
  // A model of fixed shapes runs the same work every time: all of its runs go one way.
  const mainThreadRows = rows > 0 && !batchable ? Number.POSITIVE_INFINITY : rows;
  const timed = `a ${probeRows}-row run took ${probeMs.toFixed(2)} ms${probeFailure ? `; a larger one failed: ${probeFailure}` : ''}`;
  if (mainThreadRows === 0) return { mainThreadRows, reason: `every run in the worker thread: ${timed}, over ${MAIN_THREAD_RUN_BUDGET_MS} ms` };
  if (!batchable) return { mainThreadRows, reason: `every run on the main thread: ${timed}` };
  return { mainThreadRows, reason: `runs of up to ${mainThreadRows} row${mainThreadRows === 1 ? '' : 's'} on the main thread (${timed}), larger ones in the worker thread` };
}

/**
 * Times the model (already warmed up) at one row and at a batch of up to PROBE_ROWS rows (no more
 * than the batcher merges): a model that does not batch runs one fixed-shape sample per run, and one
 * whose single row is already over the budget needs no larger run to say so.
 */
export async function timeRuns(runner: ModelRunner, sampleFeeds: SampleFeeds, maxBatchSize: number): Promise<RunTimes> {
  const { signature } = runner;
  const oneRowMs = await fastestRunMs(runner, () => sampleFeeds(1), 3);
  const probeRows = signature.batchable ? Math.min(PROBE_ROWS, maxBatchSize) : 1;
  if (probeRows === 1 || oneRowMs >= MAIN_THREAD_RUN_BUDGET_MS) return { batchable: signature.batchable, oneRowMs, probeRows: 1, probeMs: oneRowMs };
  try {
    return { batchable: true, oneRowMs, probeRows, probeMs: await fastestRunMs(runner, () => sampleFeeds(probeRows), 2) };
  } catch (error) {
    // A model whose dim 0 is dynamic but that runs at one row only. One more one-row run tells that
    // from a runner that has stopped working (a worker that exited), which fails the start instead.
    await runner.run(sampleFeeds(1));
    return { batchable: true, oneRowMs, probeRows: 1, probeMs: oneRowMs, probeFailure: (error as Error).message.split('\n')[0] ?? '' };
  }
}

/** Rows of a run: dim 0 of its first input (every input of a batched run has the same). */
function rowsOf(feeds: NamedTensors): number {
  for (const name in feeds) return feeds[name]?.shape[0] ?? 1;
  return 1;
}

/** Runs of at most `mainThreadRows` rows on `main`, the rest on `worker`: one runner to the server. */
export function splitRunner(main: ModelRunner, worker: ModelRunner, mainThreadRows: number): ModelRunner {
  return {
    signature: worker.signature,
    provider: worker.provider,
    ...(worker.fallbackWarning ? { fallbackWarning: worker.fallbackWarning } : {}),
    run: (feeds) => (rowsOf(feeds) <= mainThreadRows ? main.run(feeds) : worker.run(feeds)),
    release: async () => {
      await Promise.all([main.release(), worker.release()]);
    },
  };
}
