import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MACHINE_TYPES } from '../../src/services/compute/machine-types.ts';
import { REGIONS } from '../../src/core/locations.ts';
import {
  HOURS_PER_MONTH,
  PRICE_SOURCES,
  PRICED_MACHINE_TYPES,
  diskMonthlyUsd,
  formatUsd,
  machineHourlyUsd,
  regionOfZone,
  storageMonthlyUsd,
} from '../../console/src/pricing.ts';

const monthly = (machineType: string, region: string): number =>
  (machineHourlyUsd(machineType, region) ?? Number.NaN) * HOURS_PER_MONTH;

/** The console's price table (console/src/pricing.ts): Google's on-demand list prices. */
describe('console price table', () => {
  it("prices e2-micro in us-central1 at Google's published $6.11 a month", () => {
    // Google's E2 page: 0.25 vCPU x $0.02181159 + 1 GB x $0.00292353 = $0.0083764275 an hour.
    assert.ok(Math.abs((machineHourlyUsd('e2-micro', 'us-central1') ?? 0) - 0.0083764275) < 1e-12);
    assert.equal(formatUsd(monthly('e2-micro', 'us-central1'), 'en'), '$6.11');
    assert.equal(formatUsd(monthly('e2-standard-2', 'us-central1'), 'en'), '$48.92');
    assert.equal(formatUsd(monthly('n1-standard-1', 'us-central1'), 'en'), '$34.67');
    assert.equal(formatUsd(monthly('n2-standard-2', 'us-central1'), 'en'), '$70.90');
  });

  it('bills shared-core E2 types for their vCPU fraction, not the 2 vCPUs the guest sees', () => {
    const region = 'asia-northeast3';
    const micro = machineHourlyUsd('e2-micro', region) ?? 0;
    const small = machineHourlyUsd('e2-small', region) ?? 0;
    const medium = machineHourlyUsd('e2-medium', region) ?? 0;
    const standard2 = machineHourlyUsd('e2-standard-2', region) ?? 0;
    // e2-small is exactly twice e2-micro (0.5 vCPU + 2 GB), e2-medium four times (1 vCPU + 4 GB),
    // and e2-standard-2 (2 vCPUs + 8 GB) twice e2-medium.
    assert.ok(micro > 0);
    assert.ok(Math.abs(small - 2 * micro) < 1e-12);
    assert.ok(Math.abs(medium - 4 * micro) < 1e-12);
    assert.ok(Math.abs(standard2 - 2 * medium) < 1e-12);
    assert.equal(formatUsd(micro * HOURS_PER_MONTH, 'en'), '$7.84');
  });

  it('accepts machine type URLs and prices every type and region Nimbus offers', () => {
    assert.equal(
      machineHourlyUsd(
        'https://compute.googleapis.com/compute/v1/projects/p/zones/us-east1-b/machineTypes/e2-medium',
        'us-east1',
      ),
      machineHourlyUsd('e2-medium', 'us-east1'),
    );
    for (const type of MACHINE_TYPES) {
      assert.ok(PRICED_MACHINE_TYPES.includes(type.name), type.name);
      for (const region of REGIONS) {
        const price = machineHourlyUsd(type.name, region.name);
        assert.ok(price !== undefined && price > 0, `${type.name} in ${region.name}`);
        assert.ok(diskMonthlyUsd('pd-balanced', 10, region.name) !== undefined, region.name);
        assert.ok(storageMonthlyUsd('STANDARD', region.name.toUpperCase(), 1) !== undefined, region.name);
      }
    }
    // Bigger E2 shapes cost proportionally: e2-highcpu-32 is 16 x e2-highcpu-2.
    const highcpu2 = machineHourlyUsd('e2-highcpu-2', 'europe-west1') ?? 0;
    assert.ok(Math.abs((machineHourlyUsd('e2-highcpu-32', 'europe-west1') ?? 0) - 16 * highcpu2) < 1e-9);
  });

  it('prices persistent disks per GB-month by type and region', () => {
    assert.equal(diskMonthlyUsd('pd-standard', 10, 'us-central1'), 0.4);
    assert.equal(diskMonthlyUsd('pd-balanced', 10, 'asia-northeast3'), 1.3);
    assert.ok(Math.abs((diskMonthlyUsd('pd-ssd', 100, 'europe-west1') ?? 0) - 17) < 1e-9);
    assert.equal(
      diskMonthlyUsd('projects/p/zones/asia-northeast3-a/diskTypes/pd-standard', 1, 'asia-northeast3'),
      0.052,
    );
    assert.equal(diskMonthlyUsd('pd-standard', 0, 'us-central1'), 0);
  });

  it('prices Cloud Storage per GiB-month by class and location (region, dual- and multi-region)', () => {
    const gib = 2 ** 30;
    assert.equal(storageMonthlyUsd('STANDARD', 'ASIA-NORTHEAST3', gib), 0.023);
    assert.equal(storageMonthlyUsd('STANDARD', 'US', 100 * gib), 2.6);
    assert.equal(storageMonthlyUsd('nearline', 'eu', gib), 0.015);
    assert.equal(storageMonthlyUsd('COLDLINE', 'ASIA1', gib), 0.0132);
    assert.equal(storageMonthlyUsd('ARCHIVE', 'us-central1', 1000 * gib), 1.2);
    // Legacy classes are billed as Standard storage.
    assert.equal(storageMonthlyUsd('REGIONAL', 'US-EAST1', gib), 0.02);
    assert.equal(storageMonthlyUsd('MULTI_REGIONAL', 'EU', gib), 0.026);
    assert.equal(storageMonthlyUsd('STANDARD', 'US', 0), 0);
    // Half a GiB costs half.
    assert.equal(storageMonthlyUsd('STANDARD', 'US-CENTRAL1', gib / 2), 0.01);
  });

  it('answers undefined (no list price) instead of guessing', () => {
    assert.equal(machineHourlyUsd('e2-custom-2-4096', 'us-central1'), undefined);
    assert.equal(machineHourlyUsd('a2-highgpu-1g', 'us-central1'), undefined);
    assert.equal(machineHourlyUsd('e2-micro', 'mars-north1'), undefined);
    assert.equal(diskMonthlyUsd('pd-extreme', 10, 'us-central1'), undefined);
    assert.equal(diskMonthlyUsd('pd-standard', 10, 'mars-north1'), undefined);
    assert.equal(diskMonthlyUsd('pd-standard', Number.NaN, 'us-central1'), undefined);
    assert.equal(storageMonthlyUsd('DURABLE_REDUCED_AVAILABILITY', 'US', 1), undefined);
    assert.equal(storageMonthlyUsd('STANDARD', 'EUR5', 1), undefined);
    assert.equal(storageMonthlyUsd('STANDARD', 'US', -1), undefined);
  });

  it('finds the region of a zone', () => {
    assert.equal(regionOfZone('asia-northeast3-a'), 'asia-northeast3');
    assert.equal(regionOfZone('us-central1-f'), 'us-central1');
    assert.equal(regionOfZone('us-central1'), 'us-central1');
  });

  it('formats dollars in English and Korean', () => {
    assert.equal(formatUsd(6.1148, 'en'), '$6.11');
    assert.equal(formatUsd(1234.5, 'en'), '$1,234.50');
    assert.equal(formatUsd(0, 'en'), '$0.00');
    assert.equal(formatUsd(0.001, 'en'), '<$0.01');
    assert.equal(formatUsd(6.1148, 'ko'), 'US$6.11');
    assert.equal(formatUsd(0.001, 'ko'), '<US$0.01');
  });

  it('says where the prices come from and when they were read', () => {
    assert.match(PRICE_SOURCES.retrieved, /^\d{4}-\d{2}-\d{2}$/);
    for (const url of [PRICE_SOURCES.compute, PRICE_SOURCES.disks, PRICE_SOURCES.storage]) {
      assert.match(url, /^https:\/\/cloud\.google\.com\//);
    }
  });
});
