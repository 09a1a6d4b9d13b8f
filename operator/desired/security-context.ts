import type { V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';

/** The distroless "nonroot" user; any non-zero uid works with the restricted Pod Security level. */
export const RUNTIME_UID = 65532;

/** Meets the Pod Security Standards "restricted" profile. */
export function restrictedPodSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUNTIME_UID,
    runAsGroup: RUNTIME_UID,
    fsGroup: RUNTIME_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function restrictedContainerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
