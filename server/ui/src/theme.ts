// Light and dark themes: `data-theme` on <html>, chosen by the user (kept in localStorage: a
// preference, not a secret) or following the system when unset.
import { useSyncExternalStore } from 'react';

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

/** The window event sent whenever the theme shown changes. */
const CHANGED = 'burgee:theme';

/** Shows and stores a choice. */
export function applyTheme(t: Theme): void {
  if (t === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, t);
  document.documentElement.dataset.theme = resolvedTheme(t);
  window.dispatchEvent(new Event(CHANGED));
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener(CHANGED, onChange);
  return () => window.removeEventListener(CHANGED, onChange);
}

/** The theme shown now, re-rendering on every change (the toggle, or the system's while unset). */
export function useShownTheme(): 'light' | 'dark' {
  return useSyncExternalStore(subscribe, () => resolvedTheme(storedTheme()));
}

/** Follows the system's light/dark setting while no choice is stored. */
export function followSystemTheme(): void {
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (storedTheme() === 'system') applyTheme('system');
  });
}
