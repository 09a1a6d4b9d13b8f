import { request as httpRequest, createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../logging.ts';
import type { ActivatorMetrics } from './metrics.ts';
import type { ReadyEndpoints } from './ready-endpoints.ts';
import type { Endpoint } from './slices.ts';
import { targetOf } from './target.ts';

export interface ActivatorOptions {
  /** How long a request waits for its model's first ready pod before a 503. */
  holdMs: number;
  /** Largest request body held in memory while the model starts. */
  maxBodyBytes: number;
}

/** Response header: how long the activator held the request, for cold-start measurements. */
export const HELD_HEADER = 'x-modelship-activator-held-ms';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate']);

function forwardedHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

function sendError(res: ServerResponse, status: number, error: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The activator's request path, like Knative's activator: a request to a model with no ready pod
 * (its Service's EndpointSlices then lead here) is held, counted as pending (KEDA's activation
 * signal), and sent on to the model's first ready pod; one that waits longer than `holdMs` gets a
 * 503 that says so.
 */
export function createActivatorServer(endpoints: Pick<ReadyEndpoints, 'serviceOf' | 'whenReady'>, metrics: ActivatorMetrics, options: ActivatorOptions, log: Logger): Server {
  let turn = 0;
  return createServer((req, res) => {
    void (async () => {
      const target = targetOf(req.headers.host);
      if (target.kind === 'unknown') return sendError(res, 400, target.message);
      const service = endpoints.serviceOf(target);
      if (!service) return sendError(res, 404, `no Modelship model Service is addressed by Host ${JSON.stringify(req.headers.host)}`);
      const [namespace = '', name = ''] = service.split('/');
      const labels = { model_namespace: namespace, model_service: name };
      const answer = (status: number, error: string) => {
        metrics.answered.inc({ ...labels, code: String(status) });
        sendError(res, status, error);
      };
      let body: Buffer;
      try {
        body = await readBody(req, options.maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLarge) return answer(413, `a request held while model ${service} starts may carry at most ${options.maxBodyBytes} bytes`);
        return;
      }
      const started = performance.now();
      const gone = new AbortController();
      res.on('close', () => gone.abort(new Error('the client went away')));
      metrics.pending.inc(labels);
      let ready: Endpoint[];
      try {
        ready = await endpoints.whenReady(service, AbortSignal.any([gone.signal, AbortSignal.timeout(options.holdMs)]));
      } catch {
        if (gone.signal.aborted) return;
        return answer(503, `model ${service} has no ready pod after ${Math.round(options.holdMs / 1000)} s: it is scaled to zero and did not start in time`);
      } finally {
        metrics.pending.dec(labels);
      }
      const heldMs = performance.now() - started;
      metrics.held.observe(labels, heldMs / 1000);
      const endpoint = ready[turn++ % ready.length]!;
      const upstream = httpRequest({
        host: endpoint.address, port: endpoint.port, method: req.method, path: req.url,
        headers: { ...forwardedHeaders(req.headers), 'content-length': String(body.length) },
      }, (answered) => {
        metrics.answered.inc({ ...labels, code: String(answered.statusCode ?? 0) });
        res.writeHead(answered.statusCode ?? 502, { ...forwardedHeaders(answered.headers), [HELD_HEADER]: heldMs.toFixed(0) });
        answered.pipe(res);
      });
      upstream.on('error', (error) => {
        log.warn({ err: error, service, endpoint }, 'a held request could not be sent on to the model');
        answer(502, `model ${service}'s pod ${endpoint.address}:${endpoint.port} did not answer: ${error.message}`);
      });
      upstream.end(body);
    })();
  });
}
