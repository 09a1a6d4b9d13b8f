/** An error that maps to an HTTP status and a V2 `{"error": "..."}` body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
export const unavailable = (message: string): HttpError => new HttpError(503, message, 1);
export const tooManyRequests = (message: string): HttpError => new HttpError(429, message, 1);
/** nginx's 499: the client went away before its answer; nobody receives it, it only labels logs and metrics. */
export const clientGone = (message: string): HttpError => new HttpError(499, message);
