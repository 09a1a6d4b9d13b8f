import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { planeBinDir } from './test-tools.ts';
import { freePorts } from '../plane/ports.ts';
import { SupervisedProcess } from '../plane/supervised-process.ts';
import { registerAggregatedApi, unregisterAggregatedApi, type AggregatedApi } from './aggregated-api.ts';

const run = promisify(execFile);
type Kubectl = (args: string[], stdin?: string) => Promise<string>;

/** Where KEDA keeps its cluster-wide objects (its chart's namespace). */
const KEDA_NAMESPACE = 'keda';

export interface RunningKeda {
  operatorLog: string;
  adapterLog: string;
  /**
   * Deletes every ScaledObject while KEDA can still finalize it (stop the ModelDeployments' operator
   * first, or it writes them again), stops both processes, unregisters the adapter and removes the CRDs.
   */
  stop(): Promise<void>;
}

/**
 * One CA and one certificate for server and client use on 127.0.0.1, as KEDA's own certificate
 * rotation makes them: the operator's gRPC metrics service demands a client certificate of that CA,
 * and the adapter presents it and checks the operator's.
 */
async function writeCertificates(dir: string): Promise<void> {
  const openssl = (args: string[]) => run('openssl', args, { cwd: dir });
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-subj', '/CN=keda-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
  await writeFile(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=keda', '-keyout', 'tls.key', '-out', 'tls.csr']);
  await openssl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3', '-extfile', 'leaf.ext', '-out', 'tls.crt']);
}

/**
 * KEDA v2 (test/plane/build-keda.sh) on this machine, as its chart runs it in a cluster: the CRDs,
 * the operator (ScaledObjects into HPAs, activation, its gRPC metrics service) and the metrics
 * adapter, registered as external.metrics.k8s.io, which the HPA controller reads through the
 * aggregation layer. The adapter listens on the real node's bridge address.
 */
export async function startKeda(kubectl: Kubectl, kubeconfigPath: string, hostAddress: string, logDir: string): Promise<RunningKeda> {
  const bin = await planeBinDir('build-keda.sh');
  const certDir = join(logDir, 'keda-certs');
  await mkdir(certDir, { recursive: true });
  await writeCertificates(certDir);
  await kubectl(['apply', '--server-side', '-f', join(bin, 'keda-crds.yaml')]);
  await kubectl(['create', 'namespace', KEDA_NAMESPACE]).catch(() => undefined);
  const [metricsPort, probePort, grpcPort, adapterPort, adapterMetricsPort] = await freePorts(5);
  const env = { WATCH_NAMESPACE: '', KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE, POD_NAMESPACE: KEDA_NAMESPACE, KUBECONFIG: kubeconfigPath };
  const operatorLog = join(logDir, 'keda-operator.log');
  const adapterLog = join(logDir, 'keda-adapter.log');
  const operator = new SupervisedProcess('keda-operator', join(bin, 'keda-operator'), [
    `--kubeconfig=${kubeconfigPath}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${probePort}`,
    `--metrics-service-bind-address=127.0.0.1:${grpcPort}`, `--cert-dir=${certDir}`,
    '--enable-webhook-patching=false', '--enable-apiservice-patching=false',
  ], operatorLog, env);
  const adapter = new SupervisedProcess('keda-adapter', join(bin, 'keda-adapter'), [
    `--kubeconfig=${kubeconfigPath}`, `--lister-kubeconfig=${kubeconfigPath}`,
    `--authentication-kubeconfig=${kubeconfigPath}`, `--authorization-kubeconfig=${kubeconfigPath}`,
    `--bind-address=${hostAddress}`, `--secure-port=${adapterPort}`, `--cert-dir=${certDir}`,
    `--tls-cert-file=${join(certDir, 'tls.crt')}`, `--tls-private-key-file=${join(certDir, 'tls.key')}`,
    `--metrics-service-address=127.0.0.1:${grpcPort}`, `--port=${adapterMetricsPort}`, '--profiling=false',
  ], adapterLog, env);
  const api: AggregatedApi = { group: 'external.metrics.k8s.io', version: 'v1beta1', serviceName: 'keda-metrics-apiserver', address: hostAddress, port: adapterPort! };
  const stop = async () => {
    // KEDA puts a finalizer on each ScaledObject: they go while its operator runs to remove it, or
    // they (and their namespaces) would never finish deleting.
    await kubectl(['delete', 'scaledobjects.keda.sh', '--all', '--all-namespaces', '--timeout=60s']).catch(async () => {
      const left = JSON.parse(await kubectl(['get', 'scaledobjects.keda.sh', '--all-namespaces', '-o', 'json']).catch(() => '{"items":[]}')) as { items: { metadata: { name: string; namespace: string } }[] };
      for (const { metadata } of left.items) {
        await kubectl(['patch', 'scaledobjects.keda.sh', metadata.name, '-n', metadata.namespace, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']).catch(() => undefined);
      }
    });
    await unregisterAggregatedApi(kubectl, api).catch(() => undefined);
    await adapter.stop();
    await operator.stop();
    await kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', join(bin, 'keda-crds.yaml')]).catch(() => undefined);
  };
  try {
    await Promise.race([registerAggregatedApi(kubectl, api), operator.crashed(), adapter.crashed()]);
  } catch (error) {
    await stop();
    throw new Error(`KEDA did not become available: ${(error as Error).message} (logs: ${operatorLog}, ${adapterLog})`, { cause: error });
  }
  return { operatorLog, adapterLog, stop };
}
