import { createSecureServer, createServer, type Http2SecureServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type SecureServerOptions, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Withdrawal, type AbortLike } from '../batching/withdrawal.ts';
import { inflateBody } from './body-encoding.ts';

/**
 * Unary gRPC over node:http2, with nothing in between: the framing (5-byte prefix), deadlines
 * (grpc-timeout), request compression (gzip, deflate), the message size limit, statuses as trailers,
 * connection age (GOAWAY) and graceful drain. It is what @grpc/grpc-js's server does for a unary call,
 * without its per-call interceptor chain, metadata objects and channelz bookkeeping, which cost more
 * server CPU per call than a whole REST request (docs/benchmarks.md). Services (message types,
 * methods) are the caller's; this module knows only bytes and statuses.
 */

export { GrpcStatus };

/** A call's outcome other than OK: its status, message, and trailing metadata. */
export class GrpcError extends Error {
  constructor(readonly code: GrpcStatus, message: string, readonly trailers: Readonly<Record<string, string>> = {}) {
    super(message);
  }
}

export interface UnaryCall {
  /** The request message (decompressed), a view the handler must not keep past its return. */
  readonly message: Buffer;
  /** The request's HTTP/2 headers: the call's metadata (authorization, traceparent ...). */
  readonly headers: IncomingHttpHeaders;
  /** The client's IP address. */
  readonly peerAddress: string;
  /** Aborts when the client cancels the call, its deadline passes, or its connection goes. */
  readonly cancelled: AbortLike;
}

/** Answers one call with the response message; throws GrpcError (or anything: INTERNAL) to fail it. */
export type UnaryHandler = (call: UnaryCall) => Uint8Array | Promise<Uint8Array>;

export interface GrpcTransportOptions {
  /** Handlers by path: /package.Service/Method. */
  readonly methods: ReadonlyMap<string, UnaryHandler>;
  /** Largest request message, compressed or not; larger ones get RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  /** GOAWAY to connections older than this (0: never), so clients spread over replicas that came up since. */
  readonly maxConnectionAgeMs: number;
  /** TLS when given: the key pair (and what else node:tls takes); `onChange` serves renewed pairs to new connections. */
  readonly tls?: { readonly options: SecureServerOptions; onChange(listener: (options: SecureServerOptions) => void): void };
  /** Told about handler failures that are not GrpcErrors (bugs, not client mistakes). */
  readonly onInternalError: (error: unknown, path: string) => void;
}

export interface GrpcTransport {
  readonly address: AddressInfo;
  /** GOAWAY to every open connection (clients reconnect, to another replica); keeps accepting new ones. */
  drain(graceMs: number): void;
  /** Stops listening; lets running calls finish for at most graceMs, then drops their connections. */
  close(graceMs: number): Promise<void>;
}

const DEADLINE = /^(\d{1,8})([HMSmun])$/;
const DEADLINE_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const ACCEPTED_ENCODINGS = 'identity,deflate,gzip';
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': ACCEPTED_ENCODINGS };
const OK_TRAILERS = { 'grpc-status': String(GrpcStatus.OK) };

function grpcError(error: unknown): GrpcError | undefined {
  return error instanceof GrpcError ? error : undefined;
}

/** Serves one stream: reads the request, runs the handler, answers with the message and status. */
class UnaryStream {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private answered = false;
  private readonly cancelled = new Withdrawal();
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly path: string,
    private readonly handler: UnaryHandler,
    private readonly options: GrpcTransportOptions,
  ) {}

  start(): void {
    const timeout = this.headers['grpc-timeout'];
    if (typeof timeout === 'string') {
      const match = DEADLINE.exec(timeout);
      if (!match) return this.fail(new GrpcError(GrpcStatus.INTERNAL, `Invalid grpc-timeout value "${timeout}"`));
      const ms = Number(match[1]) * (DEADLINE_UNIT_MS[match[2] as string] as number);
      this.deadline = setTimeout(() => {
        this.cancelled.abort();
        this.fail(new GrpcError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'));
      }, ms);
    }
    const stream = this.stream;
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.once('end', () => void this.run());
    // A client that cancels (RST_STREAM) or whose connection goes: its queued work is withdrawn.
    stream.once('close', () => {
      clearTimeout(this.deadline);
      if (!this.answered) {
        this.answered = true;
        this.cancelled.abort();
      }
    });
  }

  private receive(chunk: Buffer): void {
    if (this.answered) return;
    const before = this.received;
    this.received += chunk.length;
    this.chunks.push(chunk);
    // The limit applies to the message: its declared length is in the first five bytes.
    if (before < 5 && this.received >= 5) {
      const declared = (this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks)).readUInt32BE(1);
      if (declared > this.options.maxMessageBytes) {
        this.fail(new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${declared} vs. ${this.options.maxMessageBytes})`));
      }
    } else if (this.received > 5 + this.options.maxMessageBytes) {
      this.fail(new GrpcError(GrpcStatus.UNIMPLEMENTED, `Received a second request message for unary method ${this.path}`));
    }
  }

  private message(): Buffer {
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.received);
    if (body.length < 5) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `Received no request message for unary method ${this.path}`);
    const compressed = body[0] === 1;
    const length = body.readUInt32BE(1);
    if (body.length < 5 + length) throw new GrpcError(GrpcStatus.INTERNAL, 'Received a truncated message');
    if (body.length > 5 + length) throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `Received a second request message for unary method ${this.path}`);
    const message = body.subarray(5);
    if (!compressed) return message;
    const encoding = String(this.headers['grpc-encoding'] ?? 'identity');
    const limit = this.options.maxMessageBytes;
    const inflated = inflateBody(message, encoding, limit);
    if (Buffer.isBuffer(inflated)) return inflated;
    if (inflated === 'too-large') throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `Received message that decompresses to a size larger than ${limit}`);
    if (inflated === 'unsupported') throw new GrpcError(GrpcStatus.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${encoding}"`);
    throw new GrpcError(GrpcStatus.INTERNAL, `Received a malformed ${encoding} message: ${inflated.malformed}`);
  }

  private async run(): Promise<void> {
    if (this.answered) return;
    let response: Uint8Array;
    try {
      const call: UnaryCall = {
        message: this.message(),
        headers: this.headers,
        peerAddress: this.stream.session?.socket?.remoteAddress ?? '',
        cancelled: this.cancelled,
      };
      response = await this.handler(call);
    } catch (error) {
      if (!grpcError(error)) this.options.onInternalError(error, this.path);
      this.fail(grpcError(error) ?? new GrpcError(GrpcStatus.INTERNAL, (error as Error)?.message ?? String(error)));
      return;
    }
    this.answer(response);
  }

  private answer(response: Uint8Array): void {
    if (!this.settle()) return;
    const framed = Buffer.allocUnsafe(5 + response.length);
    framed[0] = 0;
    framed.writeUInt32BE(response.length, 1);
    framed.set(response, 5);
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    stream.end(framed);
  }

  /** A status without a message: trailers only (one HEADERS frame that ends the stream). */
  private fail(error: GrpcError): void {
    if (!this.settle()) return;
    this.stream.respond({ ...RESPONSE_HEADERS, ...error.trailers, 'grpc-status': String(error.code), 'grpc-message': encodeURI(error.message) }, { endStream: true });
    // Whatever the client still sends is not read.
    this.stream.resume();
  }

  /** Marks the call answered; false when it already was, or the stream can no longer take an answer. */
  private settle(): boolean {
    if (this.answered) return false;
    this.answered = true;
    clearTimeout(this.deadline);
    return !this.stream.destroyed && !this.stream.closed;
  }
}

/** Listens on host:port and serves the unary methods. */
export async function startGrpcTransport(options: GrpcTransportOptions, host: string, port: number): Promise<GrpcTransport> {
  // Sessions hold many streams, each bounded by the message limit: the per-session memory cap of
  // node:http2 (10 MB) would refuse a few large calls in flight at once with ENHANCE_YOUR_CALM.
  const serverOptions = { maxSessionMemory: Number.MAX_SAFE_INTEGER };
  let server: Http2Server | Http2SecureServer;
  if (options.tls) {
    const secure = createSecureServer({ ...serverOptions, ...options.tls.options });
    options.tls.onChange((renewed) => secure.setSecureContext(renewed));
    server = secure;
  } else {
    server = createServer(serverOptions);
  }
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    const age = options.maxConnectionAgeMs > 0 ? setTimeout(() => session.close(), options.maxConnectionAgeMs) : undefined;
    age?.unref();
    session.once('close', () => {
      clearTimeout(age);
      sessions.delete(session);
    });
    // A connection's errors (a client gone mid-frame) end that connection only.
    session.on('error', () => session.destroy());
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => stream.destroy());
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: true });
      return;
    }
    const path = headers[':path'] ?? '';
    const handler = options.methods.get(path);
    if (!handler) {
      stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(GrpcStatus.UNIMPLEMENTED), 'grpc-message': encodeURI(`The server does not implement the method ${path}`) }, { endStream: true });
      stream.resume();
      return;
    }
    new UnaryStream(stream, headers, path, handler, options).start();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;

  const closeSessions = (graceMs: number) => {
    for (const session of sessions) session.close();
    if (sessions.size === 0) return;
    const force = setTimeout(() => {
      for (const session of sessions) session.destroy();
    }, graceMs);
    force.unref();
  };
  let closing: Promise<void> | undefined;
  return {
    address,
    drain: closeSessions,
    close(graceMs) {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        closeSessions(graceMs);
      });
      return closing;
    },
  };
}
