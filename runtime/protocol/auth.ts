import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RuntimeProbePaths } from '../contract.ts';
import { sendJson } from './http.ts';

/** Kubelet probes and Prometheus scrapes carry no token, so these stay open. */
const OPEN_PATHS: ReadonlySet<string> = new Set([RuntimeProbePaths.live, RuntimeProbePaths.ready, RuntimeProbePaths.metrics]);

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Returns a guard that answers 401 (and returns true) for a request to a model endpoint without
 * `Authorization: Bearer <token>`. Without a token configured, every request passes.
 */
export function bearerTokenCheck(token: string | undefined): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (!token) return () => false;
  // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
  const expected = digest(token);
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (OPEN_PATHS.has(path)) return false;
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return false;
    req.resume();
    sendJson(res, 401, { error: presented === undefined ? 'missing bearer token: send "Authorization: Bearer <token>"' : 'invalid bearer token' }, {
      'WWW-Authenticate': 'Bearer realm="modelship"',
    });
    return true;
  };
}
