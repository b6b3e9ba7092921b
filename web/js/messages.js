// @ts-check
/**
 * Turns an {@link ApiError} into words a person can act on; the one place for user-facing errors.
 */
import { ApiError } from './api.js';

/** @typedef {'login' | 'register' | 'task'} ErrorContext */

const FIELD_LABELS = /** @type {Record<string, string>} */ ({
  email: 'Email',
  username: 'Email',
  password: 'Password',
  title: 'Title',
  done: 'Done',
});

/**
 * @param {string} field
 * @returns {string}
 */
export function fieldLabel(field) {
  return FIELD_LABELS[field] ?? (field ? field.charAt(0).toUpperCase() + field.slice(1) : '');
}

/**
 * @param {string} message  a validator's message, e.g. "String should have at least 8 characters"
 * @returns {string}
 */
function sentence(message) {
  const trimmed = message.replace(/^Value error, /, '').trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * @param {number | null} seconds
 * @returns {string}
 */
export function retryText(seconds) {
  if (seconds === null) return 'Try again in a moment.';
  if (seconds <= 1) return 'Try again in 1 second.';
  if (seconds < 120) return `Try again in ${seconds} seconds.`;
  return `Try again in ${Math.ceil(seconds / 60)} minutes.`;
}

/**
 * @param {unknown} error
 * @param {ErrorContext} context
 * @returns {{ summary: string, fields: { field: string, message: string }[] }}
 */
export function describeError(error, context) {
  if (!(error instanceof ApiError)) {
    return {
      summary: 'Something went wrong in the app. Reload the page and try again.',
      fields: [],
    };
  }
  const fields = error.fields.map(({ field, message }) => ({ field, message: sentence(message) }));
  switch (error.status) {
    case 0:
      return {
        summary: "Can't reach the server. Check your connection and try again.",
        fields: [],
      };
    case 401:
      return context === 'login'
        ? { summary: 'Wrong email or password.', fields: [] }
        : { summary: 'Your session has ended. Please log in again.', fields: [] };
    case 404:
      return {
        summary: 'That task no longer exists. It may have been deleted elsewhere.',
        fields: [],
      };
    case 409:
      return context === 'register'
        ? { summary: 'An account with this email already exists. Log in instead.', fields: [] }
        : {
            summary: error.message
              ? sentence(error.message)
              : 'That conflicts with a change made elsewhere.',
            fields: [],
          };
    case 413:
      return { summary: 'That is too long to send.', fields: [] };
    case 422: {
      const listed = fields.map(({ field, message }) =>
        field ? `${fieldLabel(field)}: ${message}` : message,
      );
      const summary = listed.length
        ? listed.join(' ')
        : sentence(error.message || 'Some of the input is invalid');
      return { summary, fields };
    }
    case 429:
      return {
        summary: `${context === 'task' ? 'Too many requests.' : 'Too many attempts.'} ${retryText(error.retryAfter)}`,
        fields: [],
      };
    default:
      if (error.status >= 500) {
        return {
          summary: `The server is having trouble (error ${error.status}). Please try again shortly.`,
          fields: [],
        };
      }
      return {
        summary: sentence(error.message || `The request failed (error ${error.status})`),
        fields,
      };
  }
}
