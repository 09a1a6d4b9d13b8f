import type { KubernetesObject } from '@kubernetes/client-node';
import { modelDeploymentResource } from '../../operator/controller/model-deployment-resource.ts';
import { ChildKinds } from '../../operator/desired/child-kinds.ts';
import { INSTANCE_LABEL } from '../../operator/desired/labels.ts';
import type { KubeRestClient } from '../../operator/kube/rest-client.ts';

interface Deployment extends KubernetesObject {
  spec?: { replicas?: number };
}

export interface SpecChangeResult {
  /** Spec change (the patch accepted) to the model's Deployment carrying it, one entry per change, sorted. */
  latenciesMs: number[];
  /** Changes whose Deployment did not follow within the limit. */
  missed: number;
}

export const percentile = (sorted: readonly number[], p: number): number | undefined =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : undefined;

/**
 * One at a time, `changes` ModelDeployments spread over the `count` that exist get a new replica
 * count; each is timed from its accepted patch until a GET of its Deployment (polled every 10 ms)
 * shows it: what a user waits for after `kubectl apply` on a busy operator.
 */
export async function specChangeLatency(client: KubeRestClient, namespace: string, count: number, changes: number, limitMs = 10_000): Promise<SpecChangeResult> {
  const latenciesMs: number[] = [];
  let missed = 0;
  for (let change = 0; change < Math.min(changes, count); change++) {
    const name = `model-${Math.floor((change * count) / Math.min(changes, count))}`;
    const replicas = 2 + (change % 2);
    await client.mergePatch(modelDeploymentResource, namespace, name, { spec: { replicas } });
    const patched = Date.now();
    let seen = false;
    while (Date.now() - patched < limitMs) {
      const { items } = await client.list<Deployment>(ChildKinds.deployment, { labelSelector: `${INSTANCE_LABEL}=${name}` }, namespace);
      if (items.some((deployment) => deployment.spec?.replicas === replicas)) {
        latenciesMs.push(Date.now() - patched);
        seen = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (!seen) missed++;
  }
  return { latenciesMs: latenciesMs.sort((a, b) => a - b), missed };
}
