// Segments of an environment: the list with where each is used, and an editor for one segment
// (included and excluded keys, rules built with the condition builder), saved with If-Match.
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, ifMatch, ok, type Segment } from '../api/client';
import { keys, useFlags, useSegments } from '../api/queries';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { ConditionBuilder } from '../editor/ConditionBuilder';
import type { Condition } from '../model/condition';

type Rules = NonNullable<Segment['rules']>;

const lines = (t: string) =>
  t
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

function uses(c: Condition, key: string): boolean {
  if ('all' in c) return c.all.some((x) => uses(x, key));
  if ('any' in c) return c.any.some((x) => uses(x, key));
  if ('not' in c) return uses(c.not, key);
  return c.op === 'in_segment' && (c.values ?? []).includes(key);
}

function SegmentEditor({
  segment,
  project,
  env,
  canWrite,
  onDone,
}: {
  segment: Segment;
  project: string;
  env: string;
  canWrite: boolean;
  onDone(): void;
}) {
  const [included, setIncluded] = useState((segment.included ?? []).join('\n'));
  const [excluded, setExcluded] = useState((segment.excluded ?? []).join('\n'));
  const [rules, setRules] = useState<Rules>(segment.rules ?? []);
  const [error, setError] = useState<unknown>(null);
  const queryClient = useQueryClient();

  async function save() {
    setError(null);
    try {
      await ok(
        api.PUT('/v1/projects/{project}/environments/{env}/segments/{key}', {
          params: { path: { project, env, key: segment.key }, header: ifMatch(segment.revision) },
          body: { key: segment.key, included: lines(included), excluded: lines(excluded), rules },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: keys.segments(project, env) });
      onDone();
    } catch (e) {
      setError(
        e instanceof ApiError && e.status === 412
          ? new ApiError(412, {
              code: e.code,
              message: `${segment.key} changed since you opened it: close and open it again.`,
            })
          : e,
      );
    }
  }

  return (
    <section className="panel" aria-label={`Segment ${segment.key}`}>
      <h2>Segment {segment.key}</h2>
      <div className="row">
        <label className="grow">
          Included keys (one per line)
          <textarea
            rows={4}
            disabled={!canWrite}
            value={included}
            onChange={(e) => setIncluded(e.target.value)}
          />
        </label>
        <label className="grow">
          Excluded keys (win over everything)
          <textarea
            rows={4}
            disabled={!canWrite}
            value={excluded}
            onChange={(e) => setExcluded(e.target.value)}
          />
        </label>
      </div>
      <h3>Rules (a unit matching any rule is in the segment)</h3>
      <ol className="rules">
        {rules.map((r, i) => (
          <li key={r.id} className="rule">
            <div className="rule-head">
              <span>Rule {r.id}</span>
              {canWrite && (
                <button
                  type="button"
                  className="small danger"
                  onClick={() => setRules(rules.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              )}
            </div>
            <ConditionBuilder
              label={`Segment rule ${r.id}`}
              value={r.when}
              segments={[]}
              noSegments
              disabled={!canWrite}
              onChange={(when) => setRules(rules.map((x, j) => (j === i ? { ...x, when } : x)))}
            />
          </li>
        ))}
      </ol>
      {canWrite && (
        <div className="row">
          <button
            type="button"
            className="small"
            onClick={() => setRules([...rules, { id: `rule-${rules.length + 1}`, when: { all: [] } }])}
          >
            + Rule
          </button>
          <button type="button" className="primary" onClick={() => void save()}>
            Save segment
          </button>
          <button type="button" onClick={onDone}>
            Close
          </button>
        </div>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

/** The segments screen. */
export default function Segments() {
  const { project, env, canWrite } = useCurrent();
  const segments = useSegments(project, env);
  const flags = useFlags(project, {});
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const queryClient = useQueryClient();
  const usedBy = (key: string) =>
    (flags.data ?? [])
      .filter((f) => (f.environments?.[env]?.rules ?? []).some((r) => uses(r.when, key)))
      .map((f) => f.key);
  const current = segments.data?.find((s) => s.key === open);

  async function create(key: string) {
    setError(null);
    try {
      await ok(
        api.POST('/v1/projects/{project}/environments/{env}/segments', {
          params: { path: { project, env } },
          body: { key, included: [], excluded: [], rules: [] },
        }),
      );
      await queryClient.invalidateQueries({ queryKey: keys.segments(project, env) });
      setOpen(key);
    } catch (e) {
      setError(e);
    }
  }

  return (
    <section aria-labelledby="s-title">
      <h1 id="s-title">Segments in {env}</h1>
      <ErrorNote error={segments.error ?? error} />
      {canWrite && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            const k = String(new FormData(e.currentTarget).get('key') ?? '').trim();
            if (k) void create(k);
          }}
        >
          <label className="inline">
            New segment
            <input name="key" required placeholder="key, e.g. beta-testers" />
          </label>
          <button type="submit">Create</button>
        </form>
      )}
      {current && (
        <SegmentEditor
          key={`${current.key}-${current.revision}`}
          segment={current}
          project={project}
          env={env}
          canWrite={canWrite}
          onDone={() => setOpen(null)}
        />
      )}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Segment</th>
              <th scope="col" className="wide">
                Included
              </th>
              <th scope="col" className="wide">
                Excluded
              </th>
              <th scope="col" className="wide">
                Rules
              </th>
              <th scope="col">Used by</th>
            </tr>
          </thead>
          <tbody>
            {(segments.data ?? []).map((s) => (
              <tr key={s.key}>
                <th scope="row">
                  <button type="button" className="link" onClick={() => setOpen(s.key)}>
                    {s.key}
                  </button>
                </th>
                <td className="wide">{s.included?.length ?? 0}</td>
                <td className="wide">{s.excluded?.length ?? 0}</td>
                <td className="wide">{s.rules?.length ?? 0}</td>
                <td>{usedBy(s.key).join(', ') || <span className="muted">no flag</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
