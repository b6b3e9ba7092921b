/**
 * The filter lives in the URL hash (`#/all`, `#/active`, `#/done`), so it survives a reload
 * and the browser's back button walks through filters.
 */
import { FILTERS } from './store.js';

/** @typedef {import('./store.js').Filter} Filter */

/**
 * @param {string} hash  e.g. `location.hash`
 * @returns {Filter}
 */
export function filterFromHash(hash) {
  const name = hash.replace(/^#\/?/, '');
  return /** @type {readonly string[]} */ (FILTERS).includes(name)
    ? /** @type {Filter} */ (name)
    : 'all';
}

/** @param {(filter: Filter) => void} listener */
export function onFilterChange(listener) {
  window.addEventListener('hashchange', () => listener(filterFromHash(window.location.hash)));
}

/** @returns {Filter} */
export function currentFilter() {
  return filterFromHash(window.location.hash);
}
