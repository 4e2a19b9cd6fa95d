import type { ServicePlugin } from '../../core/platform.ts';
import { installFaultHooks } from './faults.ts';
import { RetryTests } from './retry-tests.ts';
import { registerRetryTestRoutes } from './routes.ts';

export { classifyStorageRequest, RETRY_METHODS, type RetryMethod } from './classify.ts';
export { RETRY_TEST_HEADER } from './faults.ts';

/**
 * The Cloud Storage testbench's Retry Test API and fault injection (`--testbench`,
 * `NIMBUS_TESTBENCH=1`). Off by default: app.ts lists the plugin only when the flag is on, and
 * it registers nothing without it.
 */
export const testbenchPlugin: ServicePlugin = {
  name: 'testbench',
  title: 'Cloud Storage testbench (Retry Test API)',
  register(app, platform) {
    if (!platform.config.testbench) {
      return;
    }
    const tests = new RetryTests();
    installFaultHooks(app, tests);
    registerRetryTestRoutes(app, tests);
  },
};
