import type { ApiError } from '../../../core/errors.ts';
import { BucketNameConflict, BucketNotFound, InvalidBucketArgument } from '../errors.ts';

/**
 * Errors of the XML (S3-compatible) face: S3's codes and statuses, rendered as S3's XML error body
 * (`<Error><Code>..</Code><Message>..</Message>...</Error>`). Every module of the XML face throws these;
 * the face's error handler renders them and maps the JSON face's ApiErrors onto them.
 */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra elements for the error body (e.g. BucketName, Key, StringToSign, AccessKeyId). */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** S3's codes for the JSON face's ApiErrors, by HTTP status (and the resource the request addressed). */
export function s3ErrorOf(
  error: ApiError,
  target: { bucket?: string | undefined; key?: string | undefined },
): S3Error {
  const details: Record<string, string> = {};
  if (target.bucket !== undefined && target.bucket !== '') {
    details.BucketName = target.bucket;
  }
  switch (error.httpStatus) {
    case 400:
      if (error instanceof InvalidBucketArgument && /bucket name/i.test(error.message)) {
        return new S3Error(400, 'InvalidBucketName', error.message, details);
      }
      if (/page token/i.test(error.message)) {
        return new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect.', details);
      }
      return new S3Error(400, 'InvalidArgument', error.message, details);
    case 401:
      return new S3Error(401, 'AuthenticationRequired', error.message, details);
    case 403:
      return new S3Error(403, 'AccessDenied', error.message, details);
    case 404:
      if (error instanceof BucketNotFound || target.key === undefined || target.key === '') {
        return new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist.', details);
      }
      return new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', {
        ...details,
        Key: target.key,
      });
    case 409:
      if (error instanceof BucketNameConflict) {
        return /already own it/.test(error.message)
          ? new S3Error(409, 'BucketAlreadyOwnedByYou', error.message, details)
          : new S3Error(409, 'BucketAlreadyExists', error.message, details);
      }
      if (/not empty/i.test(error.message)) {
        return new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty.', details);
      }
      return new S3Error(409, 'OperationAborted', error.message, details);
    case 412:
      return new S3Error(
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold.',
        details,
      );
    case 413:
      return new S3Error(400, 'EntityTooLarge', error.message, details);
    case 416:
      return new S3Error(416, 'InvalidRange', 'The requested range cannot be satisfied.', details);
    case 429:
      return new S3Error(503, 'SlowDown', error.message, details);
    case 501:
      return new S3Error(501, 'NotImplemented', error.message, details);
    case 503:
      return new S3Error(503, 'ServiceUnavailable', error.message, details);
    default:
      if (error.httpStatus >= 400 && error.httpStatus < 500) {
        return new S3Error(error.httpStatus, 'InvalidRequest', error.message, details);
      }
      return new S3Error(
        500,
        'InternalError',
        'We encountered an internal error. Please try again.',
        details,
      );
  }
}

/** A minimal S3 XML error body for errors raised before the XML face's own handlers run. */
export function s3ErrorBody(code: string, message: string, requestId: string): string {
  const escape = (text: string): string =>
    text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escape(code)}</Code><Message>${escape(message)}</Message><RequestId>${escape(requestId)}</RequestId></Error>`;
}
