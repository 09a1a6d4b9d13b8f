import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { TlsFiles } from '../config.ts';

interface IdentityUpdate {
  readonly certificate: Buffer;
  readonly privateKey: Buffer;
}

/** What a log line says about a certificate: enough to tell a renewal happened, nothing secret. */
function describe(certificate: Buffer): { subject: string; serial: string; validTo: string } {
  const cert = new X509Certificate(certificate);
  return { subject: cert.subject.replace(/\n/g, ', '), serial: cert.serialNumber, validTo: cert.validTo };
}

/**
 * The serving certificate and key, read from their files and re-read on an interval. A pair that
 * does not load (half-written files, a key that does not match) is ignored with a warning, and the
 * last good one keeps serving: a renewal never takes TLS down. The HTTPS and gRPC servers both
 * follow it (`onChange`).
 */
export class ServingCertificate {
  private current: IdentityUpdate;
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
    for (const listener of this.optionListeners) listener(this.options);
  }

  close(): void {
    clearInterval(this.timer);
    this.optionListeners.clear();
  }
}
