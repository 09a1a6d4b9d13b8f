import { expect } from 'chai';
import { DynamicBatcher, QueueFullError, RequestCancelledError, type BatchingSettings } from '../../../runtime/batching/dynamic-batcher.ts';
import type { NamedTensors } from '../../../runtime/model/tensor.ts';

const SETTINGS: BatchingSettings = { maxBatchSize: 8, maxQueueDelayMs: 5, preferredBatchSizes: [], maxQueueSize: 100, maxConcurrentRuns: 1 };

/** A fake model that doubles its input and records each run's row count; runs last `runMs`. */
function fakeModel(runMs = 0) {
  const runs: number[] = [];
  const run = async (feeds: NamedTensors): Promise<NamedTensors> => {
    const x = feeds.x as unknown as { shape: number[]; data: Float32Array };
    runs.push(x.shape[0] ?? 0);
    if (x.data.some((v) => Number.isNaN(v))) throw new Error('NaN input');
    if (runMs) await new Promise((resolve) => setTimeout(resolve, runMs));
    return { y: { datatype: 'FP32', shape: x.shape, data: x.data.map((v) => v * 2) } };
  };
  return { runs, run };
}

const feeds = (rows: number, value: number, width = 2): NamedTensors => ({
  x: { datatype: 'FP32', shape: [rows, width], data: new Float32Array(rows * width).fill(value) },
});
const noop = { onRun: () => undefined };

describe('unit: DynamicBatcher', () => {
  it('runs a lone request on an idle model at once (no max-delay wait)', async () => {
    const model = fakeModel();
    // A wait for the 60 s max delay would outlast the unit suite's 20 s timeout, on any machine.
    const batcher = new DynamicBatcher(model.run, { ...SETTINGS, maxQueueDelayMs: 60_000 }, noop);
    const out = await batcher.submit(feeds(1, 3), 'k', 1);
    expect(Array.from(out.y?.data as Float32Array)).to.deep.equal([6, 6]);
  });

  it('merges requests that arrive together, splits results back in order', async () => {
    const model = fakeModel();
    const batches: number[] = [];
    const batcher = new DynamicBatcher(model.run, SETTINGS, { onRun: (rows) => batches.push(rows) });
    const results = await Promise.all([1, 2, 3].map((v) => batcher.submit(feeds(v, v), 'k', v)));
    expect(model.runs).to.deep.equal([6]);
    expect(batches).to.deep.equal([6]);
    results.forEach((out, i) => {
      expect(out.y?.shape).to.deep.equal([i + 1, 2]);
      expect(Array.from(out.y?.data as Float32Array)).to.deep.equal(Array((i + 1) * 2).fill((i + 1) * 2));
    });
  });

  it('never exceeds max batch size and never mixes keys', async () => {
    const model = fakeModel();
    const batcher = new DynamicBatcher(model.run, SETTINGS, noop);
    const sends = [
      ...Array.from({ length: 6 }, () => batcher.submit(feeds(3, 1), 'a', 3)),
      batcher.submit(feeds(2, 1, 5), 'b', 2),
    ];
    await Promise.all(sends);
    expect(Math.max(...model.runs)).to.be.at.most(8);
    expect(model.runs.reduce((a, b) => a + b)).to.equal(20);
    expect(model.runs).to.include(2);
  });

  it('while a run is busy, queued requests accumulate into the next batch', async () => {
    const model = fakeModel(20);
    const batcher = new DynamicBatcher(model.run, { ...SETTINGS, maxBatchSize: 64 }, noop);
    const first = batcher.submit(feeds(1, 1), 'k', 1);
    // Wait for the run to start rather than for a fixed time: on a loaded machine a 5 ms timer can fire
    // before the batcher's own dispatch. The rest are then submitted in one synchronous stretch.
    while (model.runs.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 10 }, () => batcher.submit(feeds(1, 1), 'k', 1));
    await Promise.all([first, ...rest]);
    expect(model.runs).to.deep.equal([1, 10]);
  });

  it('dispatches preferred batch sizes', async () => {
    const model = fakeModel();
    const batcher = new DynamicBatcher(model.run, { ...SETTINGS, maxBatchSize: 16, preferredBatchSizes: [4] }, noop);
    await Promise.all(Array.from({ length: 10 }, () => batcher.submit(feeds(1, 1), 'k', 1)));
    expect(model.runs.slice(0, 2)).to.deep.equal([4, 4]);
  });

  it('with a free slot and another run busy, waits up to the max queue delay for a fuller batch', async () => {
    const model = fakeModel(30);
    const batcher = new DynamicBatcher(model.run, { ...SETTINGS, maxConcurrentRuns: 2, maxQueueDelayMs: 10 }, noop);
    const busy = batcher.submit(feeds(1, 1), 'k', 1);
    while (model.runs.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    await batcher.submit(feeds(1, 1), 'k', 1);
    expect(performance.now() - started).to.be.at.least(9);
    await busy;
  });

  it('refuses with QueueFullError beyond max queue size', async () => {
    const model = fakeModel();
    const batcher = new DynamicBatcher(model.run, { ...SETTINGS, maxQueueSize: 2 }, noop);
    const results = await Promise.allSettled([1, 2, 3].map(() => batcher.submit(feeds(1, 1), 'k', 1)));
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).to.be.instanceOf(QueueFullError);
  });

  it('a request that makes the merged run fail fails alone; the others still succeed', async () => {
    const model = fakeModel();
    const batcher = new DynamicBatcher(model.run, SETTINGS, noop);
    const results = await Promise.allSettled([batcher.submit(feeds(1, 1), 'k', 1), batcher.submit(feeds(1, Number.NaN), 'k', 1), batcher.submit(feeds(1, 2), 'k', 1)]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('unbatchable requests (no key) run one by one, and leave nothing queued or running', async () => {
    const model = fakeModel(2);
    const batcher = new DynamicBatcher(model.run, SETTINGS, noop);
    await Promise.all([1, 2, 3].map(() => batcher.submit(feeds(1, 1), undefined, 1)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(model.runs).to.deep.equal([1, 1, 1]);
    expect([batcher.queueDepth, batcher.runsInProgress]).to.deep.equal([0, 0]);
  });

  it('an aborted queued request leaves the queue at once, never runs, and frees its slot; one already running is unaffected', async () => {
    const model = fakeModel(30);
    const cancelled: number[] = [];
    const batcher = new DynamicBatcher(model.run, { ...SETTINGS, maxQueueSize: 2 }, { onRun: () => undefined, onCancelled: (rows) => cancelled.push(rows) });
    const running = new AbortController();
    const first = batcher.submit(feeds(1, 1), 'k', 1, running.signal);
    await new Promise((resolve) => setImmediate(resolve));
    const leaving = new AbortController();
    const queued = [batcher.submit(feeds(3, 2), 'k', 3, leaving.signal), batcher.submit(feeds(2, 3), 'k', 2)];
    expect(batcher.queueDepth).to.equal(2);
    leaving.abort();
    running.abort();
    expect(batcher.queueDepth).to.equal(1);
    const late = batcher.submit(feeds(4, 4), 'k', 4);
    const results = await Promise.allSettled([first, ...queued, late]);
    expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).to.be.instanceOf(RequestCancelledError);
    expect(cancelled).to.deep.equal([3]);
    expect(model.runs, 'rows per run').to.deep.equal([1, 6]);
  });

  it('refuses a request whose signal is already aborted without queueing it', async () => {
    const model = fakeModel();
    const cancelled: number[] = [];
    const batcher = new DynamicBatcher(model.run, SETTINGS, { onRun: () => undefined, onCancelled: (rows) => cancelled.push(rows) });
    await batcher.submit(feeds(2, 1), 'k', 2, AbortSignal.abort()).then(() => expect.fail('ran'), (error: unknown) => expect(error).to.be.instanceOf(RequestCancelledError));
    expect(model.runs).to.deep.equal([]);
    expect(cancelled).to.deep.equal([2]);
    expect(batcher.queueDepth).to.equal(0);
  });
});
