/**
 * Google-shaped API errors. Every failure a client can see is one of these; the error handler in
 * app.ts writes them as `{error: {code, message, status, errors: [{domain, reason, message}]}}`.
 */
export type CanonicalStatus =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'OUT_OF_RANGE'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ABORTED'
  | 'ALREADY_EXISTS'
  | 'RESOURCE_EXHAUSTED'
  | 'CANCELLED'
  | 'DATA_LOSS'
  | 'UNKNOWN'
  | 'INTERNAL'
  | 'NOT_IMPLEMENTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED';

const GRPC_CODES: Record<CanonicalStatus, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  NOT_IMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export function grpcCode(status: CanonicalStatus): number {
  return GRPC_CODES[status];
}

export interface ApiErrorOptions {
  reason?: string;
  domain?: string;
  /** Extra headers the error response must carry (for example WWW-Authenticate). */
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly httpStatus: number;
  readonly status: CanonicalStatus;
  readonly reason: string;
  readonly domain: string;
  readonly headers: Record<string, string>;

  constructor(httpStatus: number, status: CanonicalStatus, message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = new.target.name;
    this.httpStatus = httpStatus;
    this.status = status;
    this.reason = options.reason ?? defaultReason(status);
    this.domain = options.domain ?? 'global';
    this.headers = options.headers ?? {};
  }

  toJSON(): GoogleErrorBody {
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        errors: [{ message: this.message, domain: this.domain, reason: this.reason }],
        status: this.status,
      },
    };
  }
}

export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    errors: { message: string; domain: string; reason: string }[];
    status: CanonicalStatus;
  };
}

function defaultReason(status: CanonicalStatus): string {
  switch (status) {
    case 'INVALID_ARGUMENT':
      return 'badRequest';
    case 'FAILED_PRECONDITION':
      return 'failedPrecondition';
    case 'UNAUTHENTICATED':
      return 'required';
    case 'PERMISSION_DENIED':
      return 'forbidden';
    case 'NOT_FOUND':
      return 'notFound';
    case 'ALREADY_EXISTS':
      return 'alreadyExists';
    case 'ABORTED':
      return 'conflict';
    case 'RESOURCE_EXHAUSTED':
      return 'rateLimitExceeded';
    case 'OUT_OF_RANGE':
      return 'outOfRange';
    case 'NOT_IMPLEMENTED':
      return 'notImplemented';
    case 'UNAVAILABLE':
      return 'backendError';
    default:
      return 'internalError';
  }
}

export class InvalidArgument extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(400, 'INVALID_ARGUMENT', message, options);
  }
}

export class FailedPrecondition extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(400, 'FAILED_PRECONDITION', message, options);
  }
}

/** HTTP 412 for conditional requests (ifGenerationMatch and friends). */
export class ConditionNotMet extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(412, 'FAILED_PRECONDITION', message, { reason: 'conditionNotMet', ...options });
  }
}

export class Unauthenticated extends ApiError {
  constructor(message = 'Request had invalid authentication credentials.', options?: ApiErrorOptions) {
    super(401, 'UNAUTHENTICATED', message, {
      reason: 'authError',
      headers: { 'www-authenticate': 'Bearer realm="nimbus"' },
      ...options,
    });
  }
}

export class PermissionDenied extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(403, 'PERMISSION_DENIED', message, options);
  }
}

export class NotFound extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(404, 'NOT_FOUND', message, options);
  }
}

export class AlreadyExists extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(409, 'ALREADY_EXISTS', message, options);
  }
}

export class Aborted extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(409, 'ABORTED', message, options);
  }
}

export class ResourceExhausted extends ApiError {
  constructor(message: string, options?: ApiErrorOptions) {
    super(429, 'RESOURCE_EXHAUSTED', message, options);
  }
}

export class PayloadTooLarge extends ApiError {
  constructor(message: string) {
    super(413, 'INVALID_ARGUMENT', message, { reason: 'uploadTooLarge' });
  }
}

export class NotImplemented extends ApiError {
  constructor(message: string) {
    super(501, 'NOT_IMPLEMENTED', message);
  }
}

export class Unavailable extends ApiError {
  constructor(message: string) {
    super(503, 'UNAVAILABLE', message);
  }
}

/** Nimbus's own startup and configuration errors: one readable line and a stable code. */
export class NimbusError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'NimbusError';
    this.code = code;
  }
}
