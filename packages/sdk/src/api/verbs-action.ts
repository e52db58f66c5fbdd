/**
 * KubeVirt's subresource verbs (start, stop, restart, migrate, pause, unpause, softreboot) through VmActions,
 * and the serial console streamed from the node's driver.
 */
import { NotFoundError } from '@virtkit/engine';
import { requireObject } from './body.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { statusResponse } from './handler.ts';
import { type ActionRoute, decodeRequestObject } from './request.ts';
import { ApiError, invalidField, methodNotAllowed, notFound, statusFromError, statusOf } from './status.ts';
import type { ApiResponse, ResponseStream } from './types.ts';

function optionsBody(rc: RequestContext): Record<string, unknown> {
  const v = decodeRequestObject(rc);
  return v === undefined ? {} : requireObject(v, 'the options in the request body');
}

/** Console lines as a pull-based stream: a slow reader simply reads later (the driver bounds its backlog). */
class ConsoleStream implements ResponseStream {
  readonly #abort = new AbortController();
  readonly #lines: AsyncIterator<string>;
  readonly overflowed = new Promise<void>(() => {});

  constructor(lines: (signal: AbortSignal) => AsyncIterable<string>) {
    this.#lines = lines(this.#abort.signal)[Symbol.asyncIterator]();
  }

  async next(): Promise<string | undefined> {
    if (this.#abort.signal.aborted) return undefined;
    try {
      const r = await this.#lines.next();
      return r.done ? undefined : `${r.value}\n`;
    } catch {
      // The domain went away or the driver failed mid-stream: the console simply ends.
      return undefined;
    }
  }

  cancel(): void {
    this.#abort.abort();
    void this.#lines.return?.();
  }
}

async function serveConsole(ctx: HandlerContext, route: ActionRoute): Promise<ApiResponse> {
  const { namespace, name } = route;
  const drivers = ctx.options.drivers;
  if (!drivers) {
    return statusResponse(
      statusOf(
        503,
        'ServiceUnavailable',
        'the console is not available: this API server was started without node drivers',
      ),
    );
  }
  const vmi = await ctx.options.store.tryGet('VirtualMachineInstance', namespace, name);
  if (!vmi) {
    return statusResponse(
      statusFromError(new NotFoundError('VirtualMachineInstance', name, namespace), consoleSubject(name)),
    );
  }
  const node = vmi.status?.nodeName;
  const driver = node ? drivers.get(node) : undefined;
  if (!driver) {
    const why = node ? `its node ${node} has no driver here` : 'it runs on no node';
    return statusResponse(
      statusOf(404, 'NotFound', `virtualmachineinstances.kubevirt.io "${name}" has no console: ${why}`),
    );
  }
  // Domains are named namespace_name on every driver.
  const id = `${namespace}_${name}`;
  const stream = new ConsoleStream((signal) => driver.console(id, { fromStart: true, signal }));
  return {
    status: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache, private' },
    stream,
  };
}

const consoleSubject = (name: string) => ({
  qualifiedResource: 'virtualmachineinstances.kubevirt.io',
  group: 'kubevirt.io',
  plural: 'virtualmachineinstances',
  kind: 'VirtualMachineInstance',
  name,
});

export async function serveAction(ctx: HandlerContext, rc: RequestContext, route: ActionRoute): Promise<ApiResponse> {
  const what = `${route.resource}/${route.action}`;
  if (route.action === 'console') {
    if (rc.method !== 'GET') throw methodNotAllowed(rc.method, what);
    return serveConsole(ctx, route);
  }
  if (rc.method !== 'PUT') throw methodNotAllowed(rc.method, what);
  const actions = ctx.options.actions;
  if (!actions) {
    return statusResponse(
      statusOf(503, 'ServiceUnavailable', `${what} is not available: this API server was started without VM actions`),
    );
  }
  const body = optionsBody(rc);
  const { namespace, name } = route;
  const num = (key: string): number | undefined => {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw invalidField(`${what} options`, key, 'FieldValueInvalid', 'must be a non-negative integer');
    }
    return v;
  };
  try {
    switch (route.action) {
      case 'start': {
        const paused = body.paused;
        if (paused !== undefined && typeof paused !== 'boolean')
          throw invalidField('StartOptions', 'paused', 'FieldValueInvalid', 'must be a boolean');
        await actions.start(namespace, name, paused === undefined ? {} : { paused });
        break;
      }
      case 'stop': {
        const g = num('gracePeriod');
        await actions.stop(namespace, name, g === undefined ? {} : { gracePeriodSeconds: g });
        break;
      }
      case 'restart': {
        const g = num('gracePeriodSeconds');
        await actions.restart(namespace, name, g === undefined ? {} : { gracePeriodSeconds: g });
        break;
      }
      case 'migrate': {
        const sel = body.addedNodeSelector;
        if (
          sel !== undefined &&
          (typeof sel !== 'object' || sel === null || Object.values(sel).some((x) => typeof x !== 'string'))
        ) {
          throw invalidField(
            'MigrateOptions',
            'addedNodeSelector',
            'FieldValueInvalid',
            'must map label keys to string values',
          );
        }
        await actions.migrate(
          namespace,
          name,
          sel === undefined ? {} : { addedNodeSelector: sel as Record<string, string> },
        );
        break;
      }
      case 'pause':
        await actions.pause(namespace, name);
        break;
      case 'unpause':
        await actions.unpause(namespace, name);
        break;
      case 'softreboot':
        await actions.softReboot(namespace, name);
        break;
      default:
        throw notFound('the server could not find the requested resource');
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const group = 'kubevirt.io';
    return statusResponse(
      statusFromError(err, { qualifiedResource: `${route.resource}.${group}`, group, plural: route.resource, name }),
    );
  }
  return { status: 202, headers: {} };
}
