// The flag list: search, filters (text, tag, owner, type, on/off and stale in this
// environment), sorting and paging, all done by the server; an on/off switch per environment
// (a PUT of the targeting with If-Match; protected environments ask first), and a selection
// (checkboxes, select all shown) to turn many flags on or off in the current environment at
// once. A long page renders its first screen at once and the rest in the following frames.
import { useQueryClient } from '@tanstack/react-query';
import { startTransition, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ApiError, atLeast, type Environment, type Flag } from '../api/client';
import { flagPageQuery, keys, PAGE_SIZE, useFlagPage } from '../api/queries';
import { putTargeting, toTargeting } from '../api/writes';
import { BulkBar } from '../components/BulkBar';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { FlagRow } from '../components/FlagRow';
import { useCurrent } from '../components/Shell';
import { selectionState, selectShown } from '../model/bulk';

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
  const query = flagPageQuery(params, env);
  const size = query.limit ?? PAGE_SIZE;
  const page = Math.floor((query.offset ?? 0) / size);
  const flags = useFlagPage(project, query);
  const total = flags.data?.total ?? 0;
  const loaded = flags.data?.flags;
  const queryClient = useQueryClient();
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState('');
  const [selected, setSelected] = useState<Set<string>>(() => new Set());

  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    // A new filter or order starts again at the first page.
    if (name !== 'page') next.delete('page');
    setParams(next, { replace: true });
  };

  const shown = useMemo(() => {
    // The server filters by text too; filtering what is loaded as well makes typing answer at
    // once while the server's answer is on its way.
    const text = (query.q ?? '').toLowerCase();
    return (loaded ?? []).filter(
      (f) =>
        !text || f.key.toLowerCase().includes(text) || (f.description ?? '').toLowerCase().includes(text),
    );
  }, [loaded, query.q]);

  const tags = useMemo(() => [...new Set((loaded ?? []).flatMap((f) => f.tags ?? []))].sort(), [loaded]);
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
            defaultValue={query.q}
            placeholder="Key or description"
            onChange={(e) => set('q', e.target.value)}
          />
        </label>
        <label>
          <span className="label">Tag</span>
          <input list="flag-tags" defaultValue={query.tag} onChange={(e) => set('tag', e.target.value)} />
          <datalist id="flag-tags">
            {tags.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          <span className="label">Owner</span>
          <input defaultValue={query.owner} onChange={(e) => set('owner', e.target.value)} />
        </label>
        <label>
          <span className="label">Type</span>
          <select value={query.type} onChange={(e) => set('type', e.target.value)}>
            <option value="">Any</option>
            {['boolean', 'string', 'integer', 'float', 'object'].map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          <span className="label">In {env}</span>
          <select value={query.state ?? ''} onChange={(e) => set('state', e.target.value)}>
            <option value="">On or off</option>
            <option value="on">On</option>
            <option value="off">Off</option>
          </select>
        </label>
        <label>
          <span className="label">Stale in {env}</span>
          <select
            value={String(query.stale_days ?? '')}
            onChange={(e) => set('stale', e.target.value)}
            title="No exposures, or only one variant served, for this long"
          >
            <option value="">Any</option>
            <option value="7">Stale for 7 days</option>
            <option value="30">Stale for 30 days</option>
            <option value="90">Stale for 90 days</option>
          </select>
        </label>
        <label>
          <span className="label">Sort by</span>
          <select value={query.sort} onChange={(e) => set('sort', e.target.value)}>
            <option value="key">Key, A–Z</option>
            <option value="-key">Key, Z–A</option>
            <option value="-updated">Last change, newest first</option>
            <option value="updated">Last change, oldest first</option>
          </select>
        </label>
      </search>
      <ErrorNote error={flags.error ?? error} />
      <nav className="pager" aria-label="Pages of flags">
        <p className="count" aria-live="polite">
          {flags.isPending
            ? 'Loading…'
            : total === 0
              ? 'No flags match'
              : `${(query.offset ?? 0) + 1}–${(query.offset ?? 0) + (loaded?.length ?? 0)} of ${total} flags`}
        </p>
        <button
          type="button"
          className="small"
          disabled={page === 0}
          onClick={() => set('page', String(page - 1))}
        >
          Previous page
        </button>
        <button
          type="button"
          className="small"
          disabled={(query.offset ?? 0) + size >= total}
          onClick={() => set('page', String(page + 1))}
        >
          Next page
        </button>
        <label>
          <span className="label">Per page</span>
          <select value={String(size)} onChange={(e) => set('size', e.target.value)}>
            {[50, 100, 500, 1000].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
      </nav>
      {environment && (
        <BulkBar
          project={project}
          environment={environment}
          flags={loaded ?? []}
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
