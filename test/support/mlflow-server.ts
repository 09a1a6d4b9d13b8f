import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { freePort } from '../plane/ports.ts';
import { eventually } from './eventually.ts';

const run = promisify(execFile);

export interface MlflowServer {
  url: string;
  /** Logs an ONNX file with MLflow's onnx flavor as a new version of `name`: its version and the SHA-256 of the file MLflow stored. */
  register(name: string, onnxPath: string): Promise<{ version: string; sha256: string }>;
  /** Points an alias at a version, as "promote to production" in the registry does. */
  setAlias(name: string, alias: string, version: string): Promise<void>;
  /** Stops the server; its store stays, and start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real MLflow tracking server (PyPI mlflow in .venv-mlflow, test/support/ensure-mlflow.sh) on a
 * free loopback port: sqlite backend store, local artifact store served through its artifact proxy.
 */
/** `log`: where to tell about a first-time install; `signal`: aborts that install (the caller is stopping). */
export async function startMlflow(options: { log?: (line: string) => void; signal?: AbortSignal; /** Default 127.0.0.1; a real node's pods reach the node's bridge address. */ host?: string;
  /** Names clients may reach it by besides its address (MLflow refuses other Host headers), e.g. a Service's. */ alsoKnownAs?: string[];
} = {}): Promise<MlflowServer> {
  const ensuring = run('bash', [join(REPO_ROOT, 'test/support/ensure-mlflow.sh')], { timeout: 900_000, maxBuffer: 16 << 20, ...(options.signal && { signal: options.signal }) });
  // The first install takes a minute or more: say so rather than sit silent.
  if (options.log) ensuring.child.stderr?.on('data', (chunk: Buffer) => { for (const line of chunk.toString().split('\n')) if (line.trim()) options.log?.(line); });
  const bin = (await ensuring).stdout.trim().split('\n').at(-1) ?? '';
  const dir = await mkdtemp(join(tmpdir(), 'modelship-mlflow-'));
  const host = options.host ?? '127.0.0.1';
  const port = await freePort();
  const url = `http://${host}:${port}`;
  let server: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    output = '';
    server = spawn(join(bin, 'mlflow'), [
      'server', '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--artifacts-destination', join(dir, 'artifacts'),
      '--serve-artifacts', '--host', host, '--port', String(port),
      ...(options.alsoKnownAs?.length ? ['--allowed-hosts', [`${host}:${port}`, host, ...options.alsoKnownAs].join(',')] : []), '--workers', '1',
    ], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      // The registry needs no background job workers (a pool of Python processes on 2 cores).
      env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
    });
    for (const stream of [server.stdout, server.stderr]) stream?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    await eventually(async () => {
      expect(server?.exitCode, `mlflow server exited: ${output}`).to.equal(null);
      expect((await fetch(`${url}/health`)).status).to.equal(200);
    }, { timeoutMs: 120_000, intervalMs: 500 });
  };
  // The server forks workers: stop the whole process group it leads.
  const stop = async () => {
    const running = server;
    server = undefined;
    if (!running?.pid || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    process.kill(-running.pid, 'SIGTERM');
    await exited;
    await eventually(async () => expect(await fetch(`${url}/health`).then(() => 'up', () => 'down')).to.equal('down'), { timeoutMs: 30_000 });
  };
  const python = async (...args: string[]) =>
    (await run(join(bin, 'python'), [join(REPO_ROOT, 'test/support/mlflow_register.py'), url, ...args], { cwd: dir, timeout: 300_000, maxBuffer: 16 << 20 })).stdout;

  await start();
  return {
    url,
    register: async (name, onnxPath) => {
      const [version = '', sha256 = ''] = ((await python('log', name, onnxPath)).trim().split('\n').at(-1) ?? '').split(' ');
      return { version, sha256 };
    },
    setAlias: async (name, alias, version) => void (await python('alias', name, alias, version)),
    stop,
    start,
    close: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
