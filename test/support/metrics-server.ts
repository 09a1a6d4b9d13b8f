import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { planeBinDir } from './test-tools.ts';
import { freePort } from '../plane/ports.ts';
import { SupervisedProcess } from '../plane/supervised-process.ts';
import { registerAggregatedApi, unregisterAggregatedApi, type AggregatedApi } from './aggregated-api.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

export interface RunningMetricsServer {
  logFile: string;
  stop(): Promise<void>;
}

/**
 * metrics-server (test/plane/build-metrics-server.sh) on this machine, serving metrics.k8s.io to the
 * plane as it does in a cluster: it reads each node's kubelet /metrics/resource (the CPU the pods'
 * cgroups used) and the HPA controller reads it through the aggregation layer. It listens on the real
 * node's bridge address, which the apiserver reaches and Endpoints accept.
 */
export async function startMetricsServer(kubectl: Kubectl, kubeconfigPath: string, hostAddress: string, logDir: string): Promise<RunningMetricsServer> {
  const bin = await planeBinDir('build-metrics-server.sh');
  const port = await freePort();
  const certDir = join(logDir, 'metrics-server-certs');
  await mkdir(certDir, { recursive: true });
  const logFile = join(logDir, 'metrics-server.log');
  const server = new SupervisedProcess('metrics-server', join(bin, 'metrics-server'), [
    `--kubeconfig=${kubeconfigPath}`, `--authentication-kubeconfig=${kubeconfigPath}`, `--authorization-kubeconfig=${kubeconfigPath}`,
    `--bind-address=${hostAddress}`, `--secure-port=${port}`, `--cert-dir=${certDir}`,
    // The kubelet serves a self-signed certificate (no serving-certificate signer runs here), as on
    // kind and minikube, where metrics-server is installed with the same flag.
    '--kubelet-insecure-tls', '--kubelet-preferred-address-types=InternalIP', '--kubelet-use-node-status-port',
    // The HPA sees a new sample every 10 s (it must exceed the kubelet request timeout).
    '--metric-resolution=10s', '--kubelet-request-timeout=5s',
  ], logFile);
  const api: AggregatedApi = { group: 'metrics.k8s.io', version: 'v1beta1', serviceName: 'metrics-server', address: hostAddress, port };
  const stop = async () => {
    await unregisterAggregatedApi(kubectl, api).catch(() => undefined);
    await server.stop();
  };
  try {
    await Promise.race([registerAggregatedApi(kubectl, api), server.crashed()]);
  } catch (error) {
    await stop();
    throw new Error(`metrics-server did not become available: ${(error as Error).message} (log: ${logFile})`, { cause: error });
  }
  return { logFile, stop };
}
