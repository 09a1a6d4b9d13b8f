import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from './load.ts';
import { FEATURES, freePort, MODELS, oneRowRequests, peakRss, SAMPLES, spawnNode, stop, spawnRuntime, waitReady } from './servers.ts';
import { sampleSum } from '../../test/support/prometheus-text.ts';

/**
 * Runtime benchmark (a script, not a test): raw in-process onnxruntime vs a naive HTTP server vs the
 * runtime with batching off and on, over loopback, on the wide MLP example model; then INT8 vs FP32.
 *   npm run bench:runtime -- [--duration-ms 3000] [--concurrency 1,16,64,256]
 */

const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '3000' },
    'warmup-ms': { type: 'string', default: '750' },
    concurrency: { type: 'string', default: '1,16,64,256' },
    'max-batch-size': { type: 'string', default: '256' },
  },
});
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrencies = (args.concurrency as string).split(',').map(Number);
const MAX_REQUESTS = 2_000_000;

interface ServerRun {
  readonly label: string;
  readonly loads: Array<LoadResult & { meanBatch?: number }>;
  readonly peakRssBytes: number;
}

async function batchStats(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return { sum: sampleSum(text, 'inference_batch_size_sum'), count: sampleSum(text, 'inference_batch_size_count') };
}

async function measureServer(label: string, kind: 'naive' | 'runtime', model: string, env: Record<string, string>, levels: readonly number[]): Promise<ServerRun> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = kind === 'naive'
    ? spawnNode('bench/runtime/naive-server.ts', [], { NAIVE_MODEL: model, NAIVE_PORT: String(port) })
    : await spawnRuntime({
      MODELSHIP_MODEL_URI: model, MODELSHIP_MODEL_NAME: 'wide', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0', MODELSHIP_LOG_LEVEL: 'warn', ...env,
    });
  child.stdout?.resume();
  const path = kind === 'naive' ? '/' : '/v2/models/wide/infer';
  try {
    await waitReady(kind === 'naive' ? `${url}/` : `${url}/v2/health/ready`, child, kind === 'naive');
    const loads: ServerRun['loads'] = [];
    const bodies = oneRowRequests();
    for (const concurrency of levels) {
      const before = kind === 'runtime' ? await batchStats(url) : undefined;
      const load = await runLoad({ url, path, bodies, concurrency, warmupMs, durationMs, maxRequests: MAX_REQUESTS });
      const after = kind === 'runtime' ? await batchStats(url) : undefined;
      const meanBatch = before && after && after.count > before.count ? (after.sum - before.sum) / (after.count - before.count) : undefined;
      loads.push({ ...load, ...(meanBatch !== undefined ? { meanBatch } : {}) });
      process.stderr.write(`  ${label} c=${concurrency}: ${load.requestsPerSecond.toFixed(0)} req/s, p50 ${load.p50Ms.toFixed(3)} ms${meanBatch ? `, mean batch ${meanBatch.toFixed(1)}` : ''}${load.errors ? `, ${load.errors} errors` : ''}\n`);
    }
    return { label, loads, peakRssBytes: peakRss(child.pid as number) };
  } finally {
    await stop(child);
  }
}

interface RawRun {
  results: Array<{ batch: number; rowsPerSecond: number; p50Ms: number; p99Ms: number }>;
  labels: number[];
  peakRssBytes: number;
}

async function measureRaw(model: string, batches: readonly number[]): Promise<RawRun> {
  const child = spawnNode('bench/runtime/raw.ts', [model, SAMPLES, String(FEATURES), String(durationMs), batches.join(',')], {});
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(out) as RawRun;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const fp32 = `${MODELS}/wide-mlp-fp32.onnx`;
  const started = Date.now();
  process.stderr.write(`runtime benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}\n`);

  const naive = await measureServer('naive server', 'naive', fp32, {}, concurrencies);
  const off = await measureServer('runtime, batching off', 'runtime', fp32, { MODELSHIP_MAX_BATCH_SIZE: '1' }, concurrencies);
  const on = await measureServer('runtime, batching on', 'runtime', fp32, { MODELSHIP_MAX_BATCH_SIZE: args['max-batch-size'] as string }, concurrencies);
  const observed = on.loads.map((l) => Math.max(1, Math.round(l.meanBatch ?? 1)));
  const rawBatches = [...new Set([1, 16, 64, 256, ...observed])].sort((a, b) => a - b);
  const raw = await measureRaw(fp32, rawBatches);
  const rawAt = (batch: number) => raw.results.find((r) => r.batch === batch)?.rowsPerSecond ?? Number.NaN;

  const lines: string[] = [];
  lines.push(`Measured ${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${durationMs} ms per point after ${warmupMs} ms warm-up, 1-row JSON requests (wide MLP 64->1024->1024->10, FP32).`, '');
  lines.push('| server | concurrency | rows/s | p50 ms | p99 ms | mean batch | peak RSS |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const run of [naive, off, on]) {
    for (const l of run.loads) {
      lines.push(`| ${run.label} | ${l.concurrency} | ${fmt(l.requestsPerSecond)} | ${fmt(l.p50Ms, 3)} | ${fmt(l.p99Ms, 3)} | ${l.meanBatch ? fmt(l.meanBatch, 1) : (run.label === 'naive server' ? '1' : '1.0')} | ${mb(run.peakRssBytes)} |`);
    }
  }
  lines.push('', '| raw in-process onnxruntime | batch | rows/s | p50 ms per run | p99 ms per run | peak RSS |', '|---|---:|---:|---:|---:|---:|');
  for (const r of raw.results) lines.push(`| session.run | ${r.batch} | ${fmt(r.rowsPerSecond)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${mb(raw.peakRssBytes)} |`);

  lines.push('', '| concurrency | batching on / naive | batching on / batching off | batching on / raw at its mean batch | p50 on - naive (ms) |', '|---:|---:|---:|---:|---:|');
  concurrencies.forEach((c, i) => {
    const n = naive.loads[i] as LoadResult;
    const o = off.loads[i] as LoadResult;
    const b = on.loads[i] as LoadResult & { meanBatch?: number };
    lines.push(`| ${c} | ${fmt(b.requestsPerSecond / n.requestsPerSecond, 2)}x | ${fmt(b.requestsPerSecond / o.requestsPerSecond, 2)}x | ${fmt((100 * b.requestsPerSecond) / rawAt(observed[i] as number), 0)}% (batch ${observed[i]}) | ${fmt(b.p50Ms - n.p50Ms, 3)} |`);
  });

  // INT8 against FP32: the runtime with batching on at concurrency 64, raw at batch 64, and agreement.
  const c64 = concurrencies.includes(64) ? 64 : (concurrencies.at(-1) as number);
  lines.push('', `| model | runtime rows/s (batching on, c=${c64}) | raw rows/s at batch 64 | raw rows/s at batch 1 | labels equal to FP32 | peak RSS (runtime) |`, '|---|---:|---:|---:|---:|---:|');
  const fp32Runtime = on.loads[concurrencies.indexOf(c64)] as LoadResult;
  const fp32Raw = await measureRaw(fp32, [1, 64]);
  lines.push(`| wide-mlp-fp32 | ${fmt(fp32Runtime.requestsPerSecond)} | ${fmt(fp32Raw.results[1]?.rowsPerSecond ?? 0)} | ${fmt(fp32Raw.results[0]?.rowsPerSecond ?? 0)} | 100% | ${mb(on.peakRssBytes)} |`);
  for (const variant of ['int8-qdq', 'int8-qoperator']) {
    const model = `${MODELS}/wide-mlp-${variant}.onnx`;
    const served = await measureServer(`runtime ${variant}`, 'runtime', model, { MODELSHIP_MAX_BATCH_SIZE: args['max-batch-size'] as string }, [c64]);
    const rawInt8 = await measureRaw(model, [1, 64]);
    const same = rawInt8.labels.filter((label, i) => label === fp32Raw.labels[i]).length / fp32Raw.labels.length;
    const load = served.loads[0] as LoadResult;
    lines.push(`| wide-mlp-${variant} | ${fmt(load.requestsPerSecond)} (${fmt(load.requestsPerSecond / fp32Runtime.requestsPerSecond, 2)}x) | ${fmt(rawInt8.results[1]?.rowsPerSecond ?? 0)} (${fmt((rawInt8.results[1]?.rowsPerSecond ?? 0) / (fp32Raw.results[1]?.rowsPerSecond ?? 1), 2)}x) | ${fmt(rawInt8.results[0]?.rowsPerSecond ?? 0)} | ${fmt(same * 100, 1)}% | ${mb(served.peakRssBytes)} |`);
  }
  lines.push('', `Total benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  console.log(lines.join('\n'));
}

await main();
