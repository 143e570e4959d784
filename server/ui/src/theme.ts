// Light and dark themes: `data-theme` on <html>, chosen by the user (kept in localStorage: a
// preference, not a secret) or following the system when unset.

/** A theme choice. */
export type Theme = 'light' | 'dark' | 'system';

const KEY = 'burgee.theme';

/** The stored choice (default: follow the system). */
export function storedTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

/** The theme actually shown for a choice. */
export function resolvedTheme(t: Theme): 'light' | 'dark' {
  if (t !== 'system') return t;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** Shows and stores a choice. */
export function applyTheme(t: Theme): void {
  if (t === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, t);
  document.documentElement.dataset.theme = resolvedTheme(t);
}

/** Follows the system's light/dark setting while no choice is stored. */
export function followSystemTheme(): void {
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (storedTheme() === 'system') applyTheme('system');
  });
}
