/** Google Cloud's regions and zones (real names), the catalog every zonal/regional API uses. */
export interface RegionInfo {
  name: string;
  description: string;
  zones: string[];
}

const REGION_ZONES: [string, string, string][] = [
  ['africa-south1', 'Johannesburg, South Africa', 'abc'],
  ['asia-east1', 'Changhua County, Taiwan', 'abc'],
  ['asia-east2', 'Hong Kong', 'abc'],
  ['asia-northeast1', 'Tokyo, Japan', 'abc'],
  ['asia-northeast2', 'Osaka, Japan', 'abc'],
  ['asia-northeast3', 'Seoul, South Korea', 'abc'],
  ['asia-south1', 'Mumbai, India', 'abc'],
  ['asia-southeast1', 'Jurong West, Singapore', 'abc'],
  ['australia-southeast1', 'Sydney, Australia', 'abc'],
  ['europe-north1', 'Hamina, Finland', 'abc'],
  ['europe-west1', 'St. Ghislain, Belgium', 'bcd'],
  ['europe-west2', 'London, England', 'abc'],
  ['europe-west3', 'Frankfurt, Germany', 'abc'],
  ['europe-west4', 'Eemshaven, Netherlands', 'abc'],
  ['me-west1', 'Tel Aviv, Israel', 'abc'],
  ['northamerica-northeast1', 'Montréal, Québec, North America', 'abc'],
  ['southamerica-east1', 'Osasco, São Paulo, Brazil', 'abc'],
  ['us-central1', 'Council Bluffs, Iowa, North America', 'abcf'],
  ['us-east1', 'Moncks Corner, South Carolina, North America', 'bcd'],
  ['us-east4', 'Ashburn, Virginia, North America', 'abc'],
  ['us-west1', 'The Dalles, Oregon, North America', 'abc'],
  ['us-west2', 'Los Angeles, California, North America', 'abc'],
];

export const REGIONS: RegionInfo[] = REGION_ZONES.map(([name, description, letters]) => ({
  name,
  description,
  zones: letters.split('').map((letter) => `${name}-${letter}`),
}));

const ZONE_TO_REGION = new Map(REGIONS.flatMap((r) => r.zones.map((z) => [z, r.name] as const)));

export function findRegion(name: string): RegionInfo | undefined {
  return REGIONS.find((r) => r.name === name);
}

export function regionOfZone(zone: string): string | undefined {
  return ZONE_TO_REGION.get(zone);
}

export function allZones(): string[] {
  return [...ZONE_TO_REGION.keys()].sort();
}

/** A stable numeric id for a catalog entry (Compute shows one for regions and zones). */
export function catalogId(name: string): string {
  let hash = 1000n;
  for (const ch of name) {
    hash = (hash * 31n + BigInt(ch.codePointAt(0) ?? 0)) % 10n ** 15n;
  }
  return String(hash + 1000n);
}
