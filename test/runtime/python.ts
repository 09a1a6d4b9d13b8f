import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers.ts';

const run = promisify(execFile);

/** Creates or updates .venv (runtime/models/requirements.txt + tritonclient[http]); returns its python. */
export async function ensurePython(): Promise<string> {
  const { stdout } = await run('bash', [`${REPO_ROOT}test/runtime/ensure-python.sh`], { cwd: REPO_ROOT, maxBuffer: 16 << 20, timeout: 900_000 });
  const python = stdout.trim().split('\n').at(-1);
  if (!python) throw new Error('ensure-python.sh printed no python path');
  return python;
}

export async function runPython(python: string, args: readonly string[], timeoutMs = 300_000): Promise<string> {
  const { stdout } = await run(python, [...args], { cwd: REPO_ROOT, maxBuffer: 64 << 20, timeout: timeoutMs });
  return stdout;
}
