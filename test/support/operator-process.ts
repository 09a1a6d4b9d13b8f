import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessCommand } from './image-replay.ts';
import { scrapeSample } from './prometheus-text.ts';

export interface OperatorProcess {
  identity: string;
  metricsUrl: string;
  child: ChildProcess;
  logs: Record<string, unknown>[];
  /** Sum of a counter or gauge over all label sets matching `labels`, from /metrics. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** What /readyz answers: its status code and JSON body. */
  readiness(): Promise<{ status: number; body: { status: string; reason?: string } }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const repoRoot = new URL('../../', import.meta.url).pathname;

export interface StartOperatorOptions {
  /** Run the tsc output (`npm run build`) as the image does, instead of the sources through tsx. */
  compiled?: boolean;
  /** Extra node flags before the entry point, e.g. --cpu-prof (not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** Run this command (a replayed image's, with only its environment) instead of a node from this checkout. */
  command?: ProcessCommand;
}

/** Runs the real operator entry point (operator/main.ts) as its own process against the test plane. */
export async function startOperator(
  kubeconfigPath: string, identity: string, env: Record<string, string> = {}, options: StartOperatorOptions = {},
): Promise<OperatorProcess> {
  const args = [...(options.nodeArgs ?? []), ...(options.compiled ? ['dist/operator/main.js'] : ['--import', 'tsx', 'operator/main.ts'])];
  const operatorEnv = {
    KUBECONFIG: kubeconfigPath,
    POD_NAME: identity,
    MODELSHIP_METRICS_ADDRESS: '127.0.0.1',
    MODELSHIP_METRICS_PORT: '0',
    MODELSHIP_LEADER_ELECTION_NAMESPACE: 'default',
    // Long enough to ride out the apiserver restart test; the failover test waits one lease out.
    MODELSHIP_LEASE_DURATION_SECONDS: '20',
    MODELSHIP_RENEW_DEADLINE_SECONDS: '15',
    MODELSHIP_RETRY_PERIOD_SECONDS: '2',
    MODELSHIP_RUNTIME_IMAGE: 'ghcr.io/modelship/runtime:test',
    MODELSHIP_LOG_LEVEL: 'debug',
    ...env,
  };
  const { command } = options;
  const child = command
    ? spawn(command.file, command.args, { cwd: command.cwd, uid: command.uid, gid: command.gid, stdio: ['ignore', 'pipe', 'pipe'], env: { ...command.env, ...operatorEnv } })
    : spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...operatorEnv } });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'operator serving /healthz, /readyz, /metrics') resolve(entry.port as number);
      } catch {
        logs.push({ raw: line });
      }
    });
    child.once('exit', (code) => reject(new Error(`operator exited with ${code} before serving: ${stderr.slice(-2000)}`)));
    // The port comes from an info-level log line; a quieter log level would wait here forever.
    setTimeout(() => reject(new Error(`operator did not log its metrics port within 30 s: ${stderr.slice(-2000)}`)), 30_000).unref();
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  return {
    identity, metricsUrl, child, logs,
    metric: (name, labels = {}) => scrapeSample(metricsUrl, name, labels),
    async readiness() {
      const response = await fetch(new URL('/readyz', metricsUrl));
      return { status: response.status, body: await response.json() as { status: string; reason?: string } };
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await Promise.race([exited, sleep(25_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return exited;
      }
      return code;
    },
  };
}
