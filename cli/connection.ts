import { KubeConfig } from '@kubernetes/client-node';
import { KubeRestClient } from '../operator/kube/rest-client.ts';
import type { ConnectionFlags } from './args.ts';
import { CliError } from './errors.ts';

export interface Connection {
  client: KubeRestClient;
  namespace: string;
}

/** What loadFromDefault settles for when it finds neither a kubeconfig nor a service account. */
function isNoConfigFallback(kubeConfig: KubeConfig): boolean {
  const cluster = kubeConfig.getCurrentCluster();
  return kubeConfig.contexts.length === 1 && cluster?.name === 'cluster' && cluster.server === 'http://localhost:8080';
}

/**
 * The cluster and namespace as kubectl would pick them: --kubeconfig, else $KUBECONFIG (a list of
 * files, merged), else ~/.kube/config; --context, else the current context; -n, else the
 * context's namespace, else default.
 */
export function kubeConfigFor(flags: ConnectionFlags): { kubeConfig: KubeConfig; namespace: string } {
  const kubeConfig = new KubeConfig();
  try {
    if (flags.kubeconfig) kubeConfig.loadFromFile(flags.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new CliError(`cannot load kubeconfig${flags.kubeconfig ? ` ${flags.kubeconfig}` : ''}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (isNoConfigFallback(kubeConfig)) throw new CliError('no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config');
  if (flags.context) {
    if (!kubeConfig.getContextObject(flags.context)) throw new CliError(`context "${flags.context}" does not exist`);
    kubeConfig.setCurrentContext(flags.context);
  }
  const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  return { kubeConfig, namespace: flags.namespace ?? (contextNamespace || 'default') };
}

export function connect(flags: ConnectionFlags): Connection {
  const { kubeConfig, namespace } = kubeConfigFor(flags);
  return { client: new KubeRestClient(kubeConfig), namespace };
}
