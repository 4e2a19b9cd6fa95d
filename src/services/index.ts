/**
 * Every service, in one list. Adding a service = a folder under services/ and one line here.
 * Services that need objects built by app.ts (identity, projects) are created there and passed in.
 */
export { adminPlugin } from './admin/index.ts';
export { computePlugin } from './compute/index.ts';
export { iamPlugin, createIdentity, ownerPrincipalFor, ROOT_RESOURCE } from './iam/index.ts';
export { longRunningPlugin } from './longrunning/index.ts';
export { metadataPlugin } from './metadata/index.ts';
export { resourceManagerPlugin, ProjectsService, ProjectStore } from './resourcemanager/index.ts';
export { storagePlugin } from './storage/index.ts';
export { testbenchPlugin } from './testbench/index.ts';
