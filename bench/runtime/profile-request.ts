import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './load.ts';
import { framedModelInferRequests, grpcLoad } from './grpc-load.ts';
import { cpuSeconds, FEATURES, freePort, oneRowBinaryRequests, oneRowRequests, runtimeAnswer, spawnNode, spawnRuntime, stop, waitReady, WIDE_INFER_PATH, wideRuntimeEnv } from './servers.ts';

/**
 * Where the runtime's main thread spends its CPU serving 1-row REST JSON requests (wide MLP) at a
 * given concurrency: V8's sampling profiler (--cpu-prof), self time per function, top entries;
 * and CPU per request of each of its threads. `--server floor` profiles the floor server instead.
 *   [MODELSHIP_...=value] npm run bench:profile -- [--concurrency 64] [--duration-ms 5000] [--thread worker|main] [--server runtime|floor] [--protocol json|binary|grpc] [--top 30] [--threads-only]
 */
const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    thread: { type: 'string', default: 'worker' },
    server: { type: 'string', default: 'runtime' },
    top: { type: 'string', default: '30' },
    protocol: { type: 'string', default: 'json' },
    // The split of CPU between threads without the profiler's own cost on each of them.
    'threads-only': { type: 'boolean', default: false },
  },
});
if (!['json', 'binary', 'grpc'].includes(args.protocol as string)) throw new Error('--protocol is json, binary or grpc');
const grpc = args.protocol === 'grpc';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** CPU seconds of each thread of a process (by thread id), with the thread's name. */
function threadCpuSeconds(pid: number): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    threads.set(Number(tid), { name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
  }
  return threads;
}

const runtimeEnv = (port: number, grpcPort = 0) => wideRuntimeEnv(port, { MODELSHIP_GRPC_PORT: String(grpcPort), MODELSHIP_INFERENCE_THREAD: args.thread as string });

/** inference_batch_size's sum and count from the runtime's /metrics; undefined for the floor. */
async function batchTotals(url: string): Promise<{ sum: number; count: number } | undefined> {
  if (args.server === 'floor') return undefined;
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { sum: value('inference_batch_size_sum'), count: value('inference_batch_size_count') };
}

const dir = await mkdtemp(join(tmpdir(), 'modelship-profile-'));
try {
  const port = await freePort();
  const grpcPort = grpc ? await freePort() : 0;
  if (grpc && args.server === 'floor') throw new Error('--server floor profiles REST only');
  let child: ChildProcess;
  if (args.server === 'floor') {
    // The floor answers what the runtime answers to the first request: its answer, saved.
    const answer = join(dir, 'answer.json');
    await writeFile(answer, await runtimeAnswer());
    child = spawnNode('bench/runtime/floor-server.ts', [], { FLOOR_RESPONSE_FILE: answer, FLOOR_PORT: String(port) }, ['--cpu-prof', '--cpu-prof-dir', dir]);
  } else child = await spawnRuntime(runtimeEnv(port, grpcPort), args['threads-only'] ? [] : ['--cpu-prof', '--cpu-prof-dir', dir]);
  child.stdout?.resume();
  const url = `http://127.0.0.1:${port}`;
  await waitReady(args.server === 'floor' ? url : `${url}/v2/health/ready`, child, args.server === 'floor');
  const binary = oneRowBinaryRequests();
  const load = {
    url, path: WIDE_INFER_PATH, concurrency: Number(args.concurrency), warmupMs: 1000, maxRequests: 2_000_000,
    ...(args.protocol === 'binary'
      ? { bodies: binary.bodies, contentType: 'application/octet-stream', extraHeaders: binary.bodies.map(() => `Inference-Header-Content-Length: ${binary.headerLength}\r\n`) }
      : { bodies: oneRowRequests() }),
  };
  const cpuBefore = cpuSeconds(child.pid as number);
  const threadsBefore = threadCpuSeconds(child.pid as number);
  const batchesBefore = await batchTotals(url);
  const durationMs = Number(args['duration-ms']);
  const rows = oneRowRequests().map((body) => Float32Array.from((JSON.parse(body.toString()) as { inputs: [{ data: number[] }] }).inputs[0].data));
  const grpcRequest = (i: number) => ({
    model_name: 'wide', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES] }],
    raw_input_contents: [Buffer.from((rows[i % rows.length] as Float32Array).buffer)],
  });
  const grpcBodies = framedModelInferRequests(grpcRequest, rows.length);
  if (grpc) await grpcLoad(`127.0.0.1:${grpcPort}`, grpcBodies, { concurrency: load.concurrency, durationMs: 1000, maxRequests: load.maxRequests });
  const result = grpc
    ? await grpcLoad(`127.0.0.1:${grpcPort}`, grpcBodies, { concurrency: load.concurrency, durationMs, maxRequests: load.maxRequests })
    : await runLoad({ ...load, durationMs });
  const batchesAfter = await batchTotals(url);
  const cpuUs = ((cpuSeconds(child.pid as number) - cpuBefore) * 1e6) / result.requests;
  const threadsAfter = threadCpuSeconds(child.pid as number);
  await stop(child);
  console.log(`${result.requestsPerSecond.toFixed(0)} req/s, ${cpuUs.toFixed(1)} µs CPU/req (all threads)`);
  const byName = new Map<string, number>();
  for (const [tid, { name, seconds }] of threadsAfter) {
    const label = tid === child.pid ? 'main JS thread' : `${name} (thread ${tid - (child.pid as number)})`;
    byName.set(label, (byName.get(label) ?? 0) + seconds - (threadsBefore.get(tid)?.seconds ?? 0));
  }
  if (batchesBefore && batchesAfter) {
    const runs = batchesAfter.count - batchesBefore.count;
    console.log(`${runs} model runs, mean batch ${((batchesAfter.sum - batchesBefore.sum) / runs).toFixed(1)} rows`);
  }
  console.log('CPU µs per request by thread:');
  for (const [name, seconds] of [...byName].sort((a, b) => b[1] - a[1]).filter(([, s]) => s > 0)) {
    console.log(`${((seconds * 1e6) / result.requests).toFixed(1).padStart(8)}  ${name}`);
  }
  if (!args['threads-only']) await printMainThreadProfile(dir, Number(args.top));
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** The main thread's --cpu-prof samples: self time per function, then the runtime's functions inclusive. */
async function printMainThreadProfile(dir: string, top: number): Promise<void> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const profiles = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as Profile));
  // One profile per thread (main, inference worker, the loader's): the main thread's is the one that ran node:http.
  const selfMs = new Map<string, number>();
  let totalMs = 0;
  const main = profiles.find((p) => p.nodes.some((n) => n.callFrame.url === 'node:_http_server' || n.callFrame.url.endsWith('/internal/http2/core')));
  if (!main) throw new Error('no profile of the main thread');
  const byId = new Map(main.nodes.map((n) => [n.id, n]));
  main.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const key = frame ? `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|runtime)\//, '$1/')}:${frame.lineNumber + 1}` : '?';
    const ms = (main.timeDeltas[i] ?? 0) / 1000;
    selfMs.set(key, (selfMs.get(key) ?? 0) + ms);
    totalMs += ms;
  });
  const idle = (selfMs.get('(idle) :0') ?? 0);
  console.log(`main thread busy ${(100 * (1 - idle / totalMs)).toFixed(0)}% of ${(totalMs / 1000).toFixed(1)} s`);
  console.log('Main thread profile, self time:');
  for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${key}`);
  }
  // Inclusive time of the runtime's own functions (each counted once per stack, however deep it recurses).
  const parent = new Map<number, number>();
  for (const node of main.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(runtime|node_modules)\//, '$1/')}:${node.callFrame.lineNumber + 1}`;
  const inclusiveMs = new Map<string, number>();
  main.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at) as ProfileNode;
      if (!node.callFrame.url.includes('/runtime/') && !node.callFrame.url.includes('node_modules/@grpc')) continue;
      const key = keyOf(node);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveMs.set(key, (inclusiveMs.get(key) ?? 0) + (main.timeDeltas[i] ?? 0) / 1000);
    }
  });
  console.log('Main thread profile, inclusive time of runtime functions:');
  for (const [key, ms] of [...inclusiveMs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * ms) / totalMs).toFixed(1).padStart(5)}%  ${key}`);
  }
}
