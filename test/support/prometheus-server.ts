import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { freePort } from '../plane/ports.ts';
import { eventually } from './eventually.ts';

export interface PrometheusServer {
  url: string;
  /** A scratch directory of this server's, for files its scrape configs read (file_sd targets). */
  dir: string;
  /** Stops the server; its data stays until close(). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real Prometheus (Debian's package, installed by test/support/ensure-prometheus.sh) on a free
 * loopback port, scraping every second with the given scrape configs (built from its scratch dir),
 * and evaluating the given rule groups every second.
 */
export async function startPrometheus(scrapeConfigs: (dir: string) => unknown[], ruleGroups: readonly unknown[] = []): Promise<PrometheusServer> {
  const binary = (await promisify(execFile)('bash', [join(REPO_ROOT, 'test/support/ensure-prometheus.sh')], { timeout: 300_000 })).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), 'modelship-prometheus-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // JSON is YAML: the rule groups as a PrometheusRule's spec.groups holds them.
  if (ruleGroups.length > 0) await writeFile(join(dir, 'rules.yml'), JSON.stringify({ groups: ruleGroups }));
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: scrapeConfigs(dir),
    ...(ruleGroups.length > 0 && { rule_files: [join(dir, 'rules.yml')] }),
  }));
  const server = spawn(binary, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr?.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4_000); });
  const stop = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  };
  await eventually(async () => {
    expect(server.exitCode, `Prometheus exited: ${log}`).to.equal(null);
    expect((await fetch(`${url}/-/ready`)).status).to.equal(200);
  }, { timeoutMs: 30_000 });
  return { url, dir, stop, close: async () => { await stop(); await rm(dir, { recursive: true, force: true }); } };
}
