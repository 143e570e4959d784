// The frame of every screen: the header (project and environment switchers, navigation,
// theme, user), live notices of the project's changes, and the sign-in screen when signed out. `useCurrent` gives screens the
// project, environment and role from the URL.
import { Suspense } from 'react';
import { Navigate, NavLink, Outlet, useLocation, useNavigate, useParams } from 'react-router';
import { atLeast, type Environment, type Role } from '../api/client';
import { useEnvironments, useProjects } from '../api/queries';
import { useAuth } from '../auth';
import { LiveNotices } from '../live';
import { SignIn } from '../pages/SignIn';
import { applyTheme, useShownTheme } from '../theme';
import { ErrorNote } from './ErrorNote';

/** What a screen needs to know about where it is. */
export interface Current {
  /** Project key. */
  project: string;
  /** Environment key. */
  env: string;
  /** The environment, once loaded. */
  environment: Environment | undefined;
  /** All environments of the project. */
  environments: Environment[];
  /** The signed-in user's role. */
  role: Role | undefined;
  /** Whether the user may write targeting here (editor; publisher when protected). */
  canWrite: boolean;
}

/** The project, environment and permissions of the current route. */
export function useCurrent(): Current {
  const { project = '', env = '' } = useParams();
  const { user } = useAuth();
  const envs = useEnvironments(project);
  const environments = envs.data ?? [];
  const environment = environments.find((e) => e.key === env);
  const role = user?.role;
  const canWrite = atLeast(role, environment?.protected ? 'publisher' : 'editor');
  return { project, env, environment, environments, role, canWrite };
}

/** `/` (the first project) and `/p/:project`: that project's first environment's flags. */
export function Home() {
  const projects = useProjects();
  // `/p/:project` opens that project; `/` the first one.
  const wanted = useParams().project;
  const first = wanted ?? projects.data?.[0]?.key;
  const envs = useEnvironments(first);
  if (projects.error) return <ErrorNote error={projects.error} />;
  if (projects.data && projects.data.length === 0) return <p>No projects yet.</p>;
  const env = envs.data?.[0]?.key;
  if (!first || !env) return <p aria-busy="true">Loading…</p>;
  return <Navigate to={`/p/${first}/e/${env}/flags`} replace />;
}

const SECTIONS = [
  ['flags', 'Flags'],
  ['experiments', 'Experiments'],
  ['segments', 'Segments'],
  ['configs', 'Configuration'],
  ['history', 'History'],
  ['audit', 'Audit log'],
  ['access', 'Access'],
  ['projects', 'Projects'],
] as const;

function Switchers() {
  const { project, env, environments, environment } = useCurrent();
  const projects = useProjects();
  const navigate = useNavigate();
  const location = useLocation();
  // Another environment keeps the section; on an experiment, the experiment too (its results
  // are per environment); in the configuration, the service (services are the project's).
  const parts = location.pathname.split('/');
  const section =
    parts[5] === 'experiments'
      ? parts.slice(5).join('/')
      : parts[5] === 'configs'
        ? parts.slice(5, 7).join('/')
        : (parts[5] ?? 'flags');
  if (!project) return null;
  return (
    <div className="switchers">
      <label>
        <span className="label">Project</span>
        <select
          value={project}
          onChange={(e) => navigate(`/p/${e.target.value}/e/${env}/flags`)}
          aria-label="Project"
        >
          {(projects.data ?? []).map((p) => (
            <option key={p.key} value={p.key}>
              {p.name || p.key}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span className="label">Environment</span>
        <select
          value={env}
          onChange={(e) => navigate(`/p/${project}/e/${e.target.value}/${section}`)}
          aria-label="Environment"
        >
          {environments.map((e) => (
            <option key={e.key} value={e.key}>
              {e.name || e.key}
              {e.protected ? ' (protected)' : ''}
            </option>
          ))}
        </select>
      </label>
      {environment?.protected && (
        <span className="badge protected" title="Changes here need the publisher role">
          Protected
        </span>
      )}
    </div>
  );
}

/** Switches between the light and dark theme; its name says what a press does. */
function ThemeToggle() {
  const dark = useShownTheme() === 'dark';
  return (
    <button type="button" className="ghost" onClick={() => applyTheme(dark ? 'light' : 'dark')}>
      {dark ? 'Use light theme' : 'Use dark theme'}
    </button>
  );
}

function Nav() {
  const { project, env } = useParams();
  if (!project || !env) return null;
  return (
    <nav aria-label="Sections">
      <ul>
        {SECTIONS.map(([path, label]) => (
          <li key={path}>
            <NavLink to={`/p/${project}/e/${env}/${path}`}>{label}</NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** The layout route: header, navigation and the screen (or sign-in). */
export function Shell() {
  const { user, signOut } = useAuth();
  const { project } = useParams();
  if (user === undefined) return <p aria-busy="true">Loading…</p>;
  if (user === null) return <SignIn />;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Burgee</span>
        <Switchers />
        <div className="user">
          <ThemeToggle />
          <span className="who" title={user.email || user.id}>
            <span className="name">{user.name || user.email} · </span>
            <span className="role">{user.role}</span>
          </span>
          <button type="button" className="ghost" onClick={() => void signOut()}>
            Sign out
          </button>
          <button
            type="button"
            className="ghost"
            aria-label="Sign out everywhere"
            title="End every session of this account, on every device"
            onClick={() => void signOut(true)}
          >
            Everywhere
          </button>
        </div>
      </header>
      <Nav />
      <main id="main">
        {project && <LiveNotices project={project} />}
        <Suspense fallback={<p aria-busy="true">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </>
  );
}
