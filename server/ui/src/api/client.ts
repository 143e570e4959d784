// The console's one way to the API: openapi-fetch typed by the generated schema (schema.d.ts,
// from `burgee openapi`). The credential is the session cookie (the browser sends it; the page
// cannot read it); every state-changing request carries the session's `X-CSRF-Token`. Errors
// become [`ApiError`].
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

/** Shapes of the API, by schema name. */
export type Schemas = components['schemas'];
/** A flag with its targeting per environment. */
export type Flag = Schemas['Flag'];
/** One environment's targeting of a flag (with its revision). */
export type EnvTargeting = Schemas['EnvironmentTargeting'];
/** The targeting body of a PUT. */
export type Targeting = Schemas['Targeting'];
/** A project environment. */
export type Environment = Schemas['Environment'];
/** A project. */
export type Project = Schemas['Project'];
/** A segment. */
export type Segment = Schemas['Segment'];
/** What a rule, the default or a target serves. */
export type Serve = Schemas['SnapshotServe'];
/** A targeting rule. */
export type Rule = Schemas['SnapshotRule'];
/** A role, weakest first. */
export type Role = Schemas['Role'];
/** A flag's value type. */
export type ValueType = Schemas['SnapshotValueType'];
/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
/** A flag's variants: name → value (the schema says only "an object"). */
export type Variants = Record<string, Json>;

/** Roles in order; each includes the ones before it. */
export const ROLES: readonly Role[] = ['viewer', 'editor', 'publisher', 'admin'];

/** Whether `have` includes `need`. */
export function atLeast(have: Role | undefined, need: Role): boolean {
  return have !== undefined && ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** An error answer of the API: `{code, message, field?}` and the HTTP status. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Stable code, e.g. `PRECONDITION_FAILED`. */
  readonly code: string;
  /** The input field at fault, when the server names one (422, 400). */
  readonly field: string | undefined;

  /** An error from a status and the error body (or what could be read of it). */
  constructor(status: number, body: unknown) {
    const b = (body ?? {}) as { code?: string; message?: string; field?: string | null };
    super(b.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = b.code ?? `HTTP_${status}`;
    this.field = b.field ?? undefined;
  }
}

/** The session's CSRF token (in memory only; the session itself is an HttpOnly cookie). */
let csrf: string | undefined;

/** Sends `X-CSRF-Token: token` with every state-changing request from now on. */
export function setSessionCredentials(token: string): void {
  csrf = token;
}

/** Forgets the CSRF token (sign-out). */
export function clearCredentials(): void {
  csrf = undefined;
}

/** The window event sent when the API answers 401 to a signed-in page. */
export const SIGNED_OUT = 'burgee:signed-out';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const auth: Middleware = {
  onRequest({ request }) {
    if (csrf && UNSAFE.has(request.method)) request.headers.set('X-CSRF-Token', csrf);
    return request;
  },
  onResponse({ request, response }) {
    // A session that ended (expired, signed out elsewhere, user disabled): back to sign-in.
    if (response.status === 401 && csrf && !new URL(request.url).pathname.startsWith('/v1/session')) {
      window.dispatchEvent(new Event(SIGNED_OUT));
    }
    return response;
  },
};

/** The typed client: `api.GET('/v1/projects')` etc. Same origin, cookies included. */
export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use(auth);

/** The answer of a typed call, narrowed to its data or thrown as [`ApiError`]. */
export async function ok<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<{ data: T; etag: string }> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) throw new ApiError(response.status, error);
  return { data, etag: response.headers.get('ETag') ?? '' };
}

/** `"r<revision>"`, the `If-Match` of a resource read at `revision`. */
export function ifMatch(revision: number): { 'If-Match': string } {
  return { 'If-Match': `"r${revision}"` };
}
