import { AlreadyExists, InvalidArgument, NotFound } from '../../core/errors.ts';

/** Cloud Storage's own error wording (JSON API v1, domain `global`). */
export class BucketNotFound extends NotFound {
  constructor() {
    super('The specified bucket does not exist.', { reason: 'notFound' });
  }
}

export class BucketNameConflict extends AlreadyExists {
  constructor(callerOwnsIt: boolean) {
    super(
      callerOwnsIt
        ? 'Your previous request to create the named bucket succeeded and you already own it.'
        : 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
      { reason: 'conflict' },
    );
  }
}

export class InvalidBucketArgument extends InvalidArgument {
  constructor(message: string) {
    super(message, { reason: 'invalid' });
  }
}

export class RequiredParameter extends InvalidArgument {
  constructor(name: string) {
    super(`Required parameter: ${name}`, { reason: 'required' });
  }
}
