/**
 * Google's permission names and the predefined roles that carry them. Each permission names the
 * lowest basic role that includes it (viewer < editor < owner), following Google's rule of thumb:
 * viewer reads, editor changes state, owner also manages access (setIamPolicy, custom roles) and
 * deletes/restores projects. Services add their permissions here as they are built.
 */
type BasicLevel = 'viewer' | 'editor' | 'owner';

const PERMISSION_LEVELS: Record<string, BasicLevel> = {
  // Resource Manager
  'resourcemanager.projects.get': 'viewer',
  'resourcemanager.projects.getIamPolicy': 'viewer',
  'resourcemanager.projects.list': 'viewer',
  'resourcemanager.projects.update': 'editor',
  'resourcemanager.projects.create': 'owner',
  'resourcemanager.projects.delete': 'owner',
  'resourcemanager.projects.undelete': 'owner',
  'resourcemanager.projects.setIamPolicy': 'owner',
  // IAM: service accounts
  'iam.serviceAccounts.get': 'viewer',
  'iam.serviceAccounts.list': 'viewer',
  'iam.serviceAccounts.getIamPolicy': 'viewer',
  'iam.serviceAccounts.create': 'editor',
  'iam.serviceAccounts.update': 'editor',
  'iam.serviceAccounts.delete': 'editor',
  'iam.serviceAccounts.undelete': 'editor',
  'iam.serviceAccounts.disable': 'editor',
  'iam.serviceAccounts.enable': 'editor',
  'iam.serviceAccounts.actAs': 'editor',
  'iam.serviceAccounts.setIamPolicy': 'owner',
  'iam.serviceAccounts.getAccessToken': 'owner',
  'iam.serviceAccounts.signBlob': 'owner',
  'iam.serviceAccounts.signJwt': 'owner',
  'iam.serviceAccounts.getOpenIdToken': 'owner',
  'iam.serviceAccounts.implicitDelegation': 'owner',
  // IAM: keys
  'iam.serviceAccountKeys.get': 'viewer',
  'iam.serviceAccountKeys.list': 'viewer',
  'iam.serviceAccountKeys.create': 'editor',
  'iam.serviceAccountKeys.delete': 'editor',
  'iam.serviceAccountKeys.disable': 'editor',
  'iam.serviceAccountKeys.enable': 'editor',
  // IAM: roles
  'iam.roles.get': 'viewer',
  'iam.roles.list': 'viewer',
  'iam.roles.create': 'owner',
  'iam.roles.update': 'owner',
  'iam.roles.delete': 'owner',
  'iam.roles.undelete': 'owner',
  // Cloud Storage
  'storage.buckets.get': 'viewer',
  'storage.buckets.list': 'viewer',
  'storage.buckets.getIamPolicy': 'viewer',
  'storage.buckets.create': 'editor',
  'storage.buckets.update': 'editor',
  'storage.buckets.delete': 'editor',
  'storage.buckets.setIamPolicy': 'owner',
  'storage.objects.get': 'viewer',
  'storage.objects.list': 'viewer',
  'storage.objects.getIamPolicy': 'viewer',
  'storage.objects.create': 'editor',
  'storage.objects.update': 'editor',
  'storage.objects.delete': 'editor',
  'storage.objects.setIamPolicy': 'owner',
  'storage.hmacKeys.get': 'viewer',
  'storage.hmacKeys.list': 'viewer',
  'storage.hmacKeys.create': 'editor',
  'storage.hmacKeys.update': 'editor',
  'storage.hmacKeys.delete': 'editor',
  'storage.multipartUploads.create': 'editor',
  'storage.multipartUploads.abort': 'editor',
  'storage.multipartUploads.list': 'viewer',
  'storage.multipartUploads.listParts': 'viewer',
  'storage.managedFolders.get': 'viewer',
  'storage.managedFolders.list': 'viewer',
  'storage.managedFolders.getIamPolicy': 'viewer',
  'storage.managedFolders.create': 'editor',
  'storage.managedFolders.delete': 'editor',
  'storage.managedFolders.setIamPolicy': 'owner',
  // Compute Engine
  'compute.instances.get': 'viewer',
  'compute.instances.getGuestAttributes': 'viewer',
  'compute.instances.list': 'viewer',
  'compute.instances.getSerialPortOutput': 'viewer',
  'compute.instances.create': 'editor',
  'compute.instances.delete': 'editor',
  'compute.instances.start': 'editor',
  'compute.instances.stop': 'editor',
  'compute.instances.reset': 'editor',
  'compute.instances.suspend': 'editor',
  'compute.instances.resume': 'editor',
  'compute.instances.setMetadata': 'editor',
  'compute.instances.setLabels': 'editor',
  'compute.instances.update': 'editor',
  'compute.instances.useReadOnly': 'viewer',
  'compute.instances.setServiceAccount': 'editor',
  'compute.instances.setTags': 'editor',
  'compute.instances.setMachineType': 'editor',
  'compute.instances.addAccessConfig': 'editor',
  'compute.instances.deleteAccessConfig': 'editor',
  'compute.instances.osLogin': 'editor',
  'compute.zones.get': 'viewer',
  'compute.zones.list': 'viewer',
  'compute.regions.get': 'viewer',
  'compute.regions.list': 'viewer',
  'compute.zoneOperations.get': 'viewer',
  'compute.zoneOperations.list': 'viewer',
  'compute.zoneOperations.delete': 'editor',
  'compute.regionOperations.get': 'viewer',
  'compute.regionOperations.list': 'viewer',
  'compute.regionOperations.delete': 'editor',
  'compute.globalOperations.get': 'viewer',
  'compute.globalOperations.list': 'viewer',
  'compute.globalOperations.delete': 'editor',
  'compute.images.get': 'viewer',
  'compute.images.list': 'viewer',
  'compute.images.getFromFamily': 'viewer',
  'compute.images.useReadOnly': 'viewer',
  'compute.machineTypes.get': 'viewer',
  'compute.machineTypes.list': 'viewer',
  'compute.disks.get': 'viewer',
  'compute.disks.list': 'viewer',
  'compute.disks.create': 'editor',
  'compute.disks.delete': 'editor',
  'compute.networks.get': 'viewer',
  'compute.networks.list': 'viewer',
  'compute.networks.create': 'editor',
  'compute.networks.delete': 'editor',
  'compute.networks.update': 'editor',
  'compute.networks.updatePolicy': 'editor',
  'compute.networks.use': 'editor',
  'compute.subnetworks.get': 'viewer',
  'compute.subnetworks.list': 'viewer',
  'compute.subnetworks.create': 'editor',
  'compute.subnetworks.delete': 'editor',
  'compute.subnetworks.update': 'editor',
  'compute.subnetworks.expandIpCidrRange': 'editor',
  'compute.subnetworks.setPrivateIpGoogleAccess': 'editor',
  'compute.subnetworks.use': 'editor',
  'compute.firewalls.get': 'viewer',
  'compute.firewalls.list': 'viewer',
  'compute.firewalls.create': 'editor',
  'compute.firewalls.delete': 'editor',
  'compute.firewalls.update': 'editor',
  'compute.routes.get': 'viewer',
  'compute.routes.list': 'viewer',
  'compute.routes.create': 'editor',
  'compute.routes.delete': 'editor',
  'compute.addresses.get': 'viewer',
  'compute.addresses.list': 'viewer',
  'compute.addresses.create': 'editor',
  'compute.addresses.delete': 'editor',
  'compute.addresses.use': 'editor',
  'compute.projects.get': 'viewer',
  'compute.projects.setCommonInstanceMetadata': 'editor',
};

const LEVEL_RANK: Record<BasicLevel, number> = { viewer: 0, editor: 1, owner: 2 };

export interface RoleDefinition {
  name: string;
  title: string;
  description: string;
  includedPermissions: string[];
  stage: 'ALPHA' | 'BETA' | 'GA' | 'DEPRECATED' | 'DISABLED' | 'EAP';
  etag: string;
  deleted?: boolean;
}

export function allPermissions(): string[] {
  return Object.keys(PERMISSION_LEVELS).sort();
}

export function isKnownPermission(permission: string): boolean {
  return permission in PERMISSION_LEVELS;
}

function basicRolePermissions(level: BasicLevel): string[] {
  return allPermissions().filter((p) => LEVEL_RANK[PERMISSION_LEVELS[p] ?? 'owner'] <= LEVEL_RANK[level]);
}

/** Expands `service.resource.*` style patterns against the catalog. */
function expand(patterns: string[]): string[] {
  const out = new Set<string>();
  for (const pattern of patterns) {
    if (pattern.endsWith('*')) {
      const prefix = pattern.slice(0, -1);
      for (const permission of allPermissions()) {
        if (permission.startsWith(prefix)) {
          out.add(permission);
        }
      }
    } else {
      out.add(pattern);
    }
  }
  return [...out].sort();
}

function role(name: string, title: string, description: string, patterns: string[]): RoleDefinition {
  return { name, title, description, includedPermissions: expand(patterns), stage: 'GA', etag: 'AA==' };
}

const PREDEFINED: RoleDefinition[] = [
  {
    name: 'roles/owner',
    title: 'Owner',
    description: 'Full access to most Google Cloud resources. See the list of included permissions.',
    includedPermissions: basicRolePermissions('owner'),
    stage: 'GA',
    etag: 'AA==',
  },
  {
    name: 'roles/editor',
    title: 'Editor',
    description: 'View, create, update, and delete most Google Cloud resources.',
    includedPermissions: basicRolePermissions('editor'),
    stage: 'GA',
    etag: 'AA==',
  },
  {
    name: 'roles/viewer',
    title: 'Viewer',
    description: 'View most Google Cloud resources.',
    includedPermissions: basicRolePermissions('viewer'),
    stage: 'GA',
    etag: 'AA==',
  },
  role('roles/iam.serviceAccountAdmin', 'Service Account Admin', 'Create and manage service accounts.', [
    'iam.serviceAccounts.get',
    'iam.serviceAccounts.list',
    'iam.serviceAccounts.create',
    'iam.serviceAccounts.update',
    'iam.serviceAccounts.delete',
    'iam.serviceAccounts.undelete',
    'iam.serviceAccounts.disable',
    'iam.serviceAccounts.enable',
    'iam.serviceAccounts.getIamPolicy',
    'iam.serviceAccounts.setIamPolicy',
    'resourcemanager.projects.get',
  ]),
  role('roles/iam.serviceAccountUser', 'Service Account User', 'Run operations as the service account.', [
    'iam.serviceAccounts.actAs',
    'iam.serviceAccounts.get',
    'iam.serviceAccounts.list',
    'resourcemanager.projects.get',
  ]),
  role(
    'roles/iam.serviceAccountTokenCreator',
    'Service Account Token Creator',
    'Impersonate service accounts (create OAuth2 access tokens, sign blobs or JWTs, etc).',
    [
      'iam.serviceAccounts.get',
      'iam.serviceAccounts.getAccessToken',
      'iam.serviceAccounts.getOpenIdToken',
      'iam.serviceAccounts.implicitDelegation',
      'iam.serviceAccounts.signBlob',
      'iam.serviceAccounts.signJwt',
      'resourcemanager.projects.get',
    ],
  ),
  role(
    'roles/iam.serviceAccountKeyAdmin',
    'Service Account Key Admin',
    'Create and manage service account keys.',
    [
      'iam.serviceAccountKeys.*',
      'iam.serviceAccounts.get',
      'iam.serviceAccounts.list',
      'resourcemanager.projects.get',
    ],
  ),
  role('roles/iam.roleAdmin', 'Role Administrator', 'Provides access to all custom roles in the project.', [
    'iam.roles.*',
    'resourcemanager.projects.get',
    'resourcemanager.projects.getIamPolicy',
  ]),
  role('roles/iam.roleViewer', 'Role Viewer', 'Provides read access to all custom roles in the project.', [
    'iam.roles.get',
    'iam.roles.list',
    'resourcemanager.projects.get',
    'resourcemanager.projects.getIamPolicy',
  ]),
  role(
    'roles/iam.securityReviewer',
    'Security Reviewer',
    'Permission to list all resources and IAM policies.',
    [
      'iam.roles.get',
      'iam.roles.list',
      'iam.serviceAccounts.getIamPolicy',
      'iam.serviceAccounts.list',
      'iam.serviceAccountKeys.list',
      'resourcemanager.projects.get',
      'resourcemanager.projects.getIamPolicy',
      'storage.buckets.getIamPolicy',
    ],
  ),
  role(
    'roles/resourcemanager.projectIamAdmin',
    'Project IAM Admin',
    'Provides permissions to administer allow policies on projects.',
    [
      'resourcemanager.projects.get',
      'resourcemanager.projects.getIamPolicy',
      'resourcemanager.projects.setIamPolicy',
    ],
  ),
  role('roles/resourcemanager.projectCreator', 'Project Creator', 'Provides access to create new projects.', [
    'resourcemanager.projects.create',
  ]),
  role('roles/browser', 'Browser', 'Read access to browse the hierarchy for a project.', [
    'resourcemanager.projects.get',
    'resourcemanager.projects.list',
  ]),
  role('roles/storage.admin', 'Storage Admin', 'Grants full control of buckets and objects.', [
    'storage.*',
    'resourcemanager.projects.get',
    'resourcemanager.projects.list',
  ]),
  role('roles/storage.objectAdmin', 'Storage Object Admin', 'Grants full control over objects.', [
    'storage.objects.*',
    'storage.multipartUploads.*',
    'storage.managedFolders.*',
    'resourcemanager.projects.get',
  ]),
  role('roles/storage.objectCreator', 'Storage Object Creator', 'Allows users to create objects.', [
    'storage.objects.create',
    'storage.multipartUploads.create',
    'storage.multipartUploads.abort',
    'storage.multipartUploads.listParts',
  ]),
  role(
    'roles/storage.objectViewer',
    'Storage Object Viewer',
    'Grants access to view objects and their metadata.',
    [
      'storage.managedFolders.get',
      'storage.managedFolders.list',
      'storage.objects.get',
      'storage.objects.list',
      'resourcemanager.projects.get',
    ],
  ),
  role(
    'roles/storage.objectUser',
    'Storage Object User',
    'Access to create, read, update and delete objects.',
    [
      'storage.objects.create',
      'storage.objects.delete',
      'storage.objects.get',
      'storage.objects.list',
      'storage.objects.update',
      'storage.multipartUploads.*',
      'storage.managedFolders.create',
      'storage.managedFolders.delete',
      'storage.managedFolders.get',
      'storage.managedFolders.list',
    ],
  ),
  role('roles/storage.legacyBucketReader', 'Storage Legacy Bucket Reader', 'Read access to buckets.', [
    'storage.buckets.get',
    'storage.objects.list',
  ]),
  role(
    'roles/storage.legacyBucketWriter',
    'Storage Legacy Bucket Writer',
    'Read and write access to buckets.',
    [
      'storage.buckets.get',
      'storage.objects.list',
      'storage.objects.create',
      'storage.objects.delete',
      'storage.multipartUploads.*',
    ],
  ),
  role(
    'roles/storage.legacyBucketOwner',
    'Storage Legacy Bucket Owner',
    'Read and write access to buckets.',
    [
      'storage.buckets.get',
      'storage.buckets.update',
      'storage.buckets.getIamPolicy',
      'storage.buckets.setIamPolicy',
      'storage.objects.list',
      'storage.objects.create',
      'storage.objects.delete',
      'storage.multipartUploads.*',
    ],
  ),
  role('roles/storage.legacyObjectReader', 'Storage Legacy Object Reader', 'Read access to objects.', [
    'storage.objects.get',
  ]),
  role('roles/storage.legacyObjectOwner', 'Storage Legacy Object Owner', 'Full control of objects.', [
    'storage.objects.get',
    'storage.objects.update',
    'storage.objects.getIamPolicy',
    'storage.objects.setIamPolicy',
  ]),
  role('roles/compute.admin', 'Compute Admin', 'Full control of all Compute Engine resources.', [
    'compute.*',
    'resourcemanager.projects.get',
  ]),
  role(
    'roles/compute.instanceAdmin.v1',
    'Compute Instance Admin (v1)',
    'Full control of Compute Engine instances.',
    [
      'compute.instances.*',
      'compute.disks.*',
      'compute.images.*',
      'compute.machineTypes.*',
      'compute.zones.*',
      'compute.regions.*',
      'compute.zoneOperations.*',
      'compute.regionOperations.*',
      'compute.globalOperations.*',
      'compute.projects.get',
      'resourcemanager.projects.get',
    ],
  ),
  role(
    'roles/compute.viewer',
    'Compute Viewer',
    'Read-only access to get and list Compute Engine resources.',
    [
      'compute.instances.get',
      'compute.instances.getGuestAttributes',
      'compute.instances.list',
      'compute.disks.get',
      'compute.disks.list',
      'compute.images.get',
      'compute.images.list',
      'compute.machineTypes.get',
      'compute.machineTypes.list',
      'compute.networks.get',
      'compute.networks.list',
      'compute.subnetworks.get',
      'compute.subnetworks.list',
      'compute.firewalls.get',
      'compute.firewalls.list',
      'compute.routes.get',
      'compute.routes.list',
      'compute.zones.*',
      'compute.regions.*',
      'compute.projects.get',
      'resourcemanager.projects.get',
    ],
  ),
  role(
    'roles/compute.networkAdmin',
    'Compute Network Admin',
    'Create, modify, and delete networking resources.',
    [
      'compute.networks.*',
      'compute.subnetworks.*',
      'compute.routes.*',
      'compute.addresses.*',
      'compute.firewalls.get',
      'compute.firewalls.list',
      'resourcemanager.projects.get',
    ],
  ),
  role(
    'roles/compute.securityAdmin',
    'Compute Security Admin',
    'Create, modify, and delete firewall rules.',
    ['compute.firewalls.*', 'compute.networks.get', 'compute.networks.list', 'resourcemanager.projects.get'],
  ),
];

const PREDEFINED_BY_NAME = new Map(PREDEFINED.map((r) => [r.name, r]));

export function predefinedRoles(): RoleDefinition[] {
  return PREDEFINED;
}

export function predefinedRole(name: string): RoleDefinition | undefined {
  return PREDEFINED_BY_NAME.get(name);
}
