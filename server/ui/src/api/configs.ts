// The configuration centre's API for the console: services of a project, and the entries of a
// service in an environment (reads as react-query hooks; writes with If-Match), their history,
// diff and rollback.
import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, ifMatch, ok, type Schemas } from './client';

/** A service of a project. */
export type Service = Schemas['Service'];
/** A configuration entry (secret values `null`). */
export type ConfigEntry = Schemas['ConfigEntry'];
/** The body of a PUT of an entry. */
export type ConfigInput = Schemas['ConfigInput'];
/** One revision of an entry. */
export type ConfigRevision = Schemas['ConfigRevision'];
/** A unified diff of two revisions. */
export type ConfigDiff = Schemas['ConfigDiff'];

/** Query keys of the configuration centre (each includes the project, so live changes refresh them). */
export const configKeys = {
  services: (p: string) => ['services', p] as const,
  entries: (p: string, e: string, s: string) => ['configs', p, e, s] as const,
  entry: (p: string, e: string, s: string, k: string) => ['configs', p, e, s, 'one', k] as const,
  history: (p: string, e: string, s: string, k: string) => ['configs', p, e, s, 'history', k] as const,
};

/** A project's services. */
export function useServices(project: string) {
  return useQuery(
    queryOptions({
      queryKey: configKeys.services(project),
      enabled: !!project,
      queryFn: async () =>
        (await ok(api.GET('/v1/projects/{project}/services', { params: { path: { project } } }))).data,
    }),
  );
}

/** The entries of a service in an environment, only keys starting with `prefix` when given. */
export function useConfigs(project: string, env: string, service: string, prefix: string) {
  return useQuery({
    queryKey: [...configKeys.entries(project, env, service), 'list', prefix],
    enabled: !!project && !!env && !!service,
    queryFn: async () =>
      (
        await ok(
          api.GET('/v1/projects/{project}/environments/{env}/services/{service}/configs', {
            params: { path: { project, env, service }, query: prefix ? { prefix } : {} },
          }),
        )
      ).data,
  });
}

/** One entry and its ETag. */
export function useConfigEntry(project: string, env: string, service: string, key: string) {
  return useQuery({
    queryKey: configKeys.entry(project, env, service, key),
    enabled: !!key,
    queryFn: () =>
      ok(
        api.GET('/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}', {
          params: { path: { project, env, service, key } },
        }),
      ),
  });
}

/** Every revision of an entry, newest first. */
export function useConfigHistory(project: string, env: string, service: string, key: string) {
  return useQuery({
    queryKey: configKeys.history(project, env, service, key),
    enabled: !!key,
    queryFn: async () =>
      (
        await ok(
          api.GET('/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/history', {
            params: { path: { project, env, service, key } },
          }),
        )
      ).data,
  });
}

/** Creates a service, or replaces its description. */
export async function putService(project: string, service: string, description: string) {
  return ok(
    api.PUT('/v1/projects/{project}/services/{service}', {
      params: { path: { project, service } },
      body: { description },
    }),
  );
}

/** Where an entry lives: project, environment, service. */
export interface Scope {
  project: string;
  env: string;
  service: string;
}

/**
 * Creates an entry (`revision` undefined: 409 when it exists) or replaces revision `revision`
 * of it (412 when someone changed it since); publishes the service's config document.
 */
export async function putConfig(scope: Scope, key: string, input: ConfigInput, revision?: number) {
  const { project, env, service } = scope;
  return ok(
    api.PUT('/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}', {
      params: {
        path: { project, env, service, key },
        header: revision === undefined ? {} : ifMatch(revision),
      },
      body: input,
    }),
  );
}

/** Deletes revision `revision` of an entry (412 when someone changed it since). */
export async function deleteConfig(scope: Scope, key: string, revision: number) {
  const { project, env, service } = scope;
  return ok(
    api.DELETE('/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}', {
      params: { path: { project, env, service, key }, header: ifMatch(revision) },
    }),
  );
}

/** Makes revision `revision` of an entry current again, as a new revision. */
export async function rollbackConfig(scope: Scope, key: string, revision: number) {
  const { project, env, service } = scope;
  return ok(
    api.POST('/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/rollback', {
      params: { path: { project, env, service, key } },
      body: { revision },
    }),
  );
}

/** The unified diff of revisions `from` and `to` of an entry. */
export async function configDiff(scope: Scope, key: string, from: number, to: number) {
  const { project, env, service } = scope;
  return (
    await ok(
      api.GET('/v1/projects/{project}/environments/{env}/services/{service}/configs/{key}/diff', {
        params: { path: { project, env, service, key }, query: { from, to } },
      }),
    )
  ).data;
}
