import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from './load.ts';
import { freePort, MODELS, oneRowRequests, peakRss, stop, spawnRuntime, waitReady } from './servers.ts';
import { sampleSum } from '../../test/support/prometheus-text.ts';

/**
 * Overload benchmark (a script, not a test): the runtime on the wide MLP driven far above capacity by
 * closed-loop clients, once with a small queue (MODELSHIP_MAX_QUEUE_SIZE) and once with the default,
 * to show what the bound buys: accepted requests keep a short p99, the excess is refused fast with 429.
 *   npm run bench:overload -- [--duration-ms 3000] [--concurrency 64,256,512] [--queue-sizes 16,1024]
 */
const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '3000' },
    'warmup-ms': { type: 'string', default: '750' },
    concurrency: { type: 'string', default: '64,256,512' },
    'queue-sizes': { type: 'string', default: '16,1024' },
    'max-batch-size': { type: 'string', default: '64' },
  },
});
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrencies = (args.concurrency as string).split(',').map(Number);
const queueSizes = (args['queue-sizes'] as string).split(',').map(Number);
const MAX_REQUESTS = 2_000_000;
const QUEUE_SAMPLE_MS = 20;

interface Point {
  readonly queueSize: number;
  readonly load: LoadResult;
  readonly maxQueueDepth: number | undefined;
  readonly peakRssBytes: number;
}

/** Scrapes inference_queue_depth until `done` resolves; the largest value seen (undefined: no scrape got through). */
async function sampleQueueDepth(url: string, done: Promise<unknown>): Promise<number | undefined> {
  let finished = false;
  void done.then(() => (finished = true));
  let max: number | undefined;
  while (!finished) {
    const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => undefined);
    if (text !== undefined) max = Math.max(max ?? 0, sampleSum(text, 'inference_queue_depth'));
    await new Promise((resolve) => setTimeout(resolve, QUEUE_SAMPLE_MS));
  }
  return max;
}

async function measure(queueSize: number, concurrency: number): Promise<Point> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = await spawnRuntime({
    MODELSHIP_MODEL_URI: `${MODELS}/wide-mlp-fp32.onnx`, MODELSHIP_MODEL_NAME: 'wide', MODELSHIP_PORT: String(port),
    MODELSHIP_LOG_LEVEL: 'warn', MODELSHIP_MAX_BATCH_SIZE: args['max-batch-size'] as string, MODELSHIP_MAX_QUEUE_SIZE: String(queueSize),
  });
  child.stdout?.resume();
  try {
    await waitReady(`${url}/v2/health/ready`, child, false);
    const loading = runLoad({ url, path: '/v2/models/wide/infer', bodies: oneRowRequests(), concurrency, warmupMs, durationMs, maxRequests: MAX_REQUESTS });
    const [load, maxQueueDepth] = await Promise.all([loading, sampleQueueDepth(url, loading)]);
    return { queueSize, load, maxQueueDepth, peakRssBytes: peakRss(child.pid as number) };
  } finally {
    await stop(child);
  }
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

async function main(): Promise<void> {
  const points: Point[] = [];
  for (const concurrency of concurrencies) {
    for (const queueSize of queueSizes) {
      const point = await measure(queueSize, concurrency);
      points.push(point);
      process.stderr.write(`  queue ${queueSize} c=${concurrency}: ${fmt(point.load.byStatus[200]?.count)} ok, ${fmt(point.load.byStatus[429]?.count)} refused\n`);
    }
  }
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(`Measured ${new Date().toISOString()}, ${cpus().length} CPUs (${cpu}), node ${process.version}, ${durationMs} ms per point after ${warmupMs} ms warm-up, 1-row JSON requests (wide MLP, FP32), MODELSHIP_MAX_BATCH_SIZE=${args['max-batch-size']}.\n`);
  console.log('| max queue | concurrency | accepted/s | refused (429) | p50 / p99 ms accepted | p50 / p99 ms 429 | max queue depth seen | peak RSS |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { queueSize, load, maxQueueDepth, peakRssBytes } of points) {
    const ok = load.byStatus[200];
    const refused = load.byStatus[429];
    const refusedShare = refused ? `${fmt((100 * refused.count) / load.requests, 1)} %` : '0 %';
    console.log(`| ${queueSize} | ${load.concurrency} | ${fmt((ok?.count ?? 0) / load.seconds)} | ${refusedShare} | ${fmt(ok?.p50Ms, 2)} / ${fmt(ok?.p99Ms, 2)} | ${fmt(refused?.p50Ms, 2)} / ${fmt(refused?.p99Ms, 2)} | ${fmt(maxQueueDepth)} | ${fmt(peakRssBytes / 2 ** 20)} MiB |`);
  }
  console.log('\nAccepted p99 with the small queue relative to the default queue, at the same concurrency:');
  for (const c of concurrencies) {
    const [small, large] = [Math.min(...queueSizes), Math.max(...queueSizes)].map((size) => points.find((p) => p.queueSize === size && p.load.concurrency === c)?.load.byStatus[200]?.p99Ms);
    if (small !== undefined && large !== undefined) console.log(`- c=${c}: ${fmt(small / large, 2)}x`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
