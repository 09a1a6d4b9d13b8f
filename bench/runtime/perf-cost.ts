import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { runLoad, type LoadOptions } from './load.ts';
import { FEATURES, freePort, oneRowBinaryRequests, oneRowRequests, runtimeAnswer, SAMPLES, spawnNode, spawnRuntime, stop, waitReady, WIDE_INFER_PATH, WIDE_MODEL, wideRuntimeEnv } from './servers.ts';

/**
 * Server CPU per request by where it runs (onnxruntime, node's own code, JIT-compiled JavaScript,
 * the kernel, libc) and by symbol, from `perf record` of each server under the same load, one after
 * another: the runtime against the ceilings of bench:cost, without the sampling profiler's own cost
 * and its wall-clock attribution (a thread descheduled inside a call counts there under --cpu-prof).
 * Each runtime server is compared, symbol by symbol, with its yardstick when both are measured:
 * REST binary with the ceiling, REST JSON with the JSON ceiling (and the JSON ceiling with the ceiling).
 *   npm run bench:perf-cost -- [--servers ceiling,runtime-binary,json-ceiling,runtime-json] [--duration-ms 8000] [--top 25]
 * Servers: runtime-json, runtime-binary (wide MLP, 1-row requests, c=64), ceiling, json-ceiling.
 * Needs `perf` (Debian: linux-perf) and permission to record another process.
 */
const { values: args } = parseArgs({
  options: {
    servers: { type: 'string', default: 'ceiling,runtime-binary,json-ceiling,runtime-json' },
    'duration-ms': { type: 'string', default: '8000' },
    top: { type: 'string', default: '25' },
  },
});
const SERVERS = ['runtime-json', 'runtime-binary', 'ceiling', 'json-ceiling'] as const;
type ServerName = (typeof SERVERS)[number];
/** What each server is compared with, symbol by symbol, when both are measured. */
const YARDSTICK: Partial<Record<ServerName, ServerName>> = { 'runtime-binary': 'ceiling', 'runtime-json': 'json-ceiling', 'json-ceiling': 'ceiling' };
const servers = (args.servers as string).split(',').map((name) => {
  if (!(SERVERS as readonly string[]).includes(name)) throw new Error(`--servers: ${name} is not one of ${SERVERS.join(', ')}`);
  return name as ServerName;
});
const PERF_HZ = 1999;
const run = promisify(execFile);

await run('perf', ['--version']).catch(() => {
  throw new Error('perf is not installed (Debian: apt-get install linux-perf)');
});

/** Starts a server with JIT symbols for perf, and the load that measures it. */
async function startServer(name: ServerName, answerFile: string): Promise<{ child: ChildProcess; load: LoadOptions }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const base = { url, path: WIDE_INFER_PATH, concurrency: 64, warmupMs: 0, durationMs: 0, maxRequests: 2_000_000, bodies: oneRowRequests() };
  if (name === 'runtime-json' || name === 'runtime-binary') {
    const child = await spawnRuntime(wideRuntimeEnv(port), ['--perf-basic-prof']);
    child.stdout?.resume();
    await waitReady(`${url}/v2/health/ready`, child, false);
    if (name === 'runtime-json') return { child, load: base };
    const binary = oneRowBinaryRequests();
    return { child, load: { ...base, bodies: binary.bodies, contentType: 'application/octet-stream', extraHeaders: binary.bodies.map(() => `Inference-Header-Content-Length: ${binary.headerLength}\r\n`) } };
  }
  const child = spawnNode('bench/runtime/floor-model-server.ts', [], {
    CEILING_MODEL: WIDE_MODEL, CEILING_SAMPLES: SAMPLES, CEILING_FEATURES: String(FEATURES), CEILING_RESPONSE_FILE: answerFile, CEILING_PORT: String(port),
    CEILING_INTRA_OP_THREADS: '0', ...(name === 'json-ceiling' && { CEILING_JSON: '1' }),
  }, ['--perf-basic-prof']);
  child.stdout?.resume();
  await waitReady(`${url}/`, child, true);
  return { child, load: base };
}

interface CostProfile {
  readonly requests: number;
  /** CPU µs per request by shared object, then by symbol. */
  readonly byObject: Map<string, number>;
  readonly bySymbol: Map<string, number>;
}

/** perf report's sample counts, as µs of CPU per request. */
async function report(data: string, sort: string, requests: number): Promise<Map<string, number>> {
  const { stdout } = await run('perf', ['report', '-i', data, '--no-children', '--sort', sort, '--stdio', '-g', 'none', '-F', `sample,${sort}`], { maxBuffer: 256 * 1024 * 1024 });
  const costs = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const match = /^\s+(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    // JIT code's object is named per thread ([JIT] tid N), its symbols per process and address.
    const key = (match[2] as string).trim().replace(/^\[JIT\] tid \d+/, '[JIT]').replace(/^\[.\]\s+/, '').replace(/file:\/\/\/\S*?\/(runtime|bench)\//, '$1/').replace(/0x[0-9a-f]+/g, '0x…');
    costs.set(key, (costs.get(key) ?? 0) + (Number(match[1]) * 1e6) / PERF_HZ / requests);
  }
  return costs;
}

async function profile(name: ServerName, answerFile: string, dir: string): Promise<CostProfile> {
  const { child, load } = await startServer(name, answerFile);
  try {
    await runLoad({ ...load, durationMs: 3000 });
    const data = join(dir, `${name}.data`);
    const perf = spawn('perf', ['record', '-F', String(PERF_HZ), '-o', data, '-p', String(child.pid)], { stdio: 'ignore' });
    // perf attaches to every thread before the measured load starts.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await runLoad({ ...load, durationMs: Number(args['duration-ms']) });
    const recorded = new Promise((resolve) => perf.once('exit', resolve));
    perf.kill('SIGINT');
    await recorded;
    if (result.errors > 0) throw new Error(`${name}: ${result.errors} of ${result.requests} requests failed`);
    console.log(`${name}: ${result.requestsPerSecond.toFixed(0)} req/s`);
    return { requests: result.requests, byObject: await report(data, 'dso', result.requests), bySymbol: await report(data, 'sym', result.requests) };
  } finally {
    await stop(child);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'modelship-perf-cost-'));
try {
  const answerFile = join(dir, 'answer.json');
  await writeFile(answerFile, await runtimeAnswer());
  const profiles: [ServerName, CostProfile][] = [];
  for (const name of servers) profiles.push([name, await profile(name, answerFile, dir)]);
  const fmt = (value: number | undefined) => (value ?? 0).toFixed(2).padStart(8);
  const total = (costs: Map<string, number>) => [...costs.values()].reduce((sum, value) => sum + value, 0);
  const objects = [...new Set(profiles.flatMap(([, p]) => [...p.byObject.keys()]))]
    .sort((a, b) => (profiles[0]?.[1].byObject.get(b) ?? 0) - (profiles[0]?.[1].byObject.get(a) ?? 0));
  console.log(`\nCPU µs per request by object\n${profiles.map(([name]) => name.padStart(16)).join('')}`);
  for (const object of objects) {
    if (profiles.every(([, p]) => (p.byObject.get(object) ?? 0) < 0.05)) continue;
    console.log(`${profiles.map(([, p]) => fmt(p.byObject.get(object)).padStart(16)).join('')}  ${object}`);
  }
  console.log(`${profiles.map(([, p]) => fmt(total(p.byObject)).padStart(16)).join('')}  (all)`);
  const measured = new Map(profiles);
  for (const [name, other] of profiles) {
    const yardstickName = YARDSTICK[name];
    const base = yardstickName && measured.get(yardstickName);
    if (!yardstickName || !base) continue;
    console.log(`\n${name} against ${yardstickName}, the symbols that cost it most more (µs per request: more, ${yardstickName}, ${name})`);
    const symbols = [...new Set([...base.bySymbol.keys(), ...other.bySymbol.keys()])];
    const more = (symbol: string) => (other.bySymbol.get(symbol) ?? 0) - (base.bySymbol.get(symbol) ?? 0);
    for (const symbol of symbols.sort((a, b) => more(b) - more(a)).slice(0, Number(args.top))) {
      console.log(`${fmt(more(symbol))}${fmt(base.bySymbol.get(symbol))}${fmt(other.bySymbol.get(symbol))}  ${symbol.slice(0, 140)}`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
