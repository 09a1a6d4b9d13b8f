import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig, type RuntimeConfig } from '../../runtime/config.ts';
import { RuntimeEnv } from '../../runtime/contract.ts';
import { startRuntime, type RunningRuntime } from '../../runtime/server.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MODELS_DIR = `${REPO_ROOT}examples/models`;
export const modelPath = (file: string): string => `${MODELS_DIR}/${file}`;

/** Held-out in-distribution inputs written by build_models.py (raw little-endian float32, row-major). */
export async function readValidationSamples(family: 'fraud' | 'wide-mlp'): Promise<Float32Array> {
  const bytes = await readFile(modelPath(`${family}-validation.f32`));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

type EnvOverrides = Partial<Record<keyof typeof RuntimeEnv, string>>;

export function configFor(overrides: EnvOverrides): RuntimeConfig {
  const env: Record<string, string> = { [RuntimeEnv.port]: '0', [RuntimeEnv.grpcPort]: '0', [RuntimeEnv.logLevel]: 'silent' };
  for (const [key, value] of Object.entries(overrides)) env[RuntimeEnv[key as keyof typeof RuntimeEnv]] = value as string;
  return loadConfig(env);
}

/** Captured JSON log lines of an in-process runtime. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger = pino(
    { level: 'info' },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  );

  at(level: number): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line.level === level);
  }
}

export async function startTestRuntime(overrides: EnvOverrides, logs = new LogCapture()): Promise<RunningRuntime & { logs: LogCapture }> {
  const runtime = await startRuntime(configFor(overrides), { host: '127.0.0.1', logger: logs.logger });
  return Object.assign(runtime, { logs });
}

export interface JsonResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<JsonResponse<T>> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export async function postJson<T = Record<string, unknown>>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

export interface V2InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: V2Output[];
  error?: string;
}

/** Deterministic pseudo-random floats (mulberry32), so tests need no fixtures. */
export function seededFloats(seed: number, count: number, scale = 1): number[] {
  let state = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(Math.fround(((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale));
  }
  return out;
}

export function fraudRequest(rows: number, seed: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 30], data: seededFloats(seed, rows * 30, 3) }], ...extra };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

/**
 * Opens `count` connections and has the server answer a liveness probe on each, so all are accepted
 * and idle: whatever is then written on them in one synchronous loop reaches the server in the same
 * I/O poll, in that order.
 */
export async function openConnections(url: string, count: number): Promise<Socket[]> {
  const { hostname, port } = new URL(url);
  return Promise.all(Array.from({ length: count }, () => new Promise<Socket>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET /v2/health/live HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
      let seen = '';
      const onData = (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        if (seen.endsWith('{"live":true}')) {
          socket.off('data', onData);
          resolve(socket);
        }
      };
      socket.on('data', onData);
    });
    socket.once('error', reject);
  })));
}

/** Everything the server sends on a socket until it closes, split into status, header block and body. */
export function responseOf(socket: Socket): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.slice(9, 12)), headers: text.slice(0, split), body: text.slice(split + 4) });
    });
  });
}

/** An HTTP/1.1 POST that closes its connection after the answer. */
export function rawPost(url: string, path: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): Buffer {
  const { hostname } = new URL(url);
  const extra = Object.entries({ 'Content-Type': 'application/json', ...headers }).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return Buffer.concat([
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`),
    Buffer.from(body),
  ]);
}

/** A deterministic burst: every request written in one synchronous loop on pre-opened connections. */
export async function burst(url: string, path: string, bodies: readonly string[]): Promise<RawResponse[]> {
  const sockets = await openConnections(url, bodies.length);
  const responses = sockets.map(responseOf);
  sockets.forEach((socket, i) => socket.write(rawPost(url, path, bodies[i] as string)));
  return Promise.all(responses);
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
