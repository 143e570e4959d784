// The flag editor: one environment's targeting (on/off, individual targets, prerequisites,
// rules, default, off variant) and the project-wide definition (variants, description, owner,
// tags, client visibility), and "Try it" (TryIt.tsx). Saving shows a diff against what was opened first; a 412 says the
// flag changed since it was opened (reload); a 422 is shown at the field the server names.
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { useParams } from 'react-router';
import { ApiError, api, atLeast, type Flag, type Targeting } from '../api/client';
import { keys, useActorNames, useFlag, useFlags, useSegments } from '../api/queries';
import { type Definition, definitionOf, putDefinition, putTargeting, toTargeting } from '../api/writes';
import { Confirm } from '../components/Confirm';
import { ErrorNote } from '../components/ErrorNote';
import { useCurrent } from '../components/Shell';
import { DiffView } from '../editor/DiffView';
import { RulesEditor } from '../editor/RulesEditor';
import { ServeEditor } from '../editor/ServeEditor';
import { PrereqEditor, TargetsEditor } from '../editor/TargetingParts';
import { TryIt } from '../editor/TryIt';
import { VariantsEditor } from '../editor/VariantsEditor';
import { placeOf } from '../model/fields';
import { isComplete } from '../model/rollout';

interface Opened {
  flag: Flag;
  etag: string;
}

/**
 * The editor of one flag in the current environment; a new instance for every flag and
 * environment, so no draft or field carries over between them.
 */
export default function FlagEditor() {
  const { project, env, key } = useParams();
  return <Editor key={`${project}/${env}/${key}`} />;
}

function Editor() {
  const { project, env, environment, environments, role, canWrite } = useCurrent();
  const key = useParams().key ?? '';
  const loaded = useFlag(project, key);
  const allFlags = useFlags(project, {});
  const segments = useSegments(project, env);
  const queryClient = useQueryClient();
  const [opened, setOpened] = useState<Opened | null>(null);
  const [targeting, setTargeting] = useState<Targeting | null>(null);
  const [definition, setDefinition] = useState<Definition | null>(null);
  const [badVariants, setBadVariants] = useState<string[]>([]);
  const [offSchema, setOffSchema] = useState<string[]>([]);
  const [reviewing, setReviewing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [generation, setGeneration] = useState(0);
  const [lastChange, setLastChange] = useState('');
  const actor = useActorNames(atLeast(role, 'admin'));

  // The draft starts from what was opened and is not replaced by background refetches: a
  // change by someone else shows up as a 412 on save, not as edits silently lost.
  const openedEnv = opened?.flag.environments?.[env];
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset only when another flag, environment or a reload is opened
  useEffect(() => {
    if (!loaded.data) return;
    const o = { flag: loaded.data.data, etag: loaded.data.etag };
    const t = o.flag.environments?.[env];
    setOpened(o);
    setTargeting(t ? toTargeting(t) : null);
    setDefinition(definitionOf(o.flag));
    setBadVariants([]);
    setError(null);
  }, [loaded.data === undefined, key, env, generation]);

  const anyProtected = environments.some((e) => e.protected);
  const canDefine = atLeast(role, anyProtected ? 'publisher' : 'editor');
  const variants = Object.keys(definition?.variants ?? {});
  const targetingChanged =
    !!openedEnv && JSON.stringify(toTargeting(openedEnv)) !== JSON.stringify(targeting);
  const definitionChanged =
    !!opened && JSON.stringify(definitionOf(opened.flag)) !== JSON.stringify(definition);
  const rolloutsOk = useMemo(() => {
    if (!targeting) return true;
    const serves = [targeting.default, ...(targeting.rules ?? []).map((r) => r.serve)];
    return serves.every((s) => !('rollout' in s) || isComplete(s.rollout.weights));
  }, [targeting]);
  const conflict = error instanceof ApiError && error.status === 412;
  const place =
    error instanceof ApiError && error.status === 422
      ? placeOf(error.field, targeting?.rules ?? [])
      : undefined;

  async function reload() {
    await queryClient.invalidateQueries({ queryKey: keys.flag(project, key) });
    await loaded.refetch();
    setGeneration((g) => g + 1);
  }

  async function save() {
    setReviewing(false);
    setError(null);
    setSaved('');
    if (!opened || !targeting || !definition || !openedEnv) return;
    try {
      const versions: number[] = [];
      if (definitionChanged) {
        const w = await putDefinition(project, key, opened.flag.revision, definition);
        versions.push(...w.data.published.filter((p) => p.environment === env).map((p) => p.version));
      }
      if (targetingChanged) {
        const w = await putTargeting(project, env, key, openedEnv.revision, targeting);
        versions.push(...w.data.published.map((p) => p.version));
      }
      setSaved(`Saved and published ${env} version ${Math.max(...versions)}.`);
      await queryClient.invalidateQueries({ queryKey: keys.flags(project) });
      await loaded.refetch();
      setGeneration((g) => g + 1);
    } catch (e) {
      setError(e);
      if (e instanceof ApiError && e.status === 412) void explainConflict();
    }
  }

  /** Who published last in this environment, for the 412 note. */
  async function explainConflict() {
    setLastChange('');
    const { data } = await api.GET('/v1/projects/{project}/environments/{env}/versions', {
      params: { path: { project, env }, query: { limit: 1 } },
    });
    const v = data?.[0];
    if (v)
      setLastChange(
        `Last publish: ${v.reason} by ${actor(v.published_by)}, ${new Date(v.issued_at).toLocaleTimeString()}.`,
      );
  }

  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!opened || !definition) return <p aria-busy="true">Loading…</p>;
  const readOnly = !canWrite;
  const segmentKeys = (segments.data ?? []).map((s) => s.key);
  const sectionError = (s: string) =>
    place?.section === s && error instanceof ApiError ? (
      <p className="error" role="alert">
        {error.message}
      </p>
    ) : null;

  return (
    <article className="editor" aria-labelledby="flag-title">
      <header className="title-row">
        <h1 id="flag-title">
          {key} <span className="muted">{definition.type}</span>
        </h1>
        <span className={`badge ${environment?.protected ? 'protected' : ''}`}>
          {env}
          {environment?.protected ? ' · protected' : ''}
        </span>
      </header>
      {!canWrite && (
        <p className="note" role="note">
          Your role ({role}) can view this flag but not change it in {env}
          {environment?.protected ? ' (a protected environment needs publisher)' : ''}.
        </p>
      )}
      {!targeting && <p className="note">This flag has no targeting in {env}.</p>}

      {targeting && (
        <section aria-labelledby="t-title" className="panel">
          <h2 id="t-title">Targeting in {env}</h2>
          <div className="row">
            <button
              type="button"
              role="switch"
              className="switch"
              aria-checked={targeting.enabled}
              aria-label={`${key} enabled in ${env}`}
              disabled={readOnly}
              onClick={() => setTargeting({ ...targeting, enabled: !targeting.enabled })}
            >
              <span>{targeting.enabled ? 'On' : 'Off'}</span>
            </button>
            <label className="inline">
              When off, serve
              <select
                disabled={readOnly}
                value={targeting.off_variant}
                onChange={(e) => setTargeting({ ...targeting, off_variant: e.target.value })}
              >
                {variants.map((v) => (
                  <option key={v}>{v}</option>
                ))}
              </select>
            </label>
          </div>
          {sectionError('off_variant')}
          <h3>Individual targets</h3>
          {sectionError('targets')}
          <TargetsEditor
            key={`t-${generation}`}
            value={targeting.targets ?? []}
            variants={variants}
            disabled={readOnly}
            onChange={(targets) => setTargeting({ ...targeting, targets })}
          />
          <h3>Prerequisites</h3>
          {sectionError('prerequisites')}
          <PrereqEditor
            value={targeting.prerequisites ?? []}
            flags={allFlags.data ?? []}
            self={key}
            disabled={readOnly}
            onChange={(prerequisites) => setTargeting({ ...targeting, prerequisites })}
          />
          <h3>Rules</h3>
          <p className="muted">Checked in order; the first rule that matches serves.</p>
          <RulesEditor
            key={`r-${generation}`}
            value={targeting.rules ?? []}
            variants={variants}
            segments={segmentKeys}
            disabled={readOnly}
            fieldError={
              place?.section === 'rules' && place.rule !== undefined && error instanceof Error
                ? { index: place.rule, message: error.message }
                : undefined
            }
            onChange={(rules) => setTargeting({ ...targeting, rules })}
          />
          <h3>Default</h3>
          {sectionError('default')}
          <ServeEditor
            label="Default"
            value={targeting.default}
            variants={variants}
            disabled={readOnly}
            onChange={(d) => setTargeting({ ...targeting, default: d })}
          />
        </section>
      )}

      <TryIt project={project} env={env} flagKey={key} pending={targetingChanged ? targeting : null} />

      <section aria-labelledby="d-title" className="panel">
        <h2 id="d-title">Definition (every environment)</h2>
        <label>
          Description
          <input
            disabled={!canDefine}
            value={definition.description ?? ''}
            onChange={(e) => setDefinition({ ...definition, description: e.target.value })}
          />
        </label>
        <div className="row">
          <label>
            Owner
            <input
              disabled={!canDefine}
              value={definition.owner ?? ''}
              onChange={(e) => setDefinition({ ...definition, owner: e.target.value })}
            />
          </label>
          <label>
            Tags (comma-separated)
            <input
              disabled={!canDefine}
              defaultValue={(definition.tags ?? []).join(', ')}
              key={`tags-${generation}`}
              onBlur={(e) =>
                setDefinition({
                  ...definition,
                  tags: e.target.value
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean),
                })
              }
            />
          </label>
        </div>
        <label className="inline">
          <input
            type="checkbox"
            disabled={!canDefine}
            checked={definition.client_visible ?? false}
            onChange={(e) => setDefinition({ ...definition, client_visible: e.target.checked })}
          />
          Visible to client-side SDKs (browsers, mobile apps)
        </label>
        <h3>Variants</h3>
        {sectionError('variants')}
        <VariantsEditor
          key={`v-${generation}`}
          type={definition.type}
          value={definition.variants as Record<string, never>}
          disabled={!canDefine}
          schema={definition.schema}
          onSchemaInvalid={setOffSchema}
          onChange={(v, bad) => {
            setBadVariants(bad);
            setDefinition({ ...definition, variants: v as Record<string, never> });
          }}
        />
      </section>

      <div className="savebar" aria-live="polite">
        {conflict && (
          <div className="error" role="alert">
            <strong>{key} changed since you opened it.</strong> Someone saved a newer version; reload to see
            it (your edits here are discarded). {lastChange}{' '}
            <button type="button" onClick={() => void reload()}>
              Reload
            </button>
          </div>
        )}
        {!conflict && place?.section !== 'rules' && !place && <ErrorNote error={error} />}
        {place && error instanceof ApiError && (
          <p className="error">
            {error.code}: {error.message} {error.field && <code>({error.field})</code>}
          </p>
        )}
        {saved && <p className="ok">{saved}</p>}
        {(canWrite || canDefine) && (
          <>
            {!rolloutsOk && <span className="error">A rollout does not total 100 %.</span>}
            {badVariants.length > 0 && <span className="error">Fix the variant values first.</span>}
            {offSchema.length > 0 && (
              <span className="error">
                {offSchema.join(', ')} {offSchema.length === 1 ? 'does' : 'do'} not match the flag's JSON
                Schema.
              </span>
            )}
            <button
              type="button"
              className="primary"
              disabled={
                (!targetingChanged && !definitionChanged) ||
                !rolloutsOk ||
                badVariants.length > 0 ||
                offSchema.length > 0
              }
              onClick={() => setReviewing(true)}
            >
              Review and save
            </button>
            <button
              type="button"
              disabled={!targetingChanged && !definitionChanged}
              onClick={() => setGeneration((g) => g + 1)}
            >
              Discard changes
            </button>
          </>
        )}
      </div>

      <Confirm
        open={reviewing}
        title={`Save ${key}${environment?.protected ? ` in protected ${env}` : ''}?`}
        confirmLabel="Save and publish"
        onCancel={() => setReviewing(false)}
        onConfirm={() => void save()}
      >
        {targetingChanged && openedEnv && (
          <DiffView label={`Targeting in ${env}`} before={toTargeting(openedEnv)} after={targeting} />
        )}
        {definitionChanged && (
          <DiffView label="Definition" before={definitionOf(opened.flag)} after={definition} />
        )}
      </Confirm>
    </article>
  );
}
