import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from './load.ts';
import { FEATURES, freePort, MODELS, oneRowRequests, ROOT, SAMPLES, spawnNode, spawnRuntime, stop, waitReady } from './servers.ts';

/**
 * The runtime against the best Python model servers, in one run, on the same model (the wide MLP,
 * examples/models/wide-mlp-fp32.onnx, run by onnxruntime on the CPU in every server), the same
 * requests (1-row V2 REST JSON to /v2/models/wide/infer) and the same load generator (load.ts's
 * closed loop): MLServer (adaptive batching on), KServe's Python model server (no batcher of its own)
 * and PyTriton (@batch with Triton's dynamic batcher). Each peer runs from its own venv (pinned by
 * bench/runtime/peers/<peer>/requirements.txt, cached under ~/.cache/modelship/bench-peers/) and must
 * answer the runtime's probabilities (within 1e-5) before it is measured.
 *   npm run bench:peers -- [--duration-ms 4000] [--warmup-ms 1000] [--concurrency 64] [--peers mlserver,kserve,pytriton]
 */
const { values: args } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '64' },
    peers: { type: 'string', default: 'mlserver,kserve,pytriton' },
  },
});
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const concurrency = Number(args.concurrency);
const selected = new Set((args.peers as string).split(',').map((peer) => peer.trim()).filter(Boolean));
const MAX_REQUESTS = 2_000_000;
const MODEL = `${MODELS}/wide-mlp-fp32.onnx`;
const INFER_PATH = '/v2/models/wide/infer';
const PEERS_DIR = `${ROOT}bench/runtime/peers`;
const READY_TIMEOUT_MS = 120_000;
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const TOLERANCE = 1e-5;
const CHECKED_ROWS = 4;

interface Row {
  readonly server: string;
  readonly version: string;
  readonly load: LoadResult;
  readonly cpuUsPerRequest: number;
}

/** One Python server: how to start it from its venv's bin dir, on its ports. */
interface Peer {
  readonly label: string;
  /** The venv (bench/runtime/peers/<venv>/) and the package whose pinned version names it. */
  readonly venv: 'mlserver' | 'kserve' | 'pytriton';
  readonly package: string;
  readonly command: (bin: string) => readonly string[];
  readonly env: (ports: { http: number; grpc: number; metrics: number }) => Record<string, string>;
}

const PEERS: readonly Peer[] = [
  // MLServer, one process (parallel_workers 0: HTTP, batching and onnxruntime all in the server's own
  // process) and MLServer's default, one inference worker process (parallel_workers 1: the main process
  // parses HTTP and batches, the worker runs the model). Neither runs more than one model worker, so on
  // this machine both share its cores with the other servers on equal terms; the better one counts.
  ...[0, 1].map((workers): Peer => ({
    label: `MLServer (adaptive batching, parallel_workers ${workers})`,
    venv: 'mlserver',
    package: 'mlserver',
    command: (bin) => [`${bin}/mlserver`, 'start', `${PEERS_DIR}/mlserver`],
    env: (ports) => ({
      MLSERVER_HOST: '127.0.0.1',
      MLSERVER_HTTP_PORT: String(ports.http),
      MLSERVER_GRPC_PORT: String(ports.grpc),
      MLSERVER_METRICS_PORT: String(ports.metrics),
      MLSERVER_PARALLEL_WORKERS: String(workers),
      // debug (its default: true) logs every request (uvicorn's access log); the runtime runs at warn.
      MLSERVER_DEBUG: 'false',
    }),
  })),
  {
    label: 'KServe ModelServer (no batcher)',
    venv: 'kserve',
    package: 'kserve',
    command: (bin) => [`${bin}/python`, `${PEERS_DIR}/kserve/server.py`],
    env: (ports) => ({ PEER_MODEL: MODEL, PEER_HTTP_PORT: String(ports.http) }),
  },
  {
    label: 'PyTriton (@batch, dynamic batcher)',
    venv: 'pytriton',
    package: 'nvidia-pytriton',
    command: (bin) => [`${bin}/python`, `${PEERS_DIR}/pytriton/server.py`],
    env: (ports) => ({ PEER_MODEL: MODEL, PEER_HTTP_PORT: String(ports.http), PEER_GRPC_PORT: String(ports.grpc), PEER_METRICS_PORT: String(ports.metrics) }),
  },
];

/** Every process that is, or descends from, `root`: servers that fork (MLServer's workers, PyTriton's tritonserver). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] as number) ?? []));
  return tree;
}

/** CPU seconds (user + system) of `root` and every live descendant, from /proc (clock ticks of 1/100 s). */
function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)?.split(' ') ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited between the listing and the read
    }
  }
  return ticks / 100;
}

/** The last few KiB a child wrote, to show when it fails. */
function tail(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

const live = new Set<ChildProcess>();
/** The runtime while it runs (not detached: one process), stopped on a signal too. */
let runtimeChild: ChildProcess | undefined;

/** A peer in its own process group (detached), so that stopping it stops whatever it forked too. */
function spawnPeer(command: readonly string[], env: Record<string, string>): ChildProcess {
  const [file, ...rest] = command as [string, ...string[]];
  const child = spawn(file, rest, {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LANG: 'C.UTF-8', ...env },
  });
  live.add(child);
  return child;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGINT to the server (its own graceful stop: it stops what it started), then SIGTERM and SIGKILL to
 * its whole process group, each after a bounded wait for the group to be gone.
 */
async function stopPeer(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  live.delete(child);
  if (pgid === undefined) return;
  for (const [signal, target, waitMs] of [['SIGINT', pgid, 15_000], ['SIGTERM', -pgid, 5_000], ['SIGKILL', -pgid, 2_000]] as const) {
    if (!groupAlive(pgid)) return;
    try {
      process.kill(target, signal);
    } catch {
      continue; // the leader is gone: the group's rest gets the next signal at once
    }
    for (let waited = 0; waited < waitMs && groupAlive(pgid); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls `url` until it answers 200, the child exits, or `timeoutMs` passes. */
async function waitFor200(url: string, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before it was ready; its last output:\n${output()}`);
    }
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not ready in ${timeoutMs / 1000} s; its last output:\n${output()}`);
}

const bodies = oneRowRequests();

/** The probabilities a V2 server answers for the first CHECKED_ROWS requests. */
async function probabilities(url: string): Promise<number[][]> {
  const answers: number[][] = [];
  for (const body of bodies.slice(0, CHECKED_ROWS)) {
    const response = await fetch(`${url}${INFER_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    if (!response.ok) throw new Error(`answered ${response.status}: ${text.slice(0, 500)}`);
    const output = (JSON.parse(text) as { outputs?: { name: string; data: number[] }[] }).outputs?.find((o) => o.name === 'probabilities');
    if (!output) throw new Error(`answered no "probabilities" output: ${text.slice(0, 500)}`);
    answers.push(output.data.map(Number));
  }
  return answers;
}

function checkSame(reference: number[][], got: number[][]): void {
  reference.forEach((expected, row) => {
    const actual = got[row] ?? [];
    const worst = expected.reduce((max, value, i) => Math.max(max, Math.abs(value - (actual[i] ?? Number.NaN))), 0);
    if (actual.length !== expected.length || !(worst <= TOLERANCE)) {
      throw new Error(`row ${row}: probabilities ${JSON.stringify(actual)} differ from the runtime's ${JSON.stringify(expected)} (max |diff| ${worst}, tolerance ${TOLERANCE})`);
    }
  });
}

/** Warm-up, then the measured run; the server's CPU over its whole process tree around the measured run only. */
async function measure(server: string, version: string, url: string, pid: number): Promise<Row> {
  const load = (duration: number) => runLoad({ url, path: INFER_PATH, bodies, concurrency, warmupMs: 0, durationMs: duration, maxRequests: MAX_REQUESTS });
  await load(warmupMs);
  const before = treeCpuSeconds(pid);
  const result = await load(durationMs);
  const cpuUsPerRequest = ((treeCpuSeconds(pid) - before) * 1e6) / result.requests;
  // A server that answers errors fast would look cheap: every answer must be a success.
  if (result.errors > 0 || result.requests === 0) throw new Error(`${result.errors} of ${result.requests} requests failed`);
  process.stderr.write(`  ${server}: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, ${cpuUsPerRequest.toFixed(1)} µs CPU/req\n`);
  return { server, version, load: result, cpuUsPerRequest };
}

function pinned(venv: string, name: string): string {
  const requirements = readFileSync(`${PEERS_DIR}/${venv}/requirements.txt`, 'utf8');
  const version = (package_: string) => new RegExp(`^${package_}==(\\S+)$`, 'mi').exec(requirements)?.[1] ?? '?';
  return `${name} ${version(name)}, onnxruntime ${version('onnxruntime')}, Python ${pythonVersion}`;
}

const pythonVersion = await new Promise<string>((resolve) => {
  execFile(process.env.PYTHON ?? 'python3', ['-c', 'import platform; print(platform.python_version())'], (error, stdout) => resolve(error ? '?' : stdout.trim()));
});

/** bench/runtime/peers/ensure-venv.sh: the peer's cached venv (installed on first use); its bin dir. */
function ensureVenv(venv: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = execFile('bash', [`${PEERS_DIR}/ensure-venv.sh`, venv], { cwd: ROOT, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`ensure-venv.sh ${venv} failed: ${stderr.trim().split('\n').slice(-3).join(' / ')}`, { cause: error }));
      process.stderr.write(`venv ${venv}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${stdout.trim()})\n`);
      resolve(stdout.trim().split('\n').at(-1) as string);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('installing')) process.stderr.write(chunk);
    });
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  const skipped: { server: string; reason: string }[] = [];

  // The venvs first (a cold install takes a minute or more each), timed, before any server runs.
  const bins = new Map<string, string>();
  for (const venv of new Set(PEERS.filter((peer) => selected.has(peer.venv)).map((peer) => peer.venv))) {
    try {
      bins.set(venv, await ensureVenv(venv));
    } catch (error) {
      skipped.push({ server: venv, reason: (error as Error).message });
    }
  }

  // The runtime: its answers are the reference every peer must match.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const runtime = await spawnRuntime({
    MODELSHIP_MODEL_URI: MODEL, MODELSHIP_MODEL_NAME: 'wide', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0', MODELSHIP_LOG_LEVEL: 'warn',
  });
  runtimeChild = runtime;
  const runtimeOutput = tail(runtime);
  let reference: number[][];
  let answer: Buffer;
  let ceiling: Row | undefined;
  try {
    await waitFor200(`${url}/v2/health/ready`, runtime, READY_TIMEOUT_MS, runtimeOutput);
    reference = await probabilities(url);
    const packageJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { version: string };
    const version = `modelship ${packageJson(`${ROOT}package.json`).version}, onnxruntime-node ${packageJson(`${ROOT}node_modules/onnxruntime-node/package.json`).version}, node ${process.version}`;
    rows.push(await measure('Modelship runtime', version, url, runtime.pid as number));
    answer = Buffer.from(await (await fetch(`${url}${INFER_PATH}`, { method: 'POST', body: bodies[0], headers: { 'content-type': 'application/json' } })).arrayBuffer());
  } finally {
    await stop(runtime);
    runtimeChild = undefined;
  }

  // The ceiling (bench/runtime/floor-model-server.ts): node:http plus the model's own batched work and a
  // fixed answer, nothing else; the most any Node server of this model can serve here, so the ratio
  // any runtime can reach against a peer is at most the ceiling's.
  const dir = await mkdtemp(join(tmpdir(), 'modelship-peers-'));
  try {
    await writeFile(join(dir, 'answer.json'), answer);
    const ceilingPort = await freePort();
    const ceilingServer = spawnNode('bench/runtime/floor-model-server.ts', [], {
      CEILING_MODEL: MODEL, CEILING_SAMPLES: SAMPLES, CEILING_FEATURES: String(FEATURES), CEILING_RESPONSE_FILE: join(dir, 'answer.json'), CEILING_PORT: String(ceilingPort),
    });
    ceilingServer.stdout?.resume();
    try {
      await waitReady(`http://127.0.0.1:${ceilingPort}/`, ceilingServer, true);
      ceiling = await measure('ceiling: node:http + the model, batched, fixed answer', '-', `http://127.0.0.1:${ceilingPort}`, ceilingServer.pid as number);
    } finally {
      await stop(ceilingServer);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  for (const peer of PEERS) {
    if (!selected.has(peer.venv)) continue;
    const bin = bins.get(peer.venv);
    if (!bin) {
      skipped.push({ server: peer.label, reason: `its venv could not be installed (${peer.venv}, above)` });
      continue;
    }
    const ports = { http: await freePort(), grpc: await freePort(), metrics: await freePort() };
    const peerUrl = `http://127.0.0.1:${ports.http}`;
    process.stderr.write(`starting ${peer.label} on ${peerUrl} ...\n`);
    const child = spawnPeer(peer.command(bin), peer.env(ports));
    const output = tail(child);
    const startedAt = Date.now();
    try {
      await waitFor200(`${peerUrl}/v2/models/wide/ready`, child, READY_TIMEOUT_MS, output);
      process.stderr.write(`  ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
      checkSame(reference, await probabilities(peerUrl));
      rows.push(await measure(peer.label, pinned(peer.venv, peer.package), peerUrl, child.pid as number));
    } catch (error) {
      const reason = (error as Error).message;
      process.stderr.write(`  ${peer.label} left out: ${reason}\n`);
      skipped.push({ server: peer.label, reason });
    } finally {
      await stopPeer(child);
    }
  }

  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const ours = rows[0] as Row;
  const lines = [
    `Measured ${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), wide MLP (FP32, onnxruntime on the CPU in every server), 1-row V2 REST JSON requests, `
    + `closed loop at concurrency ${concurrency} over loopback (load.ts, client on the same cores), ${durationMs} ms per server after ${warmupMs} ms warm-up.`,
    '',
    '| server | version | req/s | p50 ms | p99 ms | server CPU µs/req | runtime ÷ this server |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((row) => `| ${row.server} | ${row.version} | ${fmt(row.load.requestsPerSecond)} | ${fmt(row.load.p50Ms, 2)} | ${fmt(row.load.p99Ms, 2)} | ${fmt(row.cpuUsPerRequest, 1)} | ${fmt(ours.load.requestsPerSecond / row.load.requestsPerSecond, 2)}x |`),
    ...(ceiling ? [`| ${ceiling.server} | - | ${fmt(ceiling.load.requestsPerSecond)} | ${fmt(ceiling.load.p50Ms, 2)} | ${fmt(ceiling.load.p99Ms, 2)} | ${fmt(ceiling.cpuUsPerRequest, 1)} | ${fmt(ours.load.requestsPerSecond / ceiling.load.requestsPerSecond, 2)}x |`] : []),
  ];
  const best = rows.slice(1).sort((a, b) => b.load.requestsPerSecond - a.load.requestsPerSecond)[0];
  lines.push('');
  if (best) {
    const ratio = ours.load.requestsPerSecond / best.load.requestsPerSecond;
    lines.push(`Best Python peer: ${best.server} at ${fmt(best.load.requestsPerSecond)} req/s; the runtime serves ${fmt(ratio, 2)}x its requests/s `
      + `(claim "at least 10x": ${ratio >= 10 ? 'holds' : 'does not hold'} in this run)`
      + (ceiling ? `; the ceiling serves ${fmt(ceiling.load.requestsPerSecond / best.load.requestsPerSecond, 2)}x its requests/s.` : '.'));
  } else {
    lines.push('No Python peer could be measured.');
  }
  for (const { server, reason } of skipped) lines.push(`Not measured: ${server}: ${reason.split('\n').filter((line) => line.trim()).slice(0, 2).join(' / ')}`);
  lines.push('', `Total benchmark time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  console.log(lines.join('\n'));
}

async function stopAll(): Promise<void> {
  await Promise.all([...live].map(stopPeer));
  if (runtimeChild && runtimeChild.exitCode === null && runtimeChild.signalCode === null) await stop(runtimeChild);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}

try {
  await main();
} finally {
  await stopAll();
}
