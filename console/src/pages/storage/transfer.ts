import { ApiError, enc, send, upload } from '../../api.ts';

/** Files above this size go up as resumable uploads, in chunks of this size (a multiple of 256 KiB). */
export const CHUNK_SIZE = 8 * 1024 * 1024;

/** One file to upload and the object name it gets. */
export interface PendingFile {
  file: File;
  name: string;
}

function contentTypeOf(file: Blob): string {
  return file.type === '' ? 'application/octet-stream' : file.type;
}

/**
 * A resumable upload as Google's clients do it: POST `uploadType=resumable` opens a session, then
 * PUTs of CHUNK_SIZE bytes with `Content-Range: bytes FIRST-LAST/TOTAL` (308 until the last one).
 */
async function resumableUpload(
  bucket: string,
  pending: PendingFile,
  onProgress: (fraction: number) => void,
): Promise<void> {
  const { file, name } = pending;
  const base = `/upload/storage/v1/b/${enc(bucket)}/o?uploadType=resumable`;
  const opened = await send(
    'POST',
    `${base}&name=${enc(name)}`,
    JSON.stringify({ name, contentType: contentTypeOf(file) }),
    {
      'content-type': 'application/json; charset=UTF-8',
      'x-upload-content-type': contentTypeOf(file),
      'x-upload-content-length': String(file.size),
    },
  );
  const id = opened.header('x-guploader-uploadid');
  if (id === null) {
    throw new ApiError('The server did not open an upload session.', opened.status, '');
  }
  const session = `${base}&upload_id=${enc(id)}`;
  let first = 0;
  for (;;) {
    const last = Math.min(first + CHUNK_SIZE, file.size) - 1;
    const start = first;
    const { status } = await send(
      'PUT',
      session,
      file.slice(first, last + 1),
      { 'content-range': `bytes ${first}-${last}/${file.size}` },
      (loaded) => {
        onProgress(Math.min(1, (start + loaded) / file.size));
      },
    );
    first = last + 1;
    if (status !== 308) {
      break;
    }
    if (first >= file.size) {
      throw new ApiError('The server wants more bytes than the file has.', status, '');
    }
  }
  onProgress(1);
}

/** Uploads one file: in one request up to CHUNK_SIZE, resumable in chunks above. */
export async function uploadFile(
  bucket: string,
  pending: PendingFile,
  onProgress: (fraction: number) => void,
): Promise<void> {
  if (pending.file.size > CHUNK_SIZE) {
    await resumableUpload(bucket, pending, onProgress);
    return;
  }
  await upload(
    `/upload/storage/v1/b/${enc(bucket)}/o?uploadType=media&name=${enc(pending.name)}`,
    pending.file,
    onProgress,
  );
}

async function readEntries(directory: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = directory.createReader();
  const all: FileSystemEntry[] = [];
  // readEntries answers in batches (100 in Chromium) until it answers an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => {
      reader.readEntries(resolve, reject);
    });
    if (batch.length === 0) {
      return all;
    }
    all.push(...batch);
  }
}

async function walk(entry: FileSystemEntry, path: string, out: PendingFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => {
      (entry as FileSystemFileEntry).file(resolve, reject);
    });
    out.push({ file, name: `${path}${entry.name}` });
  } else if (entry.isDirectory) {
    for (const child of await readEntries(entry as FileSystemDirectoryEntry)) {
      await walk(child, `${path}${entry.name}/`, out);
    }
  }
}

/**
 * What was dropped, as object names under `prefix`: files as they are, folders walked with their
 * relative paths. Reads the DataTransfer synchronously (it is emptied once the drop handler returns).
 */
export function droppedFiles(data: DataTransfer, prefix: string): Promise<PendingFile[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of [...data.items]) {
    if (item.kind !== 'file') {
      continue;
    }
    const entry = item.webkitGetAsEntry();
    if (entry !== null) {
      entries.push(entry);
    } else {
      const file = item.getAsFile();
      if (file !== null) {
        loose.push(file);
      }
    }
  }
  if (entries.length === 0 && loose.length === 0) {
    loose.push(...data.files);
  }
  return (async () => {
    const out: PendingFile[] = loose.map((file) => ({ file, name: `${prefix}${file.name}` }));
    for (const entry of entries) {
      await walk(entry, prefix, out);
    }
    return out;
  })();
}

/** Files picked with an <input type=file> (folders keep `webkitRelativePath`). */
export function pickedFiles(files: FileList | null, prefix: string): PendingFile[] {
  return [...(files ?? [])].map((file) => ({
    file,
    name: `${prefix}${file.webkitRelativePath === '' ? file.name : file.webkitRelativePath}`,
  }));
}
