import type { IncomingMessage, ServerResponse } from 'node:http';
import { RuntimeProbePaths } from '../contract.ts';
import { TOKEN_MESSAGES, type AcceptedTokens } from './accepted-tokens.ts';
import { sendJson } from './http.ts';

/** Kubelet probes and Prometheus scrapes carry no token, so these stay open. */
export const OPEN_PATHS: ReadonlySet<string> = new Set([RuntimeProbePaths.live, RuntimeProbePaths.ready, RuntimeProbePaths.metrics]);

/**
 * Returns a guard that answers 401 (and returns true) for a request to a model endpoint without
 * `Authorization: Bearer <token>` of an accepted token. Without tokens, every request passes.
 */
export function bearerTokenCheck(tokens: AcceptedTokens): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (!tokens.required) return false;
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (OPEN_PATHS.has(path)) return false;
    const check = tokens.check(req.headers.authorization);
    if (check === 'ok') return false;
    req.resume();
    sendJson(res, 401, { error: TOKEN_MESSAGES[check] }, { 'WWW-Authenticate': 'Bearer realm="modelship"' });
    return true;
  };
}
