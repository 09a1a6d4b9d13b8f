import { expect } from 'chai';
import { createLogger } from '../../runtime/logging.ts';
import { openInProcessSession } from '../../runtime/model/runner.ts';
import { decodeInferRequest } from '../../runtime/protocol/infer-request.ts';
import { requestDecoder } from '../../runtime/protocol/request-decoder.ts';
import { sampleRequestBody } from '../../runtime/protocol/sample-request.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fraudRequest, modelPath, startTestRuntime } from './helpers.ts';
import { ensurePython, runPython } from './python.ts';

/**
 * Before it is ready the runtime starts the decoder thread and sends sample requests down the
 * serving path (runtime/protocol/warm-up.ts): started on a pod's first large body, the thread alone
 * cost that request about 200 ms, and a new pod's first second under a CPU limit averaged 51-122 ms
 * against 3-5 ms warm, enough for an autoscaler on mean latency to add replicas nobody needed.
 */
describe('runtime: the serving path is warmed up before the model is ready, and the warm-up counts nowhere', function () {
  this.timeout(60_000);
  const settings = { providers: ['cpu'], deviceId: 0, intraOpThreads: 1, interOpThreads: 1, inferenceThread: 'main' } as const;

  it('samples a valid request of every datatype the model takes (all-types identity model)', async () => {
    const runner = await openInProcessSession(modelPath('all-types-identity.onnx'), settings);
    try {
      for (const rows of [1, 3]) {
        const decoded = decodeInferRequest(sampleRequestBody(runner.signature, rows), undefined, runner.signature);
        expect(Object.keys(decoded.inputs)).to.have.members(runner.signature.inputs.map((spec) => spec.name));
        expect(decoded.rows).to.equal(runner.signature.batchable ? rows : 0);
      }
    } finally {
      await runner.release();
    }
  });

  it('starts the decoder thread only where large bodies are offloaded, and says when it has answered', async () => {
    const runner = await openInProcessSession(modelPath('fraud-fp32.onnx'), settings);
    try {
      const offloading = requestDecoder(1024, createLogger('silent'));
      expect(offloading.threadReady).to.equal(false);
      await offloading.warmUp(runner.signature);
      expect(offloading.threadReady).to.equal(true);
      await offloading.close();
      expect(offloading.threadReady).to.equal(false);
      const inline = requestDecoder(0, createLogger('silent'));
      await inline.warmUp(runner.signature);
      expect(inline.threadReady, 'MODELSHIP_DECODE_OFFLOAD_BYTES=0').to.equal(false);
      await inline.close();
    } finally {
      await runner.release();
    }
  });

  it('a ready runtime has its decoder thread up, and its metrics show no request, batch or prediction until a client sends one', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', classNames: 'legit, fraud' });
    try {
      expect(runtime.logs.lines.find((line) => line.msg === 'model ready')?.decoderThread).to.equal(true);
      const counted = async () => {
        const text = await (await fetch(`${runtime.url}/metrics`)).text();
        const sum = (name: string) => text.split('\n').filter((line) => line.startsWith(name)).reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
        return { requests: sum('prediction_requests_total'), latency: sum('prediction_latency_seconds_count'), batches: sum('inference_batch_size_count'), classes: sum('prediction_class_total') };
      };
      expect(await counted()).to.deep.equal({ requests: 0, latency: 0, batches: 0, classes: 0 });
      const response = await fetch(`${runtime.url}/v2/models/fraud/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fraudRequest(3, 5)) });
      expect(response.status).to.equal(200);
      expect(await counted()).to.deep.equal({ requests: 1, latency: 1, batches: 1, classes: 3 });
    } finally {
      await runtime.close();
    }
  });

  it('serves a model that runs at one row only: the warm-up\'s larger requests fail with a warning, not the start', async function () {
    this.timeout(300_000);
    const dir = await mkdtemp(join(tmpdir(), 'modelship-one-row-'));
    try {
      await runPython(await ensurePython(), ['test/runtime/build_one_row_model.py', join(dir, 'one-row.onnx')]);
      const runtime = await startTestRuntime({ modelUri: join(dir, 'one-row.onnx'), modelName: 'one-row' });
      try {
        expect(runtime.logs.lines.some((line) => line.msg === 'a warm-up request failed; serving without it')).to.equal(true);
        const response = await fetch(`${runtime.url}/v2/models/one-row/infer`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }),
        });
        expect(response.status).to.equal(200);
        expect(((await response.json()) as { outputs: { data: number[] }[] }).outputs[0]?.data).to.deep.equal([2, 4, 6]);
      } finally {
        await runtime.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
