import { catalogId, type RegionInfo } from '../../core/locations.ts';
import type { OperationRecord } from '../../core/operations.ts';

const CATALOG_CREATED = '1969-12-31T16:00:00.000-08:00';

/** Compute Engine selfLinks point back at Nimbus (the URL the client used). */
export function computeLink(base: string, path: string): string {
  return `${base}/compute/v1/${path}`;
}

export function presentRegion(base: string, project: string, region: RegionInfo): Record<string, unknown> {
  return {
    kind: 'compute#region',
    id: catalogId(region.name),
    creationTimestamp: CATALOG_CREATED,
    name: region.name,
    description: region.name,
    status: 'UP',
    zones: region.zones.map((z) => computeLink(base, `projects/${project}/zones/${z}`)),
    quotas: [],
    selfLink: computeLink(base, `projects/${project}/regions/${region.name}`),
    supportsPzs: false,
  };
}

export function presentZone(
  base: string,
  project: string,
  zone: string,
  region: string,
): Record<string, unknown> {
  return {
    kind: 'compute#zone',
    id: catalogId(zone),
    creationTimestamp: CATALOG_CREATED,
    name: zone,
    description: zone,
    status: 'UP',
    region: computeLink(base, `projects/${project}/regions/${region}`),
    selfLink: computeLink(base, `projects/${project}/zones/${zone}`),
    availableCpuPlatforms: ['Intel Broadwell', 'Intel Cascade Lake', 'AMD Milan'],
    supportsPzs: false,
  };
}

/** Compute-style error codes (`RESOURCE_NOT_FOUND`...) from canonical statuses. */
function computeErrorCode(op: OperationRecord): string {
  switch (op.error?.code) {
    case 'NOT_FOUND':
      return 'RESOURCE_NOT_FOUND';
    case 'ALREADY_EXISTS':
      return 'RESOURCE_ALREADY_EXISTS';
    case 'INVALID_ARGUMENT':
      return 'INVALID_FIELD_VALUE';
    case 'PERMISSION_DENIED':
      return 'PERMISSION_DENIED';
    case 'RESOURCE_EXHAUSTED':
      return 'QUOTA_EXCEEDED';
    default:
      return op.error?.code ?? 'INTERNAL_ERROR';
  }
}

export function presentComputeOperation(base: string, op: OperationRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    kind: 'compute#operation',
    id: op.id,
    name: op.shortName,
    operationType: op.operationType,
    targetLink: op.targetLink,
    status: op.status,
    user: op.user,
    progress: op.progress,
    insertTime: op.insertTime,
    selfLink: computeLink(base, op.name),
  };
  if (op.targetId !== undefined) {
    out.targetId = op.targetId;
  }
  if (op.startTime !== undefined) {
    out.startTime = op.startTime;
  }
  if (op.endTime !== undefined) {
    out.endTime = op.endTime;
  }
  if (op.scope.startsWith('zones/')) {
    out.zone = computeLink(base, `projects/${op.project}/${op.scope}`);
  } else if (op.scope.startsWith('regions/')) {
    out.region = computeLink(base, `projects/${op.project}/${op.scope}`);
  }
  if (op.error !== undefined) {
    out.error = { errors: [{ code: computeErrorCode(op), message: op.error.message }] };
    out.httpErrorStatusCode = op.error.httpStatus;
    out.httpErrorMessage = op.error.code.replaceAll('_', ' ');
  }
  return out;
}
