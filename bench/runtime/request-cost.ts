import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { framedModelInferRequests, grpcAnswerBytes, grpcLoad } from './grpc-load.ts';
import { runLoad } from './load.ts';
import { cpuSeconds, FEATURES, firstAnswer, freePort, oneRowBinaryRequests, oneRowRequests, SAMPLES, spawnNode, spawnRuntime, stop, waitReady, WIDE_INFER_PATH, WIDE_MODEL, wideRuntimeEnv } from './servers.ts';

/**
 * What one request costs the server process, against Node's own HTTP floor, in one run:
 * the floor (node:http answering a fixed body of the runtime's answer size), the ceiling (the floor plus
 * the model's own batched work per row: the most any Node server that runs the model can serve here),
 * the naive server, and the runtime over REST JSON, REST binary tensors and gRPC; wide MLP, 1-row
 * requests, closed loop over loopback.
 * With --rounds N every server is measured N times, in turn, round after round, and each ratio is
 * reported as the median of the N within-round ratios with their range: on a VM whose speed drifts
 * by 10-60 % within minutes, that range is the run-to-run spread of one command.
 *   npm run bench:cost -- [--duration-ms 4000] [--concurrency 16,64] [--only REGEX] [--rounds 6]
 */
const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    only: { type: 'string', default: '' },
    rounds: { type: 'string', default: '1' },
  },
});
/** `--only REGEX`: measure only the servers whose label matches (the others are skipped). */
const only = args.only ? new RegExp(args.only as string) : undefined;
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrencies = (args.concurrency as string).split(',').map(Number);
const rounds = Number(args.rounds);
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds is a whole number, at least 1');
const MAX_REQUESTS = 2_000_000;
const CEILING_LABEL = 'ceiling: floor + the model, batched';
const JSON_CEILING_LABEL = 'JSON ceiling: the ceiling + each body parsed, its own answer written';

interface Point {
  readonly server: string;
  readonly round: number;
  readonly concurrency: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUsPerRequest: number;
}

type Client = (concurrency: number, durationMs: number) => Promise<{ requests: number; errors: number; requestsPerSecond: number; p50Ms: number; p99Ms: number }>;

async function measure(server: string, child: ChildProcess, client: Client, round: number): Promise<Point[]> {
  const points: Point[] = [];
  for (const concurrency of concurrencies) {
    await client(concurrency, warmupMs);
    const before = cpuSeconds(child.pid as number);
    const load = await client(concurrency, durationMs);
    const cpuUs = ((cpuSeconds(child.pid as number) - before) * 1e6) / load.requests;
    // A server that answers errors fast would look cheap: every answer must be a success.
    if (load.errors > 0) throw new Error(`${server}: ${load.errors} of ${load.requests} requests failed`);
    points.push({ server, round, concurrency, requestsPerSecond: load.requestsPerSecond, p50Ms: load.p50Ms, p99Ms: load.p99Ms, cpuUsPerRequest: cpuUs });
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

/** A server process under measurement, and the clients it is measured with (one per label). */
interface Started {
  readonly child: ChildProcess;
  readonly clients: readonly { readonly label: string; readonly client: Client }[];
}

const wanted = (label: string) => !only || only.test(label);

/** Waits for a server to be ready; one that never is, is stopped. */
async function start(child: ChildProcess, readyUrl: string, anyStatus: boolean): Promise<ChildProcess> {
  child.stdout?.resume();
  try {
    await waitReady(readyUrl, child, anyStatus);
  } catch (error) {
    await stop(child);
    throw error;
  }
  return child;
}

/**
 * Starts every server with a wanted label into `started` (so that the caller stops each one started,
 * even when a later one fails); all stay up (idle but for the one measured) until the end.
 */
async function startServers(dir: string, started: Started[]): Promise<void> {
  // The runtime: REST JSON, REST binary, gRPC on one process with the default settings. It runs
  // even when none of its labels is wanted: the floors answer its answers.
  const [port, grpcPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const runtime = await start(await spawnRuntime(wideRuntimeEnv(port, { MODELSHIP_GRPC_PORT: String(grpcPort) })), `${url}/v2/health/ready`, false);
  started.push({ child: runtime, clients: [
    { label: 'runtime, REST JSON', client: httpClient(url, WIDE_INFER_PATH, jsonBodies) },
    { label: 'runtime, REST binary', client: httpClient(url, WIDE_INFER_PATH, binaryRequests.bodies, true) },
    { label: 'runtime, gRPC', client: (concurrency, duration) => grpcLoad(`127.0.0.1:${grpcPort}`, grpcBodies, { concurrency, durationMs: duration, maxRequests: MAX_REQUESTS }) },
  ] });
  const answer = await firstAnswer(url);
  const grpcAnswer = await grpcAnswerBytes(`127.0.0.1:${grpcPort}`, grpcRequest(0));

  // The gRPC floors: the runtime's own ModelInfer answer, fixed, from grpc-js and from plain node:http2.
  const grpcAnswerFile = join(dir, 'grpc-response.bin');
  await writeFile(grpcAnswerFile, grpcAnswer);
  for (const mode of ['grpc-js', 'node:http2'] as const) {
    const label = `gRPC floor (${mode}, fixed answer)`;
    if (!wanted(label)) continue;
    const floorPort = await freePort();
    const grpcFloor = spawnNode('bench/runtime/grpc-floor-server.ts', [], {
      GRPC_FLOOR_MODE: mode === 'grpc-js' ? 'grpc-js' : 'http2', GRPC_FLOOR_RESPONSE_FILE: grpcAnswerFile, GRPC_FLOOR_PORT: String(floorPort),
    });
    grpcFloor.stdout?.resume();
    // No HTTP/1 health route: the load generator waits for its connection (bounded) instead.
    started.push({ child: grpcFloor, clients: [{ label, client: (concurrency, duration) =>
      grpcLoad(`127.0.0.1:${floorPort}`, grpcBodies, { concurrency, durationMs: duration, maxRequests: MAX_REQUESTS }) }] });
  }

  // The same runtime with every session.run in its worker thread (MODELSHIP_INFERENCE_THREAD=worker,
  // the default before `auto`), REST: what `auto` gains or loses against it.
  const workerLabels = { json: 'runtime, REST JSON, every run in the worker thread', binary: 'runtime, REST binary, every run in the worker thread' };
  if (wanted(workerLabels.json) || wanted(workerLabels.binary)) {
    const workerPort = await freePort();
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    const inWorker = await start(await spawnRuntime(wideRuntimeEnv(workerPort, { MODELSHIP_INFERENCE_THREAD: 'worker' })), `${workerUrl}/v2/health/ready`, false);
    started.push({ child: inWorker, clients: [
      { label: workerLabels.json, client: httpClient(workerUrl, WIDE_INFER_PATH, jsonBodies) },
      { label: workerLabels.binary, client: httpClient(workerUrl, WIDE_INFER_PATH, binaryRequests.bodies, true) },
    ] });
  }

  const responseFile = join(dir, 'response.json');
  await writeFile(responseFile, answer);
  const floorLabel = 'floor (node:http, fixed answer)';
  if (wanted(floorLabel)) {
    const floorPort = await freePort();
    const floor = await start(spawnNode('bench/runtime/floor-server.ts', [], { FLOOR_RESPONSE_FILE: responseFile, FLOOR_PORT: String(floorPort) }),
      `http://127.0.0.1:${floorPort}/`, true);
    started.push({ child: floor, clients: [{ label: floorLabel, client: httpClient(`http://127.0.0.1:${floorPort}`, WIDE_INFER_PATH, jsonBodies) }] });
  }

  // The ceiling: the floor plus the model's own work per row, batched per I/O poll, with
  // onnxruntime's pool at its default size and at one thread (the JS thread then computes alone).
  // The JSON ceiling: the ceiling plus what a V2 JSON server cannot skip (JSON.parse of each body,
  // its row from the parsed numbers, its own answer written): the most REST JSON can reach here.
  for (const [ceilingLabel, json] of [[CEILING_LABEL, false], [JSON_CEILING_LABEL, true]] as const) {
    for (const intraOpThreads of [0, 1]) {
      const label = `${ceilingLabel} (intra-op threads: ${intraOpThreads || 'default'})`;
      if (!wanted(label)) continue;
      const ceilingPort = await freePort();
      const ceiling = await start(spawnNode('bench/runtime/floor-model-server.ts', [], {
        CEILING_MODEL: WIDE_MODEL, CEILING_SAMPLES: SAMPLES, CEILING_FEATURES: String(FEATURES), CEILING_RESPONSE_FILE: responseFile,
        CEILING_PORT: String(ceilingPort), CEILING_INTRA_OP_THREADS: String(intraOpThreads), ...(json && { CEILING_JSON: '1' }),
      }), `http://127.0.0.1:${ceilingPort}/`, true);
      started.push({ child: ceiling, clients: [{ label, client: httpClient(`http://127.0.0.1:${ceilingPort}`, WIDE_INFER_PATH, jsonBodies) }] });
    }
  }

  const naiveLabel = 'naive server';
  if (wanted(naiveLabel)) {
    const naivePort = await freePort();
    const naive = await start(spawnNode('bench/runtime/naive-server.ts', [], { NAIVE_MODEL: WIDE_MODEL, NAIVE_PORT: String(naivePort) }),
      `http://127.0.0.1:${naivePort}/`, true);
    started.push({ child: naive, clients: [{ label: naiveLabel, client: httpClient(`http://127.0.0.1:${naivePort}`, '/', jsonBodies) }] });
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

async function main(): Promise<void> {
  const startedAt = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'modelship-cost-'));
  const started: Started[] = [];
  const points: Point[] = [];
  try {
    await startServers(dir, started);
    const measured = started.flatMap(({ child, clients }) =>
      clients.filter(({ label }) => wanted(label)).map(({ label, client }) => ({ label, child, client })));
    // Round after round, each server in turn, the order rotated each round: a machine whose speed
    // drifts over minutes then weighs on every server alike, and each round gives its own ratios.
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < measured.length; i++) {
        const { label, child, client } = measured[(i + round) % measured.length] as (typeof measured)[number];
        points.push(...await measure(label, child, client, round));
      }
    }
  } finally {
    await Promise.all(started.map(({ child }) => stop(child)));
    await rm(dir, { recursive: true, force: true });
  }

  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `Measured ${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${durationMs} ms per point after ${warmupMs} ms warm-up, ${rounds} round(s), 1-row requests (wide MLP, FP32), client on the same cores.`,
    ...(rounds > 1 ? ['Each figure is the median over the rounds; a ratio is the median of the ratios within each round, with their range.'] : []),
    '',
    '| server | concurrency | req/s | % of floor | % of ceiling | % of JSON ceiling | x naive | server CPU µs/req | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const inRound = (round: number, concurrency: number, match: (server: string) => boolean) =>
    points.filter((p) => p.round === round && p.concurrency === concurrency && match(p.server));
  // The better of each pair of ceiling servers, in the same round.
  const best = (round: number, concurrency: number, label: string) =>
    inRound(round, concurrency, (server) => server.startsWith(label)).sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)[0];
  const ratio = (series: readonly Point[], of: (round: number, concurrency: number) => Point | undefined, format: (value: number) => string) => {
    const ratios = series.flatMap((point) => {
      const reference = of(point.round, point.concurrency);
      return reference ? [point.requestsPerSecond / reference.requestsPerSecond] : [];
    });
    if (ratios.length === 0) return '-';
    return ratios.length === 1 ? format(ratios[0] as number) : `${format(median(ratios))} (${format(Math.min(...ratios))}-${format(Math.max(...ratios))})`;
  };
  const percent = (value: number) => `${fmt(100 * value)}%`;
  const seen = new Set<string>();
  for (const point of points) {
    const key = `${point.server}|${point.concurrency}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const series = points.filter((p) => p.server === point.server && p.concurrency === point.concurrency);
    const mid = (pick: (p: Point) => number) => median(series.map(pick));
    lines.push(`| ${point.server} | ${point.concurrency} | ${fmt(mid((p) => p.requestsPerSecond))} | ${
      ratio(series, (round, concurrency) => inRound(round, concurrency, (server) => server.startsWith('floor'))[0], percent)} | ${
      ratio(series, (round, concurrency) => best(round, concurrency, CEILING_LABEL), percent)} | ${
      ratio(series, (round, concurrency) => best(round, concurrency, JSON_CEILING_LABEL), percent)} | ${
      ratio(series, (round, concurrency) => inRound(round, concurrency, (server) => server === 'naive server')[0], (value) => fmt(value, 2))} | ${
      fmt(mid((p) => p.cpuUsPerRequest), 1)} | ${fmt(mid((p) => p.p50Ms), 2)} | ${fmt(mid((p) => p.p99Ms), 2)} |`);
  }
  lines.push('', `Total benchmark time: ${((Date.now() - startedAt) / 1000).toFixed(0)} s.`);
  console.log(lines.join('\n'));
}

await main();
