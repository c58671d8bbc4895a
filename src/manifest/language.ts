/**
 * The language tag manifests carry: HLS LANGUAGE and DASH @lang are BCP 47 (RFC 5646), which
 * uses the shortest ISO 639 code, so a container's ISO 639-2 "eng"/"fre"/"ger" becomes
 * "en"/"fr"/"de" (CLDR's canonical aliases). Unknown or malformed tags become "und".
 */
export function manifestLanguage(tag: string | undefined): string {
  if (!tag) return 'und';
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? 'und';
  } catch {
    return 'und';
  }
}

/** English name of a language for NAME attributes ("English" for "eng"); the tag itself when unknown. */
export function languageName(language: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(language) ?? language;
  } catch {
    return language;
  }
}
