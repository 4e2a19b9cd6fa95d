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
  /** The day the numbers below were read. */
  retrieved: '2026-12-02',
  currency: 'USD',
  compute: 'https://cloud.google.com/compute/vm-instance-pricing',
  disks: 'https://cloud.google.com/compute/disks-image-pricing',
  storage: 'https://cloud.google.com/storage/pricing',
  /**
   * The per-region numbers were transcribed from this table, which is generated from Google's Cloud
   * Billing Catalog API (its copy read here was generated on `catalogGenerated`).
   */
  catalog: 'https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/master/pricing.yml',
  catalogGenerated: '2025-03-06',
};

/** `asia-northeast3-a` -> `asia-northeast3`. */
export function regionOfZone(zone: string): string {
  return zone.replace(/-[a-z]$/, '');
}

/** The last segment of a name or resource URL (`zones/Z/diskTypes/pd-ssd` -> `pd-ssd`). */
function lastSegment(reference: string): string {
  return reference.slice(reference.lastIndexOf('/') + 1);
}

// --- Compute Engine: VM instances ------------------------------------------------------------------
// Source: PRICE_SOURCES.compute (on-demand, "predefined vCPUs" and "predefined memory" per hour).
// E2, N1 and N2 predefined machine types are billed per vCPU-hour plus per GB-hour of memory (GB =
// 2^30 bytes). [vCPU-hour, GB-hour] per family and region.

type Family = 'e2' | 'n1' | 'n2';
type Rates = Record<Family, readonly [vcpuHour: number, gbHour: number]>;

const MACHINE_RATES: Record<string, Rates> = {
  'africa-south1': {
    e2: [0.02852956, 0.003823977],
    n1: [0.04134719, 0.005541996],
    n2: [0.04134719, 0.005541996],
  },
  'asia-east1': { e2: [0.02525538, 0.00338514], n1: [0.036602, 0.004906], n2: [0.036602, 0.004906] },
  'asia-east2': { e2: [0.03051939, 0.00409032], n1: [0.044231, 0.005928], n2: [0.044231, 0.005928] },
  'asia-northeast1': { e2: [0.02802642, 0.00373911], n1: [0.040618, 0.005419], n2: [0.040618, 0.005419] },
  'asia-northeast2': { e2: [0.02802642, 0.00373911], n1: [0.040618, 0.005419], n2: [0.040595, 0.005441] },
  'asia-northeast3': { e2: [0.02802642, 0.00373911], n1: [0.040618, 0.005419], n2: [0.040595, 0.005441] },
  'asia-south1': { e2: [0.0261993, 0.00351072], n1: [0.03797, 0.005088], n2: [0.03797, 0.005088] },
  'asia-southeast1': { e2: [0.02690931, 0.00360594], n1: [0.038999, 0.005226], n2: [0.038999, 0.005226] },
  'australia-southeast1': {
    e2: [0.03095064, 0.00414759],
    n1: [0.044856, 0.006011],
    n2: [0.044856, 0.006011],
  },
  'europe-north1': { e2: [0.02401614, 0.00321816], n1: [0.034806, 0.004664], n2: [0.034806, 0.004664] },
  'europe-west1': { e2: [0.02399337, 0.00321609], n1: [0.034773, 0.004661], n2: [0.034773, 0.004661] },
  'europe-west2': { e2: [0.0281037, 0.00376602], n1: [0.04073, 0.005458], n2: [0.04073, 0.005458] },
  'europe-west3': { e2: [0.0281037, 0.00376602], n1: [0.04073, 0.005458], n2: [0.04073, 0.005458] },
  'europe-west4': { e2: [0.02401338, 0.00321816], n1: [0.034802, 0.004664], n2: [0.034802, 0.004664] },
  'me-west1': { e2: [0.02399275, 0.003215883], n1: [0.0347721, 0.0046607], n2: [0.0347721, 0.0046607] },
  'northamerica-northeast1': {
    e2: [0.02401338, 0.00321816],
    n1: [0.034802, 0.004664],
    n2: [0.034802, 0.004664],
  },
  'southamerica-east1': { e2: [0.0346242, 0.00464025], n1: [0.05018, 0.006725], n2: [0.05018, 0.006725] },
  'us-central1': { e2: [0.02181159, 0.00292353], n1: [0.031611, 0.004237], n2: [0.031611, 0.004237] },
  'us-east1': { e2: [0.02181159, 0.00292353], n1: [0.031611, 0.004237], n2: [0.031611, 0.004237] },
  'us-east4': { e2: [0.02456745, 0.00329199], n1: [0.035605, 0.004771], n2: [0.035605, 0.004771] },
  'us-west1': { e2: [0.02181159, 0.00292353], n1: [0.031611, 0.004237], n2: [0.031611, 0.004237] },
  'us-west2': { e2: [0.0261993, 0.00351141], n1: [0.03797, 0.005089], n2: [0.03797, 0.005089] },
};

/**
 * What each predefined type is billed for: [family, vCPUs, GB of memory]. Shared-core E2 types show
 * 2 vCPUs to the guest but are billed for their sustained fraction: e2-micro 0.25 vCPU with 1 GB,
 * e2-small 0.5 vCPU with 2 GB, e2-medium 1 vCPU with 4 GB.
 */
const MACHINE_SHAPES: Record<string, readonly [Family, number, number]> = {
  'e2-micro': ['e2', 0.25, 1],
  'e2-small': ['e2', 0.5, 2],
  'e2-medium': ['e2', 1, 4],
  ...Object.fromEntries(
    [2, 4, 8, 16, 32].map((n) => [`e2-standard-${String(n)}`, ['e2', n, n * 4] as const]),
  ),
  ...Object.fromEntries([2, 4, 8, 16].map((n) => [`e2-highmem-${String(n)}`, ['e2', n, n * 8] as const])),
  ...Object.fromEntries([2, 4, 8, 16, 32].map((n) => [`e2-highcpu-${String(n)}`, ['e2', n, n] as const])),
  ...Object.fromEntries([1, 2, 4, 8].map((n) => [`n1-standard-${String(n)}`, ['n1', n, n * 3.75] as const])),
  ...Object.fromEntries([2, 4, 8].map((n) => [`n2-standard-${String(n)}`, ['n2', n, n * 4] as const])),
};

/** The predefined machine types the table prices (custom types have other SKUs: not priced). */
export const PRICED_MACHINE_TYPES = Object.keys(MACHINE_SHAPES);

/** Per hour, for a predefined machine type in a region; undefined when unknown. */
export function machineHourlyUsd(machineType: string, region: string): number | undefined {
  const shape = MACHINE_SHAPES[lastSegment(machineType)];
  const rates = MACHINE_RATES[region];
  if (shape === undefined || rates === undefined) {
    return undefined;
  }
  const [family, vcpus, memoryGb] = shape;
  const [vcpuHour, gbHour] = rates[family];
  return vcpus * vcpuHour + memoryGb * gbHour;
}

// --- Compute Engine: persistent disks --------------------------------------------------------------
// Source: PRICE_SOURCES.disks ("Zonal standard/balanced/SSD PD capacity", per GB-month, GB = 2^30).

type DiskType = 'pd-standard' | 'pd-balanced' | 'pd-ssd';

const DISK_RATES: Record<string, Record<DiskType, number>> = {
  'africa-south1': { 'pd-standard': 0.05232, 'pd-balanced': 0.1308, 'pd-ssd': 0.22236 },
  'asia-east1': { 'pd-standard': 0.04, 'pd-balanced': 0.1, 'pd-ssd': 0.17 },
  'asia-east2': { 'pd-standard': 0.0498, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'asia-northeast1': { 'pd-standard': 0.052, 'pd-balanced': 0.13, 'pd-ssd': 0.221 },
  'asia-northeast2': { 'pd-standard': 0.052, 'pd-balanced': 0.13, 'pd-ssd': 0.221 },
  'asia-northeast3': { 'pd-standard': 0.052, 'pd-balanced': 0.13, 'pd-ssd': 0.221 },
  'asia-south1': { 'pd-standard': 0.048, 'pd-balanced': 0.12, 'pd-ssd': 0.204 },
  'asia-southeast1': { 'pd-standard': 0.044, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'australia-southeast1': { 'pd-standard': 0.054, 'pd-balanced': 0.135, 'pd-ssd': 0.23 },
  'europe-north1': { 'pd-standard': 0.044, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'europe-west1': { 'pd-standard': 0.04, 'pd-balanced': 0.1, 'pd-ssd': 0.17 },
  'europe-west2': { 'pd-standard': 0.048, 'pd-balanced': 0.12, 'pd-ssd': 0.204 },
  'europe-west3': { 'pd-standard': 0.048, 'pd-balanced': 0.12, 'pd-ssd': 0.204 },
  'europe-west4': { 'pd-standard': 0.044, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'me-west1': { 'pd-standard': 0.044, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'northamerica-northeast1': { 'pd-standard': 0.044, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'southamerica-east1': { 'pd-standard': 0.06, 'pd-balanced': 0.15, 'pd-ssd': 0.255 },
  'us-central1': { 'pd-standard': 0.04, 'pd-balanced': 0.1, 'pd-ssd': 0.17 },
  'us-east1': { 'pd-standard': 0.04, 'pd-balanced': 0.1, 'pd-ssd': 0.17 },
  'us-east4': { 'pd-standard': 0.044, 'pd-balanced': 0.11, 'pd-ssd': 0.187 },
  'us-west1': { 'pd-standard': 0.04, 'pd-balanced': 0.1, 'pd-ssd': 0.17 },
  'us-west2': { 'pd-standard': 0.048, 'pd-balanced': 0.12, 'pd-ssd': 0.204 },
};

/** Per month for a persistent disk of `sizeGb` (pd-standard, pd-balanced, pd-ssd); undefined when unknown. */
export function diskMonthlyUsd(diskType: string, sizeGb: number, region: string): number | undefined {
  const rates = DISK_RATES[region];
  const type = lastSegment(diskType);
  if (rates === undefined || !(type in rates) || !Number.isFinite(sizeGb) || sizeGb < 0) {
    return undefined;
  }
  return rates[type as DiskType] * sizeGb;
}

// --- Cloud Storage: data storage -------------------------------------------------------------------
// Source: PRICE_SOURCES.storage ("Data storage", per GB-month, GB = 2^30 bytes), by bucket location:
// a region, a predefined dual-region (NAM4, EUR4, ASIA1) or a multi-region (US, EU, ASIA).
// [STANDARD, NEARLINE, COLDLINE, ARCHIVE].

type StorageClass = 'STANDARD' | 'NEARLINE' | 'COLDLINE' | 'ARCHIVE';
const CLASSES: readonly StorageClass[] = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'];

const STORAGE_RATES: Record<string, readonly [number, number, number, number]> = {
  // Multi-regions.
  us: [0.026, 0.015, 0.007, 0.0024],
  eu: [0.026, 0.015, 0.007, 0.0024],
  asia: [0.026, 0.015, 0.00875, 0.003],
  // Predefined dual-regions.
  nam4: [0.044, 0.022, 0.0088, 0.0028],
  eur4: [0.044, 0.022, 0.0088, 0.0028],
  asia1: [0.0506, 0.0352, 0.0132, 0.0056],
  // Regions.
  'africa-south1': [0.025, 0.014, 0.007, 0.0025],
  'asia-east1': [0.02, 0.01, 0.005, 0.0015],
  'asia-east2': [0.023, 0.016, 0.007, 0.0025],
  'asia-northeast1': [0.023, 0.016, 0.006, 0.0025],
  'asia-northeast2': [0.023, 0.016, 0.006, 0.0025],
  'asia-northeast3': [0.023, 0.016, 0.006, 0.0025],
  'asia-south1': [0.023, 0.016, 0.006, 0.0025],
  'asia-southeast1': [0.02, 0.01, 0.005, 0.0015],
  'australia-southeast1': [0.023, 0.016, 0.006, 0.0025],
  'europe-north1': [0.02, 0.01, 0.004, 0.0012],
  'europe-west1': [0.02, 0.01, 0.004, 0.0012],
  'europe-west2': [0.023, 0.013, 0.007, 0.0025],
  'europe-west3': [0.023, 0.013, 0.006, 0.0025],
  'europe-west4': [0.02, 0.01, 0.004, 0.0012],
  'me-west1': [0.021, 0.0125, 0.004, 0.0012],
  'northamerica-northeast1': [0.023, 0.013, 0.007, 0.0025],
  'southamerica-east1': [0.035, 0.02, 0.007, 0.003],
  'us-central1': [0.02, 0.01, 0.004, 0.0012],
  'us-east1': [0.02, 0.01, 0.004, 0.0012],
  'us-east4': [0.023, 0.013, 0.006, 0.0025],
  'us-west1': [0.02, 0.01, 0.004, 0.0012],
  'us-west2': [0.023, 0.016, 0.007, 0.0025],
};

/** Legacy classes Google bills as Standard storage in the bucket's location. */
const STANDARD_ALIASES = new Set(['MULTI_REGIONAL', 'REGIONAL']);

const BYTES_PER_GB = 2 ** 30;

/** Per month for `bytes` stored in a bucket of that class and location; undefined when unknown. */
export function storageMonthlyUsd(storageClass: string, location: string, bytes: number): number | undefined {
  const upper = storageClass.toUpperCase();
  const index = CLASSES.indexOf((STANDARD_ALIASES.has(upper) ? 'STANDARD' : upper) as StorageClass);
  const rates = STORAGE_RATES[location.toLowerCase()];
  if (index < 0 || rates === undefined || !Number.isFinite(bytes) || bytes < 0) {
    return undefined;
  }
  return ((rates[index] ?? 0) * bytes) / BYTES_PER_GB;
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
