// Writes shared by several screens.
import { api, type EnvTargeting, type Flag, ifMatch, ok, type Targeting } from './client';

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

/** The project-wide part of a flag, as `PUT /v1/projects/{p}/flags/{key}` takes it. */
export type Definition = Pick<
  Flag,
  'type' | 'variants' | 'description' | 'owner' | 'tags' | 'client_visible' | 'schema' | 'experiment'
>;

/** The definition of a flag as read. */
export function definitionOf(f: Flag): Definition {
  return {
    type: f.type,
    variants: f.variants,
    description: f.description ?? '',
    owner: f.owner ?? '',
    tags: f.tags ?? [],
    client_visible: f.client_visible ?? false,
    schema: f.schema,
    experiment: f.experiment ?? null,
  };
}

/**
 * Replaces a flag's project-wide definition, expecting `revision` (412 when someone changed it
 * since). Publishes every environment.
 */
export async function putDefinition(project: string, key: string, revision: number, definition: Definition) {
  return ok(
    api.PUT('/v1/projects/{project}/flags/{key}', {
      params: { path: { project, key }, header: ifMatch(revision) },
      body: definition as never,
    }),
  );
}
