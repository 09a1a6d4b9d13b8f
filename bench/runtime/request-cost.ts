import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { framedModelInferRequests, grpcAnswerBytes, grpcLoad } from './grpc-load.ts';
import { runLoad } from './load.ts';
import { cpuSeconds, FEATURES, freePort, MODELS, oneRowBinaryRequests, oneRowRequests, SAMPLES, spawnNode, stop, spawnRuntime, waitReady } from './servers.ts';

/**
 * What one request costs the server process, against Node's own HTTP floor, in one run:
 * the floor (node:http answering a fixed body of the runtime's answer size), the ceiling (the floor plus
 * the model's own batched work per row: the most any Node server that runs the model can serve here),
 * the naive server, and the runtime over REST JSON, REST binary tensors and gRPC; wide MLP, 1-row
 * requests, closed loop over loopback.
 *   npm run bench:cost -- [--duration-ms 4000] [--concurrency 16,64]
 */
const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    only: { type: 'string', default: '' },
  },
});
/** `--only REGEX`: measure only the servers whose label matches (the others are skipped). */
const only = args.only ? new RegExp(args.only as string) : undefined;
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrencies = (args.concurrency as string).split(',').map(Number);
const MAX_REQUESTS = 2_000_000;
const MODEL = `${MODELS}/wide-mlp-fp32.onnx`;
const INFER_PATH = '/v2/models/wide/infer';
const CEILING_LABEL = 'ceiling: floor + the model, batched';
const JSON_CEILING_LABEL = 'JSON ceiling: the ceiling + each body parsed, its own answer written';

interface Point {
  readonly server: string;
  readonly concurrency: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRequest: number;
}

type Client = (concurrency: number, durationMs: number) => Promise<{ requests: number; errors: number; requestsPerSecond: number; p50Ms: number; p99Ms: number }>;

async function measure(server: string, child: ChildProcess, client: Client): Promise<Point[]> {
  const points: Point[] = [];
  if (only && !only.test(server)) return points;
  for (const concurrency of concurrencies) {
    await client(concurrency, warmupMs);
    const before = cpuSeconds(child.pid as number);
    const load = await client(concurrency, durationMs);
    const cpuUs = ((cpuSeconds(child.pid as number) - before) * 1e6) / load.requests;
    // A server that answers errors fast would look cheap: every answer must be a success.
    if (load.errors > 0) throw new Error(`${server}: ${load.errors} of ${load.requests} requests failed`);
    points.push({ server, concurrency, requestsPerSecond: load.requestsPerSecond, p50Ms: load.p50Ms, p99Ms: load.p99Ms, cpuUsPerRequest: cpuUs });
    process.stderr.write(`  ${server} c=${concurrency}: ${load.requestsPerSecond.toFixed(0)} req/s, ${cpuUs.toFixed(1)} µs CPU/req\n`);
  }
  return points;
}

const rows = new Float32Array(readFileSync(SAMPLES).buffer.slice(0));
const rowBytes = (i: number) => Buffer.from(rows.buffer, (i % 256) * FEATURES * 4, FEATURES * 4);
const jsonBodies = oneRowRequests();
const binaryRequests = oneRowBinaryRequests();


const httpClient = (url: string, path: string, bodies: readonly Buffer[], binary = false): Client => (concurrency, duration) => runLoad({
  url, path, bodies, concurrency, warmupMs: 0, durationMs: duration, maxRequests: MAX_REQUESTS,
  ...(binary && { contentType: 'application/octet-stream', extraHeaders: bodies.map(() => `Inference-Header-Content-Length: ${binaryRequests.headerLength}\r\n`) }),
});

const grpcRequest = (i: number) => ({
  model_name: 'wide', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES] }], raw_input_contents: [rowBytes(i)],
});
const grpcBodies = framedModelInferRequests(grpcRequest, 256);

async function withServer<T>(child: ChildProcess, readyUrl: string, anyStatus: boolean, body: () => Promise<T>): Promise<T> {
  child.stdout?.resume();
  try {
    await waitReady(readyUrl, child, anyStatus);
    return await body();
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'modelship-cost-'));
  const points: Point[] = [];
  try {
    // The runtime: REST JSON, REST binary, gRPC on one process with the default settings.
    const [port, grpcPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    const runtime = await spawnRuntime({
      MODELSHIP_MODEL_URI: MODEL, MODELSHIP_MODEL_NAME: 'wide', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: String(grpcPort), MODELSHIP_LOG_LEVEL: 'warn',
    });
    let answer = Buffer.alloc(0);
    let grpcAnswer: Buffer = Buffer.alloc(0);
    await withServer(runtime, `${url}/v2/health/ready`, false, async () => {
      const response = await fetch(`${url}${INFER_PATH}`, { method: 'POST', body: jsonBodies[0], headers: { 'content-type': 'application/json' } });
      answer = Buffer.from(await response.arrayBuffer());
      points.push(...await measure('runtime, REST JSON', runtime, httpClient(url, INFER_PATH, jsonBodies)));
      points.push(...await measure('runtime, REST binary', runtime, httpClient(url, INFER_PATH, binaryRequests.bodies, true)));
      points.push(...await measure('runtime, gRPC', runtime, (concurrency, duration) =>
        grpcLoad(`127.0.0.1:${grpcPort}`, grpcBodies, { concurrency, durationMs: duration, maxRequests: MAX_REQUESTS })));
      grpcAnswer = await grpcAnswerBytes(`127.0.0.1:${grpcPort}`, grpcRequest(0));
    });

    // The gRPC floors: the runtime's own ModelInfer answer, fixed, from grpc-js and from plain node:http2.
    const grpcAnswerFile = join(dir, 'grpc-response.bin');
    await writeFile(grpcAnswerFile, grpcAnswer);
    for (const mode of ['grpc-js', 'node:http2'] as const) {
      const floorPort = await freePort();
      const grpcFloor = spawnNode('bench/runtime/grpc-floor-server.ts', [], {
        GRPC_FLOOR_MODE: mode === 'grpc-js' ? 'grpc-js' : 'http2', GRPC_FLOOR_RESPONSE_FILE: grpcAnswerFile, GRPC_FLOOR_PORT: String(floorPort),
      });
      grpcFloor.stdout?.resume();
      try {
        points.push(...await measure(`gRPC floor (${mode}, fixed answer)`, grpcFloor, (concurrency, duration) =>
          grpcLoad(`127.0.0.1:${floorPort}`, grpcBodies, { concurrency, durationMs: duration, maxRequests: MAX_REQUESTS })));
      } finally {
        await stop(grpcFloor);
      }
    }

    // The same runtime with session.run on the main JS thread (MODELSHIP_INFERENCE_THREAD=main), REST JSON.
    const mainPort = await freePort();
    const onMain = await spawnRuntime({
      MODELSHIP_MODEL_URI: MODEL, MODELSHIP_MODEL_NAME: 'wide', MODELSHIP_PORT: String(mainPort), MODELSHIP_GRPC_PORT: '0', MODELSHIP_LOG_LEVEL: 'warn', MODELSHIP_INFERENCE_THREAD: 'main',
    });
    await withServer(onMain, `http://127.0.0.1:${mainPort}/v2/health/ready`, false, async () => {
      points.push(...await measure('runtime, REST JSON, inference on the main thread', onMain, httpClient(`http://127.0.0.1:${mainPort}`, INFER_PATH, jsonBodies)));
    });

    const responseFile = join(dir, 'response.json');
    await writeFile(responseFile, answer);
    const floorPort = await freePort();
    const floor = spawnNode('bench/runtime/floor-server.ts', [], { FLOOR_RESPONSE_FILE: responseFile, FLOOR_PORT: String(floorPort) });
    await withServer(floor, `http://127.0.0.1:${floorPort}/`, true, async () => {
      points.push(...await measure('floor (node:http, fixed answer)', floor, httpClient(`http://127.0.0.1:${floorPort}`, INFER_PATH, jsonBodies)));
    });

    // The ceiling: the floor plus the model's own work per row, batched per I/O poll, with
    // onnxruntime's pool at its default size and at one thread (the JS thread then computes alone).
    // The JSON ceiling: the ceiling plus what a V2 JSON server cannot skip (JSON.parse of each body,
    // its row from the parsed numbers, its own answer written): the most REST JSON can reach here.
    for (const [ceilingLabel, json] of [[CEILING_LABEL, false], [JSON_CEILING_LABEL, true]] as const) {
      for (const intraOpThreads of [0, 1]) {
        const ceilingPort = await freePort();
        const ceiling = spawnNode('bench/runtime/floor-model-server.ts', [], {
          CEILING_MODEL: MODEL, CEILING_SAMPLES: SAMPLES, CEILING_FEATURES: String(FEATURES), CEILING_RESPONSE_FILE: responseFile,
          CEILING_PORT: String(ceilingPort), CEILING_INTRA_OP_THREADS: String(intraOpThreads), ...(json && { CEILING_JSON: '1' }),
        });
        const label = `${ceilingLabel} (intra-op threads: ${intraOpThreads || 'default'})`;
        await withServer(ceiling, `http://127.0.0.1:${ceilingPort}/`, true, async () => {
          points.push(...await measure(label, ceiling, httpClient(`http://127.0.0.1:${ceilingPort}`, INFER_PATH, jsonBodies)));
        });
      }
    }

    const naivePort = await freePort();
    const naive = spawnNode('bench/runtime/naive-server.ts', [], { NAIVE_MODEL: MODEL, NAIVE_PORT: String(naivePort) });
    await withServer(naive, `http://127.0.0.1:${naivePort}/`, true, async () => {
      points.push(...await measure('naive server', naive, httpClient(`http://127.0.0.1:${naivePort}`, '/', jsonBodies)));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `Measured ${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${durationMs} ms per point after ${warmupMs} ms warm-up, 1-row requests (wide MLP, FP32), client on the same cores.`,
    '',
    '| server | concurrency | req/s | % of floor | % of ceiling | % of JSON ceiling | x naive | server CPU µs/req | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const percent = (point: Point, of: Point | undefined) => (of ? `${fmt((100 * point.requestsPerSecond) / of.requestsPerSecond)}%` : '-');
  for (const point of points) {
    const atSameConcurrency = (match: (server: string) => boolean) => points.filter((p) => match(p.server) && p.concurrency === point.concurrency);
    const floor = atSameConcurrency((server) => server.startsWith('floor'))[0];
    // The better of each pair of ceiling servers.
    const best = (label: string) => atSameConcurrency((server) => server.startsWith(label)).sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)[0];
    const ceiling = best(CEILING_LABEL);
    const jsonCeiling = best(JSON_CEILING_LABEL);
    const naive = atSameConcurrency((server) => server === 'naive server')[0];
    lines.push(`| ${point.server} | ${point.concurrency} | ${fmt(point.requestsPerSecond)} | ${percent(point, floor)} | ${percent(point, ceiling)} | ${percent(point, jsonCeiling)} | ${naive ? fmt(point.requestsPerSecond / naive.requestsPerSecond, 2) : '-'} | ${fmt(point.cpuUsPerRequest, 1)} | ${fmt(point.p50Ms, 2)} | ${fmt(point.p99Ms, 2)} |`);
  }
  lines.push('', `Total benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  console.log(lines.join('\n'));
}

await main();
