import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { planeBinDir } from './test-tools.ts';
import { freePort } from '../plane/ports.ts';
import { SupervisedProcess } from '../plane/supervised-process.ts';

/** The controller name Traefik's Gateway API provider claims GatewayClasses by. */
export const TRAEFIK_CONTROLLER_NAME = 'traefik.io/gateway-controller';

export interface RunningTraefik {
  /** The one HTTP entry point, on loopback: a Gateway listener on `port` binds to it. */
  port: number;
  url: string;
  logFile: string;
  /** Traefik's routers and services as it has loaded them (its API), to say why a request went where it did. */
  loaded(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Traefik v3 (test/plane/build-traefik.sh) as a Gateway API implementation, run on this machine
 * against the plane's kubeconfig like a gateway controller in the cluster: it reads Gateways,
 * HTTPRoutes, GRPCRoutes and the Services' EndpointSlices, writes their status, and proxies to the
 * pods' IPs on the real node.
 */
export async function startTraefik(kubeconfigPath: string, logDir: string): Promise<RunningTraefik> {
  const bin = await planeBinDir('build-traefik.sh');
  const [port, apiPort] = [await freePort(), await freePort()];
  const logFile = join(logDir, 'traefik.log');
  const traefik = new SupervisedProcess('traefik', join(bin, 'traefik'), [
    `--entryPoints.web.address=127.0.0.1:${port}`,
    `--entryPoints.traefik.address=127.0.0.1:${apiPort}`,
    '--api.insecure=true',
    // Its web UI is not in this build: without this, every configuration reload logs an error about it.
    '--api.dashboard=false',
    '--providers.kubernetesgateway=true',
    // The address written into Gateway status: where clients reach the entry point.
    '--providers.kubernetesgateway.statusAddress.ip=127.0.0.1',
    '--providers.kubernetesgateway.throttleDuration=0s',
    '--log.level=INFO',
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
  ], logFile, { KUBECONFIG: kubeconfigPath });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const listening = await Promise.race([
      fetch(url, { signal: AbortSignal.timeout(1_000) }).then(() => true, () => false),
      traefik.crashed(),
    ]);
    if (listening) break;
    if (Date.now() > deadline) {
      await traefik.stop();
      throw new Error(`Traefik did not listen on ${url} within 60 s; see ${logFile}`);
    }
    await sleep(250);
  }
  const loaded = async () => {
    const [routers, services] = await Promise.all(['routers', 'services'].map(async (what) =>
      fetch(`http://127.0.0.1:${apiPort}/api/http/${what}`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.text(), (error: Error) => error.message)));
    return `routers: ${routers}\nservices: ${services}`;
  };
  return { port, url, logFile, loaded, stop: () => traefik.stop() };
}

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

export interface TraefikGateway {
  traefik: RunningTraefik;
  /** The GatewayClass Traefik claims, and the Gateway "public" of `namespace` on its entry point. */
  className: string;
  stop(): Promise<void>;
}

/**
 * The Gateway API as a user's cluster has it: its CRDs, Traefik as the controller of a GatewayClass,
 * and a Gateway named "public" in `namespace` with one HTTP listener (routes of that namespace only),
 * Programmed. Install the CRDs before the operator starts and it finds the Gateway API at once.
 */
export async function startTraefikGateway(kubectl: Kubectl, kubeconfigPath: string, logDir: string, namespace: string): Promise<TraefikGateway> {
  const traefik = await startTraefik(kubeconfigPath, logDir);
  const className = `modelship-traefik-${namespace}`;
  await kubectl(['create', 'namespace', namespace]).catch(() => undefined);
  await kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: className }, spec: { controllerName: TRAEFIK_CONTROLLER_NAME } },
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'public', namespace },
        // Traefik binds a listener to the entry point with the same port.
        spec: { gatewayClassName: className, listeners: [{ name: 'web', protocol: 'HTTP', port: traefik.port, allowedRoutes: { namespaces: { from: 'Same' } } }] },
      },
    ],
  }));
  await kubectl(['wait', '--for=condition=Programmed', '--timeout=60s', '-n', namespace, 'gateway/public']);
  return {
    traefik,
    className,
    async stop() {
      await traefik.stop();
      await kubectl(['delete', 'gatewayclass', className, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    },
  };
}
