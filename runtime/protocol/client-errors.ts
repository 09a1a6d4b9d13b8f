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

/** node:http's socket of a connection: the response being written on it, if any (node:http's own clientError handler reads the same). */
interface HttpSocket extends Duplex {
  readonly _httpMessage?: ServerResponse | null;
}

/**
 * Replaces node:http's default `clientError` answer (an empty-bodied 400/408/431) with the
 * protocol's `{"error": "..."}`. Once the headers of a response in progress on that connection are
 * out, nothing more may be written (as node:http's own handler does); the connection just closes.
 * The response in progress is the one node:http assigns to the socket, as its own handler finds it:
 * tracking every request for this cost each of them a listener and two WeakMap updates.
 */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: HttpSocket) => {
    const status = statusOf(error.code);
    if (socket.writable && !socket._httpMessage?.headersSent) {
      const body = JSON.stringify({ error: messageOf(status, error) });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  });
}
