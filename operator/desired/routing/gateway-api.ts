import type { KubernetesObject } from '@kubernetes/client-node';
import { SpecDefaults } from '../../api/schema.ts';
import type { ModelDeployment } from '../../api/types.ts';
import { durationMs } from '../../rollout/duration.ts';
import type { ConditionState } from '../../status/conditions.ts';
import { RUNTIME_DEFAULT_GRPC_PORT, RUNTIME_GRPC_SERVICE } from '../../../runtime/contract.ts';
import type { ResourceType } from '../../kube/resources.ts';
import { childKind, typeMeta, type ChildKind } from '../child-kind.ts';
import { childLabels } from '../labels.ts';
import { childMetadata, nameOf, namespaceOf } from '../metadata.ts';
import { desiredService, servicePort } from '../service.ts';
import { cookieMatchRegex } from './ab-match.ts';
import { modelPathMatch, sharedRuleNames, type RouteRule } from './shared-route.ts';
import type { RouteRequest, TrafficRouter } from './router.ts';
import { modelServices } from './services.ts';

const GROUP = 'gateway.networking.k8s.io';

export const GatewayApiKinds = {
  httpRoute: childKind(GROUP, 'v1', 'HTTPRoute', 'httproutes', { provider: 'Gateway API' }),
  grpcRoute: childKind(GROUP, 'v1', 'GRPCRoute', 'grpcroutes', { provider: 'Gateway API' }),
} as const;

/** Read, never written: the Gateways routes attach to and their classes, for the features they support. */
export const GatewayApiReadKinds = {
  gateway: { group: GROUP, version: 'v1', kind: 'Gateway', plural: 'gateways', namespaced: true },
  gatewayClass: { group: GROUP, version: 'v1', kind: 'GatewayClass', plural: 'gatewayclasses', namespaced: false },
} as const satisfies Record<string, ResourceType>;

/** What a Gateway's class says it supports (GatewayClass status.supportedFeatures); features absent: it does not say. */
export interface GatewaySupport {
  className: string;
  features?: ReadonlySet<string>;
}

export const gatewayKey = (gateway: { namespace: string; name: string }): string => `${gateway.namespace}/${gateway.name}`;

/** Gateway API feature names (sigs.k8s.io/gateway-api pkg/features) the routes may need. */
const Features = {
  mirror: 'HTTPRouteRequestMirror',
  percentageMirror: 'HTTPRouteRequestPercentageMirror',
  requestTimeout: 'HTTPRouteRequestTimeout',
} as const;

interface RouteCondition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

interface BackendRef {
  name?: string;
  weight?: number;
}

export interface GatewayRoute extends KubernetesObject {
  spec: { rules?: RouteRule[]; parentRefs?: { name?: string; namespace?: string }[] } & Record<string, unknown>;
  status?: { parents?: { parentRef?: { name?: string; namespace?: string }; controllerName?: string; conditions?: RouteCondition[] }[] };
}

/** The names of the rules of a route the operator owns. */
const OWN_ROUTE_RULES = { primary: 'primary', ab: 'ab-candidate' } as const;

/** Where a route's primary rule sends requests, backend by backend (the Gateway API's default weight is 1). */
const splitOf = (rules: readonly RouteRule[] | undefined, primary: string): string =>
  ((rules?.find((rule) => rule.name === primary)?.backendRefs as BackendRef[] | undefined) ?? []).map((ref) => `${ref.name}=${ref.weight ?? 1}`).join(',');

/** The Service of one revision: the routes' backends, so a route changes by naming other backends, never by a selector switching under it. */
export const revisionServiceName = (md: ModelDeployment, revision: string): string => `${nameOf(md)}-${revision}`;

/** spec.traffic.gateways as parentRefs: "namespace/name" or "name" in the model's namespace. */
export function parentRefs(md: ModelDeployment): { group: string; kind: string; namespace: string; name: string }[] {
  return (md.spec.traffic?.gateways ?? []).map((gateway) => {
    const [namespace, name] = gateway.includes('/') ? gateway.split('/', 2) as [string, string] : [namespaceOf(md), gateway];
    return { group: GROUP, kind: 'Gateway', namespace, name };
  });
}

/** The Gateways a shared HTTPRoute attaches to: its owner's parentRefs (those that name Gateways). */
function sharedRouteParents(md: ModelDeployment, route: GatewayRoute | null | undefined): { namespace: string; name: string }[] {
  return (route?.spec.parentRefs ?? []).flatMap((ref: { name?: string; namespace?: string; kind?: string }) =>
    (ref.kind ?? 'Gateway') === 'Gateway' && ref.name ? [{ namespace: ref.namespace ?? namespaceOf(md), name: ref.name }] : []);
}

/** Gateway API durations (GEP-2257): whole seconds where they are, else milliseconds. */
function gatewayDuration(duration: string): string {
  const ms = durationMs(duration);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A/B matches: the header exactly, or the cookie inside the Cookie header (a regular expression, as the Gateway API has no cookie match). */
function abMatches(md: ModelDeployment): { headers: { type: string; name: string; value: string }[] }[] {
  const ab = md.spec.rollout?.abTest;
  return [
    ...(ab?.header ? [{ headers: [{ type: 'Exact', name: ab.header.name.toLowerCase(), value: ab.header.value }] }] : []),
    ...(ab?.cookie ? [{ headers: [{ type: 'RegularExpression', name: 'cookie', value: cookieMatchRegex(ab.cookie) }] }] : []),
  ];
}

/**
 * The rules of one port's route: A/B's match first, then the primary rule with the split or the
 * mirror. `only` narrows every match: a GRPCRoute takes only the runtime's gRPC service, so that on
 * a listener shared with the HTTPRoute it does not catch REST requests (Traefik, for one, would
 * send them all to the gRPC port).
 */
function rules(request: RouteRequest, port: number, extra: Record<string, unknown>, mirrored: boolean, only?: Record<string, unknown>, names: { primary: string; ab: string } = OWN_ROUTE_RULES): RouteRule[] {
  const { md, strategy, stableRevision, candidateRevision: candidate, weights } = request;
  // A match or a mirror sends requests to the candidate whatever the weights: only once it is ready.
  const serving = candidate !== undefined && request.candidateReady;
  const backend = (revision: string | undefined, weight?: number) => ({
    name: revision ? revisionServiceName(md, revision) : nameOf(md),
    port,
    ...(weight !== undefined && { weight }),
  });
  const ab = serving && strategy === 'ABTest' ? [{ name: names.ab, matches: abMatches(md).map((match) => ({ ...only, ...match })), backendRefs: [backend(candidate)], ...extra }] : [];
  const split = candidate && strategy === 'Canary' ? [backend(stableRevision, weights.stable), backend(candidate, weights.candidate)] : [backend(stableRevision)];
  const mirror = serving && strategy === 'Mirror' && mirrored
    ? { filters: [{ type: 'RequestMirror', requestMirror: { backendRef: backend(candidate), percent: md.spec.rollout?.mirror?.percent ?? SpecDefaults.mirrorPercent } }] }
    : {};
  return [...ab, { name: names.primary, ...(only && { matches: [only] }), backendRefs: split, ...mirror, ...extra }];
}

function route(kind: ChildKind, request: RouteRequest, port: number, extra: Record<string, unknown>, mirrored: boolean, only?: Record<string, unknown>): GatewayRoute {
  const { md } = request;
  const hosts = md.spec.traffic?.hosts;
  return {
    ...typeMeta(kind),
    metadata: childMetadata(md, childLabels(md)),
    spec: { parentRefs: parentRefs(md), ...(hosts?.length && { hostnames: hosts }), rules: rules(request, port, extra, mirrored, only) },
  };
}

/** One route the model's traffic goes through, as wanted and as the cluster has it. */
interface RouteCheck {
  kind: string;
  name: string;
  observed: GatewayRoute | undefined;
  /** The rules this pass wants in it, and which of them carries the split. */
  rules: readonly RouteRule[];
  primary: string;
  parents: readonly { namespace: string; name: string }[];
}

/**
 * What the Gateways say of the routes (status.parents): a route no Gateway has accepted, or whose
 * backends do not resolve, routes nothing, whatever its weights. The Gateway API has no feedback
 * for weights; the nearest is the generation a Gateway reports on: until each has taken the route
 * with this pass's split, the weights in status are asked of it, not yet routed (RoutePending).
 */
function routesCondition(request: RouteRequest, checks: readonly RouteCheck[], unsupported: string | undefined, message: string): ConditionState {
  for (const { kind, name, observed, rules: wanted, primary, parents } of checks) {
    for (const gateway of parents) {
      const parent = observed?.status?.parents?.find((entry) => entry.parentRef?.name === gateway.name && (entry.parentRef?.namespace ?? namespaceOf(request.md)) === gateway.namespace);
      const where = `${kind} ${name} on Gateway ${gateway.namespace}/${gateway.name}`;
      if (!parent) return { status: 'False', reason: 'RouteNotAccepted', message: `${where}: not accepted yet (no Gateway controller has reported on it)` };
      const split = splitOf(wanted, primary);
      if (splitOf(observed?.spec.rules, primary) !== split) return { status: 'False', reason: 'RoutePending', message: `${where}: being changed to route ${split}` };
      const taken = parent.conditions?.find((condition) => condition.type === 'Accepted')?.observedGeneration;
      const generation = observed?.metadata?.generation;
      if (taken !== undefined && generation !== undefined && taken < generation) {
        return { status: 'False', reason: 'RoutePending', message: `${where}: generation ${generation} (${split}) not taken yet, the Gateway reports on generation ${taken}` };
      }
      const refused = (type: string) => parent.conditions?.find((condition) => condition.type === type && condition.status === 'False');
      const notAccepted = refused('Accepted');
      if (notAccepted) return { status: 'False', reason: 'RouteNotAccepted', message: `${where}: ${notAccepted.reason}: ${notAccepted.message}` };
      const unresolved = refused('ResolvedRefs');
      if (unresolved) return { status: 'False', reason: 'RouteRefsNotResolved', message: `${where}: ${unresolved.reason}: ${unresolved.message}` };
    }
  }
  if (unsupported) return { status: 'False', reason: 'GatewayFeatureUnsupported', message: unsupported };
  return { status: 'True', reason: 'GatewayAPIRouting', message };
}

/** The classes of the model's Gateways that say they lack a feature. */
function lacking(request: RouteRequest, parents: readonly { namespace: string; name: string }[], feature: string): string[] {
  return parents.flatMap((gateway) => {
    const support = request.gateways?.get(gatewayKey(gateway));
    return support?.features && !support.features.has(feature) ? [support.className] : [];
  });
}

/**
 * Features the spec asks for that a Gateway's class says it lacks are left out of the routes (a
 * route with a filter its Gateway cannot apply may fail every request), and said so.
 */
function unsupportedFeatures(request: RouteRequest, parents: readonly { namespace: string; name: string }[]): { mirrored: boolean; timed: boolean; message?: string } {
  const { md, strategy, candidateRevision } = request;
  const problems: string[] = [];
  const percent = md.spec.rollout?.mirror?.percent ?? SpecDefaults.mirrorPercent;
  const mirrorFeatures = [Features.mirror, ...(percent < 100 ? [Features.percentageMirror] : [])];
  const mirrorLacking = candidateRevision && strategy === 'Mirror' ? mirrorFeatures.flatMap((feature) => lacking(request, parents, feature).map((className) => ({ className, feature }))) : [];
  if (mirrorLacking[0]) problems.push(`GatewayClass ${mirrorLacking[0].className} does not support ${mirrorLacking[0].feature}: the candidate gets no mirrored requests`);
  const timeoutLacking = md.spec.traffic?.timeout ? lacking(request, parents, Features.requestTimeout) : [];
  if (timeoutLacking[0]) problems.push(`GatewayClass ${timeoutLacking[0]} does not support ${Features.requestTimeout}: traffic.timeout is not applied`);
  return { mirrored: mirrorLacking.length === 0, timed: timeoutLacking.length === 0, ...(problems.length > 0 && { message: problems.join('; ') }) };
}

/**
 * Gateway API: an HTTPRoute (REST) and a GRPCRoute (the V2 gRPC port) attached to the Gateways in
 * spec.traffic.gateways, whose backends are one Service per live revision: weights for a canary,
 * a header or cookie match for an A/B test, the RequestMirror filter for a mirror. Or, with
 * spec.traffic.httpRouteRef, the same REST rules inside an HTTPRoute the user owns, which the
 * reconciler edits rule by rule (sharedRouteRules). The model's own Service keeps selecting the
 * stable revision for clients inside the cluster.
 */
export const gatewayApiRouter: TrafficRouter = {
  name: 'GatewayAPI',
  product: 'the Gateway API',
  kinds: Object.values(GatewayApiKinds),
  installed: (served) => served(GatewayApiKinds.httpRoute) && served(GatewayApiKinds.grpcRoute),
  missing: 'the Gateway API CRDs (HTTPRoute, GRPCRoute) are not installed',
  splitsByPods: false,
  route(request) {
    const { md, weights } = request;
    const shared = md.spec.traffic?.httpRouteRef;
    const parents = shared ? sharedRouteParents(md, request.sharedRoute) : parentRefs(md);
    const support = unsupportedFeatures(request, parents);
    const timeout = support.timed ? md.spec.traffic?.timeout : undefined;
    const timed = timeout ? { timeouts: { request: gatewayDuration(timeout) } } : {};
    const revisions = request.stableRevision ? [request.stableRevision, ...(request.candidateRevision ? [request.candidateRevision] : []), ...request.retiringRevisions] : [];
    const services = [
      ...modelServices(request, request.stableRevision ? 'StableRevision' : 'EveryRevision'),
      // Retiring revisions keep their Service while their pods drain, so a Gateway still sending them requests finds it.
      ...[...new Set(revisions)].map((revision) => desiredService(md, { revision, name: revisionServiceName(md, revision) })),
    ];
    const split = `${weights.stable}% stable, ${weights.candidate}% candidate`;
    if (shared) {
      const names = sharedRuleNames(md);
      const own = rules(request, servicePort(md), timed, support.mirrored, modelPathMatch(md), names);
      const check: RouteCheck = { kind: 'HTTPRoute', name: shared.name, observed: request.sharedRoute ?? undefined, rules: own, primary: names.primary, parents };
      const missing: ConditionState | undefined = request.sharedRoute === null
        ? { status: 'False', reason: 'HTTPRouteNotFound', message: `HTTPRoute ${shared.name} (traffic.httpRouteRef) does not exist in namespace ${namespaceOf(md)}: the model's rules go into it once it does` }
        : parents.length === 0 ? { status: 'False', reason: 'RouteNotAccepted', message: `HTTPRoute ${shared.name} (traffic.httpRouteRef) has no parentRefs: no Gateway routes it` } : undefined;
      return {
        objects: services,
        sharedRouteRules: { name: shared.name, rules: own },
        weights,
        condition: missing ?? routesCondition(request, [check], support.message, `the model's rules in HTTPRoute ${shared.name} route ${split} (gRPC is not routed through it)`),
        retiredPodsServe: request.stableRevision === undefined,
      };
    }
    // Without hostnames of its own, the model shares its Gateway's hosts with every other route on
    // it: its HTTPRoute takes only its model's paths, or the oldest route there would take them all.
    const ownsHosts = (md.spec.traffic?.hosts?.length ?? 0) > 0;
    const routes = [
      route(GatewayApiKinds.httpRoute, request, servicePort(md), timed, support.mirrored, ownsHosts ? undefined : modelPathMatch(md)),
      route(GatewayApiKinds.grpcRoute, request, RUNTIME_DEFAULT_GRPC_PORT, {}, support.mirrored, { method: { service: RUNTIME_GRPC_SERVICE } }),
    ];
    const checks = routes.map((desired): RouteCheck => {
      const kind = desired.kind === GatewayApiKinds.grpcRoute.kind ? GatewayApiKinds.grpcRoute : GatewayApiKinds.httpRoute;
      const observed = request.observed(kind).find((object) => object.metadata?.name === nameOf(md)) as GatewayRoute | undefined;
      return { kind: kind.kind, name: nameOf(md), observed, rules: desired.spec.rules ?? [], primary: OWN_ROUTE_RULES.primary, parents };
    });
    return {
      objects: [...services, ...routes],
      weights,
      condition: routesCondition(request, checks, support.message, `HTTPRoute and GRPCRoute route ${split}`),
      retiredPodsServe: request.stableRevision === undefined,
    };
  },
};
