import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { runLoad } from './load.ts';
import { measureTracingPath } from './tracing-path.ts';
import { freePort, MODELS, oneRowRequests, stop, spawnRuntime, waitReady } from './servers.ts';

/**
 * What tracing costs the runtime per request (a script, not a test): CPU time of the runtime process
 * per request and throughput, with tracing off (no OTEL_* variables), on with ratio 0 (spans created
 * but not recorded) and on for every request (exported over OTLP/HTTP protobuf to a loopback sink
 * that discards them). Configurations alternate within each round so drift on a shared machine hits
 * them alike; the medians are printed.
 * First, the tracing code path alone in process (tracing-path.ts), which a busy machine disturbs less.
 *   npm run bench:tracing -- [--duration-ms 4000] [--concurrency 64] [--rounds 3] [--path-only]
 */

const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    'path-only': { type: 'boolean', default: false },
  },
});
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);
const MAX_REQUESTS = 2_000_000;
const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** An OTLP/HTTP receiver that reads and drops every export, counting bytes. */
async function startSink(): Promise<{ url: string; bytes: () => number; close: () => Promise<void> }> {
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, bytes: () => bytes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Sample {
  readonly requestsPerSecond: number;
  readonly cpuMicrosPerRequest: number;
}

async function measure(env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await spawnRuntime({
    MODELSHIP_MODEL_URI: `${MODELS}/wide-mlp-fp32.onnx`, MODELSHIP_MODEL_NAME: 'm', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0',
    MODELSHIP_LOG_LEVEL: 'warn', MODELSHIP_MAX_BATCH_SIZE: '256', ...env,
  });
  child.stdout?.resume();
  try {
    await waitReady(`${url}/v2/health/ready`, child, false);
    const bodies = oneRowRequests();
    const load = { url, path: '/v2/models/m/infer', bodies, concurrency, maxRequests: MAX_REQUESTS };
    await runLoad({ ...load, warmupMs: 0, durationMs: warmupMs });
    const before = cpuSeconds(child.pid as number);
    const result = await runLoad({ ...load, warmupMs: 0, durationMs });
    const cpu = cpuSeconds(child.pid as number) - before;
    if (result.errors) throw new Error(`${result.errors} errors`);
    return { requestsPerSecond: result.requestsPerSecond, cpuMicrosPerRequest: (cpu / result.requests) * 1e6 };
  } finally {
    await stop(child);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const sink = await startSink();
const path = await measureTracingPath(sink.url, 50_000, 5);
const pathLines = ['| Tracing (request path alone, in process) | CPU µs / request |', '| --- | --- |', ...path.map(([label, micros]) => `| ${label} | ${micros.toFixed(2)} |`)];
process.stdout.write(`${pathLines.join('\n')}\n\n`);
if (args['path-only']) {
  await sink.close();
  process.exit(0);
}
const configs: Array<[string, Record<string, string>]> = [
  ['off (no OTEL_* variables)', {}],
  ['on, ratio 0 (spans not recorded)', { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }],
  ['on, every request recorded and exported', { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: 'always_on' }],
];
process.stderr.write(`tracing benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, wide-mlp-fp32 1-row requests, c=${concurrency}, ${durationMs} ms x ${rounds} rounds\n`);
const samples = configs.map(() => [] as Sample[]);
try {
  for (let round = 0; round < rounds; round++) {
    for (const [i, [label, env]] of configs.entries()) {
      const sample = await measure(env);
      samples[i]?.push(sample);
      process.stderr.write(`  round ${round + 1} ${label}: ${sample.requestsPerSecond.toFixed(0)} req/s, ${sample.cpuMicrosPerRequest.toFixed(1)} µs CPU/request\n`);
    }
  }
} finally {
  await sink.close();
}
const base = median((samples[0] ?? []).map((s) => s.cpuMicrosPerRequest));
const baseRps = median((samples[0] ?? []).map((s) => s.requestsPerSecond));
const lines = ['| Tracing | req/s | CPU µs / request | CPU vs off | req/s vs off |', '| --- | --- | --- | --- | --- |'];
configs.forEach(([label], i) => {
  const cpu = median((samples[i] ?? []).map((s) => s.cpuMicrosPerRequest));
  const rps = median((samples[i] ?? []).map((s) => s.requestsPerSecond));
  lines.push(`| ${label} | ${rps.toFixed(0)} | ${cpu.toFixed(1)} | ${(cpu / base).toFixed(3)}x | ${(rps / baseRps).toFixed(3)}x |`);
});
lines.push('', `OTLP bytes exported: ${sink.bytes()}`);
process.stdout.write(`${lines.join('\n')}\n`);
