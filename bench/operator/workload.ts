import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelDeployment, ModelDeploymentSpec } from '../../operator/api/types.ts';
import { modelDeploymentResource } from '../../operator/controller/model-deployment-resource.ts';
import type { KubeRestClient } from '../../operator/kube/rest-client.ts';
import { apiVersionOf } from '../../operator/kube/resources.ts';

/** How many clients create ModelDeployments at once, in every phase of the benchmark. */
export const CREATORS = 16;

export const isReady = (md: ModelDeployment): boolean => !!md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
export const hasCurrentStatus = (md: ModelDeployment): boolean => md.status?.observedGeneration === md.metadata?.generation;

export function modelDeployment(namespace: string, name: string, index: number, rollout?: ModelDeploymentSpec['rollout']): ModelDeployment {
  return {
    apiVersion: apiVersionOf(modelDeploymentResource), kind: modelDeploymentResource.kind,
    metadata: { name, namespace },
    spec: {
      model: { uri: `https://models.example.com/m${index}/model.onnx`, sha256: 'a'.repeat(64), version: '1' },
      replicas: 1,
      ...(rollout && { rollout }),
    },
  };
}

/** Runs `task` over 0..count-1 with `concurrency` of them in flight. */
export async function forEachIndex(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Creates the ModelDeployments through CREATORS parallel clients; `onCreated` sees each as the apiserver returned it. */
export async function createAll(client: KubeRestClient, manifests: readonly ModelDeployment[], onCreated: (md: ModelDeployment) => void = () => {}): Promise<void> {
  await forEachIndex(manifests.length, CREATORS, async (i) => {
    onCreated(await client.create(modelDeploymentResource, manifests[i] as ModelDeployment));
  });
}

/** Polls `done` every 100 ms; the milliseconds since `since` when it first held, or undefined at the deadline. */
export async function timeUntil(since: number, timeoutMs: number, done: () => boolean): Promise<number | undefined> {
  while (Date.now() < since + timeoutMs) {
    if (done()) return Date.now() - since;
    await sleep(100);
  }
  return undefined;
}

export const seconds = (ms: number | undefined): string => (ms === undefined ? 'timeout' : (ms / 1000).toFixed(1));
