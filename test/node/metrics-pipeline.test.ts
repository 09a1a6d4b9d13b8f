import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { DASHBOARD_PATH } from '../../scripts/gen-chart.ts';
import { plane } from '../integration/context.ts';
import { REPO_ROOT } from '../runtime/helpers.ts';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { sampleSum } from '../support/prometheus-text.ts';
import { leaveNamespace, MODEL_STORE_NAMESPACE, prepareNamespace, readyPodsOf } from './cluster.ts';
import { startLoad } from './load.ts';
import { scrapeRuntimePods, type RuntimePrometheus } from './runtime-prometheus.ts';

const NAME = 'fraud-detector';

interface AdapterRule { seriesQuery: string; metricsQuery: string }

/**
 * The metrics pipeline as a cluster runs it: a real Prometheus scrapes the runtime pods of the
 * fraud-detector example at their pod IPs on the real node, selected and labelled by the chart's
 * PodMonitor (translated as the Prometheus Operator translates it), and the prometheus-adapter rule
 * and the dashboard read the pods' real series by namespace and pod. The one stand-in: Debian's
 * Prometheus has no kubernetes_sd, so the test lists the pods into file_sd with the same meta labels.
 */
describe("real node: Prometheus scrapes the runtime pods through the chart's PodMonitor (pod discovery stood in by file_sd)", function () {
  this.timeout(10 * 60_000);
  const namespace = `metrics-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const readyPods = () => readyPodsOf(kubectl, namespace, `app.kubernetes.io/instance=${NAME}`);
  let operator: OperatorProcess;
  let scraping: RuntimePrometheus | undefined;
  const query = (promql: string) => scraping!.query(promql);

  before(async () => {
    operator = await prepareNamespace(kubectl, namespace, 'operator-metrics');
    scraping = await scrapeRuntimePods(kubectl);
  });

  after(async () => {
    await scraping?.stop();
    await leaveNamespace(kubectl, namespace, operator);
  });

  it("discovers exactly the runtime pods, labelled by namespace and pod, at their pod IPs", async () => {
    await kubectl(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'examples', 'fraud-detector.yaml')]);
    const pods = await eventually(async () => {
      const ready = await readyPods();
      expect(ready, 'the example runs minReplicas: 2').to.have.length(2);
      return ready;
    }, { timeoutMs: 240_000, intervalMs: 1_000 });

    const job = scraping!.job;
    await eventually(async () => {
      const up = await query(`up{job="${job}"}`);
      expect(up.map((series) => ({ namespace: series.metric.namespace, pod: series.metric.pod, instance: series.metric.instance, up: series.value[1] })))
        .to.have.deep.members(pods.map((pod) => ({ namespace, pod: pod.metadata.name, instance: `${pod.status.podIP}:8080`, up: '1' })));
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
    expect(await query(`up{job="${job}",namespace="${MODEL_STORE_NAMESPACE}"}`), 'the model store pod is not a runtime').to.deep.equal([]);
  });

  it("gives the adapter rule each pod's mean latency in seconds, as the pod measured it", async () => {
    const pods = await readyPods();
    // Each pod gets requests of its own (kube-proxy balances connections, and two clients' connections
    // may all land on one pod).
    const loadRuns = pods.map((pod) => startLoad(`http://${pod.status.podIP}:8080/v2/models/${NAME}/infer`, { concurrency: 1, perSecond: 50, maxSeconds: 20, maxRequests: 1_000 }));
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const answers = (await Promise.all(loadRuns.map((run) => run.stop()))).flat();
    expect(answers.filter((answer) => answer.status !== 200), 'failed requests').to.deep.equal([]);

    const rules = load(await readFile(join(CHART, 'files', 'prometheus-adapter-rules.yaml'), 'utf8')) as { rules: { custom: AdapterRule[] } };
    const rule = rules.rules.custom[0]!;
    const series = await query(rule.seriesQuery);
    expect(series.filter((s) => s.metric.namespace === namespace).map((s) => s.metric.pod)).to.include.members(pods.map((pod) => pod.metadata.name));

    for (const pod of pods) {
      const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`)).text();
      const podMean = sampleSum(text, 'prediction_latency_seconds_sum') / sampleSum(text, 'prediction_latency_seconds_count');
      const rendered = rule.metricsQuery.replaceAll('<<.LabelMatchers>>', `namespace="${namespace}",pod=~"${pod.metadata.name}"`).replaceAll('<<.GroupBy>>', 'pod');
      const seconds = await eventually(async () => {
        const result = await query(rendered);
        expect(result.map((s) => s.metric)).to.deep.equal([{ pod: pod.metadata.name }]);
        const value = Number(result[0]!.value[1]);
        expect(value, `${pod.metadata.name}: the last minute held requests`).to.be.above(0);
        return value;
      }, { timeoutMs: 30_000 });
      expect(seconds, `${pod.metadata.name}: adapter ${seconds} s, pod's own mean ${podMean} s`).to.be.within(podMean / 3, podMean * 3);
    }
  });

  it("shows the example's replicas and request rate on the dashboard's panels", async () => {
    const dashboard = JSON.parse(await readFile(join(REPO_ROOT, DASHBOARD_PATH), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const panel = (title: string) => (dashboard.panels.find((p) => p.title === title)?.targets[0]?.expr ?? '')
      .replaceAll('$namespace', namespace).replaceAll('$model', NAME).replaceAll('$revision', '.*').replaceAll('$__rate_interval', '1m');
    const replicas = await query(panel('Replicas'));
    expect(replicas.map((series) => Number(series.value[1])), 'one revision, two pods').to.deep.equal([2]);
    const rate = await query(panel('Request rate'));
    expect(rate.map((series) => Number(series.value[1]))[0], 'requests per second over the last minute').to.be.above(0);
  });

});
