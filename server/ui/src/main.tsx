// Entry point: providers (react-query, sign-in) and the router. Screens other than the flag
// list and sign-in are code-split (React.lazy) so the initial bundle stays small.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { lazy, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { prefetchFor } from './api/queries';
import { AuthProvider } from './auth';
import { Home, Shell } from './components/Shell';
import { FlagList } from './pages/FlagList';
import './styles.css';
import './editor.css';
import './panels.css';
import { applyTheme, followSystemTheme, storedTheme } from './theme';

const FlagEditor = lazy(() => import('./pages/FlagEditor'));
const NewFlag = lazy(() => import('./pages/NewFlag'));
const Segments = lazy(() => import('./pages/Segments'));
const History = lazy(() => import('./pages/History'));
const Audit = lazy(() => import('./pages/Audit'));
const Access = lazy(() => import('./pages/Access'));
const Projects = lazy(() => import('./pages/Projects'));
const Experiments = lazy(() => import('./pages/Experiments'));
const Experiment = lazy(() => import('./pages/Experiment'));
const Services = lazy(() => import('./pages/Services'));
const ServiceConfigs = lazy(() => import('./pages/ServiceConfigs'));
const ConfigEntry = lazy(() => import('./pages/ConfigEntry'));

applyTheme(storedTheme());
followSystemTheme();

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: true, staleTime: 2000 } },
});

prefetchFor(queryClient, new URL(window.location.href));

const router = createBrowserRouter(
  [
    {
      path: '/',
      element: <Shell />,
      children: [
        { index: true, element: <Home /> },
        { path: 'p/:project/e/:env/flags', element: <FlagList /> },
        { path: 'p/:project/e/:env/flags/new', element: <NewFlag /> },
        { path: 'p/:project/e/:env/flags/:key', element: <FlagEditor /> },
        { path: 'p/:project/e/:env/experiments', element: <Experiments /> },
        { path: 'p/:project/e/:env/experiments/:flag', element: <Experiment /> },
        { path: 'p/:project/e/:env/segments', element: <Segments /> },
        { path: 'p/:project/e/:env/configs', element: <Services /> },
        { path: 'p/:project/e/:env/configs/:service', element: <ServiceConfigs /> },
        { path: 'p/:project/e/:env/configs/:service/new', element: <ConfigEntry /> },
        { path: 'p/:project/e/:env/configs/:service/entries/:key', element: <ConfigEntry /> },
        { path: 'p/:project/e/:env/history', element: <History /> },
        { path: 'p/:project/e/:env/audit', element: <Audit /> },
        { path: 'p/:project/e/:env/access', element: <Access /> },
        { path: 'p/:project/e/:env/projects', element: <Projects /> },
        { path: 'p/:project', element: <Home /> },
        { path: '*', element: <Navigate to="/" replace /> },
      ],
    },
  ],
  { basename: '/ui' },
);

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <AuthProvider>
          <RouterProvider router={router} />
        </AuthProvider>
      </QueryClientProvider>
    </StrictMode>,
  );
}
