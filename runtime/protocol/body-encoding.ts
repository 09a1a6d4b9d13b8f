import { gunzipSync, inflateSync } from 'node:zlib';

/** Why an encoded body could not be decoded; each protocol words it as its own error. */
export type InflateRefusal = 'too-large' | 'unsupported' | { readonly malformed: string };

/**
 * A gzip or deflate body (REST Content-Encoding, gRPC grpc-encoding) decoded to at most `limit` bytes,
 * or why it was not: larger than the limit once decoded, an encoding other than those two, or bytes
 * that are not what the encoding says.
 */
export function inflateBody(body: Buffer, encoding: string, limit: number): Buffer | InflateRefusal {
  try {
    if (encoding === 'gzip') return gunzipSync(body, { maxOutputLength: limit });
    if (encoding === 'deflate') return inflateSync(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return 'too-large';
    return { malformed: (error as Error).message };
  }
  return 'unsupported';
}
