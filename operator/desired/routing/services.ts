import type { V1Service } from '@kubernetes/client-node';
import { desiredService, previewServiceName } from '../service.ts';
import type { RouteRequest } from './router.ts';

/**
 * The model's Service, selecting every revision's pods (a router then picks among them) or only the
 * stable revision's, plus blue/green's preview Service for the candidate.
 */
export function modelServices(request: RouteRequest, selects: 'EveryRevision' | 'StableRevision'): V1Service[] {
  const { md, stableRevision, candidateRevision } = request;
  const main = selects === 'StableRevision' && stableRevision ? desiredService(md, { revision: stableRevision }) : desiredService(md);
  const preview = request.strategy === 'BlueGreen' && candidateRevision ? [desiredService(md, { revision: candidateRevision, name: previewServiceName(md) })] : [];
  return [main, ...preview];
}
