import { rename, writeFile } from 'node:fs/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { metaLabel } from './pod-monitor.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

export interface PodDiscovery {
  stop(): Promise<void>;
}

/** Prometheus's kubernetes_sd pod role: one target per container port, with its meta labels. */
export function podTargets(pods: readonly V1Pod[]): { targets: string[]; labels: Record<string, string> }[] {
  return pods.flatMap((pod) => {
    if (!pod.status?.podIP) return [];
    const meta = pod.metadata ?? {};
    const podLabels: Record<string, string> = {
      __meta_kubernetes_namespace: meta.namespace ?? '',
      __meta_kubernetes_pod_name: meta.name ?? '',
      __meta_kubernetes_pod_ip: pod.status.podIP,
      __meta_kubernetes_pod_node_name: pod.spec?.nodeName ?? '',
      __meta_kubernetes_pod_phase: pod.status.phase ?? '',
      __meta_kubernetes_pod_ready: String(pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false),
      ...Object.fromEntries(Object.entries(meta.labels ?? {}).flatMap(([key, value]) => [
        [`__meta_kubernetes_pod_label_${metaLabel(key)}`, value], [`__meta_kubernetes_pod_labelpresent_${metaLabel(key)}`, 'true'],
      ])),
      ...Object.fromEntries(Object.entries(meta.annotations ?? {}).flatMap(([key, value]) => [
        [`__meta_kubernetes_pod_annotation_${metaLabel(key)}`, value], [`__meta_kubernetes_pod_annotationpresent_${metaLabel(key)}`, 'true'],
      ])),
    };
    return (pod.spec?.containers ?? []).flatMap((container) => (container.ports ?? []).map((port) => ({
      targets: [`${pod.status!.podIP}:${port.containerPort}`],
      labels: {
        ...podLabels,
        __meta_kubernetes_pod_container_name: container.name,
        __meta_kubernetes_pod_container_port_name: port.name ?? '',
        __meta_kubernetes_pod_container_port_number: String(port.containerPort),
        __meta_kubernetes_pod_container_port_protocol: port.protocol ?? 'TCP',
      },
    })));
  });
}

/**
 * Stands in for kubernetes_sd, which Debian's Prometheus is built without: lists every pod each
 * second and writes them as file_sd targets, as the pod role would discover them.
 */
export function startPodDiscovery(kubectl: Kubectl, targetsFile: string): PodDiscovery {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const list = JSON.parse(await kubectl(['get', 'pods', '--all-namespaces', '-o', 'json'])) as { items: V1Pod[] };
        // Prometheus may read the file at any moment: it must never see half of it.
        await writeFile(`${targetsFile}.tmp`, JSON.stringify(podTargets(list.items)));
        await rename(`${targetsFile}.tmp`, targetsFile);
      } catch {
        // The next round tries again (the apiserver may be restarting).
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return { stop: async () => { stopped = true; await loop; } };
}
