import { expect } from 'chai';
import { MAIN_THREAD_RUN_BUDGET_MS } from '../../../runtime/contract.ts';
import { placementFor, splitRunner, timeRuns, workerOnlyBecause } from '../../../runtime/model/placement.ts';
import type { ModelRunner } from '../../../runtime/model/runner.ts';
import type { ModelSignature } from '../../../runtime/model/signature.ts';
import type { NamedTensors } from '../../../runtime/model/tensor.ts';

const rowsOf = (feeds: NamedTensors): number => feeds.x?.shape[0] ?? 0;
const feedsOf = (rows: number): NamedTensors => ({ x: { datatype: 'FP32', shape: [rows, 4], data: new Float32Array(rows * 4) } });
const batched: ModelSignature = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }], batchable: true };

/** A runner that records the rows of each run, and fails the runs `fails` says. */
function fakeRunner(name: string, log: string[], fails: (rows: number, call: number) => boolean = () => false): ModelRunner {
  let calls = 0;
  return {
    signature: batched,
    provider: 'cpu',
    fallbackWarning: `${name} fell back`,
    run: (feeds) => {
      log.push(`${name}:${rowsOf(feeds)}`);
      return fails(rowsOf(feeds), calls++) ? Promise.reject(new Error(`${rowsOf(feeds)} rows refused\nat line 2`)) : Promise.resolve({});
    },
    release: () => (log.push(`${name}:released`), Promise.resolve()),
  };
}

describe('runtime: auto placement of model runs (main thread for short runs, the worker for long ones)', () => {
  it('keeps a batch on the main thread while its run is expected within the budget, up to the largest timed run', () => {
    // The wide MLP here: a 64-row run in 1.6 ms; 200 rows would fit, but only 64 were timed.
    const placement = placementFor({ batchable: true, oneRowMs: 0.1, probeRows: 64, probeMs: 1.6 });
    expect(placement.mainThreadRows).to.equal(64);
    expect(placement.reason).to.equal('runs of up to 64 rows on the main thread (a 64-row run took 1.60 ms), larger ones in the worker thread');
    // A conv model: 0.45 ms an image, 24 ms for 64: the rows that fit the budget.
    expect(placementFor({ batchable: true, oneRowMs: 0.45, probeRows: 64, probeMs: 24 }).mainThreadRows).to.equal(Math.floor(MAIN_THREAD_RUN_BUDGET_MS / (24 / 64)));
    // One row fits, the timed batch is far over: one row still goes to the main thread.
    expect(placementFor({ batchable: true, oneRowMs: 4.9, probeRows: 64, probeMs: 640 }).mainThreadRows).to.equal(1);
  });

  it('sends every run to the worker when one row is already over the budget', () => {
    const placement = placementFor({ batchable: true, oneRowMs: MAIN_THREAD_RUN_BUDGET_MS * 2, probeRows: 1, probeMs: MAIN_THREAD_RUN_BUDGET_MS * 2 });
    expect(placement.mainThreadRows).to.equal(0);
    expect(placement.reason).to.match(/^every run in the worker thread: a 1-row run took .* ms, over \d+ ms$/);
  });

  it('keeps one row on the main thread when a larger run failed, and says why', () => {
    const placement = placementFor({ batchable: true, oneRowMs: 0.1, probeRows: 1, probeMs: 0.1, probeFailure: '64 rows refused' });
    expect(placement).to.deep.equal({
      mainThreadRows: 1,
      reason: 'runs of up to 1 row on the main thread (a 1-row run took 0.10 ms; a larger one failed: 64 rows refused), larger ones in the worker thread',
    });
  });

  it('sends all runs of a model of fixed shapes one way', () => {
    expect(placementFor({ batchable: false, oneRowMs: 0.2, probeRows: 1, probeMs: 0.2 })).to.deep.equal({
      mainThreadRows: Number.POSITIVE_INFINITY, reason: 'every run on the main thread: a 1-row run took 0.20 ms',
    });
    expect(placementFor({ batchable: false, oneRowMs: 9, probeRows: 1, probeMs: 9 }).mainThreadRows).to.equal(0);
  });

  it('keeps every run in the worker where a run\'s rows do not tell its cost, on a GPU, and with several runs at once', () => {
    expect(workerOnlyBecause(batched, 'cpu', 1)).to.equal(undefined);
    expect(workerOnlyBecause({ ...batched, batchable: false, inputs: [{ name: 'x', datatype: 'FP32', shape: [3, 4] }] }, 'cpu', 1)).to.equal(undefined);
    expect(workerOnlyBecause(batched, 'cuda', 1)).to.equal('the model runs on cuda, held once');
    expect(workerOnlyBecause(batched, 'cpu', 2)).to.equal('MODELSHIP_MAX_CONCURRENT_RUNS is 2');
    expect(workerOnlyBecause({ ...batched, inputs: [{ name: 'tokens', datatype: 'INT64', shape: [-1, -1] }] }, 'cpu', 1))
      .to.equal('input "tokens" has a dynamic dim beyond the first: a run\'s cost depends on more than its rows');
    expect(workerOnlyBecause({ ...batched, batchable: false, inputs: [{ name: 'tokens', datatype: 'INT64', shape: [1, -1] }] }, 'cpu', 1))
      .to.equal('input "tokens" has a dynamic dim: a run\'s cost depends on more than its rows');
    expect(workerOnlyBecause({ ...batched, inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1, 1] }] }, 'cpu', 1))
      .to.equal('input "text" is BYTES: a run\'s cost depends on its strings, not only its rows');
  });

  it('times one-row runs and a batch no larger than the batcher merges', async () => {
    const log: string[] = [];
    const times = await timeRuns(fakeRunner('worker', log), feedsOf, 16);
    expect(log).to.deep.equal(['worker:1', 'worker:1', 'worker:1', 'worker:16', 'worker:16']);
    expect(times).to.include({ batchable: true, probeRows: 16 });
    const fixed: string[] = [];
    expect(await timeRuns({ ...fakeRunner('worker', fixed), signature: { ...batched, batchable: false } }, feedsOf, 64)).to.include({ batchable: false, probeRows: 1 });
    expect(fixed).to.deep.equal(['worker:1', 'worker:1', 'worker:1']);
  });

  it('falls back to one row when a larger run fails, but fails the start when one row fails too (a runner that stopped)', async () => {
    const log: string[] = [];
    const times = await timeRuns(fakeRunner('worker', log, (rows) => rows > 1), feedsOf, 64);
    expect(times).to.include({ probeRows: 1, probeFailure: '64 rows refused' });
    expect(log).to.deep.equal(['worker:1', 'worker:1', 'worker:1', 'worker:64', 'worker:1']);
    const dead = fakeRunner('worker', [], (rows, call) => rows > 1 || call > 3);
    let failed: Error | undefined;
    await timeRuns(dead, feedsOf, 64).catch((error: Error) => (failed = error));
    expect(failed?.message).to.match(/^1 rows refused/);
  });

  it('routes each run by its rows, describes the model as the worker does, and releases both runners', async () => {
    const log: string[] = [];
    const split = splitRunner(fakeRunner('main', log), fakeRunner('worker', log), 100);
    expect(split).to.include({ provider: 'cpu', fallbackWarning: 'worker fell back', signature: batched });
    for (const rows of [1, 100, 101]) await split.run(feedsOf(rows));
    await split.release();
    expect(log).to.have.ordered.members(['main:1', 'main:100', 'worker:101', 'main:released', 'worker:released']);
  });
});
