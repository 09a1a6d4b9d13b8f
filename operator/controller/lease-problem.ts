import { ApiError, failureReason, isForbidden, isNotFound } from '../kube/rest-client.ts';
import { OperatorSettings } from '../settings.ts';

/** Why a replica cannot take part in leader election, said so that whoever reads it knows what to do. */
export interface LeaseProblem {
  /** Short and bounded: NamespaceNotFound, Forbidden, or the apiserver's reason / the socket error code. */
  reason: string;
  message: string;
}

export interface LeaseLocation {
  namespace: string;
  name: string;
}

const namespaceVariables = `${OperatorSettings.leaderElectionNamespace.name} (or ${OperatorSettings.podNamespace.name})`;

/** Turns a failed read or write of the leader-election Lease into what blocks it and how to unblock it. */
export function describeLeaseFailure(error: unknown, { namespace, name }: LeaseLocation): LeaseProblem {
  const lease = `Lease ${namespace}/${name}`;
  if (isNotFound(error) && (error as ApiError).details.kind === 'namespaces') {
    return {
      reason: 'NamespaceNotFound',
      message: `the leader-election ${lease} cannot be created: namespace "${namespace}" does not exist. `
        + `Create it (kubectl create namespace ${namespace}) or set ${namespaceVariables} to the namespace the operator runs in.`,
    };
  }
  if (isForbidden(error)) {
    return {
      reason: 'Forbidden',
      message: `the operator may not read or write the leader-election ${lease}: ${(error as ApiError).message}. `
        + `Grant get, create and update on leases.coordination.k8s.io in namespace "${namespace}" (the chart's Role does, in the release namespace) `
        + `or set ${namespaceVariables} to a namespace where it may.`,
    };
  }
  const detail = error instanceof Error ? error.message : String(error);
  return { reason: failureReason(error), message: `cannot acquire the leader-election ${lease}: ${detail}` };
}
