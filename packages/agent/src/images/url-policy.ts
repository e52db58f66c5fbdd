/**
 * Which hosts an image URL written straight into a VM spec may reach. Such a URL comes from whoever may
 * create a VM, and the agent fetches it from the node: without a rule it could read the node's loopback
 * services, the cloud metadata endpoint (169.254.169.254) or anything on the private network the node
 * sits in. Operators' translation rules are trusted and not limited.
 *
 * The check runs on the address a connection really goes to (a `lookup` hook for names, the literal for
 * IP addresses, again for every redirect), so a name that resolves differently at fetch time (DNS
 * rebinding) or a public URL redirecting inward is caught as well.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * `public` (default): only globally routable addresses. `any`: no limit (a lab where images sit on a
 * private server). `refuse`: only images that a translation rule names.
 */
export type DirectImageUrlPolicy = 'public' | 'any' | 'refuse';

export const DIRECT_IMAGE_URL_POLICIES: readonly DirectImageUrlPolicy[] = ['public', 'any', 'refuse'];

const nonPublic = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  nonPublic.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['100::', 64], // discard-only
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  nonPublic.addSubnet(net, bits, 'ipv6');
}

/** Why `address` (an IP literal) is not a public address, or undefined when it is. */
export function nonPublicReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return `"${address}" is not an IP address`;
  let ip = address;
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach the IPv4 address inside.
    const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
    if (embedded) ip = embedded;
    else if (mappedHex) {
      const hi = Number.parseInt(mappedHex[1] ?? '0', 16);
      const lo = Number.parseInt(mappedHex[2] ?? '0', 16);
      ip = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
  }
  const type = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
  return nonPublic.check(ip, type) ? `${address} is not a public address` : undefined;
}

/** Why `url`'s host (an IP literal) may not be reached; names are checked at lookup, so undefined. */
export function literalHostRefusal(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? undefined : nonPublicReason(host);
}

/**
 * A `lookup` for http(s).get that fails, with the error `refuse` makes, when a name resolves to any
 * address that is not public.
 */
export function publicOnlyLookup(refuse: (host: string, why: string) => Error): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.map((a) => nonPublicReason(a.address)).find((r) => r !== undefined);
      if (bad) return callback(refuse(hostname, `it resolves to ${bad}`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(refuse(hostname, 'it resolves to no address'), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
