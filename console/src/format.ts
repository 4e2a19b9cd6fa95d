/** How the pages print sizes and times. */

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
/** Google's price pages name binary units GB (a "GB-month" is 2^30 bytes). */
const PRICE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/**
 * `12.3 KiB`: powers of 1024, one decimal past bytes (as Google's console prints object sizes);
 * `units: 'price'` names them KB, MB, GB as the price pages do.
 */
export function formatSize(bytes: string | number | undefined, units: 'binary' | 'price' = 'binary'): string {
  const names = units === 'binary' ? BINARY : PRICE_UNITS;
  let value = Number(bytes ?? 0);
  let unit = 0;
  while (value >= 1024 && unit < names.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? String(value) : value.toFixed(1)} ${names[unit] ?? 'B'}`;
}

/**
 * A timestamp for people ('' when absent; the text itself when it is not a date): in the browser's
 * default style, or with `language` as a medium date and time in that language.
 */
export function formatTime(value: string | undefined, language?: string): string {
  if (value === undefined) {
    return '';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return value;
  }
  return language === undefined
    ? date.toLocaleString()
    : date.toLocaleString(language === 'ko' ? 'ko-KR' : 'en-US', {
        dateStyle: 'medium',
        timeStyle: 'medium',
      });
}
