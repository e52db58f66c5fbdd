/**
 * The simulator as a contract target: two SimNodes on a fresh virtual clock and fabric per scenario,
 * configured like the real pair the golden trace was recorded on (VM slots, the test guest on local disk,
 * the contract's data disk fetchable, hostDisk allowed under one root holding the contract's symlinks).
 */
import { VirtualClock } from '@virtkit/engine';
import type { TimingProfile } from '../defaults.ts';
import { SimFabric } from '../fabric.ts';
import type { Seed } from '../rng.ts';
import { SIM_VERSION, SimNode } from '../sim-node.ts';
import { CONTRACT_GUEST } from './definitions.ts';
import {
  CONTRACT_DATA_DISK_BYTES,
  CONTRACT_DATA_DISK_IMAGE,
  CONTRACT_HOST_DISK_LINKS,
  CONTRACT_HOST_DISK_ROOT,
  CONTRACT_MAX_VMS,
} from './scenarios.ts';
import { virtualTime } from './time.ts';
import type { ContractTarget } from './types.ts';

export interface SimContractTargetOptions {
  /** Root seed; each scenario runs on `<seed>/<scenario>`. Default 1. */
  seed?: Seed;
  timing?: Partial<TimingProfile>;
  /** The hostDisk root both nodes allow (default `CONTRACT_HOST_DISK_ROOT`); a real run passes its own. */
  hostDiskRoot?: string;
}

export function simContractTarget(options: SimContractTargetOptions = {}): ContractTarget {
  const hostDiskRoot = options.hostDiskRoot ?? CONTRACT_HOST_DISK_ROOT;
  return {
    name: 'sim',
    hostDiskRoot,
    async pair(scenario) {
      const clock = new VirtualClock();
      const fabric = new SimFabric({ clock, seed: `${options.seed ?? 1}/${scenario.name}` });
      const common = {
        fabric,
        capacity: { vms: CONTRACT_MAX_VMS },
        images: { [CONTRACT_DATA_DISK_IMAGE]: { sizeBytes: CONTRACT_DATA_DISK_BYTES } },
        preloadedImages: [CONTRACT_GUEST.image],
        hostDiskRoots: [hostDiskRoot],
        hostSymlinks: Object.fromEntries(
          Object.entries(CONTRACT_HOST_DISK_LINKS).map(([name, target]) => [`${hostDiskRoot}/${name}`, target]),
        ),
        ...(options.timing ? { timing: options.timing } : {}),
      };
      const a = new SimNode({ name: 'contract-a', ...common });
      const b = new SimNode({ name: 'contract-b', ...common });
      return {
        a,
        b,
        time: virtualTime(clock),
        dispose: async () => {
          a.dispose();
          b.dispose();
        },
      };
    },
    async describe() {
      return { sim: SIM_VERSION, seed: String(options.seed ?? 1) };
    },
  };
}
