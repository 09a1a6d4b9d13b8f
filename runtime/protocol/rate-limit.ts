import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenBucket } from 'limiter';
import { LRUCache } from 'lru-cache';
import { bearerTokenIn } from './accepted-tokens.ts';
import { OPEN_PATHS } from './auth.ts';
import { sendJson } from './http.ts';

export interface RateLimitSettings {
  /** Tokens each client's bucket gains per second: its sustained request rate; 0 turns the limit off. */
  readonly requestsPerSecond: number;
  /** Bucket size: how many requests a client may send at once after being idle; 0 means the rate. */
  readonly burst: number;
}

/** Clients tracked at once; the least recently seen is forgotten first (it would come back with a full bucket anyway). */
const MAX_TRACKED_CLIENTS = 10_000;

/**
 * Who a request comes from: its bearer token (hashed, so a client cannot make the table hold long
 * strings), else its peer address.
 */
function clientKey(req: IncomingMessage): string {
  const token = bearerTokenIn(req.headers.authorization);
  if (token !== undefined) return `token:${createHash('sha256').update(token).digest('base64')}`;
  return `peer:${req.socket.remoteAddress ?? 'unknown'}`;
}

/**
 * Returns a guard that answers 429 with Retry-After (and returns true) for a request to a model
 * endpoint once its client's token bucket is empty. With a rate of 0, every request passes.
 */
export function perClientRateLimit(settings: RateLimitSettings): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { requestsPerSecond } = settings;
  if (requestsPerSecond === 0) return () => false;
  const burst = settings.burst || requestsPerSecond;
  const buckets = new LRUCache<string, TokenBucket>({ max: MAX_TRACKED_CLIENTS });
  return (req, res) => {
    if (OPEN_PATHS.has((req.url ?? '/').split('?', 1)[0] ?? '/')) return false;
    const key = clientKey(req);
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket({ bucketSize: burst, tokensPerInterval: requestsPerSecond, interval: 'second' });
      bucket.content = burst;
      buckets.set(key, bucket);
    }
    if (bucket.tryRemoveTokens(1)) return false;
    req.resume();
    sendJson(res, 429, { error: `rate limit exceeded: ${requestsPerSecond} requests per second per client (bursts of ${burst})` }, {
      'Retry-After': String(Math.max(1, Math.ceil(bucket.getWaitTime(1) / 1000))),
    });
    return true;
  };
}
