/** A self-signed serving certificate that is sure to parse. */
import { X509Certificate } from 'node:crypto';
import { createServingCertificate, type ServingCertificate } from '../api/tls.ts';

/**
 * createServingCertificate draws a random serial number and, about once in 512 certificates, encodes it
 * with a redundant leading zero byte, which OpenSSL refuses to load ("illegal padding"). Such a
 * certificate is drawn again rather than handed to a TLS server that would fail to start with it.
 */
export function servingCertificate(hosts: readonly string[], days = 365): ServingCertificate {
  for (let attempt = 0; ; attempt++) {
    const c = createServingCertificate(hosts, days);
    try {
      new X509Certificate(c.cert);
      return c;
    } catch (err) {
      if (attempt >= 16) throw err;
    }
  }
}
