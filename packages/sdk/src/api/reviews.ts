/**
 * The self-review APIs `kubectl auth can-i` and `kubectl auth whoami` call. virtkit has one credential, the
 * server's bearer token, and it may do everything (like a cluster-admin kubeconfig): every access review
 * is allowed and the rules review lists `*`. Answering beats a 404, which kubectl reports as an error.
 */
import { requireObject } from './body.ts';
import type { RequestContext } from './handler.ts';
import { jsonResponse } from './handler.ts';
import { decodeRequestObject } from './request.ts';
import { badRequest, methodNotAllowed } from './status.ts';
import type { ApiResponse } from './types.ts';

export interface Review {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** The review resources, by path below `/apis/`: `{group}/{version}/{plural}`. */
export const REVIEWS: readonly Review[] = [
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    plural: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
  },
  { group: 'authorization.k8s.io', version: 'v1', plural: 'selfsubjectrulesreviews', kind: 'SelfSubjectRulesReview' },
  { group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews', kind: 'SelfSubjectReview' },
];

export function findReview(group: string, version: string, plural: string): Review | undefined {
  return REVIEWS.find((r) => r.group === group && r.version === version && r.plural === plural);
}

const USER = { username: 'virtkit-admin', groups: ['system:masters', 'system:authenticated'] };

function statusOf(review: Review): Record<string, unknown> {
  switch (review.kind) {
    case 'SelfSubjectAccessReview':
      return { allowed: true, reason: 'the virtkit API token may do everything' };
    case 'SelfSubjectRulesReview':
      return {
        resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
        nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
        incomplete: false,
      };
    default:
      return { userInfo: USER };
  }
}

export function serveReview(rc: RequestContext, review: Review): ApiResponse {
  if (rc.method !== 'POST') throw methodNotAllowed(rc.method, review.plural);
  // kubectl's typed clients send these as protobuf, which virtkit does not decode; nothing in the answer
  // depends on the request (every review allows), so only a JSON request is read, to echo its spec.
  const protobuf = rc.headers.get('content-type')?.includes('protobuf') === true;
  const body = protobuf ? {} : requireObject(decodeRequestObject(rc) ?? {}, `the ${review.kind} in the request body`);
  const apiVersion = `${review.group}/${review.version}`;
  if (body.kind !== undefined && body.kind !== review.kind) {
    throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${review.kind})`);
  }
  return jsonResponse(201, {
    kind: review.kind,
    apiVersion,
    metadata: { creationTimestamp: null },
    spec: body.spec ?? {},
    status: statusOf(review),
  });
}
