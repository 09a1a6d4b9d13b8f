import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A child process whose output goes to a log file and which is killed when this Node process
 * exits for any reason we can observe, so a crashed test run leaves nothing behind.
 */
export class SupervisedProcess {
  private readonly child: ChildProcess;
  private exited: Promise<number | null>;
  private stopping = false;

  constructor(readonly name: string, command: string, args: string[], readonly logFile: string, env?: NodeJS.ProcessEnv) {
    const log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout?.pipe(log);
    this.child.stderr?.pipe(log);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    liveProcesses.add(this);
    void this.exited.then(() => liveProcesses.delete(this));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Rejects when the process exits before `stop()` was asked: a crash during start-up. */
  crashed(): Promise<never> {
    return this.exited.then((code) => {
      if (this.stopping) return new Promise<never>(() => {});
      throw new Error(`${this.name} exited with code ${code}; see ${this.logFile}`);
    });
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

const liveProcesses = new Set<SupervisedProcess>();
process.once('exit', () => {
  for (const proc of liveProcesses) proc.killNow();
});
