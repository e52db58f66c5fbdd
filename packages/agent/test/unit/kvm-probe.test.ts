import { describe, expect, it } from 'vitest';
import { probeKvm } from '../../src/index.ts';
import { testGuest } from '../../src/testing/index.ts';
import { tempDataDir } from '../helpers.ts';

describe('KVM probe', () => {
  it('reports software emulation with a reason when /dev/kvm is missing', async () => {
    const g = await testGuest();
    const r = await probeKvm({ kernel: g.kernel, cacheDir: '/nonexistent', devKvm: '/dev/no-such-kvm' });
    expect(r).toMatchObject({ hypervisor: 'qemu', emulationReason: '/dev/no-such-kvm does not exist' });
  }, 300_000);

  it('passes when the probe guest boots (checked with TCG) and caches the verdict', async () => {
    const g = await testGuest();
    const data = await tempDataDir('probe');
    try {
      // TCG always works, so this exercises the boot-and-marker path itself.
      const first = await probeKvm({
        kernel: g.kernel,
        cacheDir: data.dir,
        accel: 'tcg',
        timeoutMs: 60_000,
        devKvm: '/dev/null',
      });
      expect(first).toMatchObject({ hypervisor: 'kvm', cached: false });
      const again = await probeKvm({ kernel: g.kernel, cacheDir: data.dir, accel: 'tcg', devKvm: '/dev/null' });
      expect(again).toMatchObject({ hypervisor: 'kvm', cached: true, probeMs: 0 });
    } finally {
      await data.cleanup();
    }
  }, 120_000);

  it('fails a probe that does not boot in time with an explanation, never hangs', async () => {
    const g = await testGuest();
    const data = await tempDataDir('probe');
    try {
      const started = Date.now();
      const r = await probeKvm({
        kernel: g.kernel,
        cacheDir: data.dir,
        accel: 'tcg',
        timeoutMs: 50,
        devKvm: '/dev/null',
      });
      expect(r.hypervisor).toBe('qemu');
      expect(r.emulationReason).toMatch(/did not boot under KVM within 50 ms/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await data.cleanup();
    }
  }, 60_000);
});
