import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATALOGS, translator, type MessageKey } from '../../console/src/i18n.ts';

/** The web console's message catalogs (console/src/i18n.ts): Korean mirrors English exactly. */
describe('console message catalogs', () => {
  const placeholders = (text: string): string[] =>
    [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();

  it('gives every key the same placeholders in Korean as in English, and no empty text', () => {
    const keys = Object.keys(CATALOGS.en) as MessageKey[];
    assert.deepEqual(Object.keys(CATALOGS.ko).sort(), [...keys].sort());
    for (const key of keys) {
      assert.notEqual(CATALOGS.ko[key].trim(), '', key);
      assert.deepEqual(placeholders(CATALOGS.ko[key]), placeholders(CATALOGS.en[key]), key);
    }
  });

  it('translates the navigation', () => {
    const ko = translator('ko');
    assert.equal(ko('nav.home'), '홈');
    assert.equal(ko('nav.iam'), 'IAM 및 관리자');
    assert.equal(translator('en')('home.buckets', { n: 3 }), '3 buckets');
    assert.equal(ko('home.buckets', { n: 3 }), '버킷 3개');
  });
});
