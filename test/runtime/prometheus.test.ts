import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { PREDICTION_LATENCY_METRIC } from '../../operator/desired/autoscaling/latency.ts';
import type { RunningRuntime } from '../../runtime/server.ts';
import { eventually } from '../support/eventually.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus-server.ts';
import { fraudRequest, modelPath, postJson, REPO_ROOT, startTestRuntime } from './helpers.ts';
import { sampleSum } from '../support/prometheus-text.ts';

interface AdapterRule { seriesQuery: string; name: { matches: string; as: string }; metricsQuery: string }
interface PromVector { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } }

const NAMESPACE = 'models';
const POD = 'fraud-7d9f-abcde';

/** The adapter's template for one pod, as prometheus-adapter renders it for an HPA's Pods metric. */
function renderForPod(template: string): string {
  return template.replaceAll('<<.LabelMatchers>>', `namespace="${NAMESPACE}",pod=~"${POD}"`).replaceAll('<<.GroupBy>>', 'pod');
}

describe('runtime metrics through a real Prometheus and the prometheus-adapter rule (HPA prediction_latency)', function () {
  this.timeout(120_000);
  let runtime: RunningRuntime;
  let prometheus: PrometheusServer | undefined;
  let promUrl: string;
  let rule: AdapterRule;

  before(async () => {
    const rules = load(await readFile(join(REPO_ROOT, 'charts/modelship/files/prometheus-adapter-rules.yaml'), 'utf8')) as { rules: { custom: AdapterRule[] } };
    rule = rules.rules.custom[0] as AdapterRule;
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', revision: 'r1' });
    // Labels as the usual kubernetes-pods scrape job attaches them from pod metadata.
    prometheus = await startPrometheus(() => [{ job_name: 'modelship-runtime', static_configs: [{ targets: [new URL(runtime.url).host], labels: { namespace: NAMESPACE, pod: POD } }] }]);
    promUrl = prometheus.url;
  });

  after(async () => {
    await prometheus?.close();
    await runtime?.close();
  });

  const query = async (promql: string): Promise<PromVector['data']['result']> => {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as PromVector;
    expect(body.status, promql).to.equal('success');
    return body.data.result;
  };

  it('names the metric the HPA asks for and finds the runtime series by pod', async () => {
    expect(rule.name.as).to.equal(PREDICTION_LATENCY_METRIC);
    await eventually(async () => {
      const series = await query(rule.seriesQuery);
      expect(series.map((s) => s.metric)).to.deep.include.members([{
        __name__: 'prediction_latency_seconds_count', namespace: NAMESPACE, pod: POD, job: 'modelship-runtime',
        instance: new URL(runtime.url).host, model: 'fraud', version: '1', revision: 'r1',
      }]);
    }, { timeoutMs: 20_000 });
  });

  it('serves the mean request latency in seconds, as the runtime measured it', async () => {
    const idle = await eventually(async () => {
      const result = await query(renderForPod(rule.metricsQuery));
      expect(result).to.have.length(1);
      return Number(result[0]?.value[1]);
    }, { timeoutMs: 20_000 });
    expect(idle, 'an idle pod reads 0, not NaN').to.equal(0);

    for (let round = 0; round < 30; round++) {
      const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => postJson(`${runtime.url}/v2/models/fraud/infer`, fraudRequest(4, round * 8 + i))));
      expect(responses.map((r) => r.status)).to.deep.equal(new Array(8).fill(200));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const text = await (await fetch(`${runtime.url}/metrics`)).text();
    const runtimeMean = sampleSum(text, 'prediction_latency_seconds_sum') / sampleSum(text, 'prediction_latency_seconds_count');
    expect(sampleSum(text, 'prediction_latency_seconds_count')).to.equal(240);

    const value = await eventually(async () => {
      const result = await query(renderForPod(rule.metricsQuery));
      const seconds = Number(result[0]?.value[1]);
      expect(result[0]?.metric).to.deep.equal({ pod: POD });
      expect(seconds).to.be.greaterThan(0);
      return seconds;
    }, { timeoutMs: 20_000 });
    expect(value, `adapter value ${value} s vs runtime mean ${runtimeMean} s`).to.be.within(runtimeMean / 2, runtimeMean * 2);
    expect(value, 'seconds, not milliseconds').to.be.below(0.5);
  });
});
