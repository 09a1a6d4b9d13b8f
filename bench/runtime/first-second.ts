import { mkdirSync, rmdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startLoad } from '../../test/node/load.ts';
import { freePort, MODELS, spawnRuntime, stop, waitReady } from './servers.ts';

/**
 * A new runtime's first seconds against its warm ones, under a pod's CPU limit: the fraud model,
 * `--rate` requests/s of `--rows` rows each from the moment it is ready, the server's mean latency
 * (its own prediction_latency histogram) per second. What an autoscaler on mean latency sees of a pod
 * it has just added. Needs root, for a CPU cgroup (v1 or v2) with the limit.
 *   npm run bench:first-second -- [--cpu-millis 250] [--rate 20] [--rows 128] [--seconds 30] [--runs 3]
 */
const { values: args } = parseArgs({
  options: {
    'cpu-millis': { type: 'string', default: '250' },
    rate: { type: 'string', default: '20' },
    rows: { type: 'string', default: '128' },
    seconds: { type: 'string', default: '30' },
    runs: { type: 'string', default: '3' },
  },
});
const cpuMillis = Number(args['cpu-millis']);
const rate = Number(args.rate);
const rows = Number(args.rows);
const seconds = Number(args.seconds);
const runs = Number(args.runs);
const PERIOD_US = 100_000;

/** A CPU cgroup limited to `millis` of a core; returns where to put a process, and how to remove it. */
function cpuLimit(millis: number): { procs: string; remove: () => void } {
  const quota = Math.round((millis / 1000) * PERIOD_US);
  const name = `modelship-first-second-${process.pid}`;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const dir = `/sys/fs/cgroup/${name}`;
    if (!readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').includes('cpu')) writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', '+cpu');
    mkdirSync(dir);
    writeFileSync(`${dir}/cpu.max`, `${quota} ${PERIOD_US}`);
    return { procs: `${dir}/cgroup.procs`, remove: () => rmdirSync(dir) };
  }
  if (existsSync('/sys/fs/cgroup/cpu')) {
    const dir = `/sys/fs/cgroup/cpu/${name}`;
    mkdirSync(dir);
    writeFileSync(`${dir}/cpu.cfs_period_us`, String(PERIOD_US));
    writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quota));
    return { procs: `${dir}/cgroup.procs`, remove: () => rmdirSync(dir) };
  }
  throw new Error('no CPU cgroup controller to limit the runtime with (run as root on a Linux with cgroups)');
}

/** Sum and count of the runtime's prediction_latency_seconds. */
async function latencyTotals(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (series: string) => Number(new RegExp(`^${series}\\{[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('prediction_latency_seconds_sum'), count: read('prediction_latency_seconds_count') };
}

interface RunResult { readyMs: number; perSecondMs: number[] }

async function oneRun(): Promise<RunResult> {
  const limit = cpuLimit(cpuMillis);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const runtime = await spawnRuntime({
    MODELSHIP_MODEL_URI: `${MODELS}/fraud-fp32.onnx`, MODELSHIP_MODEL_NAME: 'fraud-detector', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0', MODELSHIP_LOG_LEVEL: 'warn',
  });
  // Spawned just now (the first call compiles the runtime before it spawns it).
  const started = Date.now();
  try {
    // Every thread it starts later is in the cgroup too: a pod's limit from its first instruction.
    writeFileSync(limit.procs, String(runtime.pid));
    runtime.stdout?.resume();
    await waitReady(`${url}/v2/health/ready`, runtime, false);
    const readyMs = Date.now() - started;
    const loadStarted = Date.now();
    const load = startLoad(`${url}/v2/models/fraud-detector/infer`, { concurrency: 4, perSecond: rate, maxSeconds: seconds, rows });
    const perSecondMs: number[] = [];
    let previous = { sum: 0, count: 0 };
    for (let second = 1; second <= seconds; second++) {
      await sleep(Math.max(0, loadStarted + second * 1000 - Date.now()));
      const now = await latencyTotals(url);
      perSecondMs.push(now.count > previous.count ? ((now.sum - previous.sum) / (now.count - previous.count)) * 1000 : Number.NaN);
      previous = now;
    }
    const answers = await load.stop();
    const failed = answers.filter((answer) => answer.status !== 200).length;
    if (failed) throw new Error(`${failed} of ${answers.length} requests failed`);
    return { readyMs, perSecondMs };
  } finally {
    await stop(runtime);
    limit.remove();
  }
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const fmt = (n: number) => n.toFixed(1);
const lines = [
  `Measured ${new Date().toISOString()}, node ${process.version}; the runtime limited to ${cpuMillis}m CPU, ${rate} requests/s of ${rows} rows (fraud model) from the moment it is ready, for ${seconds} s.`,
  '',
  '| run | ready after start (s) | mean latency, 1st second (ms) | seconds 2-5 (ms) | warm: seconds 10-end (ms) | 1st second ÷ warm |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
];
for (let run = 1; run <= runs; run++) {
  const { readyMs, perSecondMs } = await oneRun();
  const warm = mean(perSecondMs.slice(9));
  const first = perSecondMs[0] ?? Number.NaN;
  lines.push(`| ${run} | ${fmt(readyMs / 1000)} | ${fmt(first)} | ${fmt(mean(perSecondMs.slice(1, 5)))} | ${fmt(warm)} | ${(first / warm).toFixed(2)} |`);
  process.stderr.write(`  run ${run}: ${perSecondMs.map(fmt).join(' ')}\n`);
}
console.log(lines.join('\n'));
