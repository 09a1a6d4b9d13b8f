import type { ConditionState } from '../../status/conditions.ts';
import type { Route, RouteRequest, TrafficRouter } from './router.ts';
import { modelServices } from './services.ts';

/** The condition of a plan the Service carries as well as it can: degraded where it stands in for a router. */
function condition(request: RouteRequest, message: string): ConditionState {
  return request.standIn
    ? { status: 'False', reason: request.standIn.reason, message: `${request.standIn.why}: ${message}` }
    : { status: 'True', reason: 'ServiceRouting', message };
}

/** A canary's revisions share the Service, which weighs them by their ready pods. */
function replicaRatio(request: RouteRequest): Route {
  const { candidate, stable } = request.pods;
  const serving = candidate + stable;
  const share = request.candidateRevision && serving > 0 ? Math.round((100 * candidate) / serving) : 0;
  const message = request.md.spec.autoscaling
    ? 'with autoscaling, stable and candidate pods share the Service by whatever replica counts their HPAs choose'
    : `the canary weight is approximated by replica counts (${request.candidateRevision ? `${candidate} candidate, ${stable} stable` : 'no candidate'}), and kube-proxy balances connections, not requests`;
  return { objects: modelServices(request, 'EveryRevision'), weights: { stable: 100 - share, candidate: share }, condition: condition(request, message), retiredPodsServe: true };
}

/** The Service selects the stable revision only; blue/green switches it over at promotion. */
function selectorSwitch(request: RouteRequest): Route {
  const message = request.strategy === 'BlueGreen'
    ? 'blue/green switches the Service selector'
    : `${request.strategy} needs a traffic router, the candidate gets no live traffic (reach it through its own pods)`;
  return { objects: modelServices(request, 'StableRevision'), weights: { stable: 100, candidate: 0 }, condition: condition(request, message), retiredPodsServe: true };
}

/** One Deployment replacing its pods in place: the Service takes old and new pods alike. */
function allPods(request: RouteRequest): Route {
  // Without spec.traffic no router was asked for, and the Service is all there is to do.
  const routed = request.md.spec.traffic ? condition(request, 'spec.traffic is ignored') : condition({ ...request, standIn: undefined }, 'the Service routes to every ready pod');
  return { objects: modelServices(request, 'EveryRevision'), weights: { stable: 100, candidate: 0 }, condition: routed, retiredPodsServe: true };
}

/**
 * No proxy: the model's own Service carries the traffic, always installed. It routes a canary by
 * replica counts and blue/green by its selector; A/B tests and mirrors need a real router.
 */
export const serviceRouter: TrafficRouter = {
  name: 'Service',
  product: 'the Service',
  kinds: [],
  installed: () => true,
  missing: '',
  splitsByPods: true,
  route(request) {
    if (request.stableRevision === undefined) return allPods(request);
    return request.strategy === 'Canary' ? replicaRatio(request) : selectorSwitch(request);
  },
};
