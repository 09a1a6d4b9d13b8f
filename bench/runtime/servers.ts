import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Starting, probing and stopping the servers the runtime benchmarks measure, each in its own process. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MODELS = `${ROOT}examples/models`;
export const FEATURES = 64;
export const SAMPLES = `${MODELS}/wide-mlp-validation.f32`;
export const WIDE_MODEL = `${MODELS}/wide-mlp-fp32.onnx`;
export const WIDE_INFER_PATH = '/v2/models/wide/infer';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function spawnNode(script: string, args: readonly string[], env: Record<string, string>, nodeFlags: readonly string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeFlags, '--import', 'tsx', script, ...args], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
}

const COMPILED = `${ROOT}.cache/bench-runtime`;
let compiling: Promise<string> | undefined;

/**
 * The runtime compiled as its image compiles it (runtime/tsconfig.build.json), so a benchmark measures
 * what production runs: plain JavaScript, not the sources through tsx's loader. Built once per run.
 */
function compiledRuntime(): Promise<string> {
  compiling ??= new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}runtime/tsconfig.build.json`, '--outDir', COMPILED], (error, stdout) => {
      if (error) return reject(new Error(`compiling the runtime failed: ${stdout}`, { cause: error }));
      // As in Dockerfile.runtime: tsc copies no .proto, and the gRPC server loads it next to its module.
      copyFileSync(`${ROOT}runtime/protocol/grpc_predict_v2.proto`, `${COMPILED}/runtime/protocol/grpc_predict_v2.proto`);
      resolve(`${COMPILED}/runtime/main.js`);
    });
  });
  return compiling;
}

/**
 * The runtime (compiled) in its own process, configured by `env` as the operator configures it, on
 * top of any MODELSHIP_* setting the benchmark itself was started with (to try one across a whole
 * benchmark, e.g. `MODELSHIP_INTRA_OP_THREADS=1 npm run bench:heavy`).
 */
export async function spawnRuntime(env: Record<string, string>, nodeFlags: readonly string[] = []): Promise<ChildProcess> {
  const given = Object.entries(process.env).filter((entry): entry is [string, string] => entry[0].startsWith('MODELSHIP_') && entry[1] !== undefined);
  return spawn(process.execPath, [...nodeFlags, await compiledRuntime()], {
    cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...Object.fromEntries(given), ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** The runtime's settings for serving the wide MLP as the benchmarks measure it, gRPC off unless `more` turns it on. */
export function wideRuntimeEnv(port: number, more: Record<string, string> = {}): Record<string, string> {
  return {
    MODELSHIP_MODEL_URI: WIDE_MODEL, MODELSHIP_MODEL_NAME: 'wide', MODELSHIP_PORT: String(port), MODELSHIP_GRPC_PORT: '0', MODELSHIP_LOG_LEVEL: 'warn', ...more,
  };
}

/** A running runtime's answer to the first 1-row JSON request: the floors and ceilings answer with it. */
export async function firstAnswer(url: string): Promise<Buffer> {
  const response = await fetch(`${url}${WIDE_INFER_PATH}`, { method: 'POST', body: oneRowRequests()[0], headers: { 'content-type': 'application/json' } });
  if (!response.ok) throw new Error(`the runtime answered the first request with HTTP ${response.status}: ${await response.text()}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The runtime's answer to the first request, from a runtime started for it and stopped after. */
export async function runtimeAnswer(): Promise<Buffer> {
  const port = await freePort();
  const runtime = await spawnRuntime(wideRuntimeEnv(port));
  runtime.stdout?.resume();
  try {
    await waitReady(`http://127.0.0.1:${port}/v2/health/ready`, runtime, false);
    return await firstAnswer(`http://127.0.0.1:${port}`);
  } finally {
    await stop(runtime);
  }
}

/** Polls until `url` answers with `okStatus` (the naive server has no health route: any answer will do). */
export async function waitReady(url: string, child: ChildProcess, anyStatus: boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(url).then((r) => anyStatus || r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready in 60 s`);
}

/** CPU seconds (user + system) a process has used, from /proc: a server's own cost, whatever its clients'. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

export async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** The 1-row requests of oneRowRequests with the data as binary tensor data (extension), and the JSON header's length. */
export function oneRowBinaryRequests(): { bodies: Buffer[]; headerLength: number } {
  const samples = new Float32Array(readFileSync(SAMPLES).buffer.slice(0));
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES], parameters: { binary_data_size: FEATURES * 4 } }],
    outputs: ['label', 'probabilities'].map((name) => ({ name, parameters: { binary_data: true } })),
  }));
  const rows = Math.min(samples.length / FEATURES, 256);
  const bodies = Array.from({ length: rows }, (_, r) => Buffer.concat([header, Buffer.from(samples.buffer, r * FEATURES * 4, FEATURES * 4)]));
  return { bodies, headerLength: header.length };
}

/** 1-row JSON V2 requests for the wide MLP, from its held-out validation rows. */
export function oneRowRequests(): Buffer[] {
  const samples = new Float32Array(readFileSync(SAMPLES).buffer.slice(0));
  const rows = samples.length / FEATURES;
  return Array.from({ length: Math.min(rows, 256) }, (_, r) => Buffer.from(JSON.stringify({
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, FEATURES], data: Array.from(samples.subarray(r * FEATURES, (r + 1) * FEATURES)) }],
  })));
}

