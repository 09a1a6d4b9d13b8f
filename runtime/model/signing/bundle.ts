import { Bundle } from '@sigstore/protobuf-specs';
import { ModelSignatureError } from './errors.ts';

/** What model-signing v1 writes into its Sigstore bundle: a DSSE envelope and who signed it. */
export interface SignedEnvelope {
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signature: Buffer;
  /** key method: SHA-256 (hex) of the signer's PEM public key, when the signer recorded it. */
  readonly publicKeyHint?: string;
  /** certificate method: DER certificates, the signing one first. */
  readonly certificates?: readonly Buffer[];
}

const BUNDLE_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.3\+json|\+json;version=0\.3)$/;

export function parseSignatureBundle(text: string, source: string): SignedEnvelope {
  let bundle: Bundle;
  try {
    bundle = Bundle.fromJSON(JSON.parse(text));
  } catch (error) {
    throw new ModelSignatureError('malformed', `${source} is not JSON: ${(error as Error).message}`);
  }
  if (!BUNDLE_MEDIA_TYPE.test(bundle.mediaType)) {
    throw new ModelSignatureError('malformed', `${source} has mediaType "${bundle.mediaType}", expected application/vnd.dev.sigstore.bundle.v0.3+json`);
  }
  if (bundle.content?.$case !== 'dsseEnvelope') throw new ModelSignatureError('malformed', `${source} holds no DSSE envelope`);
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.signatures.length !== 1) {
    throw new ModelSignatureError('malformed', `${source} has ${envelope.signatures.length} signatures, expected 1`);
  }
  const material = bundle.verificationMaterial?.content;
  const base = { payloadType: envelope.payloadType, payload: envelope.payload, signature: envelope.signatures[0]!.sig };
  switch (material?.$case) {
    case 'publicKey':
      return { ...base, ...(material.publicKey.hint ? { publicKeyHint: material.publicKey.hint } : {}) };
    case 'x509CertificateChain':
      return { ...base, certificates: material.x509CertificateChain.certificates.map((certificate) => certificate.rawBytes) };
    case 'certificate':
      return { ...base, certificates: [material.certificate.rawBytes] };
    default:
      throw new ModelSignatureError('malformed', `${source} names neither a public key nor a certificate`);
  }
}
