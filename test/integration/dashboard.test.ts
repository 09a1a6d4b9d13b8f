import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import type { RunningRuntime } from '../../runtime/server.ts';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { DASHBOARD_PATH } from '../../scripts/gen-chart.ts';
import { fraudRequest, modelPath, postJson, startTestRuntime } from '../runtime/helpers.ts';
import { CHART } from '../support/chart.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus-server.ts';
import { toolPath } from '../support/test-tools.ts';
import { plane } from './context.ts';

interface DashboardJson {
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
  panels: { title: string; targets: { expr: string }[] }[];
}
interface PromResponse<T> { status: string; error?: string; data: T }
type Vector = { metric: Record<string, string>; value: [number, string] }[];

const namespace = `dashboard-${Date.now().toString(36)}`;
const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);

/**
 * Every PromQL expression of the chart's Grafana dashboard, its template variables filled in as
 * Grafana fills them, evaluated on a real Prometheus scraping real runtimes (one per revision of a
 * canary, standing for its pods: KWOK runs no containers) and the real operator: each must evaluate
 * without error and return series. kube-state-metrics does not run here; the dashboard reads replicas
 * from the runtime series instead, so no panel depends on it.
 */
describe('Grafana dashboard: every expression on a real Prometheus (runtimes of a canary, the operator)', function () {
  this.timeout(300_000);
  let operator: OperatorProcess;
  let prometheus: PrometheusServer;
  const runtimes: RunningRuntime[] = [];
  let stable = '';
  let candidate = '';

  const query = async <T>(path: string): Promise<PromResponse<T>> => {
    const body = (await (await fetch(`${prometheus.url}${path}`)).json()) as PromResponse<T>;
    expect(body.status, `${decodeURIComponent(path)}: ${body.error}`).to.equal('success');
    return body;
  };
  const apply = (version: string) => kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify({
    apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace },
    spec: {
      model: { uri: `https://models.example.com/fraud/v${version}/model.onnx`, sha256: version.repeat(64), version },
      // Without Istio the weight is the candidate's share of the replicas: 1 of 5 is 20%.
      replicas: 5,
      // One step without a pause: the canary holds at 20% until promoted.
      rollout: { strategy: 'Canary', canary: { steps: [{ weight: 20 }] } },
    },
  }));
  const status = async () => JSON.parse(await kubectl(['get', 'md', 'fraud', '-n', namespace, '-o', 'jsonpath={.status}'])) as { stableRevision?: string; candidateRevision?: string; weights?: { stable: number; candidate: number } };

  before(async function () {
    this.timeout(300_000);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    operator = await startOperator(plane().kubeconfigPath, `dashboard-${namespace}`, { MODELSHIP_WATCH_NAMESPACE: namespace });
    await apply('1');
    stable = await eventually(async () => {
      const current = await status();
      expect(current.stableRevision).to.have.length(7);
      return current.stableRevision ?? '';
    });
    await apply('2');
    candidate = await eventually(async () => {
      const current = await status();
      expect(current.weights, JSON.stringify(current)).to.deep.equal({ stable: 80, candidate: 20 });
      return current.candidateRevision ?? '';
    }, { timeoutMs: 90_000 });

    for (const [revision, model] of [[stable, 'fraud-fp32.onnx'], [candidate, 'fraud-int8-qdq.onnx']] as const) {
      runtimes.push(await startTestRuntime({ modelUri: modelPath(model), modelName: 'fraud', revision }));
    }
    // The operator is scraped as the chart's ServiceMonitor scrapes it: its honorLabels decides whose namespace label wins.
    const { stdout } = await run(await toolPath('build-helm.sh'), ['template', 'modelship', CHART, '--kube-version', 'v1.33.0', '--set', 'serviceMonitor.enabled=true', '--show-only', 'templates/servicemonitor.yaml']);
    const honorLabels = (load(stdout) as { spec: { endpoints: { honorLabels?: boolean }[] } }).spec.endpoints[0]?.honorLabels ?? false;
    prometheus = await startPrometheus((dir) => [
      // Labels as a pod scrape (the chart's PodMonitor) attaches them.
      { job_name: 'modelship-runtimes', file_sd_configs: [{ files: [join(dir, 'runtimes.json')], refresh_interval: '1s' }] },
      { job_name: 'modelship-operator', honor_labels: honorLabels, static_configs: [{ targets: [new URL(operator.metricsUrl).host], labels: { namespace: 'modelship-system', pod: 'modelship-0' } }] },
    ]);
    await writeFile(join(prometheus.dir, 'runtimes.json'), JSON.stringify(runtimes.map((runtime, i) => ({ targets: [new URL(runtime.url).host], labels: { namespace, pod: `fraud-${i}` } }))));

    // Load only once both runtimes are scraped, spread over several scrapes, so every rate has an increase to show:
    // bounded rounds per revision, one request the model refuses among them (a 400 in the status-code panel).
    await eventually(async () => {
      const { data } = await query<{ result: Vector }>(`/api/v1/query?query=${encodeURIComponent('sum(up{job="modelship-runtimes"})')}`);
      expect(Number(data.result[0]?.value[1])).to.equal(2);
    }, { timeoutMs: 30_000 });
    for (let round = 0; round < 12; round++) {
      for (const runtime of runtimes) {
        const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => postJson(`${runtime.url}/v2/models/fraud/infer`, fraudRequest(1 + (i % 3), round * 4 + i))));
        expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200]);
        if (round === 0) expect((await postJson(`${runtime.url}/v2/models/fraud/infer`, fraudRequest(1, 0, { inputs: [] }))).status).to.equal(400);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  after(async () => {
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    await prometheus?.close();
    await Promise.all(runtimes.map((runtime) => runtime.close()));
  });

  const dashboard = async () => JSON.parse(await readFile(join(REPO_ROOT, DASHBOARD_PATH), 'utf8')) as DashboardJson;
  /** The variables as Grafana fills them: a multi-value selection becomes a regex alternation. */
  const fill = (expr: string) => expr
    .replaceAll('$namespace', namespace)
    .replaceAll('$model', 'fraud')
    .replaceAll('$revision', `(${stable}|${candidate})`)
    .replaceAll('$__rate_interval', '1m');

  it('finds the namespace, model and both revisions for the template variables', async () => {
    const variables = (await dashboard()).templating.list.filter((v) => v.type === 'query');
    const expected: Record<string, string[]> = { namespace: [namespace], model: ['fraud'], revision: [stable, candidate] };
    expect(variables.map((v) => v.name)).to.deep.equal(Object.keys(expected));
    for (const variable of variables) {
      const definition = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const [, selector, label] = /^label_values\((.+), (\w+)\)$/.exec(definition) ?? [];
      expect(label, definition).to.equal(variable.name);
      await eventually(async () => {
        const { data } = await query<string[]>(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(fill(selector ?? ''))}`);
        expect(data, definition).to.include.members(expected[variable.name] ?? []);
      }, { timeoutMs: 30_000 });
    }
  });

  it('evaluates every panel expression without error, each returning series', async () => {
    const panels = (await dashboard()).panels;
    expect(panels.map((p) => p.title)).to.include.members(['Request rate', 'Error rate (5xx share)', 'Prediction latency p50 / p99', 'Batch size', 'Queue depth', 'Replicas', 'Rollout weights', 'Predicted class shares']);
    for (const panel of panels) {
      for (const target of panel.targets) {
        const expr = fill(target.expr);
        expect(expr, `${panel.title}: a variable the test does not fill`).to.not.include('$');
        await eventually(async () => {
          const { data } = await query<{ result: Vector }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
          expect(data.result, `${panel.title}: ${expr}`).to.have.length.greaterThan(0);
          expect(data.result.map((series) => Number(series.value[1])).every(Number.isFinite), `${panel.title}: ${expr} ${JSON.stringify(data.result)}`).to.equal(true);
        }, { timeoutMs: 30_000 });
      }
    }
  });

  it("shows the canary's weights by revision, the replicas and the error rate as they are", async () => {
    const panels = (await dashboard()).panels;
    const values = async (title: string, index = 0) => {
      const expr = fill(panels.find((p) => p.title === title)?.targets[index]?.expr ?? '');
      const { data } = await query<{ result: Vector }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return Object.fromEntries(data.result.map((series) => [series.metric.revision, Number(series.value[1])]));
    };
    expect(await values('Rollout weights')).to.deep.equal({ [stable]: 80, [candidate]: 20 });
    expect(await values('Replicas')).to.deep.equal({ [stable]: 1, [candidate]: 1 });
    expect(await values('Error rate (5xx share)'), 'a 400 is no server error').to.deep.equal({ [stable]: 0, [candidate]: 0 });
  });
});

const run = promisify(execFile);
