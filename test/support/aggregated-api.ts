import { expect } from 'chai';
import { eventually } from './eventually.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

export interface AggregatedApi {
  group: string;
  version: string;
  /** The Service (kube-system, no selector) the APIService names; its endpoint is `address:port`. */
  serviceName: string;
  /** Where the server listens: an address the apiserver reaches and Endpoints accept (not loopback). */
  address: string;
  port: number;
}

const NAMESPACE = 'kube-system';

/**
 * Registers a server running on this machine as an aggregated API, as its chart would register it
 * in a cluster: an APIService naming a Service, whose endpoint here is the server's address (the
 * plane's apiserver routes to endpoints, --enable-aggregator-routing). Resolves once the apiserver
 * reports the APIService Available.
 */
export async function registerAggregatedApi(kubectl: Kubectl, api: AggregatedApi): Promise<void> {
  const labels = { 'app.kubernetes.io/managed-by': 'modelship-tests' };
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=modelship-tests', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: api.serviceName, namespace: NAMESPACE, labels }, spec: { ports: [{ name: 'https', port: 443, targetPort: api.port }] } },
      {
        apiVersion: 'v1', kind: 'Endpoints', metadata: { name: api.serviceName, namespace: NAMESPACE, labels },
        subsets: [{ addresses: [{ ip: api.address }], ports: [{ name: 'https', port: api.port }] }],
      },
      {
        apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: apiServiceName(api), labels },
        spec: {
          group: api.group, version: api.version, service: { name: api.serviceName, namespace: NAMESPACE, port: 443 },
          // The server's certificate is self-signed (its --cert-dir), as in metrics-server's own manifests.
          insecureSkipTLSVerify: true, groupPriorityMinimum: 100, versionPriority: 100,
        },
      },
    ],
  }));
  await eventually(async () => {
    const status = await kubectl(['get', 'apiservice', apiServiceName(api), '-o', 'jsonpath={.status.conditions[?(@.type=="Available")]}']);
    expect(JSON.parse(status || '{}'), `APIService ${apiServiceName(api)}`).to.include({ status: 'True' });
  }, { timeoutMs: 90_000, intervalMs: 1_000 });
}

/**
 * Removes the registration: an APIService left behind without its server would fail discovery for
 * every later client, and the namespace controller would stop deleting namespaces.
 */
export async function unregisterAggregatedApi(kubectl: Kubectl, api: AggregatedApi): Promise<void> {
  await kubectl(['delete', 'apiservice', apiServiceName(api), '--ignore-not-found']);
  await kubectl(['delete', '-n', NAMESPACE, 'service,endpoints', api.serviceName, '--ignore-not-found']);
}

function apiServiceName(api: AggregatedApi): string {
  return `${api.version}.${api.group}`;
}
