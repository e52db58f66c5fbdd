// Builds (or finds) the cached test guest and prints where it is: `scripts/setup-test-guest.sh` runs this
// during set-up so the first test does not pay for the download.
import { testGuest } from '../guest/test-guest.ts';

const guest = await testGuest();
console.log(JSON.stringify(guest));
