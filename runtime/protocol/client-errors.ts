import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** node:http's own codes for a connection it gives up on before (or while) a request is read. */
function statusOf(code: string | undefined): number {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  return 400;
}

function messageOf(status: number, error: Error): string {
  if (status === 408) return 'the request took too long to arrive (headers or body); the connection is closed';
  if (status === 431) return 'the request headers are too large';
  return `malformed HTTP request: ${error.message}`;
}

/**
 * Replaces node:http's default `clientError` answer (an empty-bodied 400/408/431) with the
 * protocol's `{"error": "..."}`. Once the headers of a response in progress on that connection are
 * out, nothing more may be written (as node:http's own handler does); the connection just closes.
 */
export function answerClientErrorsAsJson(server: Server): void {
  const inProgress = new WeakMap<Duplex, ServerResponse>();
  server.on('request', (req, res: ServerResponse) => {
    inProgress.set(req.socket, res);
    res.once('finish', () => {
      if (inProgress.get(req.socket) === res) inProgress.delete(req.socket);
    });
  });
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    const status = statusOf(error.code);
    if (socket.writable && !inProgress.get(socket)?.headersSent) {
      const body = JSON.stringify({ error: messageOf(status, error) });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  });
}
