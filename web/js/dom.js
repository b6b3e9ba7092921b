// @ts-check
/**
 * Small DOM helpers shared by the views.
 */

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element;
}

/**
 * @param {string} id  of a `<template>` whose first element is cloned
 * @returns {HTMLElement}
 */
export function cloneTemplate(id) {
  const template = /** @type {HTMLTemplateElement} */ (byId(id));
  return /** @type {HTMLElement} */ (template.content.firstElementChild?.cloneNode(true));
}
