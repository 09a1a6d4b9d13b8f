import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

export class ModelFetchError extends Error {}

const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

export function isRemoteUri(uri: string): boolean {
  return uri.startsWith('http://') || uri.startsWith('https://');
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/** Cache key: the expected digest when given (content-addressed), else a hash of the URL. */
function cachePathFor(uri: string, cacheDir: string, expectedSha256: string | undefined): string {
  const key = expectedSha256 ?? createHash('sha256').update(uri).digest('hex');
  return join(cacheDir, `${key}.onnx`);
}

async function download(uri: string, target: string, bearerToken: string | undefined): Promise<void> {
  let response: Response;
  try {
    response = await fetch(uri, {
      signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS),
      redirect: 'follow',
      ...(bearerToken && { headers: { authorization: `Bearer ${bearerToken}` } }),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new ModelFetchError(`cannot download model from ${uri}: ${(error as Error).message}${cause}`);
  }
  if (!response.ok || !response.body) {
    throw new ModelFetchError(`cannot download model from ${uri}: HTTP ${response.status}`);
  }
  // Write next to the target and rename, so a crash mid-download never leaves a truncated cache entry.
  const partial = `${target}.${process.pid}.partial`;
  try {
    await pipeline(Readable.fromWeb(response.body), createWriteStream(partial));
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw new ModelFetchError(`cannot download model from ${uri}: ${(error as Error).message}`);
  }
}

/**
 * Returns a local path holding the model: the file itself for a local path or file:// URI, or a
 * cache entry for an http(s) URL (downloaded at most once). With an expected digest the file is
 * verified before anyone loads it. A bearer token, when given, goes with the download.
 */
export async function resolveModelFile(uri: string, cacheDir: string, expectedSha256?: string, bearerToken?: string): Promise<string> {
  let path: string;
  if (isRemoteUri(uri)) {
    await mkdir(cacheDir, { recursive: true });
    path = cachePathFor(uri, cacheDir, expectedSha256);
    if (!(await exists(path))) await download(uri, path, bearerToken);
  } else {
    path = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
    if (!(await exists(path))) throw new ModelFetchError(`model file not found: ${path}`);
  }
  if (expectedSha256) {
    const actual = await sha256OfFile(path);
    if (actual !== expectedSha256) {
      if (isRemoteUri(uri)) await rm(path, { force: true });
      throw new ModelFetchError(`sha256 mismatch for ${uri}: expected ${expectedSha256}, got ${actual}`);
    }
  }
  return path;
}
