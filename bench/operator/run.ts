/**
 * Operator scale benchmark on the real test control plane:
 *   npm run bench:operator -- [N ...] [--steady-seconds S]     (default: 200 1000, 60 s)
 * For each N: a fresh plane, the operator as built by `npm run build` (leader election on), N
 * ModelDeployments created at once.
 * Prints time until every status is written and until every one is Ready (pods Ready via KWOK),
 * API writes during S seconds of steady state, and the operator's peak RSS.
 */
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { modelDeploymentResource } from '../../operator/controller/model-deployment-resource.ts';
import { Informer } from '../../operator/kube/informer.ts';
import { KubeRestClient } from '../../operator/kube/rest-client.ts';
import { startPlane } from '../../test/plane/plane.ts';
import { startOperator } from '../../test/support/operator-process.ts';

interface MdStatus extends KubernetesObject {
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
}

const args = process.argv.slice(2);
const steadyIndex = args.indexOf('--steady-seconds');
const steadySeconds = steadyIndex >= 0 ? Number(args[steadyIndex + 1]) : 60;
const sizes = args.filter((a, i) => /^\d+$/.test(a) && i !== steadyIndex + 1).map(Number);
const runs = sizes.length ? sizes : [200, 1000];
const namespace = 'bench';

async function peakRssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function createAll(client: KubeRestClient, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await client.create(modelDeploymentResource, {
        apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment',
        metadata: { name: `model-${i}`, namespace },
        spec: {
          model: { uri: `https://models.example.com/m${i}/model.onnx`, sha256: 'a'.repeat(64), version: '1' },
          replicas: 1,
        },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const results: string[] = [];
for (const count of runs) {
  console.log(`\n== N=${count}: starting a fresh control plane`);
  const plane = await startPlane({ nodes: Math.max(2, Math.ceil(count / 400)), log: (l) => console.log(`   ${l}`) });
  try {
    await plane.kubectl(['apply', '--server-side', '-f', 'crds/']);
    await plane.kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io']);
    await plane.kubectl(['create', 'namespace', namespace]);
    const operator = await startOperator(plane.kubeconfigPath, 'bench-operator', { MODELSHIP_LOG_LEVEL: 'info', MODELSHIP_LEASE_DURATION_SECONDS: '15', MODELSHIP_RENEW_DEADLINE_SECONDS: '10', MODELSHIP_RETRY_PERIOD_SECONDS: '2' }, { compiled: true });
    await sleep(3_000);

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.kubeconfigPath);
    const client = new KubeRestClient(kubeConfig);
    const watcher = new Informer<MdStatus>(client, modelDeploymentResource, { namespace });
    watcher.start();
    await watcher.waitForSync();

    const started = Date.now();
    await createAll(client, count);
    const createdMs = Date.now() - started;
    let statusMs = 0;
    let readyMs = 0;
    const deadline = started + 600_000;
    while (Date.now() < deadline && !readyMs) {
      const all = watcher.list();
      const withStatus = all.filter((md) => md.status?.observedGeneration === md.metadata?.generation).length;
      const ready = all.filter((md) => md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (!statusMs && withStatus === count) statusMs = Date.now() - started;
      if (ready === count) readyMs = Date.now() - started;
      await sleep(100);
    }
    console.log(`   created in ${createdMs} ms; all statuses written after ${statusMs} ms; all Ready after ${readyMs || 'timeout'} ms`);
    const failures = new Map<string, number>();
    for (const entry of operator.logs.filter((e) => e.msg === 'reconcile failed')) {
      const message = String((entry.err as { message?: string } | undefined)?.message ?? '').replace(/model-\d+/g, 'model-N').slice(0, 200);
      failures.set(message, (failures.get(message) ?? 0) + 1);
    }
    for (const [message, times] of [...failures].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`   reconcile failed x${times}: ${message}`);

    await sleep(5_000);
    const writes = async () => (await operator.metric('modelship_api_writes_total')) - (await operator.metric('modelship_api_writes_total', { resource: 'leases' }));
    const leaseWrites = () => operator.metric('modelship_api_writes_total', { resource: 'leases' });
    const [w0, l0] = [await writes(), await leaseWrites()];
    console.log(`   steady state: counting API writes for ${steadySeconds}s`);
    await sleep(steadySeconds * 1000);
    const [w1, l1] = [await writes(), await leaseWrites()];
    const rss = await peakRssMb(operator.child.pid);
    const reconciles = await operator.metric('modelship_reconcile_total');
    const line = `| ${count} | ${(createdMs / 1000).toFixed(1)} | ${(statusMs / 1000).toFixed(1)} | ${readyMs ? (readyMs / 1000).toFixed(1) : 'timeout'} | ${w1 - w0} | ${l1 - l0} | ${rss.toFixed(0)} | ${reconciles} |`;
    results.push(line);
    await watcher.stop();
    await operator.stop();
  } finally {
    await plane.stop();
  }
}

console.log('\n| N | create all (s) | all statuses written (s) | all Ready (s) | writes in steady state (non-lease) | lease renewals | operator peak RSS (MB) | reconciles |');
console.log('|---|---|---|---|---|---|---|---|');
for (const line of results) console.log(line);
