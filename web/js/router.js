// @ts-check
/**
 * The filter lives in the URL hash (`#/all`, `#/active`, `#/done`), so it survives a reload
 * and the browser's back button walks through filters. app.js listens for `hashchange`.
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
