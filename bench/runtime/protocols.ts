import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { Registry } from 'prom-client';
import { signatureOf } from '../../runtime/model/signature.ts';
import { fromOrtTensor, type NamedTensors } from '../../runtime/model/tensor.ts';
import { PredictionMetrics, predictionOutputs } from '../../runtime/prediction-metrics.ts';
import { closedPort } from '../../test/runtime/helpers.ts';
import { framedModelInferRequests, grpcLoad } from './grpc-load.ts';
import { runLoad } from './load.ts';
import { cpuSeconds } from './servers.ts';

/**
 * REST vs gRPC on one runtime process (fraud model, one row per request, closed loop over loopback),
 * and the cost of the prediction metrics next to the model run they observe. Prints ratios.
 *   node --import tsx bench/runtime/protocols.ts [--duration-ms 3000] [--concurrency 16]
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODEL = `${ROOT}examples/models/fraud-fp32.onnx`;
const FEATURES = 30;
const { values: args } = parseArgs({ options: { 'duration-ms': { type: 'string', default: '3000' }, concurrency: { type: 'string', default: '16' } } });
const durationMs = Number(args['duration-ms']);
const concurrency = Number(args.concurrency);
const MAX_REQUESTS = 500_000;
const samples = new Float32Array(readFileSync(`${ROOT}examples/models/fraud-validation.f32`).buffer.slice(0));
const rowOf = (i: number) => samples.subarray((i % 1024) * FEATURES, (i % 1024 + 1) * FEATURES);

const fraudInfer = (i: number): Record<string, unknown> => {
  const row = rowOf(i);
  return {
    model_name: 'fraud',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES] }],
    raw_input_contents: [Buffer.from(row.buffer, row.byteOffset, row.byteLength)],
  };
};

async function protocols(): Promise<void> {
  const [port, grpcPort] = [await closedPort(), await closedPort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', MODELSHIP_MODEL_URI: MODEL, MODELSHIP_MODEL_NAME: 'fraud', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: String(grpcPort), MODELSHIP_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 600 && !(await fetch(`${url}/v2/health/ready`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    const bodies = Array.from({ length: 256 }, (_, i) => Buffer.from(JSON.stringify({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES], data: Array.from(rowOf(i)) }],
    })));
    const pid = child.pid as number;
    let cpu = cpuSeconds(pid);
    const rest = await runLoad({ url, path: '/v2/models/fraud/infer', bodies, concurrency, warmupMs: 500, durationMs, maxRequests: MAX_REQUESTS });
    // The warm-up and measured phases both count: CPU per request over everything sent.
    const restCpuUs = ((cpuSeconds(pid) - cpu) * 1e6) / (rest.requests * (1 + 500 / durationMs));
    const grpcOptions = { concurrency, durationMs, maxRequests: MAX_REQUESTS };
    const grpcBodies = framedModelInferRequests(fraudInfer, 256);
    await grpcLoad(`127.0.0.1:${grpcPort}`, grpcBodies, grpcOptions); // warm-up
    cpu = cpuSeconds(pid);
    const grpc = await grpcLoad(`127.0.0.1:${grpcPort}`, grpcBodies, grpcOptions);
    const grpcCpuUs = ((cpuSeconds(pid) - cpu) * 1e6) / grpc.requests;
    console.log(`concurrency ${concurrency}: REST (JSON) ${rest.requestsPerSecond.toFixed(0)} req/s p50 ${rest.p50Ms.toFixed(2)} ms, server CPU ${restCpuUs.toFixed(0)} µs/req; `
      + `gRPC (raw contents, node:http2 client) ${grpc.requestsPerSecond.toFixed(0)} req/s p50 ${grpc.p50Ms.toFixed(2)} ms, server CPU ${grpcCpuUs.toFixed(0)} µs/req; `
      + `gRPC/REST throughput ${(grpc.requestsPerSecond / rest.requestsPerSecond).toFixed(2)}, server CPU per request ${(grpcCpuUs / restCpuUs).toFixed(2)}`);
  } finally {
    child.kill('SIGTERM');
  }
}

/** Time of PredictionMetrics.observe on a 64-row batch relative to the session.run that produced it. */
async function predictionMetricsCost(): Promise<void> {
  const session = await InferenceSession.create(MODEL);
  const feeds = { features: new Tensor('float32', samples.slice(0, 64 * FEATURES), [64, FEATURES]) };
  const results = await session.run(feeds);
  const outputs: NamedTensors = Object.fromEntries(Object.entries(results).map(([name, tensor]) => [name, fromOrtTensor(name, tensor)]));
  const metrics = new PredictionMetrics(predictionOutputs(signatureOf(session), ['legit', 'fraud'])!, new Registry());
  const runs = 2000;
  let started = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  const runMs = (performance.now() - started) / runs;
  started = performance.now();
  for (let i = 0; i < runs * 10; i++) metrics.observe(outputs);
  const observeMs = (performance.now() - started) / (runs * 10);
  console.log(`64-row batch: session.run ${(runMs * 1000).toFixed(1)} µs, prediction metrics ${(observeMs * 1000).toFixed(2)} µs (${((observeMs / runMs) * 100).toFixed(1)}% of the run)`);
  await session.release();
}

await predictionMetricsCost();
await protocols();
