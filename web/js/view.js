// @ts-check
/**
 * The page: which screen is showing, the account bar, the live announcer and the error banner.
 * The two screens are views of their own (auth-view.js, task-view.js); this composes them.
 */
import { AuthView } from './auth-view.js';
import { byId } from './dom.js';
import { TaskView } from './task-view.js';

/**
 * @typedef {import('./task-view.js').TaskHandlers & {
 *   authenticate: (credentials: import('./auth-view.js').Credentials) => void,
 *   logout: () => void,
 * }} Handlers
 */

export class View {
  constructor() {
    this.auth = new AuthView();
    this.tasks = new TaskView();
    this.boot = byId('boot');
    this.account = byId('account');
    this.accountEmail = byId('account-email');
    this.announcer = byId('announcer');
    this.taskError = byId('task-error');
    this.taskErrorText = byId('task-error-text');
    this.taskErrorDismiss = byId('task-error-dismiss');
    this.announceTimer = 0;
  }

  /** @param {Handlers} handlers */
  bind(handlers) {
    this.auth.onSubmit(handlers.authenticate);
    this.tasks.bind(handlers);
    byId('logout').addEventListener('click', () => handlers.logout());
    this.taskErrorDismiss.addEventListener('click', () => {
      this.clearTaskError();
      this.tasks.focusNewTitle();
    });
  }

  /** @param {Parameters<AuthView['show']>[0]} options */
  showAuth(options) {
    this.boot.hidden = true;
    this.account.hidden = true;
    this.accountEmail.textContent = '';
    this.tasks.hide();
    this.clearTaskError();
    this.auth.show(options);
  }

  /** @param {string} email */
  showTasks(email) {
    this.boot.hidden = true;
    this.auth.hide();
    this.accountEmail.textContent = email;
    this.account.hidden = false;
    this.tasks.show();
  }

  /**
   * Says `message` through the polite live region (screen readers), without moving focus.
   * @param {string} message
   */
  announce(message) {
    // Clearing first makes a repeated message ("Deleted x" twice) announced again.
    this.announcer.textContent = '';
    window.clearTimeout(this.announceTimer);
    this.announceTimer = window.setTimeout(() => {
      this.announcer.textContent = message;
    }, 50);
  }

  /** @param {string} message */
  showTaskError(message) {
    this.taskErrorText.textContent = message;
    this.taskErrorDismiss.hidden = false;
    this.taskError.classList.add('notice--visible');
  }

  clearTaskError() {
    this.taskErrorText.textContent = '';
    this.taskErrorDismiss.hidden = true;
    this.taskError.classList.remove('notice--visible');
  }
}
