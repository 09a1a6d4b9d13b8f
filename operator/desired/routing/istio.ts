import type { KubernetesObject } from '@kubernetes/client-node';
import { SpecDefaults } from '../../api/schema.ts';
import type { ModelDeployment } from '../../api/types.ts';
import { durationMs } from '../../rollout/duration.ts';
import type { Strategy, Weights } from '../../rollout/state-machine.ts';
import { RUNTIME_DEFAULT_GRPC_PORT } from '../../../runtime/contract.ts';
import { childKind, typeMeta } from '../child-kind.ts';
import { GRPC_PORT_NAME, HTTP_PORT_NAME } from '../deployment.ts';
import { childLabels, REVISION_LABEL, selectorLabels } from '../labels.ts';
import { childMetadata, nameOf, namespaceOf } from '../metadata.ts';
import { DEFAULT_CLUSTER_DOMAIN, type OperatorOptions } from '../options.ts';
import { servicePort } from '../service.ts';
import { cookieMatchRegex } from './ab-match.ts';
import type { TrafficRouter } from './router.ts';
import { modelServices } from './services.ts';

/** Istio's kinds: the subsets' labels select their pods, so a revision label dropped from them must go. */
export const IstioKinds = {
  destinationRule: childKind('networking.istio.io', 'v1', 'DestinationRule', 'destinationrules', { provider: 'Istio', exactLabelMaps: [['labels', 'subsets']] }),
  virtualService: childKind('networking.istio.io', 'v1', 'VirtualService', 'virtualservices', { provider: 'Istio' }),
  peerAuthentication: childKind('security.istio.io', 'v1', 'PeerAuthentication', 'peerauthentications', { provider: 'Istio' }),
} as const;

export const STABLE_SUBSET = 'stable';
export const CANDIDATE_SUBSET = 'candidate';

/** What the mesh should do with the model's traffic in this pass. */
export interface MeshRoute {
  strategy: Strategy;
  /** Absent: the stable subset is every pod of the ModelDeployment (a rolling update runs old and new pods together). */
  stableRevision?: string;
  /** Present while a rollout runs: the candidate's subset exists and receives its share. */
  candidateRevision?: string;
  /** The candidate is ready: an A/B match or a mirror may send it requests. */
  candidateReady?: boolean;
  weights: Weights;
}

const serviceHost = (md: ModelDeployment, options: OperatorOptions) => `${nameOf(md)}.${namespaceOf(md)}.svc.${options.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN}`;

/** Istio durations are protobuf Durations: seconds with an "s" suffix. */
const istioDuration = (duration: string) => `${durationMs(duration) / 1000}s`;

export interface IstioSpec<T> extends KubernetesObject {
  spec: T;
}

export function desiredDestinationRule(md: ModelDeployment, options: OperatorOptions, route: MeshRoute): IstioSpec<Record<string, unknown>> {
  const subset = (name: string, revision: string | undefined) => ({ name, labels: { ...selectorLabels(md), ...(revision && { [REVISION_LABEL]: revision }) } });
  return {
    ...typeMeta(IstioKinds.destinationRule),
    metadata: childMetadata(md, childLabels(md)),
    spec: {
      host: serviceHost(md, options),
      subsets: [subset(STABLE_SUBSET, route.stableRevision), ...(route.candidateRevision ? [subset(CANDIDATE_SUBSET, route.candidateRevision)] : [])],
    },
  };
}

/** Header match for A/B tests; a cookie is matched inside the Cookie header, as Istio documents. */
function abMatches(md: ModelDeployment): Record<string, unknown>[] {
  const ab = md.spec.rollout?.abTest;
  return [
    ...(ab?.header ? [{ headers: { [ab.header.name.toLowerCase()]: { exact: ab.header.value } } }] : []),
    ...(ab?.cookie ? [{ headers: { cookie: { regex: cookieMatchRegex(ab.cookie) } } }] : []),
  ];
}

/** The Service's ports: each gets its own routes, matched by port, so REST and gRPC both reach the subset. */
function routedPorts(md: ModelDeployment): { name: string; number: number }[] {
  return [{ name: HTTP_PORT_NAME, number: servicePort(md) }, { name: GRPC_PORT_NAME, number: RUNTIME_DEFAULT_GRPC_PORT }];
}

export function desiredVirtualService(md: ModelDeployment, options: OperatorOptions, route: MeshRoute): IstioSpec<Record<string, unknown>> {
  const host = serviceHost(md, options);
  const traffic = md.spec.traffic;
  const policy = {
    ...(traffic?.timeout && { timeout: istioDuration(traffic.timeout) }),
    ...(traffic?.retries && {
      retries: {
        attempts: traffic.retries.attempts,
        ...(traffic.retries.perTryTimeout && { perTryTimeout: istioDuration(traffic.retries.perTryTimeout) }),
        ...(traffic.retries.retryOn && { retryOn: traffic.retries.retryOn }),
      },
    }),
  };
  const candidate = route.candidateRevision;
  const http: Record<string, unknown>[] = [];
  for (const port of routedPorts(md)) {
    const destination = (subset: string) => ({ host, subset, port: { number: port.number } });
    if (candidate && route.candidateReady && route.strategy === 'ABTest') {
      const match = abMatches(md).map((condition) => ({ ...condition, port: port.number }));
      http.push({ name: `ab-candidate-${port.name}`, match, route: [{ destination: destination(CANDIDATE_SUBSET), weight: 100 }], ...policy });
    }
    const split = candidate && route.strategy === 'Canary'
      ? [{ destination: destination(STABLE_SUBSET), weight: route.weights.stable }, { destination: destination(CANDIDATE_SUBSET), weight: route.weights.candidate }]
      : [{ destination: destination(STABLE_SUBSET), weight: 100 }];
    const mirror = candidate && route.candidateReady && route.strategy === 'Mirror'
      ? { mirror: destination(CANDIDATE_SUBSET), mirrorPercentage: { value: md.spec.rollout?.mirror?.percent ?? 100 } }
      : {};
    http.push({ name: `primary-${port.name}`, match: [{ port: port.number }], route: split, ...mirror, ...policy });
  }
  return {
    ...typeMeta(IstioKinds.virtualService),
    metadata: childMetadata(md, childLabels(md)),
    spec: {
      hosts: [host, ...(traffic?.hosts ?? [])],
      ...(traffic?.gateways?.length && { gateways: [...traffic.gateways, 'mesh'] }),
      http,
    },
  };
}

const MTLS_MODES = { Strict: 'STRICT', Permissive: 'PERMISSIVE' } as const;

/**
 * While Istio routes the model's traffic, its pods take mutual TLS (spec.security.meshMtls, Strict
 * by default): callers must be mesh workloads holding the mesh's certificates. Undefined for
 * MeshDefault, leaving the namespace or mesh-wide policy in charge.
 */
export function desiredPeerAuthentication(md: ModelDeployment): IstioSpec<Record<string, unknown>> | undefined {
  const mode = md.spec.security?.meshMtls ?? SpecDefaults.meshMtls;
  if (mode === 'MeshDefault') return undefined;
  return {
    ...typeMeta(IstioKinds.peerAuthentication),
    metadata: childMetadata(md, childLabels(md)),
    spec: { selector: { matchLabels: selectorLabels(md) }, mtls: { mode: MTLS_MODES[mode] } },
  };
}

/** Istio: a VirtualService splits, matches or mirrors between the DestinationRule's revision subsets. */
export const istioRouter: TrafficRouter = {
  name: 'Istio',
  product: 'Istio',
  kinds: Object.values(IstioKinds),
  installed: (served) => served(IstioKinds.virtualService) && served(IstioKinds.destinationRule),
  missing: 'Istio is not installed',
  splitsByPods: false,
  route(request) {
    const { md, options, strategy, weights } = request;
    const route: MeshRoute = {
      strategy,
      ...(request.stableRevision && { stableRevision: request.stableRevision }),
      ...(request.candidateRevision && { candidateRevision: request.candidateRevision, candidateReady: request.candidateReady }),
      weights,
    };
    const peerAuthentication = desiredPeerAuthentication(md);
    return {
      objects: [...modelServices(request, 'EveryRevision'), desiredDestinationRule(md, options, route), desiredVirtualService(md, options, route), ...(peerAuthentication ? [peerAuthentication] : [])],
      weights,
      condition: { status: 'True', reason: 'IstioRouting', message: `VirtualService routes ${weights.stable}% stable, ${weights.candidate}% candidate` },
      // A rolling update's subset is every pod of the model: old and new pods alike take traffic.
      retiredPodsServe: request.stableRevision === undefined,
    };
  },
};
