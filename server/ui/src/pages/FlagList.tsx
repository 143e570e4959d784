// The flag list: server-side search and filters (text, tag, owner, type), an on/off filter and
// sorting in the page, an on/off switch per environment (a PUT of the targeting with
// If-Match; protected environments ask first), and a selection (checkboxes, select all shown)
// to turn many flags on or off in the current environment at once. A long list renders its
// first screen at once and the rest in the following frames.
import { useQueryClient } from '@tanstack/react-query';
import { startTransition, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ApiError, atLeast, type Environment, type Flag } from '../api/client';
import { type FlagFilters, flagFilters, keys, useFlags } from '../api/queries';
import { putTargeting, toTargeting } from '../api/writes';
import { BulkBar } from '../components/BulkBar';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { FlagRow } from '../components/FlagRow';
import { useCurrent } from '../components/Shell';
import { selectionState, selectShown } from '../model/bulk';

type Sort = 'key' | 'updated' | 'type';

function lastUpdate(f: Flag): number {
  return Math.max(f.created_at, ...Object.values(f.environments ?? {}).map((t) => t.updated_at));
}

// One collator for every comparison: `localeCompare` builds one per call, which is slow for a
// thousand flags.
const { compare } = new Intl.Collator();

function sortFlags(flags: Flag[], sort: Sort): Flag[] {
  const out = [...flags];
  if (sort === 'key') out.sort((a, b) => compare(a.key, b.key));
  if (sort === 'type') out.sort((a, b) => compare(a.type, b.type) || compare(a.key, b.key));
  if (sort === 'updated') out.sort((a, b) => lastUpdate(b) - lastUpdate(a) || compare(a.key, b.key));
  return out;
}

/** Rows rendered at once: more than a tall screen holds. */
const FIRST_ROWS = 60;
/** Rows added per step after that. */
const MORE_ROWS = 250;

/**
 * How many of `items` to render: the first screen at once, then the rest a step per frame in
 * transitions (time-sliced: typing, clicks and scrolling are never blocked), until every row is
 * in the document (so the whole table stays readable by assistive technology and find-in-page).
 */
function useProgressive<T>(items: readonly T[]): number {
  const [state, setState] = useState({ items, limit: FIRST_ROWS });
  const limit = state.items === items ? state.limit : FIRST_ROWS;
  useEffect(() => {
    if (limit >= items.length) return;
    const frame = requestAnimationFrame(() =>
      startTransition(() => setState({ items, limit: limit + MORE_ROWS })),
    );
    return () => cancelAnimationFrame(frame);
  }, [items, limit]);
  return limit;
}

interface Pending {
  flag: Flag;
  env: Environment;
  enabled: boolean;
}

/** The flags of the current project. */
export function FlagList() {
  const { project, env, environment, environments, role, canWrite } = useCurrent();
  const [params, setParams] = useSearchParams();
  const filters: FlagFilters = flagFilters(params);
  const state = params.get('state') ?? '';
  const sort = (params.get('sort') ?? 'key') as Sort;
  const flags = useFlags(project, filters);
  const queryClient = useQueryClient();
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState('');
  const [selected, setSelected] = useState<Set<string>>(() => new Set());

  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  const shown = useMemo(() => {
    // The server filters by text too; filtering what is loaded as well makes typing answer at
    // once while the server's answer is on its way.
    const text = (filters.q ?? '').toLowerCase();
    const list = (flags.data ?? []).filter((f) => {
      if (
        text &&
        !f.key.toLowerCase().includes(text) &&
        !(f.description ?? '').toLowerCase().includes(text)
      ) {
        return false;
      }
      if (!state) return true;
      const on = f.environments?.[env]?.enabled ?? false;
      return state === 'on' ? on : !on;
    });
    return sortFlags(list, sort);
  }, [flags.data, state, sort, env, filters.q]);

  const tags = useMemo(
    () => [...new Set((flags.data ?? []).flatMap((f) => f.tags ?? []))].sort(),
    [flags.data],
  );
  const anyProtected = environments.some((e) => e.protected);
  const canCreate = atLeast(role, anyProtected ? 'publisher' : 'editor');

  async function toggle(p: Pending) {
    const t = p.flag.environments?.[p.env.key];
    if (!t) return;
    setBusy(`${p.flag.key}/${p.env.key}`);
    setError(null);
    try {
      await putTargeting(project, p.env.key, p.flag.key, t.revision, {
        ...toTargeting(t),
        enabled: p.enabled,
      });
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 412
          ? new ApiError(412, {
              code: e.code,
              message: `${p.flag.key} in ${p.env.key} changed since this list was loaded; the list is reloaded, try again.`,
            })
          : e,
      );
    } finally {
      setBusy('');
      await queryClient.invalidateQueries({ queryKey: keys.flags(project) });
    }
  }

  function request(flag: Flag, environment: Environment, enabled: boolean) {
    const p = { flag, env: environment, enabled };
    if (environment.protected) setPending(p);
    else void toggle(p);
  }
  // Stable callbacks, so that rows are not re-rendered for a change elsewhere in the list.
  const latest = useRef(request);
  latest.current = request;
  const onToggle = useCallback((f: Flag, e: Environment, on: boolean) => latest.current(f, e, on), []);
  const onSelect = useCallback(
    (key: string, on: boolean) => setSelected((s) => selectShown(s, [key], on)),
    [],
  );
  const allowed = useMemo(
    () =>
      Object.fromEntries(
        environments.map((e) => [e.key, atLeast(role, e.protected ? 'publisher' : 'editor')]),
      ),
    [environments, role],
  );
  const shownKeys = useMemo(() => shown.map((f) => f.key), [shown]);
  const rendered = useProgressive(shown);
  const all = selectionState(shownKeys, selected);
  const selectAll = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (selectAll.current) selectAll.current.indeterminate = all === 'some';
  }, [all]);

  return (
    <section aria-labelledby="flags-title">
      <div className="title-row">
        <h1 id="flags-title">Flags</h1>
        {canCreate && (
          <Link className="button primary" to={`/p/${project}/e/${env}/flags/new`}>
            New flag
          </Link>
        )}
      </div>
      <search className="filters" aria-label="Filter flags">
        <label>
          <span className="label">Search</span>
          <input
            type="search"
            defaultValue={filters.q}
            placeholder="Key or description"
            onChange={(e) => set('q', e.target.value)}
          />
        </label>
        <label>
          <span className="label">Tag</span>
          <select value={filters.tag} onChange={(e) => set('tag', e.target.value)}>
            <option value="">Any</option>
            {tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          <span className="label">Owner</span>
          <input defaultValue={filters.owner} onChange={(e) => set('owner', e.target.value)} />
        </label>
        <label>
          <span className="label">Type</span>
          <select value={filters.type} onChange={(e) => set('type', e.target.value)}>
            <option value="">Any</option>
            {['boolean', 'string', 'integer', 'float', 'object'].map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          <span className="label">In {env}</span>
          <select value={state} onChange={(e) => set('state', e.target.value)}>
            <option value="">On or off</option>
            <option value="on">On</option>
            <option value="off">Off</option>
          </select>
        </label>
        <label>
          <span className="label">Sort by</span>
          <select value={sort} onChange={(e) => set('sort', e.target.value)}>
            <option value="key">Key</option>
            <option value="updated">Last change</option>
            <option value="type">Type</option>
          </select>
        </label>
      </search>
      <ErrorNote error={flags.error ?? error} />
      <p className="count" aria-live="polite">
        {flags.isPending ? 'Loading…' : `${shown.length} of ${flags.data?.length ?? 0} flags`}
      </p>
      {environment && (
        <BulkBar
          project={project}
          environment={environment}
          flags={flags.data ?? []}
          selected={selected}
          canWrite={canWrite}
          onSelect={setSelected}
          onDone={() => queryClient.invalidateQueries({ queryKey: keys.flags(project) })}
        />
      )}
      <div className="table-wrap">
        <table className="flags" aria-busy={rendered < shown.length}>
          <thead>
            <tr>
              <td className="select">
                <input
                  type="checkbox"
                  ref={selectAll}
                  aria-label={`Select all ${shown.length} shown flags`}
                  checked={all === 'all'}
                  disabled={shown.length === 0}
                  onChange={(e) => setSelected((s) => selectShown(s, shownKeys, e.target.checked))}
                />
              </td>
              <th scope="col">Flag</th>
              <th scope="col">Type</th>
              <th scope="col" className="wide">
                Tags and owner
              </th>
              {environments.map((e) => (
                <th scope="col" key={e.key} className={e.key === env ? 'current' : 'other-env'}>
                  {e.key}
                  {e.protected && (
                    <span className="lock" title="protected">
                      <span className="sr-only">(protected)</span>
                    </span>
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.slice(0, rendered).map((f) => (
              <FlagRow
                key={f.key}
                flag={f}
                project={project}
                env={env}
                environments={environments}
                allowed={allowed}
                selected={selected.has(f.key)}
                busyEnv={busy.startsWith(`${f.key}/`) ? busy.slice(f.key.length + 1) : undefined}
                onSelect={onSelect}
                onToggle={onToggle}
              />
            ))}
          </tbody>
        </table>
      </div>
      <Confirm
        open={pending !== null}
        title={`Turn ${pending?.flag.key} ${pending?.enabled ? 'on' : 'off'} in ${pending?.env.key}?`}
        confirmLabel={pending?.enabled ? 'Turn on' : 'Turn off'}
        onCancel={() => setPending(null)}
        onConfirm={() => {
          const p = pending;
          setPending(null);
          if (p) void toggle(p);
        }}
      >
        <p>
          <strong>{pending?.env.name || pending?.env.key}</strong> is a protected environment: this publishes
          a new snapshot that SDKs pick up within seconds.
        </p>
      </Confirm>
    </section>
  );
}
