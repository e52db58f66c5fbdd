// The NodeDriver contract suite against the real agent: two LibvirtNodeDrivers on two libvirtd (one
// machine, TCG), every scenario of @virtkit/sim/contract. The fresh trace must equal the committed golden
// trace (which the simulator's own contract test checks against without libvirt), and a simulator run
// must equal this fresh trace. `VIRTKIT_CONTRACT_UPDATE=1` rewrites the golden trace from this run.
import { writeFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type NodeDriver, RealClock } from '@virtkit/engine';
import {
  CONTRACT_DATA_DISK_BYTES,
  CONTRACT_DATA_DISK_IMAGE,
  CONTRACT_HOST_DISK_LINKS,
  CONTRACT_MAX_VMS,
  type ContractTarget,
  type ContractTrace,
  clockTime,
  compareContractTraces,
  formatContractTrace,
  formatDivergences,
  goldenTrace,
  goldenTracePath,
  runContract,
  simContractTarget,
} from '@virtkit/sim/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtNodeDriver } from '../../src/index.ts';
import { type LibvirtDaemon, startLibvirtDaemons, testGuest } from '../../src/testing/index.ts';
import { GUEST_IMAGE, requireLibvirt, tempDataDir } from '../helpers.ts';

describe('NodeDriver contract: LibvirtNodeDriver (real libvirtd + QEMU)', () => {
  let daemons: LibvirtDaemon[] = [];
  const drivers: LibvirtNodeDriver[] = [];
  let data: Awaited<ReturnType<typeof tempDataDir>> | undefined;
  let target: ContractTarget;
  let hostDiskRoot: string;

  beforeAll(async () => {
    requireLibvirt();
    const [started, dir, guest] = await Promise.all([
      startLibvirtDaemons(2, 'contract'),
      tempDataDir('contract'),
      testGuest(),
    ]);
    daemons = started;
    data = dir;
    const disk = join(dir.dir, 'contract-data-disk.raw');
    await writeFile(disk, Buffer.alloc(CONTRACT_DATA_DISK_BYTES));
    // One hostDisk root for both nodes (they share this machine's filesystem; the scenarios use node A).
    hostDiskRoot = join(dir.dir, 'host-disks');
    await mkdir(hostDiskRoot);
    for (const [name, to] of Object.entries(CONTRACT_HOST_DISK_LINKS)) await symlink(to, join(hostDiskRoot, name));
    const translations = [
      {
        translations: [
          { name: GUEST_IMAGE, url: pathToFileURL(guest.dir).href },
          { name: CONTRACT_DATA_DISK_IMAGE, url: pathToFileURL(disk).href },
        ],
      },
    ];
    const registry = new Map<string, NodeDriver>();
    for (const [i, d] of daemons.entries()) {
      const driver = new LibvirtNodeDriver({
        nodeName: `contract-${'ab'[i]}`,
        dataDir: join(dir.dir, `node-${i}`),
        libvirt: { socketPath: d.socketPath },
        imageTranslations: translations,
        migrationUri: d.tcpUri,
        peers: (n) => registry.get(n),
        maxVms: CONTRACT_MAX_VMS,
        hostDiskRoots: [hostDiskRoot],
        migrationPollMs: 100,
      });
      await driver.connect();
      registry.set(driver.nodeName, driver);
      drivers.push(driver);
    }
    const [a, b] = drivers as [LibvirtNodeDriver, LibvirtNodeDriver];
    target = {
      name: 'libvirt',
      guest: {
        image: GUEST_IMAGE,
        kernelPath: guest.kernel.slice(guest.dir.length),
        initrdPath: guest.initrd.slice(guest.dir.length),
        kernelArgs: guest.cmdline,
      },
      hostDiskRoot,
      // Both nodes serve every scenario; the runner leaves no domain behind.
      pair: async () => ({ a, b, time: clockTime(new RealClock()) }),
      async describe() {
        const info = await a.info();
        return {
          libvirt: info.versions.libvirt ?? '?',
          qemu: info.versions.qemu ?? '?',
          hypervisor: info.hypervisor,
          ...(info.emulationReason ? { emulationReason: info.emulationReason } : {}),
          guestKernel: guest.kernelVersion,
        };
      },
    };
  }, 180_000);

  afterAll(async () => {
    for (const d of drivers) await d.close();
    await Promise.all(daemons.map((d) => d.stop()));
    await data?.cleanup();
  }, 60_000);

  it('runs every scenario as the golden trace says, and the simulator runs them the same way', async () => {
    // Wall time per scenario, printed so a slow step on a loaded machine is easy to spot.
    const timing = new Map<string, number>();
    let last = performance.now();
    const real = await runContract(target, {
      onStep: (scenario) => {
        const now = performance.now();
        timing.set(scenario.name, (timing.get(scenario.name) ?? 0) + (now - last));
        last = now;
      },
    });
    console.log(`contract on libvirt: ${[...timing].map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
    real.meta.recorded = new Date().toISOString().slice(0, 10);
    const text = formatContractTrace(real);
    const update = process.env.VIRTKIT_CONTRACT_UPDATE === '1';
    if (update) writeFileSync(goldenTracePath, text);

    const golden: ContractTrace = update ? real : goldenTrace;
    const vsGolden = compareContractTraces(golden, real);
    // Kept for a look (or a deliberate update) only when it differs.
    const saved = join(tmpdir(), `virtkit-contract-libvirt-${process.pid}.json`);
    if (vsGolden.length > 0) writeFileSync(saved, text);
    expect(
      vsGolden,
      `${formatDivergences(vsGolden, golden, real, { expected: 'golden', actual: 'libvirt now' })}\n` +
        `(this run's trace: ${saved}; if the change is intended, rerun with VIRTKIT_CONTRACT_UPDATE=1)`,
    ).toEqual([]);

    const sim = await runContract(simContractTarget({ hostDiskRoot }));
    const vsSim = compareContractTraces(real, sim);
    expect(vsSim, formatDivergences(vsSim, real, sim, { expected: 'libvirt', actual: 'sim' })).toEqual([]);
  }, 300_000);
});
