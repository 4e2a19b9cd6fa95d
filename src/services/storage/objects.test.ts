import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tempDir } from '../../../test/helpers.ts';
import { BlobStore } from '../../platform/blobs.ts';
import { MemoryDocumentStore } from '../../platform/memory-store.ts';
import { ObjectStore, type ObjectRecord } from './object-store.ts';
import { globToRegExp, sweepOrphanBlobs, validateObjectName } from './objects.ts';

describe('storage domain helpers', () => {
  it('sweeps blob files that no object refers to, and keeps referenced ones', async () => {
    const dir = tempDir();
    try {
      const blobs = new BlobStore(join(dir, 'blobs'));
      const store = new ObjectStore(new MemoryDocumentStore());
      const big = Buffer.alloc(200 * 1024, 7);
      const kept = await blobs.ingest(Readable.from([big]), { inlineLimit: 1024 });
      const orphan = await blobs.ingest(Readable.from([big]), { inlineLimit: 1024 });
      assert.ok(kept.fileId !== undefined && orphan.fileId !== undefined);
      const record: ObjectRecord = {
        bucket: 'b',
        name: 'kept',
        generation: '1',
        metageneration: 1,
        storageClass: 'STANDARD',
        size: big.length,
        md5Hash: kept.md5Hash,
        crc32c: kept.crc32c,
        timeCreated: '',
        updated: '',
        timeStorageClassUpdated: '',
        data: { kind: 'file', fileId: kept.fileId },
      };
      store.putLive(record);
      assert.equal(await sweepOrphanBlobs(blobs, store, 0), 0, 'files newer than the cut-off stay');
      assert.equal(await sweepOrphanBlobs(blobs, store, Date.now() + 1000), 1);
      assert.ok(existsSync(blobs.path(kept.fileId)));
      assert.ok(!existsSync(blobs.path(orphan.fileId)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('matches globs as Cloud Storage matchGlob does', () => {
    assert.ok(globToRegExp('**/*.txt').test('a/b/c.txt'));
    assert.ok(!globToRegExp('*.txt').test('a/c.txt'));
    assert.ok(globToRegExp('a/{x,y}?.[ab]').test('a/x1.b'));
  });

  it('refuses names Google refuses', () => {
    for (const bad of ['', '.', '..', 'a\nb', 'a\u0000b', 'x'.repeat(1025), '\ud800']) {
      assert.throws(
        () => {
          validateObjectName(bad);
        },
        { httpStatus: 400 },
      );
    }
    validateObjectName('folder/../ok name #?.txt');
  });
});
