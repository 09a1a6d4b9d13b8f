import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { OciImageConfig } from './node.ts';

const run = promisify(execFile);

export interface OciArchiveOptions {
  /** Full reference the image is known by once imported, e.g. ghcr.io/modelship/runtime:0.1.0. */
  name: string;
  /** Directories whose contents become the layers, bottom first. */
  layers: string[];
  config: OciImageConfig;
  /** The archive to write (an OCI image layout in a tar file, as `docker save` or `ctr export` write). */
  out: string;
  scratch: string;
}

/** Writes an OCI image layout archive that `ctr images import` loads under `name`. */
export async function writeOciArchive(options: OciArchiveOptions): Promise<void> {
  const layout = join(options.scratch, `layout-${process.pid}-${Date.now()}`);
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  try {
    const layers: { digest: string; size: number }[] = [];
    for (const root of options.layers) {
      const tarFile = join(layout, 'layer.tar');
      // Numeric owners and exact modes, as an image build records them; no timestamps of this machine matter.
      await run('tar', ['--create', '--file', tarFile, '--numeric-owner', '--sort=name', '--directory', root, '.'], { maxBuffer: 16 * 1024 * 1024 });
      const digest = await sha256File(tarFile);
      layers.push({ digest, size: (await stat(tarFile)).size });
      await rename(tarFile, join(blobs, digest));
    }
    const { config } = options;
    const imageConfig = {
      architecture: 'amd64', os: 'linux',
      config: {
        ...(config.user && { User: config.user }),
        Env: Object.entries(config.env ?? { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }).map(([key, value]) => `${key}=${value}`),
        ...(config.entrypoint && { Entrypoint: config.entrypoint }),
        ...(config.cmd && { Cmd: config.cmd }),
        WorkingDir: config.workdir ?? '/',
        ...(config.exposedPorts && { ExposedPorts: Object.fromEntries(config.exposedPorts.map((port) => [port.includes('/') ? port : `${port}/tcp`, {}])) }),
        ...(config.labels && { Labels: config.labels }),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => `sha256:${layer.digest}`) },
    };
    const configBlob = await writeBlob(blobs, JSON.stringify(imageConfig));
    const manifest = await writeBlob(blobs, JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: layers.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layer.digest}`, size: layer.size })),
    }));
    const tag = /:([^/@:]+)$/.exec(options.name)?.[1];
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'io.containerd.image.name': options.name, ...(tag && { 'org.opencontainers.image.ref.name': tag }) },
      }],
    }));
    await run('tar', ['--create', '--file', options.out, '--directory', layout, 'oci-layout', 'index.json', 'blobs']);
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

async function writeBlob(blobs: string, content: string): Promise<{ digest: string; size: number }> {
  const digest = createHash('sha256').update(content).digest('hex');
  await writeFile(join(blobs, digest), content);
  return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
