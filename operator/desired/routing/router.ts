import type { KubernetesObject } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/types.ts';
import type { TrafficRouterName } from '../../api/schema.ts';
import type { Strategy, Weights } from '../../rollout/state-machine.ts';
import type { ConditionState } from '../../status/conditions.ts';
import type { ChildKind } from '../child-kind.ts';
import type { OperatorOptions } from '../options.ts';
import type { GatewayRoute, GatewaySupport } from './gateway-api.ts';
import type { RouteRule } from './shared-route.ts';

/** What the planner asks of a router in one pass: which revisions serve, with what weights. */
export interface RouteRequest {
  md: ModelDeployment;
  options: OperatorOptions;
  strategy: Strategy;
  /** Absent for a rolling update: one Deployment, all of whose pods are the stable side. */
  stableRevision?: string;
  /** Present while a rollout runs. */
  candidateRevision?: string;
  /** The candidate's Deployment is ready: an A/B match or a mirror may send it requests. */
  candidateReady: boolean;
  /** Revisions whose pods still run after a promotion or rollback, until their scale-down delay ends. */
  retiringRevisions: readonly string[];
  /** The weights a router that splits by weight applies. */
  weights: Weights;
  /** Ready pods behind each side, for routers that split by them. */
  pods: { candidate: number; stable: number };
  /** What the Gateways the model names support, by "namespace/name" (Gateway API only; absent: unknown). */
  gateways?: ReadonlyMap<string, GatewaySupport>;
  /** This router's own objects as the cluster has them (their status says whether routing took). */
  observed: (kind: ChildKind) => readonly KubernetesObject[];
  /** The user's HTTPRoute of spec.traffic.httpRouteRef as read in this pass; null: it does not exist. */
  sharedRoute?: GatewayRoute | null;
  /**
   * Set when this router stands in for the one the model should have (not installed, or TLS it
   * cannot see into): the condition's reason and the words that start its message.
   */
  standIn?: { reason: string; why: string };
}

/** What a router does with the model's traffic in this pass. */
export interface Route {
  /** The Services and routing objects that carry the traffic. */
  objects: KubernetesObject[];
  /** The model's own rules for the user's HTTPRoute (spec.traffic.httpRouteRef), which is edited, never applied whole. */
  sharedRouteRules?: { name: string; rules: readonly RouteRule[] };
  /** Weights as routed: what the router applies, or what the pods it splits by make. */
  weights: Weights;
  /** The TrafficRouting condition. */
  condition: ConditionState;
  /**
   * Pods of a retired revision answer requests until they exit: the Service selects every
   * revision's pods, or it switched its selector and clients keep the connections they opened
   * before (kube-proxy balances connections, not requests).
   */
  retiredPodsServe: boolean;
}

/**
 * One implementation of traffic routing (a mesh, a gateway, plain Services). The planner asks the
 * router of a ModelDeployment (registry.ts) and names none.
 */
export interface TrafficRouter {
  readonly name: TrafficRouterName;
  /** What the API and status call it. */
  readonly product: string;
  /** The kinds of objects it writes; all optional kinds, found by discovery. */
  readonly kinds: readonly ChildKind[];
  /** Whether it is installed, given which optional kinds the cluster serves. */
  readonly installed: (served: (kind: ChildKind) => boolean) => boolean;
  /** What the condition says when it is not installed. */
  readonly missing: string;
  /** A canary's revisions share one Service and split traffic by their ready pods. */
  readonly splitsByPods: boolean;
  route(request: RouteRequest): Route;
}
