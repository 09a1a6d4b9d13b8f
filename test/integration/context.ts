import type { KubeConfig } from '@kubernetes/client-node';
import type { RunningPlane } from '../plane/plane.ts';

/** What integration tests get from the shared control plane started once per mocha run. */
export interface PlaneContext {
  /** Path of a kubeconfig with cluster-admin on the test plane. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** Directory holding kubectl, kube-apiserver, etcd, kwok ... */
  binDir: string;
  /** Base URL of the apiserver, https://127.0.0.1:PORT */
  server: string;
  /** kubectl, apiserver restart and stop. */
  running: RunningPlane;
}

let current: PlaneContext | undefined;

export function setPlane(plane: PlaneContext | undefined): void {
  current = plane;
}

/** The running plane; throws outside the integration suite's lifetime. */
export function plane(): PlaneContext {
  if (!current) throw new Error('the test control plane is not running (run via npm run test:integration)');
  return current;
}
