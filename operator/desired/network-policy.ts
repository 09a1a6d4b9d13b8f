import type { V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer, V1NetworkPolicySpec } from '@kubernetes/client-node';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_DEFAULT_PORT } from '../../runtime/contract.ts';
import type { ModelDeployment } from '../api/types.ts';
import { childLabels, selectorLabels } from './labels.ts';
import { childMetadata, namespaceOf } from './metadata.ts';
import type { OperatorOptions } from './options.ts';

/**
 * client-node's model names the JSON field `from` as `_from` (a reserved word in its generator) and
 * renames it only in its own serializer; these objects are sent as plain JSON.
 */
type IngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] };
export type NetworkPolicy = Omit<V1NetworkPolicy, 'spec'> & { spec: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress: IngressRule[] } };

/** Every namespace carries this label, set by the apiserver itself, so it can be selected by name. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const namespacePeer = (namespace: string): V1NetworkPolicyPeer => ({ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } } });

/** Namespaces of the Istio Gateways that expose the model: their gateway pods are the mesh ingress. */
function gatewayNamespaces(md: ModelDeployment): string[] {
  const namespaces = (md.spec.traffic?.gateways ?? []).map((gateway) => (gateway.includes('/') ? gateway.split('/')[0]! : namespaceOf(md)));
  return [...new Set(namespaces)].filter((namespace) => namespace !== namespaceOf(md) && namespace !== 'mesh');
}

/**
 * When enabled, only pods of the ModelDeployment's own namespace, the namespaces of its Istio
 * Gateways, the operator's Prometheus namespace and the allowFrom peers reach the runtime ports
 * (inference and /metrics share the HTTP port). Kubelet probes are not subject to NetworkPolicy.
 */
export function desiredNetworkPolicy(md: ModelDeployment, options: Pick<OperatorOptions, 'prometheusNamespace'> = {}): NetworkPolicy | undefined {
  const policy = md.spec.security?.networkPolicy;
  if (!policy?.enabled) return undefined;
  const prometheus = options.prometheusNamespace && options.prometheusNamespace !== namespaceOf(md) ? [options.prometheusNamespace] : [];
  const peers: V1NetworkPolicyPeer[] = [
    { podSelector: {} },
    ...[...new Set([...gatewayNamespaces(md), ...prometheus])].map(namespacePeer),
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
