// @ts-check
/**
 * The digest settings: the zone whose midnight brings the daily digest, and the digest on or off.
 *
 * Self-contained on purpose: it builds its own few elements (textContent only, no user text as
 * HTML), reads and writes `/me` through the API client, and learns that someone is logged in by
 * watching the task screen appear, so the controller and the other views need not know it.
 */
import { ApiError } from './api.js';
import { byId } from './dom.js';

/** @typedef {import('./api.js').Api} Api */
/** @typedef {{ id: string, email: string, timezone: string, digest_enabled: boolean }} Me */

/** The browser's IANA zone, e.g. "Europe/Paris"; "" when the browser cannot tell. */
export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}

/**
 * Every zone the browser knows, plus the given ones (the stored zone may be a name the browser
 * lists under another spelling), sorted.
 * @param {string[]} extra
 * @returns {string[]}
 */
export function zoneChoices(extra) {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([...known, 'UTC', ...extra.filter(Boolean)])].sort();
}

/**
 * Make registration send the browser's zone, so the first digest comes at the user's midnight.
 * A zone the server's tz database does not know is dropped (the server's default applies)
 * rather than failing the registration.
 * @param {Api} api
 * @param {string} [zone]
 */
export function sendBrowserZoneOnRegister(api, zone = browserTimeZone()) {
  const plain = api.register.bind(api);
  /** @type {Api['register']} */
  const withZone = async (email, password) => {
    if (!zone) return plain(email, password);
    try {
      const body = { email, password, timezone: zone };
      return (await api.request('POST', '/auth/register', { body, auth: false })).json();
    } catch (error) {
      const refusedZone =
        error instanceof ApiError &&
        error.status === 422 &&
        error.fields.some((field) => field.field === 'timezone');
      if (refusedZone) return plain(email, password);
      throw error;
    }
  };
  api.register = withZone;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function element(tag, attributes = {}, text = '') {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

export class SettingsPanel {
  /**
   * @param {object} parts
   * @param {Api} parts.api
   * @param {HTMLElement} [parts.after]  the task screen: shown means logged in
   * @param {string} [parts.browserZone]
   */
  constructor({ api, after = byId('tasks-view'), browserZone = browserTimeZone() }) {
    this.api = api;
    this.after = after;
    this.browserZone = browserZone;
    this.section = element('section', {
      class: 'card settings',
      id: 'settings-view',
      'aria-labelledby': 'settings-title',
    });
    this.section.hidden = true;
    this.form = /** @type {HTMLFormElement} */ (element('form', { novalidate: '' }));
    this.zone = /** @type {HTMLSelectElement} */ (
      element('select', { class: 'input', id: 'settings-zone', name: 'timezone' })
    );
    this.zone.setAttribute('aria-describedby', 'settings-zone-hint');
    this.digest = /** @type {HTMLInputElement} */ (
      element('input', { type: 'checkbox', id: 'settings-digest', name: 'digest_enabled' })
    );
    this.hint = element('p', { class: 'field__hint', id: 'settings-zone-hint' });
    this.useBrowserZone = /** @type {HTMLButtonElement} */ (
      element('button', { type: 'button', class: 'link-button' })
    );
    this.save = /** @type {HTMLButtonElement} */ (
      element('button', { type: 'submit', class: 'button button--primary' }, 'Update digest settings')
    );
    this.status = element('p', { class: 'notice notice--info', role: 'status' });
    this.error = element('p', { class: 'notice notice--error', role: 'alert' });
    /** @type {Me | null} */
    this.me = null;
  }

  /** Put the panel on the page and follow the task screen: open with it, close with it. */
  mount() {
    const zoneField = element('div', { class: 'field' });
    zoneField.append(
      element('label', { class: 'field__label', for: 'settings-zone' }, 'Time zone'),
      this.zone,
      this.hint,
      this.useBrowserZone,
    );
    const digestField = element('div', { class: 'field' });
    const digestLabel = element('label', { for: 'settings-digest' });
    digestLabel.append(this.digest, document.createTextNode(' Send me the daily digest at midnight'));
    digestField.append(digestLabel);
    this.form.append(zoneField, digestField, this.save);
    this.section.append(
      element('h2', { id: 'settings-title' }, 'Daily digest'),
      this.status,
      this.error,
      this.form,
    );
    this.after.after(this.section);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.useBrowserZone.addEventListener('click', () => {
      this.choose(this.browserZone);
      this.zone.focus();
    });
    this.zone.addEventListener('change', () => this.describeZone());
    new MutationObserver(() => this.follow()).observe(this.after, {
      attributes: true,
      attributeFilter: ['hidden'],
    });
    this.follow();
  }

  follow() {
    if (this.after.hidden) this.close();
    else void this.open();
  }

  close() {
    this.section.hidden = true;
    this.me = null;
    this.status.textContent = '';
    this.error.textContent = '';
  }

  async open() {
    try {
      const me = /** @type {Me} */ (await (await this.api.request('GET', '/me')).json());
      if (this.after.hidden) return; // logged out while the answer travelled
      this.show(me);
    } catch {
      // Not logged in any more, or the API is away: the controller handles both on the next
      // action; the panel just stays closed.
      this.close();
    }
  }

  /** @param {Me} me */
  show(me) {
    this.me = me;
    this.zone.replaceChildren(
      ...zoneChoices([me.timezone, this.browserZone]).map((zone) => {
        const option = /** @type {HTMLOptionElement} */ (element('option', { value: zone }, zone));
        return option;
      }),
    );
    this.choose(me.timezone);
    this.digest.checked = me.digest_enabled;
    this.section.hidden = false;
  }

  /** @param {string} zone */
  choose(zone) {
    this.zone.value = zone;
    this.describeZone();
  }

  describeZone() {
    const chosen = this.zone.value;
    this.hint.textContent = `Your digest arrives at midnight in ${chosen}.`;
    const other = Boolean(this.browserZone) && this.browserZone !== chosen;
    this.useBrowserZone.hidden = !other;
    this.useBrowserZone.textContent = other ? `Use this browser's zone (${this.browserZone})` : '';
  }

  async submit() {
    this.status.textContent = '';
    this.error.textContent = '';
    this.save.disabled = true;
    try {
      const body = { timezone: this.zone.value, digest_enabled: this.digest.checked };
      const me = /** @type {Me} */ (
        await (await this.api.request('PATCH', '/me', { body })).json()
      );
      this.show(me);
      this.status.textContent = me.digest_enabled
        ? `Saved. Your digest arrives at midnight in ${me.timezone}.`
        : 'Saved. You will not receive the daily digest.';
    } catch (error) {
      const detail = error instanceof ApiError ? error.fields[0]?.message || error.message : '';
      this.error.textContent = detail
        ? `Your settings were not saved: ${detail}`
        : 'Your settings were not saved. Check your connection and try again.';
    } finally {
      this.save.disabled = false;
    }
  }
}
