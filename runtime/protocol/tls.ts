import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { TlsFiles } from '../config.ts';

type IdentityUpdate = experimental.IdentityCertificateUpdate;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** What a log line says about a certificate: enough to tell a renewal happened, nothing secret. */
function describe(certificate: Buffer): { subject: string; serial: string; validTo: string } {
  const cert = new X509Certificate(certificate);
  return { subject: cert.subject.replace(/\n/g, ', '), serial: cert.serialNumber, validTo: cert.validTo };
}

/**
 * The serving certificate and key, read from their files and re-read on an interval. A pair that
 * does not load (half-written files, a key that does not match) is ignored with a warning, and the
 * last good one keeps serving: a renewal never takes TLS down. Implements grpc-js's certificate
 * provider, so the gRPC server follows the same pair as the HTTPS server.
 */
export class ServingCertificate implements experimental.CertificateProvider {
  private current: IdentityUpdate;
  /** grpc-js's, and the HTTPS server's. */
  private readonly listeners = new Set<IdentityListener>();
  private readonly optionListeners = new Set<(options: { cert: Buffer; key: Buffer }) => void>();
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly files: TlsFiles, first: IdentityUpdate, reloadMs: number, private readonly logger: Logger) {
    this.current = first;
    this.timer = setInterval(() => void this.reload(), reloadMs);
    this.timer.unref();
  }

  /** Reads the pair once; a pair that does not load at start is fatal. */
  static async load(files: TlsFiles, reloadMs: number, logger: Logger): Promise<ServingCertificate> {
    const first = await ServingCertificate.read(files);
    logger.info({ certificate: describe(first.certificate) }, 'serving TLS');
    return new ServingCertificate(files, first, reloadMs, logger);
  }

  private static async read(files: TlsFiles): Promise<IdentityUpdate> {
    const [certificate, privateKey] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
    // Throws on a key that does not match the certificate, or on anything that is not PEM.
    createSecureContext({ cert: certificate, key: privateKey });
    return { certificate, privateKey };
  }

  /** The pair now, as node:tls options. */
  get options(): { cert: Buffer; key: Buffer } {
    return { cert: this.current.certificate, key: this.current.privateKey };
  }

  /** Calls `listener` with each new pair, as node:tls options. */
  onChange(listener: (options: { cert: Buffer; key: Buffer }) => void): void {
    this.optionListeners.add(listener);
  }

  private async reload(): Promise<void> {
    let next: IdentityUpdate;
    try {
      next = await ServingCertificate.read(this.files);
    } catch (error) {
      this.logger.warn({ err: error, certFile: this.files.certFile }, 'TLS certificate or key unreadable or not a pair; still serving the last good one');
      return;
    }
    if (next.certificate.equals(this.current.certificate) && next.privateKey.equals(this.current.privateKey)) return;
    this.current = next;
    this.logger.info({ certificate: describe(next.certificate) }, 'TLS certificate reloaded');
    for (const listener of this.listeners) listener(next);
    for (const listener of this.optionListeners) listener(this.options);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.listeners.add(listener);
    process.nextTick(listener, this.current);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.listeners.delete(listener);
  }

  addCaCertificateListener(): void {}

  removeCaCertificateListener(): void {}

  /** gRPC server credentials that follow this pair. */
  grpcCredentials(): ServerCredentials {
    // grpc-js names its first parameter caCertificateProvider but uses it as the identity provider.
    return experimental.createCertificateProviderServerCredentials(this, null, false);
  }

  close(): void {
    clearInterval(this.timer);
    this.listeners.clear();
    this.optionListeners.clear();
  }
}
