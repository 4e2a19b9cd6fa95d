import { catalogId } from '../../core/locations.ts';
import type { ImageName } from './contracts.ts';
import { computeLink } from './presenters.ts';

/**
 * Public images Nimbus can boot: Debian 12 (project `debian-cloud`, family `debian-12`, built once
 * with mmdebstrap by the container engine) and a tiny BusyBox image (project `nimbus-images`,
 * family `busybox`) for fast tests. Images are global and readable by everyone, as Google's
 * public image projects are.
 */
export interface PublicImage {
  project: string;
  name: string;
  family: string;
  description: string;
  /** The root filesystem the runtime boots. */
  engineImage: ImageName;
  diskSizeGb: number;
  archiveSizeBytes: string;
  creationTimestamp: string;
}

export const PUBLIC_IMAGES: PublicImage[] = [
  {
    project: 'debian-cloud',
    name: 'debian-12-bookworm-v20261101',
    family: 'debian-12',
    description: 'Debian, Debian GNU/Linux, 12 (bookworm), amd64 built on 20261101',
    engineImage: 'debian-12',
    diskSizeGb: 10,
    archiveSizeBytes: '240000000',
    creationTimestamp: '2026-11-01T00:00:00.000-07:00',
  },
  {
    project: 'nimbus-images',
    name: 'busybox-v20261101',
    family: 'busybox',
    description: 'BusyBox, a minimal Linux userland for fast tests',
    engineImage: 'busybox',
    diskSizeGb: 1,
    archiveSizeBytes: '2000000',
    creationTimestamp: '2026-11-01T00:00:00.000-07:00',
  },
];

export function imagePath(image: PublicImage): string {
  return `projects/${image.project}/global/images/${image.name}`;
}

/** Image projects anyone may read. */
export function isPublicImageProject(project: string): boolean {
  return PUBLIC_IMAGES.some((i) => i.project === project);
}

export function findImage(project: string, name: string): PublicImage | undefined {
  return PUBLIC_IMAGES.find((i) => i.project === project && i.name === name);
}

export function findImageFamily(project: string, family: string): PublicImage | undefined {
  return PUBLIC_IMAGES.find((i) => i.project === project && i.family === family);
}

/**
 * Resolves a `sourceImage` reference as Google accepts it: a full URL or a partial path
 * (`projects/P/global/images/NAME`, `projects/P/global/images/family/F`, `global/images/NAME` in
 * the caller's project, `projects/P/zones/Z/imageFamilyViews/F`).
 */
export function resolveSourceImage(reference: string, callerProject: string): PublicImage | undefined {
  const path = reference.replace(/^https?:\/\/[^/]+\/(?:compute\/(?:v1|beta|alpha)\/)?/, '');
  const full = /^projects\/([^/]+)\/global\/images\/(family\/)?([^/]+)$/.exec(path);
  const local = /^global\/images\/(family\/)?([^/]+)$/.exec(path);
  // gcloud's `--image-family F --image-project P` sends the zonal family view.
  const view = /^projects\/([^/]+)\/zones\/[^/]+\/imageFamilyViews\/([^/]+)$/.exec(path);
  if (view?.[1] !== undefined && view[2] !== undefined) {
    return findImageFamily(view[1], view[2]);
  }
  const project = full?.[1] ?? (local === null ? undefined : callerProject);
  const family = full === null ? local?.[1] : full[2];
  const name = full === null ? local?.[2] : full[3];
  if (project === undefined || name === undefined) {
    return undefined;
  }
  return family === undefined ? findImage(project, name) : findImageFamily(project, name);
}

export function presentImage(base: string, image: PublicImage): Record<string, unknown> {
  return {
    kind: 'compute#image',
    id: catalogId(imagePath(image)),
    creationTimestamp: image.creationTimestamp,
    name: image.name,
    description: image.description,
    sourceType: 'RAW',
    status: 'READY',
    archiveSizeBytes: image.archiveSizeBytes,
    diskSizeGb: String(image.diskSizeGb),
    family: image.family,
    selfLink: computeLink(base, imagePath(image)),
    labelFingerprint: '42WmSpB8rSM=',
    guestOsFeatures: [{ type: 'VIRTIO_SCSI_MULTIQUEUE' }, { type: 'UEFI_COMPATIBLE' }, { type: 'GVNIC' }],
    storageLocations: ['us', 'eu', 'asia'],
    architecture: 'X86_64',
  };
}
