import type { ServerResponse } from 'node:http';
import { clientGone, HttpError, tooManyRequests } from './errors.ts';
import { QueueFullError, RequestCancelledError } from '../batching/dynamic-batcher.ts';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = error.retryAfterSeconds !== undefined ? { 'Retry-After': String(error.retryAfterSeconds) } : {};
  sendJson(res, error.status, { error: error.message }, headers);
}

/** Maps anything thrown while serving to the status the protocol promises: 4xx for the client's faults, 500 otherwise. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueFullError) return tooManyRequests(error.message);
  if (error instanceof RequestCancelledError) return clientGone(error.message);
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return new HttpError(status, (error as Error).message);
  return new HttpError(500, `internal error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
}
