import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { MODEL_DEPLOYMENT_API_VERSION, KIND } from '../../../operator/api/crd.ts';
import type { ModelDeployment, ModelDeploymentSpec } from '../../../operator/api/types.ts';
import { desiredDeployment, planModelDeployment, REVISION_LABEL, revisionDeploymentName, revisionOf, type ChildKind, type OperatorOptions } from '../../../operator/desired/index.ts';

export const SHA = 'd62b3cb5bfe02bee1a76b629c2df2001457a426db66ae0514fa8dbe5e50f0cee';
export const OPTIONS: OperatorOptions = { defaultRuntimeImage: 'ghcr.io/modelship/runtime:0.1.0' };

/** A cluster that serves the optional kinds of these providers (e.g. 'Istio') and no others. */
export const servedBy = (...providers: string[]) => (kind: ChildKind): boolean => kind.optional === undefined || providers.includes(kind.optional.provider);

/** A ModelDeployment as read from the API (uid, generation), with spec overrides. */
export function modelDeployment(spec: Partial<ModelDeploymentSpec> = {}, name = 'fraud-detector'): ModelDeployment {
  return {
    apiVersion: MODEL_DEPLOYMENT_API_VERSION,
    kind: KIND,
    metadata: { name, namespace: 'payments', uid: '6f1c2a9e-0000-4000-8000-000000000001', generation: 1 },
    spec: { model: { uri: 'https://models.example.com/fraud/model.onnx', sha256: SHA, version: '2' }, ...spec },
  };
}

/** The Deployment the controller would read back: desired spec plus the status the Deployment controller reports. */
export function observedDeployment(
  md: ModelDeployment,
  status: { replicas?: number; updated?: number; ready?: number; available?: number; progressing?: string; revision?: string; generation?: number; observedGeneration?: number },
): V1Deployment {
  const deployment = desiredDeployment(md, OPTIONS);
  const replicas = deployment.spec?.replicas ?? status.replicas ?? 1;
  const labels = deployment.spec?.template.metadata?.labels ?? {};
  return {
    ...deployment,
    metadata: { ...deployment.metadata, generation: status.generation ?? 1 },
    spec: {
      ...deployment.spec!,
      replicas,
      template: { ...deployment.spec!.template, metadata: { ...deployment.spec!.template.metadata, labels: { ...labels, [REVISION_LABEL]: status.revision ?? revisionOf(md) } } },
    },
    status: {
      observedGeneration: status.observedGeneration ?? status.generation ?? 1,
      replicas: status.replicas ?? replicas,
      updatedReplicas: status.updated ?? replicas,
      readyReplicas: status.ready ?? replicas,
      availableReplicas: status.available ?? status.ready ?? replicas,
      conditions: status.progressing ? [{ type: 'Progressing', status: status.progressing === 'ProgressDeadlineExceeded' ? 'False' : 'True', reason: status.progressing, message: `Deployment ${status.progressing}` }] : [],
    },
  };
}

/** One revision's Deployment (<name>-<revision>, as progressive strategies run them) as read back: ready unless the status says otherwise. */
export function observedRevisionDeployment(md: ModelDeployment, status: Parameters<typeof observedDeployment>[1] = {}): V1Deployment {
  const deployment = observedDeployment(md, status);
  return { ...deployment, metadata: { ...deployment.metadata, name: revisionDeploymentName(md, status.revision ?? revisionOf(md)) } };
}

/** Every child a fresh ModelDeployment gets in its first pass (no recorded revisions, no Istio). */
export function desiredChildren(md: ModelDeployment, options: OperatorOptions = OPTIONS): KubernetesObject[] {
  return planModelDeployment({ md, options, controllerRevisions: [], deployments: [], served: servedBy(), now: new Date('2026-01-01T00:00:00Z') }).objects;
}
