import { createHash } from 'node:crypto';
import { ModelSignatureError } from './errors.ts';

// The constants of model-signing v1 (model_signing/_signing/signing.py).
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const MODEL_SIGNING_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';

/** One signed file: its path relative to the signed model path ("." when a single file was signed). */
export interface SignedFile {
  readonly name: string;
  readonly sha256: string;
}

export interface ModelManifest {
  /** The model name the signer recorded (informative; model-signing does not compare it). */
  readonly modelName: string;
  readonly files: readonly SignedFile[];
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function field<T>(object: Json, key: string, check: (value: unknown) => value is T, what: string): T {
  const value = object[key];
  if (!check(value)) throw new ModelSignatureError('malformed', `the signed statement's ${what} is missing or not as model-signing writes it`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isArray = (value: unknown): value is unknown[] => Array.isArray(value);
const isHex256 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

/**
 * The manifest a verified DSSE payload describes, checked the way model-signing's
 * dsse_payload_to_manifest does: in-toto Statement v1, predicate model_signing v1.0, one subject
 * whose sha256 is the SHA-256 over the resource digests in their listed order. Only the "files"
 * serialization with sha256 digests (model-signing's default) is accepted.
 */
export function manifestOf(payloadType: string, payload: Buffer): ModelManifest {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new ModelSignatureError('malformed', `DSSE payload type is "${payloadType}", expected ${IN_TOTO_PAYLOAD_TYPE}`);
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    throw new ModelSignatureError('malformed', `the signed statement is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(statement)) throw new ModelSignatureError('malformed', 'the signed statement is not a JSON object');
  if (statement._type !== IN_TOTO_STATEMENT_TYPE) throw new ModelSignatureError('malformed', `statement _type is "${String(statement._type)}", expected ${IN_TOTO_STATEMENT_TYPE}`);
  if (statement.predicateType !== MODEL_SIGNING_PREDICATE_TYPE) {
    throw new ModelSignatureError('unsupported', `predicateType is "${String(statement.predicateType)}"; only model-signing v1 (${MODEL_SIGNING_PREDICATE_TYPE}) is verified`);
  }
  const subjects = field(statement, 'subject', isArray, 'subject');
  const subject = subjects[0];
  if (subjects.length !== 1 || !isObject(subject)) throw new ModelSignatureError('malformed', `the statement has ${subjects.length} subjects, expected 1`);
  const subjectDigest = field(subject, 'digest', isObject, 'subject digest');
  const rootDigest = field(subjectDigest, 'sha256', isHex256, 'subject sha256 digest');
  const predicate = field(statement, 'predicate', isObject, 'predicate');
  const serialization = field(predicate, 'serialization', isObject, 'serialization');
  if (serialization.method !== 'files' || serialization.hash_type !== 'sha256') {
    throw new ModelSignatureError('unsupported', `serialization is ${String(serialization.method)}/${String(serialization.hash_type)}; sign with model-signing's default files/sha256 serialization`);
  }
  const root = createHash('sha256');
  const files = field(predicate, 'resources', isArray, 'resources').map((resource): SignedFile => {
    if (!isObject(resource)) throw new ModelSignatureError('malformed', 'a resource of the statement is not an object');
    const name = field(resource, 'name', isString, 'resource name');
    if (resource.algorithm !== 'sha256') throw new ModelSignatureError('unsupported', `resource ${name} is hashed with ${String(resource.algorithm)}, expected sha256`);
    const sha256 = field(resource, 'digest', isHex256, `digest of ${name}`);
    root.update(Buffer.from(sha256, 'hex'));
    return { name, sha256 };
  });
  const computed = root.digest('hex');
  if (computed !== rootDigest) throw new ModelSignatureError('malformed', `the statement is inconsistent: its subject digest is ${rootDigest}, its resources hash to ${computed}`);
  return { modelName: typeof subject.name === 'string' ? subject.name : '', files };
}

/**
 * The runtime serves one file, so the signature must cover exactly that file, signed on its own
 * (`model_signing sign ... model.onnx`, which records it as "."): a signature over a directory
 * would also vouch for files the runtime never reads, and a file listed there could not be told
 * apart from a renamed one.
 */
export function checkModelFile(manifest: ModelManifest, actualSha256: string, modelUri: string): void {
  const [file, ...others] = manifest.files;
  if (!file || others.length > 0 || file.name !== '.') {
    const names = manifest.files.map((f) => f.name).join(', ') || 'nothing';
    throw new ModelSignatureError('unsupported', `the signature covers ${names}; sign the model file itself (model_signing sign ... model.onnx)`);
  }
  if (file.sha256 !== actualSha256) {
    throw new ModelSignatureError('digestMismatch', `${modelUri} has sha256 ${actualSha256}, the signature says ${file.sha256}`);
  }
}
