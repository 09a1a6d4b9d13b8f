import type { V1Service } from '@kubernetes/client-node';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';
import { RUNTIME_DEFAULT_GRPC_PORT } from '../../runtime/contract.ts';
import { GRPC_PORT_NAME, HTTP_PORT_NAME } from './deployment.ts';
import { childLabels, REVISION_LABEL, selectorLabels } from './labels.ts';
import { childMetadata, nameOf, namespaceOf } from './metadata.ts';
import { DEFAULT_CLUSTER_DOMAIN, type OperatorOptions } from './options.ts';
import { modelNameOf } from './runtime-env.ts';

export function servicePort(md: ModelDeployment): number {
  return md.spec.service?.port ?? SpecDefaults.servicePort;
}

/** In-cluster URL of the model's Open Inference Protocol resource. */
export function endpointUrl(md: ModelDeployment, options: Pick<OperatorOptions, 'clusterDomain'> = {}): string {
  const host = `${nameOf(md)}.${namespaceOf(md)}.svc.${options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN}`;
  const scheme = md.spec.security?.tls ? 'https' : 'http';
  return `${scheme}://${host}:${servicePort(md)}/v2/models/${modelNameOf(md)}`;
}

export const previewServiceName = (md: ModelDeployment): string => `${nameOf(md)}-preview`;

/**
 * The model's Service: every runtime pod of the ModelDeployment, or only one revision's
 * (blue/green's active or preview side, or the stable side where no mesh splits traffic).
 */
export function desiredService(md: ModelDeployment, only?: { revision: string; name?: string }): V1Service {
  // With security.tls both ports speak TLS: meshes and gateways pass it through unread.
  const tls = md.spec.security?.tls !== undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(md, childLabels(md), only?.name),
    spec: {
      type: only?.name ? 'ClusterIP' : (md.spec.service?.type ?? SpecDefaults.serviceType),
      selector: only ? { ...selectorLabels(md), [REVISION_LABEL]: only.revision } : selectorLabels(md),
      ports: [
        { name: HTTP_PORT_NAME, port: servicePort(md), targetPort: HTTP_PORT_NAME, protocol: 'TCP', appProtocol: tls ? 'https' : 'http' },
        // gRPC is HTTP/2 without TLS: h2c tells meshes and gateways not to speak HTTP/1.1 to it.
        { name: GRPC_PORT_NAME, port: RUNTIME_DEFAULT_GRPC_PORT, targetPort: GRPC_PORT_NAME, protocol: 'TCP', appProtocol: tls ? 'https' : 'kubernetes.io/h2c' },
      ],
    },
  };
}
