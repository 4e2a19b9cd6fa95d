/**
 * The console's only way out: Nimbus's public Google-shaped APIs, same origin, as the local owner
 * (the token from GET /_nimbus/env when anonymous callers are the owner).
 */

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(message);
  }
}

let envPromise: Promise<Record<string, string | undefined>> | undefined;

/** `nimbus env` as JSON (same origin); {} when it is refused (no owner token for this caller). */
async function nimbusEnv(): Promise<Record<string, string | undefined>> {
  envPromise ??= fetch('/_nimbus/env', { credentials: 'same-origin' })
    .then(async (response) =>
      response.ok ? ((await response.json()) as Record<string, string | undefined>) : {},
    )
    .catch(() => ({}));
  return await envPromise;
}

/** One variable of `nimbus env` (undefined when absent or refused). */
export async function nimbusEnvVar(name: string): Promise<string | undefined> {
  return (await nimbusEnv())[name];
}

/** The owner's access token, or '' (calls then go out anonymous). */
export async function accessToken(): Promise<string> {
  return (await nimbusEnv()).CLOUDSDK_AUTH_ACCESS_TOKEN ?? '';
}

/** The server's default project (`--project`), or ''. */
export async function defaultProject(): Promise<string> {
  return (await nimbusEnv()).CLOUDSDK_CORE_PROJECT ?? '';
}

async function headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const token = await accessToken();
  return token === '' ? extra : { ...extra, authorization: `Bearer ${token}` };
}

interface GoogleErrorBody {
  error?: { message?: string; status?: string; errors?: { reason?: string }[] };
}

/** Google's error body (message, reason) as an ApiError; the status line when it is not JSON. */
function errorOf(status: number, statusText: string, text: string): ApiError {
  let message = `${status} ${statusText}`;
  let reason = '';
  try {
    const body = JSON.parse(text) as GoogleErrorBody;
    message = body.error?.message ?? message;
    reason = body.error?.errors?.[0]?.reason ?? body.error?.status ?? '';
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(message, status, reason);
}

async function failure(response: Response): Promise<ApiError> {
  return errorOf(response.status, response.statusText, await response.text());
}

/** One JSON call; throws ApiError with Google's message on non-2xx. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: await headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw await failure(response);
  }
  const text = await response.text();
  return (text === '' ? {} : JSON.parse(text)) as T;
}

/** A GET returning raw bytes (object downloads). */
export async function download(path: string): Promise<Blob> {
  const response = await fetch(path, { credentials: 'same-origin', headers: await headers() });
  if (!response.ok) {
    throw await failure(response);
  }
  return await response.blob();
}

/** What `send` answers: the status, the body as text and the response headers. */
export interface Sent {
  status: number;
  text: string;
  header: (name: string) => string | null;
}

/**
 * Any request with upload progress (fetch has none; XMLHttpRequest does), as the owner. Resolves for
 * 2xx and 308 (a resumable upload's "Resume Incomplete"); rejects with Google's error otherwise.
 * `onProgress` gets the bytes sent so far and the total.
 */
export async function send(
  method: string,
  path: string,
  body: Blob | string | undefined,
  extraHeaders: Record<string, string> = {},
  onProgress?: (loaded: number, total: number) => void,
): Promise<Sent> {
  const all = await headers(extraHeaders);
  return await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    for (const [name, value] of Object.entries(all)) {
      xhr.setRequestHeader(name, value);
    }
    const size = body instanceof Blob ? body.size : (body?.length ?? 0);
    xhr.upload.onprogress = (event) => {
      onProgress?.(event.loaded, event.lengthComputable ? event.total : size);
    };
    xhr.onload = () => {
      if (xhr.status === 308 || (xhr.status >= 200 && xhr.status < 300)) {
        onProgress?.(size, size);
        resolve({
          status: xhr.status,
          text: xhr.responseText,
          header: (name) => xhr.getResponseHeader(name),
        });
      } else {
        reject(errorOf(xhr.status, xhr.statusText, xhr.responseText));
      }
    };
    xhr.onerror = () => {
      reject(new ApiError('Network error', 0, ''));
    };
    xhr.send(body ?? null);
  });
}

/** Uploads bytes in one POST with progress (0..1); answers the JSON the server returns. */
export async function upload(
  path: string,
  file: Blob,
  onProgress: (fraction: number) => void,
): Promise<unknown> {
  const contentType = file.type === '' ? 'application/octet-stream' : file.type;
  const sent = await send('POST', path, file, { 'content-type': contentType }, (loaded, total) => {
    if (total > 0) {
      onProgress(loaded / total);
    }
  });
  onProgress(1);
  return JSON.parse(sent.text === '' ? '{}' : sent.text) as unknown;
}

/** Hands `blob` to the browser as a file download. */
export function saveFile(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 10_000);
}

export const enc = encodeURIComponent;

// --- shapes of the resources the console reads -------------------------------------------------

export interface Project {
  projectId: string;
  projectNumber?: string;
  name?: string;
  lifecycleState?: string;
}

export interface ServiceInfo {
  name: string;
  title: string;
  state: 'ready' | 'unavailable';
  reason?: string;
  fix?: string;
}

export interface ServiceAccount {
  name: string;
  email: string;
  uniqueId?: string;
  displayName?: string;
  description?: string;
  disabled?: boolean;
}

export interface ServiceAccountKey {
  name: string;
  validAfterTime?: string;
  validBeforeTime?: string;
  keyType?: string;
  disabled?: boolean;
  privateKeyData?: string;
}

export interface Bucket {
  name: string;
  location?: string;
  storageClass?: string;
  timeCreated?: string;
}

export interface StorageObject {
  name: string;
  size?: string;
  contentType?: string;
  updated?: string;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
