import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { loadAll } from 'js-yaml';
import { CHART } from '../support/chart.ts';
import { startPodDiscovery } from '../support/pod-discovery.ts';
import { podMonitorScrapeConfigs, type PodMonitor } from '../support/pod-monitor.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus-server.ts';
import { toolPath } from '../support/test-tools.ts';
import { MODEL_STORE_NAMESPACE } from './cluster.ts';

const run = promisify(execFile);
type Kubectl = (args: string[], stdin?: string) => Promise<string>;
export type Vector = { metric: Record<string, string>; value: [number, string] }[];

export interface RuntimePrometheus {
  prometheus: PrometheusServer;
  /** The scrape job of the chart's PodMonitor ("<namespace>/<name>"). */
  job: string;
  query(promql: string): Promise<Vector>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus scraping the runtime pods (and the activator's, where it runs) on the real node
 * as the chart's PodMonitors have the Prometheus Operator scrape them (rendered by helm, every 2 s),
 * and `staticJobs` besides (every 1 s),
 * evaluating `ruleGroups` (a PrometheusRule's spec.groups).
 * Debian's Prometheus has no kubernetes_sd: test/support/pod-discovery.ts lists the pods for it
 * with the same meta labels.
 */
export async function scrapeRuntimePods(kubectl: Kubectl, staticJobs: { job: string; targets: string[] }[] = [], ruleGroups: readonly unknown[] = []): Promise<RuntimePrometheus> {
  const { stdout } = await run(await toolPath('build-helm.sh'), [
    'template', 'modelship', CHART, '--namespace', MODEL_STORE_NAMESPACE, '--kube-version', 'v1.33.0',
    '--set', 'podMonitor.enabled=true', '--set', 'podMonitor.interval=2s', '--show-only', 'templates/podmonitor.yaml',
  ]);
  // The runtime pods' monitor first, then the activator's: its pods are found again after a restart.
  const monitors = (loadAll(stdout) as (PodMonitor | null)[]).filter((monitor): monitor is PodMonitor => monitor !== null);
  const monitor = monitors[0]!;
  const prometheus = await startPrometheus((dir) => [
    ...monitors.flatMap((each) => podMonitorScrapeConfigs(each, join(dir, 'pods.json'))),
    ...staticJobs.map(({ job, targets }) => ({ job_name: job, scrape_interval: '1s', static_configs: [{ targets }] })),
  ], ruleGroups);
  const discovery = startPodDiscovery(kubectl, join(prometheus.dir, 'pods.json'));
  return {
    prometheus,
    job: `${monitor.metadata.namespace}/${monitor.metadata.name}`,
    async query(promql) {
      const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`)).json()) as { status: string; error?: string; data: { result: Vector } };
      expect(body.status, `${promql}: ${body.error}`).to.equal('success');
      return body.data.result;
    },
    async stop() {
      await discovery.stop();
      await prometheus.close();
    },
  };
}
