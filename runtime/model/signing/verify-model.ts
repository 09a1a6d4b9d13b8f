import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isRemoteUri, sha256OfFile } from '../fetch.ts';
import { parseSignatureBundle } from './bundle.ts';
import { readTrust, verifyEnvelope, type SignatureMethod } from './envelope.ts';
import { ModelSignatureError } from './errors.ts';
import { checkModelFile, manifestOf } from './manifest.ts';

export interface SignatureSettings {
  readonly method: SignatureMethod;
  /** The model-signing bundle: a local path, file:// or http(s) URL. */
  readonly uri: string;
  /** PEM file: the public key (key) or the CA certificates (certificate). */
  readonly trustFile: string;
}

const SIGNATURE_TIMEOUT_MS = 60_000;
// A bundle over one file is about 2 KB; this bounds what a wrong URL can make the runtime read.
const MAX_SIGNATURE_BYTES = 16 * 1024 * 1024;

async function readSignature(uri: string): Promise<string> {
  if (!isRemoteUri(uri)) {
    const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new ModelSignatureError('missing', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  let response: Response;
  try {
    response = await fetch(uri, { signal: AbortSignal.timeout(SIGNATURE_TIMEOUT_MS), redirect: 'follow' });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new ModelSignatureError('missing', `cannot download ${uri}: ${(error as Error).message}${cause}`);
  }
  if (!response.ok) throw new ModelSignatureError('missing', `cannot download ${uri}: HTTP ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > MAX_SIGNATURE_BYTES) throw new ModelSignatureError('malformed', `${uri} is larger than ${MAX_SIGNATURE_BYTES} bytes`);
  return body.toString('utf8');
}

/**
 * Verifies a model file against its model-signing v1 signature before anything loads it: who
 * signed (key or certificate), the DSSE signature over the in-toto statement, and the file's
 * SHA-256 against the one signed. Throws ModelSignatureError naming the check that failed.
 */
export async function verifyModelSignature(modelPath: string, modelUri: string, settings: SignatureSettings): Promise<void> {
  const trust = readTrust(settings.method, await readFile(settings.trustFile, 'utf8'), settings.trustFile);
  const envelope = parseSignatureBundle(await readSignature(settings.uri), settings.uri);
  verifyEnvelope(envelope, trust);
  checkModelFile(manifestOf(envelope.payloadType, envelope.payload), await sha256OfFile(modelPath), modelUri);
}
