import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.ts';
import { ACTIVATOR_SLICE_MANAGER, SERVICE_NAME_LABEL, SLICE_MANAGER_LABEL, type Endpoint } from '../activator/slices.ts';
import { HTTP_PORT_NAME } from './deployment.ts';
import { childLabels } from './labels.ts';
import { childMetadata, nameOf } from './metadata.ts';

/**
 * While a model has no ready pod, an EndpointSlice of its Service that leads its HTTP port to the
 * activator's pods (kube-proxy, meshes and gateways read every slice labelled with the Service's
 * name). The activator holds the requests, KEDA sees them and scales the model from zero, and the
 * slice goes once a pod is ready. gRPC is not held: the slice has no grpc port.
 */
export function desiredActivatorSlice(md: ModelDeployment, activator: readonly Endpoint[]): V1EndpointSlice | undefined {
  const port = activator[0]?.port;
  if (port === undefined) return undefined;
  const addresses = activator.filter((endpoint) => endpoint.port === port).map((endpoint) => endpoint.address);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      ...childMetadata(md, { ...childLabels(md), [SERVICE_NAME_LABEL]: nameOf(md), [SLICE_MANAGER_LABEL]: ACTIVATOR_SLICE_MANAGER }, `${nameOf(md)}-activator`),
    },
    addressType: addresses[0]!.includes(':') ? 'IPv6' : 'IPv4',
    ports: [{ name: HTTP_PORT_NAME, port, protocol: 'TCP', appProtocol: 'http' }],
    endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: true } })),
  };
}
