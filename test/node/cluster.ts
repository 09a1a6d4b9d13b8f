import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { plane } from '../integration/context.ts';
import { MODELS_DIR, REPO_ROOT } from '../runtime/helpers.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { realNode } from './context.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;
export type Pod = Required<Pick<V1Pod, 'metadata' | 'spec' | 'status'>>;

export const MODEL_STORE_NAMESPACE = 'modelship-system';

/**
 * The quickstart's model store, as examples/models/model-server.yaml's comment says to install it:
 * the example models in a ConfigMap, served at http://models.modelship-system.svc:8000/<file>.
 * Idempotent: suites share it.
 */
export async function installExampleModelStore(kubectl: Kubectl): Promise<void> {
  await kubectl(['create', 'namespace', MODEL_STORE_NAMESPACE]).catch(() => undefined);
  const configMap = await kubectl([
    'create', 'configmap', 'example-models', '-n', MODEL_STORE_NAMESPACE, '--dry-run=client', '-o', 'json',
    ...['fraud-fp32.onnx', 'fraud-int8-qdq.onnx', 'fraud-fp32.onnx.sig'].map((file) => `--from-file=${join(MODELS_DIR, file)}`),
  ]);
  await kubectl(['apply', '--server-side', '-f', '-'], configMap);
  await kubectl(['apply', '-n', MODEL_STORE_NAMESPACE, '-f', join(MODELS_DIR, 'model-server.yaml')]);
  await kubectl(['rollout', 'status', '-n', MODEL_STORE_NAMESPACE, 'deployment/models', '--timeout=180s']);
}

export async function podsOf(kubectl: Kubectl, namespace: string, selector: string): Promise<Pod[]> {
  const list = JSON.parse(await kubectl(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: Pod[] };
  return list.items;
}

/** The pods that serve: Ready and not on their way out. */
export async function readyPodsOf(kubectl: Kubectl, namespace: string, selector: string): Promise<Pod[]> {
  return (await podsOf(kubectl, namespace, selector))
    .filter((pod) => !pod.metadata.deletionTimestamp && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

const digests = new Map(readFileSync(join(MODELS_DIR, 'SHA256SUMS'), 'utf8').trim().split('\n').map((line) => {
  const [digest = '', file = ''] = line.split(/\s+/);
  return [file, digest];
}));

/** The SHA-256 of an example model, from examples/models/SHA256SUMS. */
export function modelDigest(file: string): string {
  const digest = digests.get(file);
  if (!digest) throw new Error(`examples/models/SHA256SUMS has no ${file}`);
  return digest;
}

/**
 * What a real-node suite starts from: the CRD, the example model store, its own namespace and an
 * operator (this checkout's, on this machine) that gives ModelDeployments the runtime image loaded
 * into the node. Returns the operator; `leaveNamespace` undoes the rest.
 */
export async function prepareNamespace(kubectl: Kubectl, namespace: string, operatorIdentity: string, operatorEnv: Record<string, string> = {}): Promise<OperatorProcess> {
  await kubectl(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
  await installExampleModelStore(kubectl);
  await kubectl(['create', 'namespace', namespace]);
  return startOperator(plane().kubeconfigPath, operatorIdentity, {
    MODELSHIP_RUNTIME_IMAGE: realNode().runtimeImageName,
    MODELSHIP_LOG_LEVEL: 'info',
    ...operatorEnv,
  });
}

export async function leaveNamespace(kubectl: Kubectl, namespace: string, operator: OperatorProcess | undefined): Promise<void> {
  await operator?.stop();
  await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
}
