// Writes shared by several screens.
import { api, type EnvTargeting, ifMatch, ok, type Targeting } from './client';

/** The PUT body of a targeting as read (without its revision and update time). */
export function toTargeting(t: EnvTargeting): Targeting {
  const { revision: _r, updated_at: _u, ...rest } = t;
  return rest;
}

/**
 * Replaces a flag's targeting in one environment, expecting `revision` (412 when someone
 * changed it since). Publishes the environment.
 */
export async function putTargeting(
  project: string,
  env: string,
  key: string,
  revision: number,
  targeting: Targeting,
) {
  return ok(
    api.PUT('/v1/projects/{project}/environments/{env}/flags/{key}', {
      params: { path: { project, env, key }, header: ifMatch(revision) },
      body: targeting,
    }),
  );
}
