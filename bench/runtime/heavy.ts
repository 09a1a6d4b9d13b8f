import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONV_MODELS as MODELS, convImages, ensureConvModels as ensureModels, jsonImageBody, ROW, ROW_SHAPE } from './conv-images.ts';
import { runLoad, type LoadResult } from './load.ts';
import { cpuSeconds, freePort, spawnNode, stop, spawnRuntime, waitReady } from './servers.ts';
import { sampleSum } from '../../test/support/prometheus-text.ts';

/**
 * A model whose row costs more than a request: a small conv image classifier (bench/runtime/build_conv_model.py,
 * one 3x48x192 float32 image per request). In one run: raw in-process onnxruntime, the runtime over
 * binary tensors with batching on and off, inference on its worker thread or the main thread, INT8
 * against FP32, and the same images as V2 JSON (about 540 KB a body) with health probes timed meanwhile.
 *   npm run bench:heavy -- [--duration-ms 5000] [--concurrency 16]
 */
const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '5000' },
    'warmup-ms': { type: 'string', default: '1500' },
    concurrency: { type: 'string', default: '16' },
    'json-concurrency': { type: 'string', default: '32' },
  },
});
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrency = Number(args.concurrency);
const jsonConcurrency = Number(args['json-concurrency']);
const INFER_PATH = '/v2/models/conv/infer';

function bodies(): { binary: Buffer[]; binaryHeaders: string[]; headerLength: number; json: Buffer[] } {
  const images = convImages(16);
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, ...ROW_SHAPE], parameters: { binary_data_size: ROW * 4 } }],
  }));
  return {
    binary: images.map((image) => Buffer.concat([header, Buffer.from(image.buffer, image.byteOffset, image.byteLength)])),
    binaryHeaders: images.map(() => `Inference-Header-Content-Length: ${header.length}\r\n`),
    headerLength: header.length,
    json: images.map(jsonImageBody),
  };
}

interface Served {
  readonly label: string;
  readonly load: LoadResult;
  readonly meanBatch: number;
  /** Mean time of one model run as the runtime's own inference_duration_seconds saw it. */
  readonly runMs: number;
  readonly cpuUsPerRequest: number;
  readonly probeP99Ms?: number;
  /** The runtime's answer to the first request. */
  readonly answer: Buffer;
}

async function metric(url: string): Promise<{ batchSum: number; batchCount: number; durationSum: number; durationCount: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    batchSum: sampleSum(text, 'inference_batch_size_sum'),
    batchCount: sampleSum(text, 'inference_batch_size_count'),
    durationSum: sampleSum(text, 'inference_duration_seconds_sum'),
    durationCount: sampleSum(text, 'inference_duration_seconds_count'),
  };
}

/** Times /v2/health/ready every 20 ms while a load runs: a blocked event loop shows up here first. */
async function probeWhile<T>(url: string, work: Promise<T>): Promise<{ result: T; p99Ms: number }> {
  const latencies: number[] = [];
  let done = false;
  const probing = (async () => {
    while (!done && latencies.length < 10_000) {
      const started = performance.now();
      await fetch(`${url}/v2/health/ready`).then((r) => r.arrayBuffer(), () => undefined);
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const result = await work.finally(() => (done = true));
  await probing;
  latencies.sort((a, b) => a - b);
  return { result, p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN };
}

interface Requests {
  readonly bodies: Buffer[];
  /** Binary tensor data: each body's extra header line, and the JSON header's length. */
  readonly headers?: string[];
  readonly headerLength?: number;
  readonly contentType?: string;
}

async function serve(label: string, model: string, env: Record<string, string>, requests: Requests, level: number, probe = false): Promise<Served> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await spawnRuntime({
    MODELSHIP_MODEL_URI: model, MODELSHIP_MODEL_NAME: 'conv', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0', MODELSHIP_LOG_LEVEL: 'warn', ...env,
  });
  child.stdout?.resume();
  try {
    await waitReady(`${url}/v2/health/ready`, child, false);
    const first = await fetch(`${url}${INFER_PATH}`, {
      method: 'POST', body: requests.bodies[0], headers: { 'content-type': requests.contentType ?? 'application/json', ...(requests.headerLength !== undefined && { 'inference-header-content-length': String(requests.headerLength) }) },
    });
    const answer = Buffer.from(await first.arrayBuffer());
    const options = {
      url, path: INFER_PATH, bodies: requests.bodies, concurrency: level, durationMs, maxRequests: 1_000_000,
      ...(requests.headers && { extraHeaders: requests.headers }), ...(requests.contentType && { contentType: requests.contentType }),
    };
    await runLoad({ ...options, warmupMs: 0, durationMs: warmupMs });
    const before = await metric(url);
    const cpuBefore = cpuSeconds(child.pid as number);
    const measured = probe ? await probeWhile(url, runLoad({ ...options, warmupMs: 0 })) : { result: await runLoad({ ...options, warmupMs: 0 }), p99Ms: undefined };
    const cpuUs = ((cpuSeconds(child.pid as number) - cpuBefore) * 1e6) / measured.result.requests;
    const after = await metric(url);
    const served: Served = {
      label,
      load: measured.result,
      meanBatch: (after.batchSum - before.batchSum) / Math.max(1, after.batchCount - before.batchCount),
      runMs: (1000 * (after.durationSum - before.durationSum)) / Math.max(1, after.durationCount - before.durationCount),
      cpuUsPerRequest: cpuUs,
      ...(measured.p99Ms !== undefined && { probeP99Ms: measured.p99Ms }),
      answer,
    };
    process.stderr.write(`  ${label}: ${served.load.requestsPerSecond.toFixed(0)} images/s, mean batch ${served.meanBatch.toFixed(1)}, run ${served.runMs.toFixed(2)} ms\n`);
    return served;
  } finally {
    await stop(child);
  }
}

/**
 * The ceiling for a server of this model over HTTP (bench/runtime/floor-model-server.ts): node:http reading
 * the same bodies from the same load generator, the model run on every row, batched per I/O poll, and a
 * fixed answer; no decoding, validation or metrics. What raw onnxruntime is not charged for (the HTTP and
 * the load generator on the same cores) it is.
 */
async function ceiling(model: string, answer: Buffer, requests: Requests): Promise<{ load: LoadResult; cpuUsPerRequest: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'modelship-heavy-'));
  const port = await freePort();
  await writeFile(join(dir, 'answer.json'), answer);
  const child = spawnNode('bench/runtime/floor-model-server.ts', [], {
    CEILING_MODEL: model, CEILING_SAMPLES: `${MODELS}/conv-samples.f32`, CEILING_FEATURES: String(ROW), CEILING_ROW_SHAPE: ROW_SHAPE.join('x'),
    CEILING_RESPONSE_FILE: join(dir, 'answer.json'), CEILING_PORT: String(port),
  });
  child.stdout?.resume();
  try {
    await waitReady(`http://127.0.0.1:${port}/`, child, true);
    const options = {
      url: `http://127.0.0.1:${port}`, path: INFER_PATH, bodies: requests.bodies, concurrency, durationMs, maxRequests: 1_000_000, warmupMs: 0,
      ...(requests.headers && { extraHeaders: requests.headers }), ...(requests.contentType && { contentType: requests.contentType }),
    };
    await runLoad({ ...options, durationMs: warmupMs });
    const cpuBefore = cpuSeconds(child.pid as number);
    const load = await runLoad(options);
    const cpuUsPerRequest = ((cpuSeconds(child.pid as number) - cpuBefore) * 1e6) / load.requests;
    process.stderr.write(`  ceiling: ${load.requestsPerSecond.toFixed(0)} images/s\n`);
    return { load, cpuUsPerRequest };
  } finally {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  }
}

interface RawResult { batch: number; rowsPerSecond: number; p50Ms: number }

async function raw(model: string, batches: readonly number[]): Promise<RawResult[]> {
  const child = spawnNode('bench/runtime/raw.ts', [model, `${MODELS}/conv-samples.f32`, ROW_SHAPE.join('x'), String(durationMs), batches.join(',')], {});
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  await new Promise((resolve) => child.once('exit', resolve));
  return (JSON.parse(out) as { results: RawResult[] }).results;
}

async function main(): Promise<void> {
  const started = Date.now();
  await ensureModels();
  const fp32 = `${MODELS}/conv-fp32.onnx`;
  const int8 = `${MODELS}/conv-int8.onnx`;
  const { binary, binaryHeaders, headerLength, json } = bodies();
  const binaryRequests = { bodies: binary, headers: binaryHeaders, headerLength, contentType: 'application/octet-stream' };
  const on = { MODELSHIP_MAX_BATCH_SIZE: '16' };
  const worker = { MODELSHIP_INFERENCE_THREAD: 'worker' };

  const runs: Served[] = [];
  runs.push(await serve('FP32, binary, batching on, inference worker', fp32, { ...on, ...worker }, binaryRequests, concurrency));
  runs.push(await serve('FP32, binary, batching on, inference on the main thread', fp32, { ...on, MODELSHIP_INFERENCE_THREAD: 'main' }, binaryRequests, concurrency));
  runs.push(await serve('FP32, binary, batching on, auto placement (the default)', fp32, on, binaryRequests, concurrency));
  runs.push(await serve('FP32, binary, batching off, inference worker', fp32, { MODELSHIP_MAX_BATCH_SIZE: '1', ...worker }, binaryRequests, concurrency));
  runs.push(await serve('INT8, binary, batching on, inference worker', int8, { ...on, ...worker }, binaryRequests, concurrency));
  const top = await ceiling(fp32, (runs[0] as Served).answer, binaryRequests);
  const jsonRuns = [
    await serve('FP32, JSON, batching on, inference worker', fp32, { ...on, ...worker }, { bodies: json }, jsonConcurrency, true),
    await serve('FP32, JSON, batching on, inference on the main thread', fp32, { ...on, MODELSHIP_INFERENCE_THREAD: 'main' }, { bodies: json }, jsonConcurrency, true),
    await serve('FP32, JSON, batching on, auto placement (the default)', fp32, on, { bodies: json }, jsonConcurrency, true),
  ];
  const batches = [...new Set([1, ...runs.map((r) => Math.max(1, Math.round(r.meanBatch)))])].sort((a, b) => a - b);
  const [rawFp32, rawInt8] = [await raw(fp32, batches), await raw(int8, batches)];
  const rawAt = (results: RawResult[], batch: number) => results.find((r) => r.batch === Math.max(1, Math.round(batch))) as RawResult;

  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `Measured ${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${durationMs} ms per point after ${warmupMs} ms warm-up; conv classifier, one 3x48x192 FP32 image per request, load generator on the same cores.`,
    '',
    `| runtime (binary tensors, c=${concurrency}) | images/s | % of raw at its mean batch | % of the ceiling (FP32) | mean batch | model run in server (ms) | same run, raw (ms) | server CPU µs/image | p50 ms | p99 ms |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of runs) {
    const reference = rawAt(r.label.startsWith('INT8') ? rawInt8 : rawFp32, r.meanBatch);
    lines.push(`| ${r.label} | ${fmt(r.load.requestsPerSecond)} | ${fmt((100 * r.load.requestsPerSecond) / reference.rowsPerSecond)}% (batch ${reference.batch}) | ${fmt((100 * r.load.requestsPerSecond) / top.load.requestsPerSecond)}% | ${fmt(r.meanBatch, 1)} | ${fmt(r.runMs, 2)} | ${fmt(reference.p50Ms, 2)} | ${fmt(r.cpuUsPerRequest)} | ${fmt(r.load.p50Ms, 1)} | ${fmt(r.load.p99Ms, 1)} |`);
  }
  lines.push(`| ceiling: node:http + the model, batched per poll, fixed answer (FP32) | ${fmt(top.load.requestsPerSecond)} | - | 100% | - | - | - | ${fmt(top.cpuUsPerRequest)} | ${fmt(top.load.p50Ms, 1)} | ${fmt(top.load.p99Ms, 1)} |`);
  lines.push('', `| same images as V2 JSON (~${fmt(json[0]!.length / 1024)} KB, c=${jsonConcurrency}) | images/s | p50 ms | p99 ms | /v2/health/ready p99 ms meanwhile | mean batch | server CPU µs/image |`, '|---|---:|---:|---:|---:|---:|---:|');
  for (const r of jsonRuns) lines.push(`| ${r.label} | ${fmt(r.load.requestsPerSecond)} | ${fmt(r.load.p50Ms, 1)} | ${fmt(r.load.p99Ms, 1)} | ${fmt(r.probeP99Ms ?? Number.NaN, 1)} | ${fmt(r.meanBatch, 1)} | ${fmt(r.cpuUsPerRequest)} |`);
  lines.push('', '| raw in-process onnxruntime | batch | images/s FP32 | images/s INT8 | INT8/FP32 |', '|---|---:|---:|---:|---:|');
  for (const batch of batches) {
    const [f, q] = [rawAt(rawFp32, batch), rawAt(rawInt8, batch)];
    lines.push(`| session.run | ${batch} | ${fmt(f.rowsPerSecond)} | ${fmt(q.rowsPerSecond)} | ${fmt(q.rowsPerSecond / f.rowsPerSecond, 2)}x |`);
  }
  lines.push('', `Total benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  console.log(lines.join('\n'));
}

await main();
