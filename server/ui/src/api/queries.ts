// Reads of the API as react-query hooks, one per resource, and the keys writes invalidate.
import { keepPreviousData, type QueryClient, queryOptions, useQuery } from '@tanstack/react-query';
import { api, ok } from './client';

/** Query keys, so writes can invalidate exactly what they change. */
export const keys = {
  projects: ['projects'] as const,
  environments: (p: string) => ['environments', p] as const,
  flags: (p: string) => ['flags', p] as const,
  flag: (p: string, k: string) => ['flags', p, 'one', k] as const,
  segments: (p: string, e: string) => ['segments', p, e] as const,
  versions: (p: string, e: string) => ['versions', p, e] as const,
  results: (p: string, flag: string, e: string) => ['experiment-results', p, flag, e] as const,
};

const projectsQuery = queryOptions({
  queryKey: keys.projects,
  queryFn: async () => (await ok(api.GET('/v1/projects'))).data,
});

/** Projects the caller can see. */
export function useProjects() {
  return useQuery(projectsQuery);
}

function environmentsQuery(project: string) {
  return queryOptions({
    queryKey: keys.environments(project),
    enabled: !!project,
    queryFn: async () =>
      (await ok(api.GET('/v1/projects/{project}/environments', { params: { path: { project } } }))).data,
  });
}

/** A project's environments. */
export function useEnvironments(project: string | undefined) {
  return useQuery(environmentsQuery(project ?? ''));
}

/** Server-side filters of the flag list. */
export interface FlagFilters {
  /** Free text (key, description). */
  q?: string;
  /** Tag. */
  tag?: string;
  /** Owner. */
  owner?: string;
  /** Value type. */
  type?: string;
}

function flagsQuery(project: string, filters: FlagFilters) {
  const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v)) as FlagFilters;
  return queryOptions({
    queryKey: [...keys.flags(project), query],
    queryFn: async () =>
      (await ok(api.GET('/v1/projects/{project}/flags', { params: { path: { project }, query } }))).data,
  });
}

/** A project's flags, filtered by the server. */
export function useFlags(project: string, filters: FlagFilters) {
  return useQuery({ ...flagsQuery(project, filters), placeholderData: keepPreviousData });
}

/** The filters of the flag list in its URL's query (`?q=…&tag=…`). */
export function flagFilters(params: URLSearchParams): FlagFilters {
  return {
    q: params.get('q') ?? '',
    tag: params.get('tag') ?? '',
    owner: params.get('owner') ?? '',
    type: params.get('type') ?? '',
  };
}

/**
 * Starts the reads the first screen of `url` needs (projects, the project's environments and,
 * on the flag list, its flags) while the session is still being checked, so the list does not
 * wait for two round trips in a row. Signed out, they fail quietly and run again after sign-in.
 */
export function prefetchFor(client: QueryClient, url: URL): void {
  const m = /^\/ui\/p\/([^/]+)\/e\/[^/]+\/([^/]+)\/?$/.exec(url.pathname);
  void client.prefetchQuery(projectsQuery);
  if (!m?.[1]) return;
  const project = decodeURIComponent(m[1]);
  void client.prefetchQuery(environmentsQuery(project));
  if (m[2] === 'flags') void client.prefetchQuery(flagsQuery(project, flagFilters(url.searchParams)));
}

/** One flag with its targeting per environment, and the ETag of its definition. */
export function useFlag(project: string, key: string) {
  return useQuery({
    queryKey: keys.flag(project, key),
    queryFn: async () =>
      ok(api.GET('/v1/projects/{project}/flags/{key}', { params: { path: { project, key } } })),
  });
}

/** The segments of an environment. */
export function useSegments(project: string, env: string) {
  return useQuery({
    queryKey: keys.segments(project, env),
    enabled: !!env,
    queryFn: async () =>
      (
        await ok(
          api.GET('/v1/projects/{project}/environments/{env}/segments', {
            params: { path: { project, env } },
          }),
        )
      ).data,
  });
}

/** Published versions of an environment, newest first. */
export function useVersions(project: string, env: string) {
  return useQuery({
    queryKey: keys.versions(project, env),
    enabled: !!env,
    queryFn: async () =>
      (
        await ok(
          api.GET('/v1/projects/{project}/environments/{env}/versions', {
            params: { path: { project, env }, query: { limit: 200 } },
          }),
        )
      ).data,
  });
}

/**
 * Display names of actors (user or token id → its name) for the audit log and history, from
 * the user and token lists (admins only; others see the raw ids).
 */
export function useActorNames(enabled: boolean): (actor: string) => string {
  const tokens = useQuery({
    queryKey: ['tokens', 'all'],
    enabled,
    queryFn: async () => (await ok(api.GET('/v1/tokens'))).data,
  });
  const users = useQuery({
    queryKey: ['users'],
    enabled,
    queryFn: async () => (await ok(api.GET('/v1/users'))).data,
  });
  const names = new Map<string, string>([
    ...(tokens.data ?? []).map((t): [string, string] => [t.id, t.name ? `${t.name} (token)` : t.id]),
    ...(users.data ?? []).map((u): [string, string] => [u.id, u.name || u.email]),
  ]);
  return (actor) => names.get(actor) ?? actor;
}

/**
 * `GET .../experiments/{flag}/results` as the typed client returns it (intervals as arrays:
 * `[low, high]`).
 */
export type ExperimentResults = NonNullable<ReturnType<typeof useExperimentResults>['data']>;

/** One metric of [`ExperimentResults`]. */
export type MetricResult = ExperimentResults['metrics'][number];

/**
 * A flag's experiment results in an environment, refreshed every 30 s while shown (the
 * sequential p-values are safe to watch continuously).
 */
export function useExperimentResults(project: string, flag: string, env: string, enabled: boolean) {
  return useQuery({
    queryKey: keys.results(project, flag, env),
    enabled: enabled && !!env,
    refetchInterval: 30_000,
    queryFn: async () =>
      (
        await ok(
          api.GET('/v1/projects/{project}/experiments/{flag}/results', {
            params: { path: { project, flag }, query: { environment: env } },
          }),
        )
      ).data,
  });
}
