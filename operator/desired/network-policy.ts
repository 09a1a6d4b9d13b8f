import type { V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer, V1NetworkPolicySpec } from '@kubernetes/client-node';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT } from '../../runtime/contract.ts';
import type { ModelDeployment } from '../api/types.ts';
import { childLabels, selectorLabels } from './labels.ts';
import { childMetadata } from './metadata.ts';

/**
 * client-node's model names the JSON field `from` as `_from` (a reserved word in its generator) and
 * renames it only in its own serializer; these objects are sent as plain JSON.
 */
type IngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] };
export type NetworkPolicy = Omit<V1NetworkPolicy, 'spec'> & { spec: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress: IngressRule[] } };

/**
 * When enabled, only pods of the ModelDeployment's own namespace and the allowFrom peers reach
 * the runtime port (inference and /metrics alike: a Prometheus in another namespace needs an
 * allowFrom entry). Kubelet probes are not subject to NetworkPolicy.
 */
export function desiredNetworkPolicy(md: ModelDeployment): NetworkPolicy | undefined {
  const policy = md.spec.security?.networkPolicy;
  if (!policy?.enabled) return undefined;
  const peers: V1NetworkPolicyPeer[] = [
    { podSelector: {} },
    ...(policy.allowFrom ?? []).map((peer) => ({
      ...(peer.namespaceSelector && { namespaceSelector: { matchLabels: peer.namespaceSelector } }),
      ...(peer.podSelector && { podSelector: { matchLabels: peer.podSelector } }),
    })),
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(md, childLabels(md)),
    spec: {
      podSelector: { matchLabels: selectorLabels(md) },
      policyTypes: ['Ingress'],
      ingress: [{ from: peers, ports: [{ protocol: 'TCP', port: RUNTIME_DEFAULT_PORT }, { protocol: 'TCP', port: RUNTIME_DEFAULT_GRPC_PORT }] }],
    },
  };
}
