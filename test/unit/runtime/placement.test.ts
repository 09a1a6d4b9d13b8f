import { expect } from 'chai';
import { MAIN_THREAD_RUN_BUDGET_MS } from '../../../runtime/contract.ts';
import { placementFor, splitRunner } from '../../../runtime/model/placement.ts';
import type { ModelRunner } from '../../../runtime/model/runner.ts';
import type { NamedTensors } from '../../../runtime/model/tensor.ts';

describe('runtime: auto placement of model runs (main thread for short runs, the worker for long ones)', () => {
  it('keeps a batch on the main thread as long as its run is expected within the budget, and says so', () => {
    // The wide MLP here: a 64-row run in 1.6 ms, so 0.025 ms a row.
    const placement = placementFor({ batchable: true, oneRowMs: 0.1, probeRows: 64, probeMs: 1.6 });
    expect(placement.mainThreadRows).to.equal(Math.floor(MAIN_THREAD_RUN_BUDGET_MS / 0.025));
    expect(placement.reason).to.equal(`runs of up to ${placement.mainThreadRows} rows on the main thread (a 64-row run took 1.60 ms), larger ones in the worker thread`);
  });

  it('sends every run to the worker when one row is already over the budget', () => {
    const placement = placementFor({ batchable: true, oneRowMs: MAIN_THREAD_RUN_BUDGET_MS * 2, probeRows: 1, probeMs: MAIN_THREAD_RUN_BUDGET_MS * 2 });
    expect(placement.mainThreadRows).to.equal(0);
    expect(placement.reason).to.match(/^every run in the worker thread: a 1-row run took .* ms, over \d+ ms$/);
  });

  it('keeps at least one row on the main thread when one row fits but the timed batch does not', () => {
    // A conv model: 0.45 ms an image, 24 ms for 64.
    expect(placementFor({ batchable: true, oneRowMs: 0.45, probeRows: 64, probeMs: 24 }).mainThreadRows).to.equal(Math.max(1, Math.floor(MAIN_THREAD_RUN_BUDGET_MS / (24 / 64))));
    expect(placementFor({ batchable: true, oneRowMs: 4.9, probeRows: 64, probeMs: 640 }).mainThreadRows).to.equal(1);
  });

  it('sends all runs of a model of fixed shapes one way', () => {
    expect(placementFor({ batchable: false, oneRowMs: 0.2, probeRows: 1, probeMs: 0.2 })).to.deep.equal({
      mainThreadRows: Number.POSITIVE_INFINITY, reason: 'every run on the main thread: a 1-row run took 0.20 ms',
    });
    expect(placementFor({ batchable: false, oneRowMs: 9, probeRows: 1, probeMs: 9 }).mainThreadRows).to.equal(0);
  });

  it('routes each run by its rows, and releases both runners', async () => {
    const ran: string[] = [];
    const released: string[] = [];
    const runner = (name: string): ModelRunner => ({
      signature: { inputs: [], outputs: [], batchable: true },
      provider: 'cpu',
      run: (feeds) => (ran.push(`${name}:${feeds.x?.shape[0]}`), Promise.resolve({})),
      release: () => (released.push(name), Promise.resolve()),
    });
    const split = splitRunner(runner('main'), runner('worker'), 100);
    const rows = (n: number): NamedTensors => ({ x: { datatype: 'FP32', shape: [n, 4], data: new Float32Array(n * 4) } });
    await split.run(rows(1));
    await split.run(rows(100));
    await split.run(rows(101));
    expect(ran).to.deep.equal(['main:1', 'main:100', 'worker:101']);
    await split.release();
    expect(released).to.have.members(['main', 'worker']);
  });
});
