import { spawn, type ChildProcess } from 'node:child_process';
import { RuntimeEnv } from '../../runtime/contract.ts';
import type { ProcessCommand } from '../support/image-replay.ts';
import { REPO_ROOT } from './helpers.ts';

export interface RuntimeProcess {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  /** The last 8 KiB of stderr (where a crash's stack trace lands). */
  stderrTail(): string;
  /** Exit code (signal exits map to 128+n); rejects if the process outlives timeoutMs. */
  exited(timeoutMs?: number): Promise<number>;
  /** Resolves with the first log line matching, or rejects on exit/timeout. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * Runs the real entry point (tsx runtime/main.ts, or `command`: a replayed image's, with only its
 * environment) with MODELSHIP_* env, collecting its JSON log lines.
 */
export function spawnRuntime(env: Partial<Record<keyof typeof RuntimeEnv, string>>, command?: ProcessCommand): RuntimeProcess {
  const childEnv: Record<string, string> = command ? { ...command.env } : { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  childEnv[RuntimeEnv.grpcPort] = '0';
  for (const [key, value] of Object.entries(env)) childEnv[RuntimeEnv[key as keyof typeof RuntimeEnv]] = value as string;
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  // node --import tsx, not the tsx CLI: the CLI sits between the test and the runtime and, when the
  // runtime's event loop is busy in session.run, turns a relayed SIGTERM into its own exit 143.
  const child = command
    ? spawn(command.file, command.args, { cwd: command.cwd, uid: command.uid, gid: command.gid, env: childEnv, stdio })
    : spawn(process.execPath, ['--import', 'tsx', 'runtime/main.ts'], { cwd: REPO_ROOT, env: childEnv, stdio });
  const lines: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
    for (const listener of listeners) listener();
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
  });
  const exit = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
  return {
    child,
    lines,
    stderrTail: () => stderr,
    exited: (timeoutMs = 30_000) => Promise.race([
      exit,
      new Promise<number>((_, reject) => setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`runtime did not exit within ${timeoutMs} ms`));
      }, timeoutMs).unref()),
    ]),
    waitForLog: (match, timeoutMs = 30_000) => new Promise((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (found) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no matching log line within ${timeoutMs} ms; saw ${JSON.stringify(lines)}`));
      }, timeoutMs);
      listeners.add(check);
      void exit.then(() => setTimeout(() => {
        if (listeners.has(check)) {
          listeners.delete(check);
          clearTimeout(timer);
          reject(new Error(`runtime exited; saw ${JSON.stringify(lines)}`));
        }
      }, 50));
      check();
    }),
  };
}
