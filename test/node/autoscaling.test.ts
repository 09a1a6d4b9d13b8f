import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuCores } from '../../operator/desired/quantity.ts';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { startMetricsServer, type RunningMetricsServer } from '../support/metrics-server.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { leaveNamespace, modelDigest, type Pod, prepareNamespace, readyPodsOf } from './cluster.ts';
import { realNode } from './context.ts';
import { startLoad } from './load.ts';

const NAME = 'fraud-autoscaled';

/**
 * The plain-HPA engine with a real metrics pipeline: metrics-server reads the pods' CPU from the
 * kubelet, the HPA controller reads it through the aggregation layer, and the ModelDeployment's HPA
 * (spec.autoscaling.targetCPUUtilization) adds runtime pods under real load and removes them after.
 */
describe('real node: a ModelDeployment autoscaled on CPU scales with real load (metrics-server, HPA)', function () {
  this.timeout(12 * 60_000);
  const namespace = `autoscaling-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const readyPods = () => readyPodsOf(kubectl, namespace, `app.kubernetes.io/instance=${NAME}`);
  let operator: OperatorProcess;
  let metricsServer: RunningMetricsServer | undefined;
  let logDir: string;

  before(async () => {
    logDir = await mkdtemp(join(tmpdir(), 'modelship-autoscaling-'));
    operator = await prepareNamespace(kubectl, namespace, 'operator-autoscaling');
    metricsServer = await startMetricsServer(kubectl, plane().running.kubeconfigPath, realNode().node.hostAddress, logDir);
  });

  after(async () => {
    await metricsServer?.stop();
    await leaveNamespace(kubectl, namespace, operator);
    await rm(logDir, { recursive: true, force: true });
  });

  it('adds replicas while the load keeps CPU over the target, serves from them, and scales back when it stops', async () => {
    await kubectl(['apply', '-n', namespace, '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: NAME },
      spec: {
        model: { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: modelDigest('fraud-fp32.onnx'), version: '1' },
        runtime: { resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1' } } },
        autoscaling: {
          minReplicas: 1, maxReplicas: 3, targetCPUUtilization: 50,
          // Decide on every sample, so the test sees both directions within minutes.
          behavior: { scaleUp: { stabilizationWindowSeconds: 0 }, scaleDown: { stabilizationWindowSeconds: 0 } },
        },
      },
    }));
    await eventually(async () => expect(await readyPods()).to.have.length(1), { timeoutMs: 240_000, intervalMs: 1_000 });
    await eventually(async () => expect(await readyColumn()).to.equal('1/1'), { timeoutMs: 60_000 });

    // Each runtime pod's CPU, as the HPA reads it, before any load: the idle runtime is under the target.
    await eventually(async () => {
      const usage = await podCpuMillis();
      expect(usage.size, 'metrics.k8s.io has the pod').to.equal(1);
      for (const millis of usage.values()) expect(millis).to.be.below(50);
    }, { timeoutMs: 90_000, intervalMs: 2_000 });

    const clusterIp = (await kubectl(['get', 'service', NAME, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const loadStarted = Date.now();
    const load = startLoad(`http://${clusterIp}:8080/v2/models/${NAME}/infer`, { concurrency: 4, perSecond: 400, maxSeconds: 300 });
    try {
      const scaled = await eventually(async () => {
        const pods = await readyPods();
        expect(pods.length, `ready runtime pods (HPA: ${await hpaSummary()})`).to.be.at.least(2);
        return pods;
      }, { timeoutMs: 180_000, intervalMs: 2_000 });
      console.log(`      load -> ${scaled.length} ready replicas: ${((Date.now() - loadStarted) / 1000).toFixed(1)} s (HPA: ${await hpaSummary()})`);
      await eventually(async () => expect(await readyColumn()).to.equal(`${scaled.length}/${scaled.length}`), { timeoutMs: 60_000 });

      // kube-proxy spreads the Service's traffic over the added pods: each one answers requests.
      await eventually(async () => {
        for (const pod of await readyPods()) {
          expect(await servedRequests(pod), `requests served by ${pod.metadata.name}`).to.be.above(0);
        }
      }, { timeoutMs: 60_000, intervalMs: 2_000 });
    } finally {
      await load.stop();
    }
    const failed = load.answers.filter((answer) => answer.status !== 200);
    expect(load.answers.length, 'requests answered under load').to.be.above(1000);
    expect(failed, `failed requests: ${JSON.stringify(failed.slice(0, 3))}`).to.have.length(0);

    const loadStopped = Date.now();
    await eventually(async () => {
      expect((await readyPods()).length, `ready runtime pods (HPA: ${await hpaSummary()})`).to.equal(1);
      expect(await readyColumn()).to.equal('1/1');
    }, { timeoutMs: 240_000, intervalMs: 2_000 });
    console.log(`      load stopped -> back to 1 replica: ${((Date.now() - loadStopped) / 1000).toFixed(1)} s`);
  });


  /** The READY column of `kubectl get modelDeployment`. */
  async function readyColumn(): Promise<string> {
    return (await kubectl(['get', 'md', NAME, '-n', namespace, '-o', 'jsonpath={.status.ready}'])).trim();
  }

  async function hpaSummary(): Promise<string> {
    const hpa = JSON.parse(await kubectl(['get', 'hpa', NAME, '-n', namespace, '-o', 'json'])) as {
      status?: { currentReplicas?: number; desiredReplicas?: number; currentMetrics?: { resource?: { current?: { averageUtilization?: number } } }[] };
    };
    const utilization = hpa.status?.currentMetrics?.[0]?.resource?.current?.averageUtilization;
    return `cpu ${utilization ?? '?'}% of request, replicas ${hpa.status?.currentReplicas ?? '?'} -> ${hpa.status?.desiredReplicas ?? '?'}`;
  }

  async function podCpuMillis(): Promise<Map<string, number>> {
    const list = JSON.parse(await kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods?labelSelector=app.kubernetes.io/instance%3D${NAME}`])) as {
      items: { metadata: { name: string }; containers: { usage: { cpu: string } }[] }[];
    };
    return new Map(list.items.map((item) => [item.metadata.name, item.containers.reduce((sum, c) => sum + (cpuCores(c.usage.cpu) ?? NaN) * 1000, 0)]));
  }

  async function servedRequests(pod: Pod): Promise<number> {
    const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    return text.split('\n').filter((line) => line.startsWith('prediction_requests_total{') && line.includes('code="200"'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }
});
