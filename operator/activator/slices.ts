import type { V1EndpointSlice } from '@kubernetes/client-node';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const SLICE_MANAGER_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The operator's slices that lead a scaled-to-zero model's Service to the activator. */
export const ACTIVATOR_SLICE_MANAGER = 'activator.modelship.io';

/** A model pod that is ready for requests: its address and the port its Service's `http` port leads to. */
export interface Endpoint {
  address: string;
  port: number;
}

/** The ready pods of one Service, from its slices (the EndpointSlice controller's), never the ones that lead to the activator. */
export function readyEndpointsOf(slices: readonly V1EndpointSlice[], portName: string): Endpoint[] {
  return slices
    .filter((slice) => slice.metadata?.labels?.[SLICE_MANAGER_LABEL] !== ACTIVATOR_SLICE_MANAGER)
    .flatMap((slice) => {
      const port = slice.ports?.find((entry) => entry.name === portName)?.port;
      if (port === undefined) return [];
      return (slice.endpoints ?? [])
        .filter((endpoint) => endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true)
        .flatMap((endpoint) => endpoint.addresses.slice(0, 1).map((address) => ({ address, port })));
    });
}
