/** A kubeconfig pointing kubectl and client libraries at a virtkit API server. */
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export interface KubeconfigOptions {
  server: string;
  token: string | undefined;
  /** PEM of the CA that signed the server certificate (for https servers). */
  caCertificate?: string;
  /** Context, cluster and user name. Default `virtkit`. */
  name?: string;
  namespace?: string;
}

export function kubeconfigYaml(o: KubeconfigOptions): string {
  const name = o.name ?? 'virtkit';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: o.server,
          ...(o.caCertificate ? { 'certificate-authority-data': Buffer.from(o.caCertificate).toString('base64') } : {}),
          // Plain http (in-process, or `tls: false`): client-node refuses http URLs unless told TLS checks are
          // off — which for http changes nothing.
          ...(o.server.startsWith('http:') ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name, user: o.token === undefined ? {} : { token: o.token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: o.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  });
}

/** Writes the kubeconfig readable by its owner only (it holds the token); returns its text. */
export async function writeKubeconfig(path: string, o: KubeconfigOptions): Promise<string> {
  const text = kubeconfigYaml(o);
  await writeFile(path, text, { mode: 0o600 });
  return text;
}
