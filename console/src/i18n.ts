import { createContext, useContext } from 'react';
import * as compute from './messages/compute.ts';
import * as home from './messages/home.ts';
import * as iam from './messages/iam.ts';
import * as shell from './messages/shell.ts';
import * as storage from './messages/storage.ts';
import * as vpc from './messages/vpc.ts';

/**
 * Every UI string, in English, one module per area under `messages/` (each with its `ko`, which the
 * type checks for every key): pages add their strings to their own module.
 */
const en = { ...shell.en, ...home.en, ...compute.en, ...vpc.en, ...storage.en, ...iam.en };

export type MessageKey = keyof typeof en;
export type Catalog = Record<MessageKey, string>;

const ko: Catalog = { ...shell.ko, ...home.ko, ...compute.ko, ...vpc.ko, ...storage.ko, ...iam.ko };

export type Language = 'en' | 'ko';
export const CATALOGS: Record<Language, Catalog> = { en, ko };
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', ko: '한국어' };

/** The stored choice, else the browser's first language we have, else English. */
export function initialLanguage(): Language {
  const stored = localStorage.getItem('nimbus.language');
  if (stored === 'en' || stored === 'ko') {
    return stored;
  }
  for (const tag of navigator.languages) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'ko' || base === 'en') {
      return base;
    }
  }
  return 'en';
}

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(language: Language): Translate {
  const catalog = CATALOGS[language];
  return (key, params = {}) =>
    catalog[key].replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = params[name];
      return value === undefined ? whole : String(value);
    });
}

export interface I18n {
  language: Language;
  setLanguage: (language: Language) => void;
  t: Translate;
}

export const I18nContext = createContext<I18n>({
  language: 'en',
  setLanguage: () => undefined,
  t: translator('en'),
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}
