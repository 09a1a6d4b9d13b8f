import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

const run = promisify(execFile);

/** scripts/requirements.sh on a PATH whose `go` reports `goVersion` (this machine's node and python3 beside it). */
async function check(goVersion: string): Promise<{ code: number; stderr: string }> {
  const bin = await mkdtemp(join(tmpdir(), 'modelship-requirements-'));
  try {
    await symlink(process.execPath, join(bin, 'node'));
    const { stdout: python } = await run('sh', ['-c', 'command -v python3']);
    await symlink(python.trim(), join(bin, 'python3'));
    await writeFile(join(bin, 'go'), `#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo ${goVersion}\n`);
    await chmod(join(bin, 'go'), 0o755);
    return await run('/bin/bash', [join(REPO_ROOT, 'scripts', 'requirements.sh')], { env: { PATH: `${bin}:/usr/bin:/bin` } })
      .then(({ stderr }) => ({ code: 0, stderr }), (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }));
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
}

describe('unit: the first command says in one line what a fresh machine lacks (scripts/requirements.sh)', () => {
  it('names a Go older than 1.26, with the version found, and stops', async () => {
    const result = await check('go1.25.3');
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.deep.equal(['missing before anything is built: Go >= 1.26, to build the control plane from its modules (found go1.25.3)']);
  });

  it('says nothing when Node, Go and Python are new enough', async () => {
    expect(await check('go1.26.0')).to.deep.equal({ code: 0, stderr: '' });
    expect(await check('go1.27.1')).to.deep.equal({ code: 0, stderr: '' });
  });
});
