import { AppsV1Api, CoreV1Api, type V1Deployment } from '@kubernetes/client-node';
import { expect } from 'chai';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';

describe('test control plane (real kube-apiserver, controller-manager, scheduler, KWOK)', () => {
  const namespace = `smoke-${Date.now().toString(36)}`;

  it('runs a Deployment to Ready pods on simulated nodes and garbage-collects it on delete', async () => {
    const core = plane().kubeConfig.makeApiClient(CoreV1Api);
    const apps = plane().kubeConfig.makeApiClient(AppsV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });

    const deployment: V1Deployment = {
      metadata: { name: 'web', namespace },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
        },
      },
    };
    await apps.createNamespacedDeployment({ namespace, body: deployment });

    const readyPods = await eventually(async () => {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
      const ready = pods.items.filter((pod) =>
        pod.spec?.nodeName?.startsWith('kwok-node-') &&
        pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      expect(ready, 'pods scheduled onto KWOK nodes and Ready').to.have.length(2);
      return ready;
    }, { timeoutMs: 90_000 });
    expect(readyPods[0]?.status?.podIP).to.match(/^10\.244\./);

    await eventually(async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
      expect(d.status?.readyReplicas).to.equal(2);
    }, { timeoutMs: 60_000 });

    await apps.deleteNamespacedDeployment({ name: 'web', namespace });
    await eventually(async () => {
      const sets = await apps.listNamespacedReplicaSet({ namespace });
      const pods = await core.listNamespacedPod({ namespace });
      expect(sets.items, 'ReplicaSets garbage-collected').to.have.length(0);
      expect(pods.items, 'pods garbage-collected').to.have.length(0);
    }, { timeoutMs: 90_000 });
  });

  after(async () => {
    await plane().kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace }).catch(() => undefined);
  });
});
