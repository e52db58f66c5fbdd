/**
 * The guest identity a NoCloud cloud-init would see, computed the way the agent builds the seed:
 * instance-id is the VMI uid; hostname is `spec.hostname`, else the `hostname:` key of the user-data,
 * else the VMI name.
 */
import type { DomainDefinition } from '@virtkit/engine';

export interface GuestIdentity {
  instanceId: string;
  hostname: string;
  /** A cloudInitNoCloud volume is attached. */
  cloudInit: boolean;
  userDataBytes: number;
}

const HOSTNAME_KEY = /^hostname:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#]+))/m;

/** The `hostname:` of a cloud-config user-data document (top-level key only). */
export function userDataHostname(userData: string): string | undefined {
  const m = HOSTNAME_KEY.exec(userData);
  const v = m?.[1] ?? m?.[2] ?? m?.[3];
  return v ? v.trim() || undefined : undefined;
}

export function guestIdentity(def: DomainDefinition): GuestIdentity {
  let userData: string | undefined;
  let cloudInit = false;
  for (const v of def.spec.volumes ?? []) {
    const ci = v.cloudInitNoCloud;
    if (!ci) continue;
    cloudInit = true;
    if (ci.userData !== undefined) userData = ci.userData;
    else if (ci.userDataBase64 !== undefined) userData = Buffer.from(ci.userDataBase64, 'base64').toString('utf8');
    break;
  }
  const hostname = def.spec.hostname || (userData !== undefined ? userDataHostname(userData) : undefined) || def.name;
  return {
    instanceId: def.uid,
    hostname,
    cloudInit,
    userDataBytes: userData === undefined ? 0 : Buffer.byteLength(userData),
  };
}
