// Reads of the API as react-query hooks, one per resource, and the keys writes invalidate.
import { keepPreviousData, type QueryClient, queryOptions, useQuery } from '@tanstack/react-query';
import { ApiError, api, type Flag, ok } from './client';

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

/** Orders the server can sort the flag list by. */
export type FlagSort = 'key' | '-key' | 'updated' | '-updated';

/** One page of the flag list: filters, order and window, all applied by the server. */
export interface FlagPageQuery extends FlagFilters {
  /** The environment `state` and `stale_days` apply to. */
  environment?: string;
  /** Only flags on or off in `environment`. */
  state?: 'on' | 'off';
  /** Only flags stale in `environment` over this many days. */
  stale_days?: number;
  /** Order. */
  sort?: FlagSort;
  /** Flags skipped (paging). */
  offset?: number;
  /** Flags per page (1..=1000). */
  limit?: number;
}

/** A page of flags and how many match the filters in all. */
export interface FlagPage {
  /** The page. */
  flags: Flag[];
  /** Flags matching the filters (the `X-Total-Count` header). */
  total: number;
}

/** Flags per page of the list, unless the URL says otherwise. */
export const PAGE_SIZE = 100;

/** The flag list's page query from its URL (`?q=&tag=&owner=&type=&state=&stale=&sort=&page=&size=`). */
export function flagPageQuery(params: URLSearchParams, env: string): FlagPageQuery {
  const state = params.get('state');
  const stale = Number(params.get('stale') ?? 0);
  const size = Number(params.get('size') ?? PAGE_SIZE) || PAGE_SIZE;
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const sort = params.get('sort');
  const q: FlagPageQuery = {
    q: params.get('q') ?? '',
    tag: params.get('tag') ?? '',
    owner: params.get('owner') ?? '',
    type: params.get('type') ?? '',
    sort: sort === '-key' || sort === 'updated' || sort === '-updated' ? sort : 'key',
    offset: page * size,
    limit: Math.min(Math.max(size, 1), 1000),
  };
  if (state === 'on' || state === 'off') q.state = state;
  if (stale > 0) q.stale_days = stale;
  if (q.state || q.stale_days) q.environment = env;
  return q;
}

function flagPage(project: string, query: FlagPageQuery) {
  const clean = Object.fromEntries(
    Object.entries(query).filter(([, v]) => v !== '' && v !== undefined),
  ) as FlagPageQuery;
  return queryOptions({
    queryKey: [...keys.flags(project), 'page', clean],
    queryFn: async (): Promise<FlagPage> => {
      const { data, error, response } = await api.GET('/v1/projects/{project}/flags', {
        params: { path: { project }, query: clean },
      });
      if (!response.ok || data === undefined) throw new ApiError(response.status, error);
      return { flags: data, total: Number(response.headers.get('X-Total-Count') ?? data.length) };
    },
  });
}

/** One page of a project's flags, filtered, sorted and paged by the server. */
export function useFlagPage(project: string, query: FlagPageQuery) {
  return useQuery({ ...flagPage(project, query), placeholderData: keepPreviousData });
}

/**
 * Starts the reads the first screen of `url` needs (projects, the project's environments and,
 * on the flag list, its first page) while the session is still being checked, so the list does
 * not wait for two round trips in a row. Signed out, they fail quietly and run again after
 * sign-in.
 */
export function prefetchFor(client: QueryClient, url: URL): void {
  const m = /^\/ui\/p\/([^/]+)\/e\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  void client.prefetchQuery(projectsQuery);
  if (!m?.[1] || !m[2]) return;
  const project = decodeURIComponent(m[1]);
  void client.prefetchQuery(environmentsQuery(project));
  if (m[3] === 'flags') {
    void client.prefetchQuery(flagPage(project, flagPageQuery(url.searchParams, decodeURIComponent(m[2]))));
  }
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

/** Instants of the results' timeline (the sequential p-value over time). */
export const TIMELINE_POINTS = 12;

/**
 * A flag's experiment results in an environment, with the p-values at [`TIMELINE_POINTS`]
 * instants, refreshed every 30 s while shown (the sequential p-values are safe to watch
 * continuously).
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
            params: { path: { project, flag }, query: { environment: env, timeline: TIMELINE_POINTS } },
          }),
        )
      ).data,
  });
}
