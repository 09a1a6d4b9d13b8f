import type { KubernetesObject } from '@kubernetes/client-node';
import { Agent, request, type RequestOptions } from 'node:https';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { KubeConnection } from './connection.ts';
import { objectPath, collectionPath, type ResourceType } from './resources.ts';

/** A failed API call, with the apiserver's Status reason and message when it sent one. */
export class ApiError extends Error {
  /** The Status' details: which object the failure is about (a missing namespace names `namespaces`). */
  constructor(readonly statusCode: number, readonly reason: string, message: string, readonly details: { kind?: string; name?: string } = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 404;
export const isConflict = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 409;
export const isGone = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 410;
export const isForbidden = (error: unknown): boolean => error instanceof ApiError && error.statusCode === 403;

/** A short, bounded label for a failed call: the apiserver's Status reason, else the socket error code. */
export function failureReason(error: unknown): string {
  if (error instanceof ApiError) return error.reason || `HTTP${error.statusCode}`;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'Unknown';
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export type WriteVerb = 'create' | 'apply' | 'patch' | 'update' | 'delete';
export type ReadVerb = 'get' | 'list';
/** Told of every request as it starts (watches and discovery aside): what the operator's metrics count. */
export type RequestObserver = (verb: WriteVerb | ReadVerb, resource: string) => void;

type Query = Record<string, string | number | boolean | undefined>;

const CONTENT_TYPE = {
  json: 'application/json',
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
} as const;

/**
 * A small REST client over one keep-alive connection pool. The operator needs exact control of
 * list/watch semantics (resourceVersion, bookmarks, 410 Gone) and of every write it makes, which
 * the generated clients hide; a KubeConnection (KubeConfig is one) still supplies the server, TLS and credentials.
 */
/**
 * How long credentials are reused before the connection is asked again: bound service-account
 * tokens rotate on disk and exec plugins hand out expiring tokens, so, as client-go does, they are
 * re-read every minute, and at once after a 401.
 */
const CREDENTIALS_TTL_MS = 60_000;

export class KubeRestClient {
  private readonly base: URL;
  private readonly agent: Agent | HttpAgent;
  private credentials: { options: RequestOptions; readAt: number } | undefined;

  constructor(private readonly kubeConfig: KubeConnection, private readonly onRequest: RequestObserver = () => {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.base = new URL(cluster.server);
    this.agent = this.base.protocol === 'https:' ? new Agent({ keepAlive: true, maxSockets: 32 }) : new HttpAgent({ keepAlive: true, maxSockets: 32 });
  }

  async get<T>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    this.onRequest('get', type.plural);
    return this.call<T>('GET', objectPath(type, namespace, name));
  }

  /** Whether the apiserver serves this resource now (API discovery); false while its CRD is not installed. */
  async serves(type: ResourceType): Promise<boolean> {
    const path = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    try {
      const list = await this.call<{ resources?: { name: string }[] }>('GET', path);
      return (list.resources ?? []).some((resource) => resource.name === type.plural);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async list<T>(type: ResourceType, query: Query = {}, namespace?: string): Promise<ObjectList<T>> {
    this.onRequest('list', type.plural);
    return this.call<ObjectList<T>>('GET', collectionPath(type, namespace), { query });
  }

  /** Server-side apply under one field manager; force takes over fields a hand edit changed. */
  async apply<T extends KubernetesObject>(type: ResourceType, object: T, fieldManager: string, subresource?: string): Promise<T> {
    const { namespace, name } = object.metadata ?? {};
    if (!name) throw new Error(`cannot apply a ${type.kind} without metadata.name`);
    this.onRequest('apply', subresource ? `${type.plural}/${subresource}` : type.plural);
    return this.call<T>('PATCH', objectPath(type, namespace, name, subresource), {
      query: { fieldManager, force: true },
      body: object,
      contentType: CONTENT_TYPE.apply,
    });
  }

  async mergePatch<T>(type: ResourceType, namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<T> {
    this.onRequest('patch', subresource ? `${type.plural}/${subresource}` : type.plural);
    return this.call<T>('PATCH', objectPath(type, namespace, name, subresource), { body: patch, contentType: CONTENT_TYPE.merge });
  }

  async create<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    this.onRequest('create', type.plural);
    return this.call<T>('POST', collectionPath(type, object.metadata?.namespace), { body: object });
  }

  async update<T extends KubernetesObject>(type: ResourceType, object: T): Promise<T> {
    const { namespace, name } = object.metadata ?? {};
    if (!name) throw new Error(`cannot update a ${type.kind} without metadata.name`);
    this.onRequest('update', type.plural);
    return this.call<T>('PUT', objectPath(type, namespace, name), { body: object });
  }

  async delete(type: ResourceType, namespace: string | undefined, name: string, uid?: string): Promise<void> {
    this.onRequest('delete', type.plural);
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) };
    await this.call('DELETE', objectPath(type, namespace, name), { body });
  }

  /**
   * Streams watch events until the server closes the stream, the signal aborts, or an error.
   * Resolves when the stream ends; rejects with ApiError (e.g. 410) when the watch cannot start.
   * `onOpen` runs once the server has accepted the watch.
   */
  async watch<T>(
    type: ResourceType, query: Query, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal, namespace?: string, onOpen?: () => void,
  ): Promise<void> {
    const options = await this.requestOptions('GET', collectionPath(type, namespace), { ...query, watch: true }, undefined);
    await new Promise<void>((resolve, reject) => {
      const req = this.send(options, (res) => {
        if ((res.statusCode ?? 500) >= 300) {
          if (res.statusCode === 401) this.credentials = undefined;
          collect(res).then((text) => reject(toApiError(res.statusCode ?? 500, text)), reject);
          return;
        }
        onOpen?.();
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let newline: number;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent<T>);
            } catch (error) {
              req.destroy();
              reject(error);
              return;
            }
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
        res.on('close', resolve);
      });
      const abort = () => { req.destroy(); resolve(); };
      if (signal.aborted) abort();
      signal.addEventListener('abort', abort, { once: true });
      req.on('error', (error) => (signal.aborted ? resolve() : reject(error)));
      req.end();
    });
  }

  private async call<T>(method: string, path: string, opts: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<T> {
    try {
      return await this.callOnce<T>(method, path, opts);
    } catch (error) {
      // A 401 means the request was not acted on: read the credentials again and try once more.
      if (!(error instanceof ApiError) || error.statusCode !== 401) throw error;
      this.credentials = undefined;
      return this.callOnce<T>(method, path, opts);
    }
  }

  private async callOnce<T>(method: string, path: string, opts: { query?: Query; body?: unknown; contentType?: string }): Promise<T> {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const options = await this.requestOptions(method, path, opts.query ?? {}, payload === undefined ? undefined : opts.contentType ?? CONTENT_TYPE.json);
    // Node frames a DELETE's body neither by length nor by chunks: without this the apiserver never
    // reads the DeleteOptions (its uid precondition included), and takes the bytes for the
    // connection's next request, answering that one "400 Bad Request".
    if (payload !== undefined) (options.headers as Record<string, string | number>)['content-length'] = Buffer.byteLength(payload);
    return new Promise<T>((resolve, reject) => {
      const req = this.send(options, (res) => {
        collect(res).then((text) => {
          const status = res.statusCode ?? 500;
          if (status >= 300) reject(toApiError(status, text));
          else resolve((text ? JSON.parse(text) : {}) as T);
        }, reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private send(options: RequestOptions, onResponse: (res: IncomingMessage) => void) {
    return this.base.protocol === 'https:' ? request(options, onResponse) : httpRequest(options, onResponse);
  }

  private async requestOptions(method: string, path: string, query: Query, contentType: string | undefined): Promise<RequestOptions> {
    if (!this.credentials || Date.now() - this.credentials.readAt > CREDENTIALS_TTL_MS) {
      const options: RequestOptions = { headers: {} };
      await this.kubeConfig.applyToHTTPSOptions(options);
      this.credentials = { options, readAt: Date.now() };
    }
    const base = this.credentials.options;
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
    const qs = search.toString();
    const headers: Record<string, string> = { ...(base.headers as Record<string, string>), accept: CONTENT_TYPE.json };
    if (contentType) headers['content-type'] = contentType;
    return {
      ...base,
      agent: this.agent,
      hostname: this.base.hostname,
      port: this.base.port,
      method,
      path: `${this.base.pathname.replace(/\/$/, '')}${path}${qs ? `?${qs}` : ''}`,
      headers,
    };
  }
}

function collect(res: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function toApiError(statusCode: number, text: string): ApiError {
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string; details?: { kind?: string; name?: string } };
    return new ApiError(statusCode, status.reason ?? '', status.message ?? text, status.details ?? {});
  } catch {
    return new ApiError(statusCode, '', text || `HTTP ${statusCode}`);
  }
}
