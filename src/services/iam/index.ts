import type { ServicePlugin } from '../../core/platform.ts';
import type { Identity } from './identity.ts';
import { registerOAuthRoutes } from './oauth-routes.ts';
import { registerIamRoutes } from './routes.ts';

export { createIdentity, ownerPrincipalFor, type Identity } from './identity.ts';
export { ROOT_RESOURCE } from './policies.ts';
export { IamStore, type ServiceAccountKeyRecord } from './store.ts';

/** Identity and Access Management: iam, iamcredentials, oauth2 token, sts. */
export function iamPlugin(identity: Identity): ServicePlugin {
  return {
    name: 'iam',
    title: 'Identity and Access Management',
    gcloudOverrides: { IAM: '/', IAMCREDENTIALS: '/', STS: '/' },
    register(app, platform) {
      registerIamRoutes(app, platform, identity);
      registerOAuthRoutes(app, platform, identity);
    },
  };
}
