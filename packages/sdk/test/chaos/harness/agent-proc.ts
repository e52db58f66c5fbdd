/**
 * Agent process of the agent kill loop and the libvirtd restart test: a LibvirtNodeDriver (real libvirtd,
 * adopting the domains it finds on start) served with serveNodeDriver on a fixed port, so the engine's
 * RemoteNodeDriver finds it again after every restart. Prints `SERVING <url>` once it answers calls.
 *
 * Usage: agent-proc.ts <node name> <data dir> <libvirtd socket> <port>
 */
import { pathToFileURL } from 'node:url';
import { LibvirtNodeDriver } from '@virtkit/agent';
import { testGuest } from '@virtkit/agent/testing';
import { serveNodeDriver } from '../../../src/cluster/node-driver-server.ts';

const [nodeName, dataDir, socketPath, port] = process.argv.slice(2);
if (!nodeName || !dataDir || !socketPath || !port) {
  throw new Error('usage: agent-proc.ts <node name> <data dir> <libvirtd socket> <port>');
}
const guest = await testGuest();
const t0 = performance.now();
const driver = await LibvirtNodeDriver.open({
  nodeName,
  dataDir,
  libvirt: { socketPath },
  imageTranslations: [{ translations: [{ name: 'virtkit/test-guest', url: pathToFileURL(guest.dir).href }] }],
});
const server = await serveNodeDriver(driver, { port: Number(port), token: false, tls: false, heartbeatMs: 1000 });
process.stdout.write(`SERVING ${server.url} ${Math.round(performance.now() - t0)}\n`);

process.stdin.on('end', () => {
  void server.close().then(() => driver.close().then(() => process.exit(0)));
});
process.stdin.resume();
