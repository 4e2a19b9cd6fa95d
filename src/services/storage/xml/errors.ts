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
