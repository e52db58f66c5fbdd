// Builds (or finds) the cached test guest and the KVM probe verdict, and prints both:
// `scripts/setup-test-guest.sh` runs this during set-up so the first test pays for neither.
import { testGuest } from '../guest/test-guest.ts';
import { probeKvm } from '../kvm/probe.ts';

const guest = await testGuest();
console.log(JSON.stringify(guest));
const kvm = await probeKvm({ kernel: guest.kernel, cacheDir: '/var/cache/virtkit' });
console.log(JSON.stringify(kvm));
