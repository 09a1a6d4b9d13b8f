import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenBucket } from 'limiter';
import { LRUCache } from 'lru-cache';
import { bearerTokenIn } from './accepted-tokens.ts';
import { OPEN_PATHS } from './auth.ts';
import { sendJson } from './http.ts';

export interface RateLimitSettings {
  /** Tokens each client's bucket gains per second: its sustained request rate; 0 turns the per-client limit off. */
  readonly requestsPerSecond: number;
  /** Bucket size: how many requests a client may send at once after being idle; 0 means the rate. */
  readonly burst: number;
  /** All clients together, per replica (its bucket holds one second's worth); 0 turns it off. */
  readonly totalRequestsPerSecond: number;
}

/** Why a request was refused, in words for the client, and when to come back. */
export interface RateRefusal {
  readonly message: string;
  readonly retryAfterSeconds: number;
}

/** Clients tracked at once; the least recently seen is forgotten first (it would come back with a full bucket anyway). */
const MAX_TRACKED_CLIENTS = 10_000;

const fullBucket = (size: number, perSecond: number): TokenBucket => {
  const bucket = new TokenBucket({ bucketSize: size, tokensPerInterval: perSecond, interval: 'second' });
  bucket.content = size;
  return bucket;
};
const waitSeconds = (bucket: TokenBucket): number => Math.max(1, Math.ceil(bucket.getWaitTime(1) / 1000));

/**
 * Who a request comes from, for its bucket. With bearer tokens required (and this one already
 * accepted), the token, hashed so the table never holds long strings; without, the peer address:
 * an unchecked token is a string the client chooses, and a new one each time would be a new bucket.
 */
export function clientKey(tokensRequired: boolean, authorization: string | undefined, peerAddress: string | undefined): string {
  const token = tokensRequired ? bearerTokenIn(authorization) : undefined;
  if (token !== undefined) return `token:${createHash('sha256').update(token).digest('base64')}`;
  // One client over REST (IPv4 seen as ::ffff:a.b.c.d on a dual-stack socket) and gRPC shares one bucket.
  return `peer:${peerAddress?.replace(/^::ffff:/, '') ?? 'unknown'}`;
}

/** Token buckets per client and for the replica as a whole, shared by the REST and gRPC servers. */
export class RateLimiter {
  private readonly clients: LRUCache<string, TokenBucket> | undefined;
  private readonly total: TokenBucket | undefined;
  private readonly burst: number;

  constructor(private readonly settings: RateLimitSettings) {
    this.burst = settings.burst || settings.requestsPerSecond;
    if (settings.requestsPerSecond > 0) this.clients = new LRUCache({ max: MAX_TRACKED_CLIENTS });
    if (settings.totalRequestsPerSecond > 0) this.total = fullBucket(settings.totalRequestsPerSecond, settings.totalRequestsPerSecond);
  }

  get enabled(): boolean {
    return this.clients !== undefined || this.total !== undefined;
  }

  /** Takes one request from the client's bucket and the total; undefined when both had room. */
  admit(key: string): RateRefusal | undefined {
    let bucket: TokenBucket | undefined;
    if (this.clients) {
      bucket = this.clients.get(key);
      if (!bucket) this.clients.set(key, (bucket = fullBucket(this.burst, this.settings.requestsPerSecond)));
      if (!bucket.tryRemoveTokens(1)) {
        return { message: `rate limit exceeded: ${this.settings.requestsPerSecond} requests per second per client (bursts of ${this.burst})`, retryAfterSeconds: waitSeconds(bucket) };
      }
    }
    if (this.total && !this.total.tryRemoveTokens(1)) {
      // The client's own request was not served: it keeps its token.
      if (bucket) bucket.content += 1;
      return { message: `rate limit exceeded: ${this.settings.totalRequestsPerSecond} requests per second for all clients of this replica`, retryAfterSeconds: waitSeconds(this.total) };
    }
    return undefined;
  }
}

/**
 * Returns a guard that answers 429 with Retry-After (and returns true) for a request to a model
 * endpoint the limiter refuses. Probes and /metrics are never limited.
 */
export function httpRateLimit(limiter: RateLimiter, tokensRequired: () => boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (!limiter.enabled) return () => false;
  return (req, res) => {
    if (OPEN_PATHS.has((req.url ?? '/').split('?', 1)[0] ?? '/')) return false;
    const refusal = limiter.admit(clientKey(tokensRequired(), req.headers.authorization, req.socket.remoteAddress));
    if (!refusal) return false;
    req.resume();
    sendJson(res, 429, { error: refusal.message }, { 'Retry-After': String(refusal.retryAfterSeconds) });
    return true;
  };
}
