import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/api/types.ts';
import { modelDeploymentResource } from '../../operator/controller/model-deployment-resource.ts';
import { CANDIDATE_SUBSET, IstioKinds } from '../../operator/desired/routing/istio.ts';
import { Informer } from '../../operator/kube/informer.ts';
import type { KubeRestClient } from '../../operator/kube/rest-client.ts';
import { CREATORS, createAll, forEachIndex, isReady, modelDeployment, timeUntil } from './workload.ts';

const FIRST_WEIGHT = 10;
const ROLLOUT: ModelDeploymentSpec['rollout'] = { strategy: 'Canary', canary: { steps: [{ weight: FIRST_WEIGHT }, { weight: 50, pause: '1m' }] } };

export interface CanaryResult {
  /** From creating them until every canary ModelDeployment is Ready. */
  readyMs?: number;
  /** How long the model-version patches of all of them took to be accepted. */
  patchMs: number;
  /** From the first patch until every status says the candidate has the first step's weight. */
  statusWeightMs?: number;
  /** Same, until every VirtualService routes that weight to the candidate subset (Istio only). */
  virtualServiceWeightMs?: number;
}

interface VirtualService extends KubernetesObject {
  spec?: { http?: { name?: string; route?: { destination?: { subset?: string }; weight?: number }[] }[] };
}

const candidateWeightOf = (vs: VirtualService | undefined): number | undefined =>
  // One primary route per Service port (primary-http, primary-grpc), all with the same split.
  vs?.spec?.http?.find((route) => route.name?.startsWith('primary-'))?.route?.find((r) => r.destination?.subset === CANDIDATE_SUBSET)?.weight;

/**
 * Creates `count` Canary ModelDeployments, waits until all are Ready, then changes the model version
 * of all of them at once and times how long until every one routes the first step's weight to its
 * candidate (whose pods KWOK must first make Ready).
 */
export async function canaryRollout(client: KubeRestClient, modelDeployments: Informer<ModelDeployment>, namespace: string, count: number, istio: boolean, timeoutMs: number): Promise<CanaryResult> {
  const names = Array.from({ length: count }, (_, i) => `canary-${i}`);
  const virtualServices = new Informer<VirtualService>(client, IstioKinds.virtualService, { namespace });
  if (istio) {
    virtualServices.start();
    await virtualServices.waitForSync();
  }
  try {
    const canaries = () => names.map((name) => modelDeployments.get(`${namespace}/${name}`));
    const created = Date.now();
    await createAll(client, names.map((name, i) => modelDeployment(namespace, name, i, ROLLOUT)));
    const readyMs = await timeUntil(created, timeoutMs, () => canaries().every((md) => md && isReady(md)));

    const changed = Date.now();
    await forEachIndex(count, CREATORS, async (i) => {
      await client.mergePatch(modelDeploymentResource, namespace, names[i] as string, { spec: { model: { version: '2' } } });
    });
    const patchMs = Date.now() - changed;
    const weighted = (md: ModelDeployment | undefined) => md?.metadata?.generation === md?.status?.observedGeneration && md?.status?.weights?.candidate === FIRST_WEIGHT;
    const routed = (name: string) => candidateWeightOf(virtualServices.get(`${namespace}/${name}`)) === FIRST_WEIGHT;
    const [statusWeightMs, virtualServiceWeightMs] = await Promise.all([
      timeUntil(changed, timeoutMs, () => canaries().every(weighted)),
      istio ? timeUntil(changed, timeoutMs, () => names.every(routed)) : Promise.resolve(undefined),
    ]);
    return {
      ...(readyMs !== undefined && { readyMs }), patchMs,
      ...(statusWeightMs !== undefined && { statusWeightMs }),
      ...(virtualServiceWeightMs !== undefined && { virtualServiceWeightMs }),
    };
  } finally {
    await virtualServices.stop();
  }
}
