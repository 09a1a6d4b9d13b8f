import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../operator/api/types.ts';
import type { OperatorConfig } from '../../operator/config.ts';
import { modelDeploymentResource } from '../../operator/controller/model-deployment-resource.ts';
import { childKindOf } from '../../operator/desired/child-kinds.ts';
import { planModelDeployment } from '../../operator/desired/plan.ts';
import type { KubeRestClient } from '../../operator/kube/rest-client.ts';
import { apiVersionOf } from '../../operator/kube/resources.ts';
import { computeStatus } from '../../operator/status/index.ts';
import { createAll } from './workload.ts';

/**
 * The floor the operator is measured against: the same ModelDeployments created the same way, and
 * the same children and status written by a plain loop with the operator's REST client, field
 * manager and worker count, but with no informers, no diffing and no re-reads: one server-side
 * apply per object `planModelDeployment` returns, then one status apply.
 */
export async function writeFloor(client: KubeRestClient, config: OperatorConfig, manifests: readonly ModelDeployment[]): Promise<void> {
  const pending: ModelDeployment[] = [];
  const idle: (() => void)[] = [];
  let creating = true;
  const wakeAll = () => { for (const wake of idle.splice(0)) wake(); };

  const converge = async (md: ModelDeployment) => {
    const now = new Date();
    const plan = planModelDeployment({ md, options: config.options, controllerRevisions: [], deployments: [], served: (kind) => kind.optional === undefined, now });
    const applied = new Map<string, KubernetesObject>();
    for (const object of plan.objects) {
      const kind = childKindOf(object);
      if (!kind) throw new Error(`plan produced an unmanaged kind ${object.apiVersion}/${object.kind}`);
      applied.set(`${object.kind}/${object.metadata?.name}`, await client.apply(kind, object, config.fieldManager));
    }
    const deployment = applied.get(`Deployment/${plan.stableDeploymentName}`) as V1Deployment | undefined;
    const status = computeStatus(md, { ...(deployment && { deployment }), rollout: plan.rollout, routing: plan.routing, conflicts: [] }, now, config.options);
    await client.apply(modelDeploymentResource, {
      apiVersion: apiVersionOf(modelDeploymentResource), kind: modelDeploymentResource.kind,
      metadata: { name: md.metadata.name, namespace: md.metadata.namespace },
      status,
    }, config.fieldManager, 'status');
  };

  const worker = async () => {
    for (;;) {
      const md = pending.shift();
      if (md) await converge(md);
      else if (creating) await new Promise<void>((resolve) => idle.push(resolve));
      else return;
    }
  };
  const workers = Array.from({ length: config.workers }, worker);
  await createAll(client, manifests, (md) => { pending.push(md); wakeAll(); });
  creating = false;
  wakeAll();
  await Promise.all(workers);
}
