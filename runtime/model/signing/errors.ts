/**
 * Why a model's signature did not verify. Every failure names one of these, so the log line and
 * the container's termination message say which check failed.
 */
export const SIGNATURE_FAILURES = {
  missing: 'the signature file is missing',
  malformed: 'the signature file is not a model-signing v1 Sigstore bundle',
  unsupported: 'the signature uses a form this runtime does not verify',
  wrongKey: 'the signature was made with another key',
  badSignature: 'the signature does not verify',
  untrustedCertificate: 'the signing certificate does not chain to the configured CA',
  digestMismatch: 'the model file does not match the signed digest',
} as const;

export type SignatureFailure = keyof typeof SIGNATURE_FAILURES;

export class ModelSignatureError extends Error {
  constructor(readonly failure: SignatureFailure, detail: string) {
    super(`model signature rejected (${failure}): ${detail}`);
  }
}
