import type { TrafficRouterName } from '../../api/schema.ts';
import type { ModelDeployment } from '../../api/types.ts';
import { isProgressive, strategyOf } from '../../rollout/state-machine.ts';
import type { ChildKind } from '../child-kind.ts';
import { gatewayApiRouter } from './gateway-api.ts';
import { istioRouter } from './istio.ts';
import type { RouteRequest, TrafficRouter } from './router.ts';
import { serviceRouter } from './service-router.ts';

/** Every traffic router, by the name spec.traffic.router gives it. */
export const trafficRouters: Readonly<Record<TrafficRouterName, TrafficRouter>> = {
  Istio: istioRouter,
  GatewayAPI: gatewayApiRouter,
  Service: serviceRouter,
};

/** The kinds of every router, for the registry of child kinds. */
export const routerKinds: readonly ChildKind[] = Object.values(trafficRouters).flatMap((router) => router.kinds);

/** Where nothing is named, a mesh routes what needs routing when one is installed. */
const DEFAULT_ROUTER = istioRouter;

export interface RouterChoice {
  router: TrafficRouter;
  /** Why the Service stands in for the router the model should have. */
  standIn?: NonNullable<RouteRequest['standIn']>;
}

/**
 * The router of a ModelDeployment: the one its spec names; else, for a progressive strategy or
 * spec.traffic, the default mesh; else the Service. The Service stands in, and says why, for a
 * router that is not installed or cannot see into the traffic (TLS that ends in the pods).
 */
export function routerOf(md: ModelDeployment, served: (kind: ChildKind) => boolean): RouterChoice {
  const named = md.spec.traffic?.router;
  const needsRouting = md.spec.traffic !== undefined || isProgressive(strategyOf(md.spec));
  const wanted = named ? trafficRouters[named] : needsRouting ? DEFAULT_ROUTER : serviceRouter;
  if (wanted === serviceRouter) return { router: serviceRouter };
  if (!wanted.installed(served)) return { router: serviceRouter, standIn: { reason: `${wanted.name}NotInstalled`, why: wanted.missing } };
  if (md.spec.security?.tls) return { router: serviceRouter, standIn: { reason: 'TlsEndsInPods', why: `security.tls ends TLS in the pods, where ${wanted.product} cannot route it` } };
  return { router: wanted };
}
