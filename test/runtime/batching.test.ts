import { expect } from 'chai';
import type { RunningRuntime } from '../../runtime/server.ts';
import { modelPath, postJson, seededFloats, startTestRuntime, type V2InferResponse } from './helpers.ts';
import { sampleSum } from '../support/prometheus-text.ts';

const WIDE_FEATURES = 64;

function wideRequest(rows: number, seed: number): Record<string, unknown> {
  return { id: `s${seed}`, inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, WIDE_FEATURES], data: seededFloats(seed, rows * WIDE_FEATURES, 2) }] };
}

function batchHistogram(metrics: string): { count: number; sum: number } {
  return { count: sampleSum(metrics, 'inference_batch_size_count'), sum: sampleSum(metrics, 'inference_batch_size_sum') };
}

describe('runtime: dynamic batching under concurrency (wide MLP, real onnxruntime)', function () {
  this.timeout(120_000);
  let batched: RunningRuntime;
  let unbatched: RunningRuntime;

  before(async () => {
    batched = await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide', maxBatchSize: '64', maxConcurrentRuns: '1' });
    unbatched = await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide', maxBatchSize: '1', inferenceThread: 'worker' });
  });
  after(async () => {
    await batched.close();
    await unbatched.close();
  });

  it('merges concurrent requests, and every result equals running that request alone', async () => {
    const requests = Array.from({ length: 160 }, (_, i) => wideRequest(1 + (i % 4), 1000 + i));
    const alone: V2InferResponse[] = [];
    for (const request of requests) alone.push((await postJson<V2InferResponse>(`${unbatched.url}/v2/models/wide/infer`, request)).body);

    const together = await Promise.all(requests.map((request) => postJson<V2InferResponse>(`${batched.url}/v2/models/wide/infer`, request)));
    together.forEach(({ status, body }, i) => {
      expect(status).to.equal(200);
      const reference = alone[i] as V2InferResponse;
      expect(body.id).to.equal(reference.id);
      expect(body.outputs.map((o) => o.shape)).to.deep.equal(reference.outputs.map((o) => o.shape));
      expect(body.outputs[0]?.data, 'labels').to.deep.equal(reference.outputs[0]?.data);
      const got = body.outputs[1]?.data as number[];
      const want = reference.outputs[1]?.data as number[];
      // GEMM at batch n and GEMV at batch 1 may round the last bit differently; nothing more.
      got.forEach((value, j) => expect(value).to.be.closeTo(want[j] as number, 1e-5));
    });

    const { count, sum } = batchHistogram(await (await fetch(`${batched.url}/metrics`)).text());
    expect(count, 'runs').to.be.greaterThan(0);
    expect(sum / count, 'mean rows per run').to.be.greaterThan(1.5);
  });

  it('a lone request on an idle model runs at once, without waiting for the max queue delay', async function () {
    // The queue delay (the largest allowed, 60 s) is beyond this test's own timeout: waiting for it fails the test
    // however slow the machine is, and no wall-clock bound is asserted.
    this.timeout(30_000);
    const patient = await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide', maxBatchSize: '64', maxQueueDelayMs: '60000' });
    try {
      const { status } = await postJson(`${patient.url}/v2/models/wide/infer`, wideRequest(1, 7));
      expect(status).to.equal(200);
      const { count, sum } = batchHistogram(await (await fetch(`${patient.url}/metrics`)).text());
      expect({ count, sum }).to.deep.equal({ count: 1, sum: 1 });
    } finally {
      await patient.close();
    }
  });

  it('bad requests are rejected up front and never spoil the batch they arrive with', async () => {
    const sends = Array.from({ length: 60 }, (_, i) => (i % 3 === 0
      ? postJson(`${batched.url}/v2/models/wide/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 63], data: seededFloats(i, 63) }] })
      : postJson<V2InferResponse>(`${batched.url}/v2/models/wide/infer`, wideRequest(2, 5000 + i))));
    const responses = await Promise.all(sends);
    responses.forEach((response, i) => expect(response.status).to.equal(i % 3 === 0 ? 400 : 200));
    const reference = await postJson<V2InferResponse>(`${unbatched.url}/v2/models/wide/infer`, wideRequest(2, 5001));
    expect((responses[1]?.body as V2InferResponse).outputs[0]?.data).to.deep.equal(reference.body.outputs[0]?.data);
  });
});

describe('runtime: batching keeps requests with different trailing dims apart (identity model)', () => {
  let runtime: RunningRuntime;
  before(async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('all-types-identity.onnx'), modelName: 'identity', maxBatchSize: '32' });
  });
  after(() => runtime.close());

  it('each response holds exactly its own data', async () => {
    const types = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
    const requestFor = (rows: number, width: number, seed: number) => ({
      inputs: types.map((datatype) => {
        const count = rows * width;
        const data = datatype === 'BOOL' ? Array.from({ length: count }, (_, k) => (seed + k) % 2 === 0)
          : datatype === 'BYTES' ? Array.from({ length: count }, (_, k) => `s${seed}-${k}`)
            : Array.from({ length: count }, (_, k) => (seed * 7 + k) % 100);
        return { name: `in_${datatype}`, datatype, shape: [rows, width], data };
      }),
    });
    const requests = Array.from({ length: 90 }, (_, i) => requestFor(1 + (i % 3), 1 + (i % 5), i));
    const responses = await Promise.all(requests.map((request) => postJson<V2InferResponse>(`${runtime.url}/v2/models/identity/infer`, request)));
    responses.forEach(({ status, body }, i) => {
      expect(status).to.equal(200);
      for (const input of (requests[i] as ReturnType<typeof requestFor>).inputs) {
        const output = body.outputs.find((o) => o.name === input.name.replace('in_', 'out_'));
        expect(output?.shape).to.deep.equal(input.shape);
        expect(output?.data).to.deep.equal(input.data);
      }
    });
  });
});
