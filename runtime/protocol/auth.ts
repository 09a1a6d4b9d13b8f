import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RuntimeProbePaths } from '../contract.ts';
import { sendJson } from './http.ts';

/** Kubelet probes and Prometheus scrapes carry no token, so these stay open. */
export const OPEN_PATHS: ReadonlySet<string> = new Set([RuntimeProbePaths.live, RuntimeProbePaths.ready, RuntimeProbePaths.metrics]);

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The token of an `Authorization: Bearer <token>` value, if it is one. */
export function bearerTokenIn(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

export type TokenCheck = 'ok' | 'missing' | 'invalid';

export const TOKEN_MESSAGES: Record<Exclude<TokenCheck, 'ok'>, string> = {
  missing: 'missing bearer token: send "Authorization: Bearer <token>"',
  invalid: 'invalid bearer token',
};

/** Checks an `Authorization` value (HTTP header or gRPC metadata) against the token; every value passes without one. */
export function bearerTokenMatcher(token: string | undefined): (authorization: string | undefined) => TokenCheck {
  if (!token) return () => 'ok';
  // Comparing fixed-length digests keeps the comparison constant-time whatever the presented length.
  const expected = digest(token);
  return (authorization) => {
    const presented = bearerTokenIn(authorization);
    if (presented === undefined) return 'missing';
    return timingSafeEqual(digest(presented), expected) ? 'ok' : 'invalid';
  };
}

/**
 * Returns a guard that answers 401 (and returns true) for a request to a model endpoint without
 * `Authorization: Bearer <token>`. Without a token configured, every request passes.
 */
export function bearerTokenCheck(token: string | undefined): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (!token) return () => false;
  const match = bearerTokenMatcher(token);
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (OPEN_PATHS.has(path)) return false;
    const check = match(req.headers.authorization);
    if (check === 'ok') return false;
    req.resume();
    sendJson(res, 401, { error: TOKEN_MESSAGES[check] }, { 'WWW-Authenticate': 'Bearer realm="modelship"' });
    return true;
  };
}
