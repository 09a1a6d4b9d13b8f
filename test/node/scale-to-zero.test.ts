import { expect } from 'chai';
import { plane } from '../integration/context.ts';
import { HELD_HEADER } from '../../operator/activator/server.ts';
import { fraudRequest } from '../runtime/helpers.ts';
import { installChartActivator, type RunningActivator } from '../support/activator.ts';
import { eventually } from '../support/eventually.ts';
import { modelDigest, podsOf, readyPodsOf } from './cluster.ts';
import { realNode } from './context.ts';
import { startLoad } from './load.ts';
import { startKedaPipeline, type KedaPipeline } from './keda-pipeline.ts';

const NAME = 'fraud-zero';

/**
 * Scale to zero with KEDA and the activator: the model goes to zero pods when idle; a request sent
 * through its Service at zero is held by the activator (its EndpointSlice leads the Service there),
 * KEDA sees it pending through Prometheus and scales the model from zero, and the request is answered
 * by the new pod. The activator runs as the chart installs it: its pod on the real node, from the
 * operator's image.
 */
describe('real node: a ModelDeployment scales to zero and back on its first request (KEDA, the activator)', function () {
  this.timeout(12 * 60_000);
  const namespace = `zero-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const pods = () => podsOf(kubectl, namespace, `app.kubernetes.io/instance=${NAME}`);
  let activator: RunningActivator | undefined;
  let pipeline: KedaPipeline | undefined;

  before(async () => {
    pipeline = await startKedaPipeline(kubectl, namespace, 'operator-zero', async () => {
      const serverVersion = (JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
      const started = await installChartActivator(kubectl, serverVersion, (image) => realNode().node.loadImage(image));
      activator = started;
      return {
        operatorEnv: { MODELSHIP_ACTIVATOR_SERVICE: started.service },
        stop: () => started.stop(),
      };
    });
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    console.log(`      --- activator log ---\n${await activator?.logs()}`);
    console.log(await kubectl(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']).catch((error: Error) => error.message));
    console.log(await kubectl(['get', 'endpointslices,pods,deployments,scaledobjects', '-n', namespace, '-o', 'wide']).catch((error: Error) => error.message));
  });

  after(async () => {
    await pipeline?.stop();
  });

  const autoscalingCondition = async () => {
    const conditions = JSON.parse(await kubectl(['get', 'md', NAME, '-n', namespace, '-o', 'jsonpath={.status.conditions}']) || '[]') as { type: string; status: string; reason: string; message: string }[];
    return conditions.find((c) => c.type === 'Autoscaling');
  };
  const activatorSlice = async () => (await kubectl(['get', 'endpointslice', `${NAME}-activator`, '-n', namespace, '--ignore-not-found', '-o', 'name'])).trim();

  const seconds = (ms: number | undefined) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);

  /** When, after `from`, KEDA asked for a replica and a pod turned ready (polled every 250 ms until stopped). */
  function watchColdStart(from: number): { stop(): Promise<{ scaledUpAfter?: number; readyAfter?: number }> } {
    const seen: { scaledUpAfter?: number; readyAfter?: number } = {};
    let stopped = false;
    const polling = (async () => {
      while (!stopped && seen.readyAfter === undefined) {
        const replicas = Number(await kubectl(['get', 'deployment', NAME, '-n', namespace, '-o', 'jsonpath={.spec.replicas}']).catch(() => '0'));
        if (replicas > 0) seen.scaledUpAfter ??= Date.now() - from;
        if ((await readyPodsOf(kubectl, namespace, `app.kubernetes.io/instance=${NAME}`).catch(() => [])).length > 0) seen.readyAfter = Date.now() - from;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    return {
      async stop() {
        await Promise.race([polling, new Promise((resolve) => setTimeout(resolve, 5_000))]);
        stopped = true;
        await polling;
        return seen;
      },
    };
  }

  it('goes to zero pods when idle; the first request at zero is held and answered by the pod it starts; no request fails; back to zero after', async () => {
    await kubectl(['apply', '-n', namespace, '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: NAME },
      spec: {
        model: { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: modelDigest('fraud-fp32.onnx'), version: '1' },
        runtime: { resources: { requests: { cpu: '100m', memory: '256Mi' } } },
        autoscaling: { minReplicas: 0, maxReplicas: 2, targetPredictionLatencyMs: 200, scaleToZeroAfterSeconds: 5 },
      },
    }));
    const condition = await eventually(async () => {
      const found = await autoscalingCondition();
      expect(found, 'Autoscaling condition').to.include({ status: 'True', reason: 'KEDA' });
      return found!;
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
    expect(condition.message).to.equal('a KEDA ScaledObject scales 0-2 replicas on mean prediction latency (200 ms); to zero after 5 s without requests, the activator holding the first HTTP requests until a pod is ready (gRPC calls are refused until then)');

    // Nothing has asked for the model: KEDA takes it to zero, and its Service leads to the activator.
    await eventually(async () => {
      expect(await pods(), 'runtime pods').to.have.length(0);
      expect(await activatorSlice(), 'the activator\'s EndpointSlice').to.equal(`endpointslice.discovery.k8s.io/${NAME}-activator`);
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    const md = JSON.parse(await kubectl(['get', 'md', NAME, '-n', namespace, '-o', 'json'])) as { status: { replicas?: number; readyReplicas?: number; conditions: { type: string; status: string; message: string }[] } };
    console.log(`      at zero: replicas ${md.status.replicas ?? 0}, Ready ${JSON.stringify(md.status.conditions.find((c) => c.type === 'Ready'))}`);

    // The activator's pod replaced by a rolling update (as an upgrade of the chart does): the model's
    // slice follows it to its new address, and Prometheus (the chart's PodMonitor) scrapes the new pod.
    const replaced = Date.now();
    const activatorAddresses = await activator!.rolloutRestart();
    await eventually(async () => {
      const addresses = (await kubectl(['get', 'endpointslice', `${NAME}-activator`, '-n', namespace, '-o', 'jsonpath={.endpoints[*].addresses[0]}'])).trim().split(/\s+/);
      expect(addresses, 'the model\'s activator slice').to.deep.equal(activatorAddresses);
    }, { timeoutMs: 30_000, intervalMs: 250 });
    console.log(`      activator restarted: the model's slice named only the new pod ${((Date.now() - replaced) / 1000).toFixed(1)} s after the rollout began`);

    const clusterIp = (await kubectl(['get', 'service', NAME, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const url = `http://${clusterIp}:8080/v2/models/${NAME}/infer`;
    const sent = Date.now();
    const milestones = watchColdStart(sent);
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fraudRequest(4, 7)), signal: AbortSignal.timeout(150_000) });
    const firstByte = Date.now() - sent;
    const { scaledUpAfter, readyAfter } = await milestones.stop();
    const body = await response.json() as { model_name?: string; outputs?: { name: string; shape: number[] }[]; error?: string };
    expect(response.status, JSON.stringify(body)).to.equal(200);
    expect(body.model_name).to.equal(NAME);
    expect(body.outputs?.map((output) => output.shape[0])).to.deep.equal(body.outputs?.map(() => 4));
    const held = Number(response.headers.get(HELD_HEADER));
    expect(held, 'the activator held the request').to.be.above(0);
    console.log(`      cold start (request at zero -> first byte of its answer): ${(firstByte / 1000).toFixed(1)} s, ${(held / 1000).toFixed(1)} s of it held by the activator; KEDA set 1 replica after ${seconds(scaledUpAfter)}, the pod was ready after ${seconds(readyAfter)}`);

    // Once a pod is ready the Service leads to the pods again, and requests reach them directly.
    await eventually(async () => {
      expect(await readyPodsOf(kubectl, namespace, `app.kubernetes.io/instance=${NAME}`)).to.have.length.at.least(1);
      expect(await activatorSlice()).to.equal('');
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const warm = startLoad(url, { concurrency: 2, perSecond: 50, maxSeconds: 10, maxRequests: 200 });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const served = await warm.stop();
    const failed = served.filter((answer) => answer.status !== 200);
    expect(failed, `${served.length} requests after the cold start`).to.deep.equal([]);
    expect(served.length).to.be.at.least(100);

    // Idle again: the minute's window empties, then the idle time passes, and the model is at zero.
    const idleFrom = Date.now();
    await eventually(async () => {
      expect(await pods(), 'runtime pods').to.have.length(0);
      expect(await activatorSlice()).to.not.equal('');
    }, { timeoutMs: 300_000, intervalMs: 2_000 });
    console.log(`      last request -> zero pods again: ${((Date.now() - idleFrom) / 1000).toFixed(1)} s`);
  });
});
