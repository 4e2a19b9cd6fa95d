import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactUrl } from '../../src/app.ts';

describe('request log redaction', () => {
  it('hides tokens and signed-URL signatures in the query, and keeps everything else', () => {
    assert.equal(redactUrl('/b/x/o?alt=media'), '/b/x/o?alt=media');
    assert.equal(redactUrl('/ssh?access_token=eyJ.secret&cols=80'), '/ssh?access_token=REDACTED&cols=80');
    assert.equal(
      redactUrl('/_s3/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=abc123'),
      '/_s3/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=REDACTED',
    );
    assert.equal(
      redactUrl('/b/o?X-Amz-Signature=ff&Signature=gg'),
      '/b/o?X-Amz-Signature=REDACTED&Signature=REDACTED',
    );
    assert.equal(redactUrl('/x?%61ccess_token=t'), '/x?%61ccess_token=REDACTED');
    assert.equal(redactUrl('/x?access_token'), '/x?access_token');
    assert.equal(redactUrl('/x?%zz=1'), '/x?%zz=1');
  });
});
