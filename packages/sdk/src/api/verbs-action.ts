/** KubeVirt's subresource verbs (start, stop, restart, migrate, pause, unpause, softreboot) through VmActions. */
import { requireObject } from './body.ts';
import type { HandlerContext, RequestContext } from './handler.ts';
import { statusResponse } from './handler.ts';
import { type ActionRoute, decodeRequestObject } from './request.ts';
import { ApiError, invalidField, methodNotAllowed, notFound, statusFromError, statusOf } from './status.ts';
import type { ApiResponse } from './types.ts';

function optionsBody(rc: RequestContext): Record<string, unknown> {
  const v = decodeRequestObject(rc);
  return v === undefined ? {} : requireObject(v, 'the options in the request body');
}

export async function serveAction(ctx: HandlerContext, rc: RequestContext, route: ActionRoute): Promise<ApiResponse> {
  const what = `${route.resource}/${route.action}`;
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
