import { join } from 'node:path';
import { expect } from 'chai';
import { freePorts } from '../plane/ports.ts';
import { SupervisedProcess } from '../plane/supervised-process.ts';
import { REPO_ROOT } from '../runtime/helpers.ts';
import { eventually } from './eventually.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

export const ACTIVATOR_NAMESPACE = 'modelship-system';
export const ACTIVATOR_SERVICE = 'modelship-activator';

export interface RunningActivator {
  /** `<namespace>/<name>` of its Service, for the operator's MODELSHIP_ACTIVATOR_SERVICE. */
  service: string;
  /** Where Prometheus scrapes its metrics. */
  metricsTarget: string;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The activator (operator/activator/main.ts of this checkout) on this machine, as its pods would run
 * in a cluster: its Service in modelship-system (no selector) has one endpoint, the real node's bridge
 * address where it listens, so kube-proxy on the node sends a scaled-to-zero model's requests to it.
 */
export async function startActivator(kubectl: Kubectl, kubeconfigPath: string, hostAddress: string, logDir: string): Promise<RunningActivator> {
  const [port, metricsPort] = await freePorts(2);
  const logFile = join(logDir, 'activator.log');
  const activator = new SupervisedProcess('activator', process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'operator/activator/main.ts')], logFile, {
    KUBECONFIG: kubeconfigPath,
    MODELSHIP_ACTIVATOR_ADDRESS: hostAddress,
    MODELSHIP_ACTIVATOR_PORT: String(port),
    MODELSHIP_ACTIVATOR_METRICS_PORT: String(metricsPort),
    MODELSHIP_ACTIVATOR_HOLD_SECONDS: '120',
  });
  await eventually(async () => {
    expect((await fetch(`http://${hostAddress}:${metricsPort}/healthz`, { signal: AbortSignal.timeout(1_000) })).status).to.equal(200);
  }, { timeoutMs: 60_000, intervalMs: 500 });
  const labels = { 'app.kubernetes.io/name': 'modelship-activator', 'app.kubernetes.io/managed-by': 'modelship-tests' };
  await kubectl(['create', 'namespace', ACTIVATOR_NAMESPACE]).catch(() => undefined);
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=modelship-tests', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: ACTIVATOR_SERVICE, namespace: ACTIVATOR_NAMESPACE, labels }, spec: { ports: [{ name: 'http', port: 80, targetPort: port }] } },
      {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name: `${ACTIVATOR_SERVICE}-host`, namespace: ACTIVATOR_NAMESPACE, labels: { ...labels, 'kubernetes.io/service-name': ACTIVATOR_SERVICE, 'endpointslice.kubernetes.io/managed-by': 'modelship-tests' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port, protocol: 'TCP' }],
        endpoints: [{ addresses: [hostAddress], conditions: { ready: true } }],
      },
    ],
  }));
  return {
    service: `${ACTIVATOR_NAMESPACE}/${ACTIVATOR_SERVICE}`,
    metricsTarget: `${hostAddress}:${metricsPort}`,
    logFile,
    async stop() {
      await activator.stop();
      await kubectl(['delete', '-n', ACTIVATOR_NAMESPACE, 'service', ACTIVATOR_SERVICE, '--ignore-not-found']).catch(() => undefined);
      await kubectl(['delete', '-n', ACTIVATOR_NAMESPACE, 'endpointslice', `${ACTIVATOR_SERVICE}-host`, '--ignore-not-found']).catch(() => undefined);
    },
  };
}
