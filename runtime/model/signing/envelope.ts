import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { dsse, X509Certificate } from '@sigstore/core';
import type { SignedEnvelope } from './bundle.ts';
import type { MODEL_SIGNATURE_METHODS } from '../../contract.ts';
import { ModelSignatureError } from './errors.ts';

/** The methods of model-signing that verify offline, with material the cluster holds. */
export type SignatureMethod = (typeof MODEL_SIGNATURE_METHODS)[number];

export type SignatureTrust =
  | { readonly method: 'key'; readonly publicKey: KeyObject }
  | { readonly method: 'certificate'; readonly authorities: readonly X509Certificate[] };

// model-signing signs with ECDSA over the hash that matches the curve (sign_ec_key.get_ec_key_hash).
const HASH_OF_CURVE: Readonly<Record<string, string>> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };
const EXTENDED_KEY_USAGE_OID = '2.5.29.37';
const CODE_SIGNING_OID = '1.3.6.1.5.5.7.3.3';
const MAX_CHAIN_LENGTH = 8;

function hashOf(key: KeyObject, whose: string): string {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  const hash = curve && HASH_OF_CURVE[curve];
  if (!hash) {
    throw new ModelSignatureError('unsupported', `${whose} is ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''}; model-signing signs with ECDSA P-256, P-384 or P-521`);
  }
  return hash;
}

/** The configured trust: a PEM public key (key method) or the PEM CA certificates (certificate method). */
export function readTrust(method: SignatureMethod, pem: string, source: string): SignatureTrust {
  try {
    if (method === 'key') return { method, publicKey: createPublicKey(pem) };
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error('no PEM certificate in it');
    return { method, authorities: blocks.map((block) => X509Certificate.parse(block)) };
  } catch (error) {
    throw new Error(`cannot read the ${method === 'key' ? 'public key' : 'CA certificates'} in ${source}: ${(error as Error).message}`, { cause: error });
  }
}

/** model-signing's key hint: SHA-256 of the PEM (SubjectPublicKeyInfo) encoding of the public key. */
export function publicKeyHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'pem' })).digest('hex');
}

function checkSignature(envelope: SignedEnvelope, key: KeyObject, whose: string): void {
  const signed = dsse.preAuthEncoding(envelope.payloadType, envelope.payload);
  if (!verify(hashOf(key, whose), signed, key, envelope.signature)) {
    throw new ModelSignatureError('badSignature', `the DSSE signature does not verify with ${whose}`);
  }
}

const sameName = (a: Buffer, b: Buffer) => a.equals(b);

function issues(issuer: X509Certificate, subject: X509Certificate): boolean {
  return sameName(issuer.subject, subject.issuer) && subject.verify(issuer);
}

function mayIssue(certificate: X509Certificate): boolean {
  const usage = certificate.extKeyUsage;
  return certificate.isCA && (!usage || usage.keyCertSign);
}

function maySign(certificate: X509Certificate): boolean {
  if (certificate.extKeyUsage?.digitalSignature) return true;
  const extended = certificate.extension(EXTENDED_KEY_USAGE_OID);
  return extended?.valueObj.subs.some((oid) => oid.toOID() === CODE_SIGNING_OID) ?? false;
}

/**
 * The checks model-signing's certificate verifier makes (through OpenSSL): the signing
 * certificate chains, through the bundle's other certificates, to a configured CA; every
 * certificate on the path is valid at the signing certificate's notBefore and every issuer is a
 * CA; the signing certificate may sign (key usage digitalSignature or extended key usage
 * codeSigning). Not checked: revocation, name and policy constraints, path length limits.
 */
function trustedSigningKey(certificates: readonly Buffer[], authorities: readonly X509Certificate[]): KeyObject {
  const [leafDer, ...rest] = certificates;
  if (!leafDer) throw new ModelSignatureError('malformed', 'the bundle holds no certificate');
  let leaf: X509Certificate;
  let intermediates: X509Certificate[];
  try {
    leaf = X509Certificate.parse(Buffer.from(leafDer));
    intermediates = rest.map((der) => X509Certificate.parse(Buffer.from(der)));
  } catch (error) {
    throw new ModelSignatureError('malformed', `a certificate in the bundle cannot be parsed: ${(error as Error).message}`);
  }
  const at = leaf.notBefore;
  const untrusted = (why: string) => new ModelSignatureError('untrustedCertificate', why);
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_LENGTH; depth++) {
    if (!current.validForDate(at)) throw untrusted(`a certificate on the path is not valid at ${at.toISOString()}`);
    const anchor = authorities.find((authority) => issues(authority, current));
    if (anchor) {
      if (!anchor.validForDate(at)) throw untrusted(`the CA certificate is not valid at ${at.toISOString()}`);
      if (!mayIssue(anchor)) throw untrusted('the CA certificate that issued the chain is not a CA (basicConstraints / keyUsage)');
      if (!maySign(leaf)) throw untrusted('the signing certificate may not sign (needs keyUsage digitalSignature or extendedKeyUsage codeSigning)');
      return createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' });
    }
    const next = intermediates.find((candidate) => candidate !== current && issues(candidate, current));
    if (!next) throw untrusted('no configured CA issued the signing certificate or its chain');
    if (!mayIssue(next)) throw untrusted('an intermediate certificate is not a CA');
    current = next;
  }
  throw untrusted(`the certificate chain is longer than ${MAX_CHAIN_LENGTH}`);
}

/** Checks who signed the envelope, then the signature itself. */
export function verifyEnvelope(envelope: SignedEnvelope, trust: SignatureTrust): void {
  if (trust.method === 'key') {
    if (envelope.certificates) throw new ModelSignatureError('wrongKey', 'the model was signed with a certificate, but a public key is configured (method key)');
    hashOf(trust.publicKey, 'the configured public key');
    const configured = publicKeyHint(trust.publicKey);
    if (envelope.publicKeyHint !== undefined && envelope.publicKeyHint !== configured) {
      throw new ModelSignatureError('wrongKey', `the bundle was signed by the key with hint ${envelope.publicKeyHint}, the configured key is ${configured}`);
    }
    checkSignature(envelope, trust.publicKey, 'the configured public key');
    return;
  }
  if (!envelope.certificates) throw new ModelSignatureError('wrongKey', 'the model was signed with a bare key, but CA certificates are configured (method certificate)');
  checkSignature(envelope, trustedSigningKey(envelope.certificates, trust.authorities), 'the signing certificate');
}
