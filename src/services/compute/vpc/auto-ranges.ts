/**
 * Auto mode VPC networks get one subnet per region from 10.128.0.0/9, at the ranges Google's table
 * gives (https://cloud.google.com/vpc/docs/subnets#ip-ranges). Regions missing from the table get
 * the lowest free /20 of 10.128.0.0/9 that no listed region uses.
 */
export const AUTO_MODE_RANGE = '10.128.0.0/9';

export const AUTO_SUBNET_RANGES: Readonly<Record<string, string>> = {
  'us-central1': '10.128.0.0/20',
  'europe-west1': '10.132.0.0/20',
  'us-west1': '10.138.0.0/20',
  'asia-east1': '10.140.0.0/20',
  'us-east1': '10.142.0.0/20',
  'asia-northeast1': '10.146.0.0/20',
  'asia-southeast1': '10.148.0.0/20',
  'us-east4': '10.150.0.0/20',
  'australia-southeast1': '10.152.0.0/20',
  'europe-west2': '10.154.0.0/20',
  'europe-west3': '10.156.0.0/20',
  'southamerica-east1': '10.158.0.0/20',
  'asia-south1': '10.160.0.0/20',
  'northamerica-northeast1': '10.162.0.0/20',
  'europe-west4': '10.164.0.0/20',
  'europe-north1': '10.166.0.0/20',
  'us-west2': '10.168.0.0/20',
  'asia-east2': '10.170.0.0/20',
  'europe-west6': '10.172.0.0/20',
  'asia-northeast2': '10.174.0.0/20',
  'asia-northeast3': '10.178.0.0/20',
  'us-west3': '10.180.0.0/20',
  'us-west4': '10.182.0.0/20',
  'asia-southeast2': '10.184.0.0/20',
  'europe-central2': '10.186.0.0/20',
  'northamerica-northeast2': '10.188.0.0/20',
  'asia-south2': '10.190.0.0/20',
  'australia-southeast2': '10.192.0.0/20',
  'me-west1': '10.208.0.0/20',
  'africa-south1': '10.218.0.0/20',
};

/** The auto mode range for `region` (a listed one, or a free /20 for unlisted regions). */
export function autoSubnetRange(region: string, allRegions: readonly string[]): string {
  const listed = AUTO_SUBNET_RANGES[region];
  if (listed !== undefined) {
    return listed;
  }
  const used = new Set(Object.values(AUTO_SUBNET_RANGES));
  const unlisted = allRegions.filter((r) => AUTO_SUBNET_RANGES[r] === undefined).sort();
  let index = unlisted.indexOf(region);
  for (let second = 128; second < 256; second += 2) {
    const range = `10.${String(second)}.0.0/20`;
    if (used.has(range)) {
      continue;
    }
    if (index <= 0) {
      return range;
    }
    index -= 1;
  }
  return '10.254.0.0/20';
}
