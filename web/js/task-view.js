// @ts-check
/**
 * The tasks screen: add form, filters, counts, the list with inline rename, and "load more".
 * Rows are keyed by task id and updated in place, so focus and an open editor survive re-renders.
 * User text only ever goes through `textContent` and attribute setters, never HTML parsing.
 */
import { byId, cloneTemplate } from './dom.js';

/** @typedef {import('./store.js').Item} Item */
/** @typedef {import('./store.js').Filter} Filter */

/**
 * @typedef {object} TaskHandlers
 * @property {(title: string) => void} add
 * @property {(id: string, done: boolean) => void} toggle
 * @property {(id: string, title: string) => void} rename
 * @property {(id: string) => void} remove
 * @property {() => void} loadMore
 */

/**
 * @typedef {object} TaskScreen
 * @property {Filter} filter
 * @property {Item[]} items  the rows to show, in order
 * @property {{ active: number, done: number }} counts
 * @property {boolean} loading
 * @property {boolean} loadingMore
 * @property {boolean} hasMore
 */

const EMPTY_TEXT = {
  all: 'No tasks yet. Add the first one above.',
  active: 'Nothing left to do. Enjoy the calm.',
  done: 'Nothing finished yet. Tick a task off to see it here.',
};

/** @type {TaskHandlers} */
const UNBOUND = { add() {}, toggle() {}, rename() {}, remove() {}, loadMore() {} };

export class TaskView {
  constructor() {
    this.handlers = UNBOUND;
    this.section = byId('tasks-view');
    this.addForm = /** @type {HTMLFormElement} */ (byId('add-form'));
    this.newTitle = /** @type {HTMLInputElement} */ (byId('new-title'));
    this.addError = byId('add-error');
    this.list = byId('task-list');
    this.empty = byId('empty');
    this.more = byId('more');
    this.loadMoreButton = /** @type {HTMLButtonElement} */ (byId('load-more'));
    this.countActive = byId('count-active');
    this.countDone = byId('count-done');
    this.filterLinks = /** @type {HTMLAnchorElement[]} */ ([
      ...this.section.querySelectorAll('[data-filter]'),
    ]);
    /** @type {{ id: string, original: string } | null} */
    this.editing = null;
    /** @type {{ id: string, control: 'toggle' | 'rename' } | 'new-title' | null} */
    this.focusAfterRender = null;
  }

  /** @param {TaskHandlers} handlers */
  bind(handlers) {
    this.handlers = handlers;
    this.addForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const title = this.newTitle.value.trim();
      if (!title) {
        this.showAddError('Type a title for the task first.');
        this.newTitle.focus();
        return;
      }
      this.clearAddError();
      this.newTitle.value = '';
      this.handlers.add(title);
    });
    this.newTitle.addEventListener('input', () => this.clearAddError());
    this.loadMoreButton.addEventListener('click', () => this.handlers.loadMore());
    this.list.addEventListener('change', (event) => {
      const target = /** @type {HTMLInputElement} */ (event.target);
      const id = rowId(target);
      if (id && target.classList.contains('task__toggle')) this.handlers.toggle(id, target.checked);
    });
    this.list.addEventListener('click', (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest('button[data-action]');
      const id = button && rowId(button);
      if (!button || !id) return;
      const action = button.getAttribute('data-action');
      if (action === 'rename') this.startEditing(id);
      else if (action === 'delete') this.remove(id);
      else if (action === 'cancel') this.stopEditing({ save: false });
    });
    this.list.addEventListener('dblclick', (event) => {
      const title = /** @type {HTMLElement} */ (event.target).closest('.task__title');
      const id = title && rowId(title);
      if (id) this.startEditing(id);
    });
    this.list.addEventListener('submit', (event) => {
      event.preventDefault();
      this.stopEditing({ save: true });
    });
    this.list.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.editing) {
        event.preventDefault();
        this.stopEditing({ save: false });
      }
    });
    // Leaving the editor (click elsewhere, Tab past Cancel) keeps the edit, as in TodoMVC.
    this.list.addEventListener('focusout', (event) => {
      const editor = /** @type {HTMLElement} */ (event.target).closest('.task__edit');
      const next = /** @type {Node | null} */ (event.relatedTarget);
      if (editor && this.editing && !(next && editor.contains(next))) {
        this.stopEditing({ save: true, refocus: false });
      }
    });
  }

  show() {
    this.section.hidden = false;
  }

  hide() {
    this.section.hidden = true;
    this.editing = null;
    this.list.replaceChildren();
    this.newTitle.value = '';
    this.clearAddError();
  }

  focusNewTitle() {
    this.newTitle.focus();
  }

  /** @param {string} title  put back after a refused add, unless the user typed something since */
  restoreNewTitle(title) {
    if (!this.newTitle.value) this.newTitle.value = title;
  }

  /** @param {string} message */
  showAddError(message) {
    this.addError.textContent = message;
    this.newTitle.setAttribute('aria-invalid', 'true');
  }

  clearAddError() {
    this.addError.textContent = '';
    this.newTitle.removeAttribute('aria-invalid');
  }

  /** @param {TaskScreen} screen */
  render(screen) {
    for (const link of this.filterLinks) {
      if (link.dataset.filter === screen.filter) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    this.countActive.textContent = String(screen.counts.active);
    this.countDone.textContent = String(screen.counts.done);
    this.list.setAttribute('aria-busy', String(screen.loading));
    this.renderRows(screen.items);
    this.empty.hidden = screen.loading || screen.items.length > 0;
    this.empty.textContent = EMPTY_TEXT[screen.filter];
    this.more.hidden = !screen.hasMore;
    this.loadMoreButton.textContent = screen.loadingMore ? 'Loading…' : 'Load more';
    this.loadMoreButton.setAttribute('aria-disabled', String(screen.loadingMore));
    this.restoreFocus();
  }

  /** @param {Item[]} items */
  renderRows(items) {
    /** @type {Map<string, HTMLElement>} */
    const existing = new Map();
    for (const row of /** @type {HTMLElement[]} */ ([...this.list.children]))
      existing.set(row.dataset.id ?? '', row);
    let cursor = /** @type {Element | null} */ (this.list.firstElementChild);
    for (const item of items) {
      const row = existing.get(item.id) ?? cloneTemplate('task-template');
      existing.delete(item.id);
      this.fillRow(row, item);
      if (row === cursor) cursor = cursor.nextElementSibling;
      else this.list.insertBefore(row, cursor);
    }
    for (const row of existing.values()) row.remove();
    if (this.editing && !items.some((item) => item.id === this.editing?.id)) this.editing = null;
  }

  /**
   * @param {HTMLElement} row
   * @param {Item} item
   */
  fillRow(row, item) {
    row.dataset.id = item.id;
    row.classList.toggle('task--done', item.done);
    row.classList.toggle('task--pending', Boolean(item.pending));
    const toggle = /** @type {HTMLInputElement} */ (row.querySelector('.task__toggle'));
    toggle.checked = item.done;
    toggle.disabled = Boolean(item.pending);
    toggle.setAttribute('aria-label', `Complete ${item.title}`);
    const title = /** @type {HTMLElement} */ (row.querySelector('.task__title'));
    title.textContent = item.title;
    for (const [selector, verb] of /** @type {const} */ ([
      ['.task__rename', 'Rename'],
      ['.task__delete', 'Delete'],
    ])) {
      const button = /** @type {HTMLButtonElement} */ (row.querySelector(selector));
      button.setAttribute('aria-label', `${verb} ${item.title}`);
      button.disabled = Boolean(item.pending);
    }
    const editor = row.querySelector('.task__edit');
    const editingThis = this.editing?.id === item.id;
    row.classList.toggle('task--editing', editingThis);
    if (editingThis && !editor) row.append(this.createEditor(item));
    if (!editingThis && editor) editor.remove();
  }

  /**
   * @param {Item} item
   * @returns {HTMLElement}
   */
  createEditor(item) {
    const editor = cloneTemplate('edit-template');
    const input = /** @type {HTMLInputElement} */ (editor.querySelector('.task__edit-input'));
    const label = /** @type {HTMLLabelElement} */ (editor.querySelector('.task__edit-label'));
    input.id = `edit-${item.id}`;
    input.value = item.title;
    label.htmlFor = input.id;
    label.textContent = `New title for ${item.title}`;
    return editor;
  }

  /** @param {string} id */
  startEditing(id) {
    const row = this.row(id);
    if (!row || row.classList.contains('task--pending')) return;
    if (this.editing && this.editing.id !== id) this.stopEditing({ save: true, refocus: false });
    const title = /** @type {HTMLElement} */ (row.querySelector('.task__title')).textContent ?? '';
    this.editing = { id, original: title };
    row.classList.add('task--editing');
    if (!row.querySelector('.task__edit')) {
      row.append(this.createEditor({ id, title, done: false, created_at: '', done_at: null }));
    }
    const input = /** @type {HTMLInputElement} */ (row.querySelector('.task__edit-input'));
    input.focus();
    input.select();
  }

  /** @param {{ save: boolean, refocus?: boolean }} options */
  stopEditing({ save, refocus = true }) {
    const editing = this.editing;
    if (!editing) return;
    const row = this.row(editing.id);
    const input = /** @type {HTMLInputElement | null} */ (
      row?.querySelector('.task__edit-input') ?? null
    );
    const title = input?.value.trim() ?? '';
    if (save && !title) {
      // An empty title is not a rename; say so and keep the editor open.
      input?.setAttribute('aria-invalid', 'true');
      this.announceInline(row, 'A task needs a title. Press Escape to keep the old one.');
      if (refocus) input?.focus();
      return;
    }
    this.editing = null;
    row?.classList.remove('task--editing');
    row?.querySelector('.task__edit')?.remove();
    row?.querySelector('.task__hint')?.remove();
    if (refocus) this.focusAfterRender = { id: editing.id, control: 'rename' };
    if (save && title !== editing.original) this.handlers.rename(editing.id, title);
    else this.restoreFocus();
  }

  /**
   * @param {HTMLElement | null} row
   * @param {string} message
   */
  announceInline(row, message) {
    if (!row) return;
    let hint = row.querySelector('.task__hint');
    if (!hint) {
      hint = document.createElement('p');
      hint.className = 'task__hint';
      hint.setAttribute('role', 'alert');
      row.append(hint);
    }
    hint.textContent = message;
  }

  /** @param {string} id */
  remove(id) {
    // Keyboard users keep their place: focus moves to the next task (or the previous one).
    const row = this.row(id);
    const neighbour = /** @type {HTMLElement | null} */ (
      row?.nextElementSibling ?? row?.previousElementSibling ?? null
    );
    this.focusAfterRender = neighbour?.dataset.id
      ? { id: neighbour.dataset.id, control: 'toggle' }
      : 'new-title';
    this.handlers.remove(id);
  }

  /** @param {string} id  the row whose checkbox had focus and is about to leave this filter */
  keepPlaceAfterLeaving(id) {
    const row = this.row(id);
    if (!row || !row.contains(document.activeElement)) return;
    const neighbour = /** @type {HTMLElement | null} */ (
      row.nextElementSibling ?? row.previousElementSibling
    );
    this.focusAfterRender = neighbour?.dataset.id
      ? { id: neighbour.dataset.id, control: 'toggle' }
      : 'new-title';
  }

  restoreFocus() {
    const target = this.focusAfterRender;
    if (!target) return;
    if (target === 'new-title') {
      this.focusAfterRender = null;
      this.newTitle.focus();
      return;
    }
    const row = this.row(target.id);
    if (!row) return;
    this.focusAfterRender = null;
    const selector = target.control === 'rename' ? '.task__rename' : '.task__toggle';
    /** @type {HTMLElement | null} */ (row.querySelector(selector))?.focus();
  }

  /**
   * @param {string} id
   * @returns {HTMLElement | null}
   */
  row(id) {
    return /** @type {HTMLElement | null} */ (
      this.list.querySelector(`li[data-id="${CSS.escape(id)}"]`)
    );
  }
}

/**
 * @param {Element} element
 * @returns {string | null}
 */
function rowId(element) {
  return /** @type {HTMLElement | null} */ (element.closest('li[data-id]'))?.dataset.id ?? null;
}
