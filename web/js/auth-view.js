// @ts-check
/**
 * The log-in / create-account screen. One form, two modes; it knows the DOM, not the API.
 */
import { byId } from './dom.js';
import { fieldLabel } from './messages.js';

/** @typedef {'login' | 'register'} AuthMode */
/** @typedef {{ mode: AuthMode, email: string, password: string }} Credentials */

const COPY = {
  login: {
    title: 'Log in',
    lead: 'Welcome back. Your tasks are waiting.',
    submit: 'Log in',
    busy: 'Logging in…',
    switchText: 'New here?',
    switchButton: 'Create an account',
    passwordAutocomplete: 'current-password',
  },
  register: {
    title: 'Create your account',
    lead: 'Plan the day, tick things off, get a digest every morning.',
    submit: 'Create account',
    busy: 'Creating your account…',
    switchText: 'Already have an account?',
    switchButton: 'Log in',
    passwordAutocomplete: 'new-password',
  },
};

export class AuthView {
  constructor() {
    this.section = byId('auth-view');
    this.form = /** @type {HTMLFormElement} */ (byId('auth-form'));
    this.title = byId('auth-title');
    this.lead = byId('auth-lead');
    this.info = byId('auth-info');
    this.error = byId('auth-error');
    this.email = /** @type {HTMLInputElement} */ (byId('auth-email'));
    this.password = /** @type {HTMLInputElement} */ (byId('auth-password'));
    this.passwordHint = byId('auth-password-hint');
    this.submit = /** @type {HTMLButtonElement} */ (byId('auth-submit'));
    this.switchText = byId('auth-switch-text');
    this.switchButton = byId('auth-switch');
    /** @type {AuthMode} */
    this.mode = 'login';
    this.busy = false;
    this.switchButton.addEventListener('click', () => {
      this.setMode(this.mode === 'login' ? 'register' : 'login');
      this.clearMessages();
      this.email.focus();
    });
  }

  /** @param {(credentials: Credentials) => void} handler */
  onSubmit(handler) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (this.busy) return;
      handler({ mode: this.mode, email: this.email.value.trim(), password: this.password.value });
    });
  }

  /** @param {AuthMode} mode */
  setMode(mode) {
    this.mode = mode;
    const copy = COPY[mode];
    this.title.textContent = copy.title;
    this.lead.textContent = copy.lead;
    this.submit.textContent = copy.submit;
    this.switchText.textContent = copy.switchText;
    this.switchButton.textContent = copy.switchButton;
    this.password.setAttribute('autocomplete', copy.passwordAutocomplete);
    this.passwordHint.hidden = mode !== 'register';
    // A hidden element still counts when referenced, so the hint is referenced only when shown.
    const described =
      mode === 'register' ? 'auth-password-hint auth-password-error' : 'auth-password-error';
    this.password.setAttribute('aria-describedby', described);
  }

  /**
   * @param {object} options
   * @param {AuthMode} [options.mode]
   * @param {string} [options.info]  e.g. why the user is back here
   * @param {string} [options.email]
   */
  show({ mode = 'login', info = '', email = '' } = {}) {
    this.setMode(mode);
    this.clearMessages();
    this.info.textContent = info;
    this.email.value = email;
    this.password.value = '';
    this.section.hidden = false;
    (email ? this.password : this.email).focus();
  }

  hide() {
    this.section.hidden = true;
    this.password.value = '';
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.busy = busy;
    this.form.setAttribute('aria-busy', String(busy));
    this.submit.setAttribute('aria-disabled', String(busy));
    this.submit.textContent = busy ? COPY[this.mode].busy : COPY[this.mode].submit;
  }

  clearMessages() {
    this.info.textContent = '';
    this.error.textContent = '';
    for (const input of [this.email, this.password]) {
      input.removeAttribute('aria-invalid');
      byId(`${input.id}-error`).textContent = '';
    }
  }

  /**
   * @param {string} summary
   * @param {{ field: string, message: string }[]} [fields]
   */
  showError(summary, fields = []) {
    this.clearMessages();
    const inputFor = (/** @type {string} */ field) =>
      field === 'password'
        ? this.password
        : ['email', 'username'].includes(field)
          ? this.email
          : null;
    const placed = fields.length > 0 && fields.every(({ field }) => inputFor(field));
    // When every problem sits next to its field, the summary only points there.
    this.error.textContent = placed
      ? `Please correct the highlighted field${fields.length > 1 ? 's' : ''}.`
      : summary;
    /** @type {HTMLInputElement | null} */
    let first = null;
    for (const { field, message } of fields) {
      const input = inputFor(field);
      if (!input) continue;
      input.setAttribute('aria-invalid', 'true');
      byId(`${input.id}-error`).textContent = `${fieldLabel(field)}: ${message}`;
      first ??= input;
    }
    if (first) first.focus();
  }
}
