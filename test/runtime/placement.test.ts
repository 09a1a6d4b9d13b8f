import { expect } from 'chai';
import { splitRunner } from '../../runtime/model/placement.ts';
import { openInProcessSession, openWorkerSession, type ModelRunner } from '../../runtime/model/runner.ts';
import type { NamedTensors } from '../../runtime/model/tensor.ts';
import { modelPath, postJson, seededFloats, startTestRuntime, type V2InferResponse } from './helpers.ts';

type Started = Awaited<ReturnType<typeof startTestRuntime>>;

/** What the start's log line says about where runs compute. */
const placementOf = (runtime: Started): string => String(runtime.logs.lines.find((line) => line.msg === 'model ready')?.inferenceThread);

/**
 * MODELSHIP_INFERENCE_THREAD: `auto` (the default) times the model at start and runs short batches on
 * the main thread, long ones in the worker; `worker` and `main` put every run in one place. Which way
 * `auto` goes depends on this machine's speed, so the test reads the choice from the log line and
 * checks that every place answers the same.
 */
describe('runtime: where model runs compute (auto, worker, main) changes no answer, and the start says where', function () {
  this.timeout(120_000);
  const runtimes = new Map<string, Started>();

  before(async () => {
    for (const inferenceThread of ['auto', 'worker', 'main']) {
      runtimes.set(inferenceThread, await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide', inferenceThread }));
    }
  });
  after(async () => {
    await Promise.all([...runtimes.values()].map((runtime) => runtime.close()));
  });

  it('logs the placement each setting chose, with the timing behind auto\'s choice', () => {
    expect(placementOf(runtimes.get('worker') as Started)).to.equal('worker: every run in the worker thread');
    expect(placementOf(runtimes.get('main') as Started)).to.equal('main: every run on the main thread');
    expect(placementOf(runtimes.get('auto') as Started)).to.match(
      /^auto: (runs of up to \d+ rows? on the main thread \(a 64-row run took [\d.]+ ms\), larger ones in the worker thread|every run in the worker thread: a \d+-row run took [\d.]+ ms, over \d+ ms)$/,
    );
  });

  it('answers a one-row request and a batch larger than auto keeps on the main thread the same in every placement', async () => {
    const mainThreadRows = Number(/up to (\d+) rows/.exec(placementOf(runtimes.get('auto') as Started))?.[1] ?? 64);
    for (const rows of [1, mainThreadRows + 1]) {
      const body = { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 64], data: seededFloats(rows, rows * 64, 2) }] };
      const answers = new Map<string, number[]>();
      for (const [setting, runtime] of runtimes) {
        const response = await postJson<V2InferResponse>(`${runtime.url}/v2/models/wide/infer`, body);
        expect(response.status, `${setting}, ${rows} rows`).to.equal(200);
        const probabilities = response.body.outputs.find((output) => output.name === 'probabilities');
        expect(probabilities?.shape[0], `${setting}, ${rows} rows`).to.equal(rows);
        answers.set(setting, probabilities?.data as number[]);
      }
      const worker = answers.get('worker') as number[];
      for (const setting of ['auto', 'main']) {
        const other = answers.get(setting) as number[];
        expect(other.length).to.equal(worker.length);
        other.forEach((value, i) => expect(value, `${setting}, ${rows} rows, value ${i}`).to.be.closeTo(worker[i] as number, 1e-6));
      }
    }
  });

  const settings = { providers: ['cpu'], deviceId: 0, intraOpThreads: 1, interOpThreads: 1, inferenceThread: 'worker' } as const;
  const features = (rows: number): NamedTensors => ({ features: { datatype: 'FP32', shape: [rows, 64], data: Float32Array.from(seededFloats(rows + 7, rows * 64, 2)) } });

  it('computes each run where its rows send it, with the same answers as the worker alone (a split at one row, whatever this machine\'s speed)', async () => {
    const [main, worker] = [await openInProcessSession(modelPath('wide-mlp-fp32.onnx'), settings), await openWorkerSession(modelPath('wide-mlp-fp32.onnx'), settings)];
    const reference = await openWorkerSession(modelPath('wide-mlp-fp32.onnx'), settings);
    const ran: string[] = [];
    const counted = (name: string, runner: ModelRunner): ModelRunner => ({ ...runner, run: (feeds) => (ran.push(`${name}:${feeds.features?.shape[0]}`), runner.run(feeds)) });
    const split = splitRunner(counted('main', main), counted('worker', worker), 1);
    try {
      for (const rows of [1, 2, 1, 40]) {
        const [got, expected] = [await split.run(features(rows)), await reference.run(features(rows))];
        const [a, b] = [got.probabilities?.data as Float32Array, expected.probabilities?.data as Float32Array];
        expect(a.length, `${rows} rows`).to.equal(rows * (b.length / rows));
        a.forEach((value, i) => expect(value, `${rows} rows, value ${i}`).to.be.closeTo(b[i] as number, 1e-6));
      }
      expect(ran).to.deep.equal(['main:1', 'worker:2', 'main:1', 'worker:40']);
    } finally {
      await Promise.all([split.release(), reference.release()]);
    }
  });

  it('refuses, instead of never answering, a run whose input buffer an earlier run already took to the worker', async () => {
    const runner = await openWorkerSession(modelPath('wide-mlp-fp32.onnx'), settings);
    try {
      const feeds = features(2);
      await runner.run(feeds);
      const noAnswer = new Promise<string>((resolve) => setTimeout(() => resolve('no answer in 10 s'), 10_000).unref());
      const second = runner.run(feeds).then(() => 'answered', (error: Error) => error.message);
      expect(await Promise.race([second, noAnswer])).to.equal('input "features"\'s data was already sent to a run');
    } finally {
      await runner.release();
    }
  });
});
