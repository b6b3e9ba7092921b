// @ts-check
/**
 * The signed-in session: the JWT and the email it was issued for, kept in localStorage.
 * The token is only read here for its `exp`; the API remains the judge of its validity.
 */

const TOKEN_KEY = 'eventful-todo.token';
const EMAIL_KEY = 'eventful-todo.email';

/**
 * @param {string} token
 * @returns {number | null} expiry in milliseconds since the epoch, null when unreadable
 */
export function tokenExpiry(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, '=')));
    return typeof claims.exp === 'number' ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

export class Session {
  /** @param {Storage} storage */
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
  }

  /** @returns {string | null} */
  get token() {
    return this.storage.getItem(TOKEN_KEY);
  }

  /** @returns {string} */
  get email() {
    return this.storage.getItem(EMAIL_KEY) ?? '';
  }

  /**
   * @param {string} token
   * @param {string} email
   */
  start(token, email) {
    this.storage.setItem(TOKEN_KEY, token);
    this.storage.setItem(EMAIL_KEY, email);
  }

  end() {
    this.storage.removeItem(TOKEN_KEY);
    this.storage.removeItem(EMAIL_KEY);
  }

  /**
   * @param {number} [now]
   * @returns {'none' | 'valid' | 'expired'}
   */
  status(now = Date.now()) {
    const token = this.token;
    if (!token) return 'none';
    const expiry = tokenExpiry(token);
    return expiry !== null && expiry <= now ? 'expired' : 'valid';
  }

  /** @returns {number | null} milliseconds until the token expires */
  remainingMs(now = Date.now()) {
    const token = this.token;
    const expiry = token ? tokenExpiry(token) : null;
    return expiry === null ? null : expiry - now;
  }
}
