// With no kubeconfig anywhere, client-node would quietly aim at http://localhost:8080 and fail with a TLS
// message; the CLI says instead that no server is configured and how to get one.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@virtkit/source', main, ...args],
      { env, timeout: 60_000 },
      (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

describe('virtkit CLI without a server', () => {
  it('exits 1 naming where it looked and what to do', async () => {
    const home = mkdtempSync(join(tmpdir(), 'virtkit-nohome-'));
    const r = await runCli(['get', 'vms'], { HOME: home, PATH: process.env.PATH ?? '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no virtkit server or cluster to talk to: no kubeconfig at ~\/\.virtkit\/kubeconfig/);
    expect(r.stderr).toMatch(/Start one with 'virtkit up'/);
    expect(r.stderr).not.toMatch(/HTTP protocol is not allowed/);
  });

  it('treats a $KUBECONFIG naming no file as no cluster', async () => {
    const home = mkdtempSync(join(tmpdir(), 'virtkit-nohome-'));
    const r = await runCli(['get', 'vms'], {
      HOME: home,
      PATH: process.env.PATH ?? '',
      KUBECONFIG: join(home, 'missing-so-default-rules-fail'),
    });
    expect(r.code).toBe(1);
    // A $KUBECONFIG that names no file is not a configured cluster either.
    expect(r.stderr).toMatch(/no virtkit server or cluster to talk to/);
  });
});
