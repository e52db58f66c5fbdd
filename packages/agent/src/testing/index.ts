// @virtkit/agent/testing — what tests and benchmarks of a real node need: the test guest and extra
// independent libvirtd instances ("two nodes on one machine").

export { GUEST_HEARTBEAT_PREFIX, GUEST_READY_PREFIX } from '../guest/init-script.ts';
export { type TestGuest, type TestGuestOptions, testGuest } from '../guest/test-guest.ts';
export {
  freePort,
  type LibvirtDaemon,
  type LibvirtDaemonOptions,
  startLibvirtDaemon,
  startLibvirtDaemons,
} from './libvirt-daemons.ts';
export {
  TEST_GUEST_IMAGE,
  type TestGuestDomainOptions,
  testGuestDomain,
  testGuestTranslations,
} from './test-guest-domain.ts';
