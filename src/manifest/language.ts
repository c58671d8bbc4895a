/**
 * The language tag manifests carry: HLS LANGUAGE and DASH @lang are BCP 47 (RFC 5646), which
 * uses the shortest ISO 639 code, so a container's ISO 639-2 "eng"/"fre"/"ger" becomes
 * "en"/"fr"/"de" (CLDR's canonical aliases). Unknown or malformed tags become "und".
 */
export function manifestLanguage(tag: string | undefined): string {
  const wellFormed = sourceLanguage(tag);
  return wellFormed === undefined ? 'und' : Intl.getCanonicalLocales(wellFormed)[0] ?? 'und';
}

/**
 * ISO 639-1 → ISO 639-2/T: each entry is a two-letter code followed by its three-letter
 * terminology code (Debian's iso-codes, iso_639-2.json). MP4's media header (mdhd) holds only
 * three-letter codes, and ffmpeg writes a two-letter one as "unspecified".
 */
const ISO_639_2T =
  'aaaar ababk aeave afafr akaka amamh anarg arara asasm avava ayaym azaze babak bebel bgbul bhbih ' +
  'bibis bmbam bnben bobod brbre bsbos cacat ceche chcha cocos crcre csces cuchu cvchv cycym dadan ' +
  'dedeu dvdiv dzdzo eeewe elell eneng eoepo esspa etest eueus fafas ffful fifin fjfij fofao frfra ' +
  'fyfry gagle gdgla glglg gngrn guguj gvglv hahau heheb hihin hohmo hrhrv hthat huhun hyhye hzher ' +
  'iaina idind ieile igibo iiiii ikipk ioido isisl itita iuiku jajpn jvjav kakat kgkon kikik kjkua ' +
  'kkkaz klkal kmkhm knkan kokor krkau kskas kukur kvkom kwcor kykir lalat lbltz lglug lilim lnlin ' +
  'lolao ltlit lulub lvlav mgmlg mhmah mimri mkmkd mlmal mnmon mrmar msmsa mtmlt mymya nanau nbnob ' +
  'ndnde nenep ngndo nlnld nnnno nonor nrnbl nvnav nynya ococi ojoji omorm orori ososs papan pipli ' +
  'plpol pspus ptpor quque rmroh rnrun roron rurus rwkin sasan scsrd sdsnd sesme sgsag sisin skslk ' +
  'slslv smsmo snsna sosom sqsqi srsrp ssssw stsot susun svswe swswa tatam tetel tgtgk ththa titir ' +
  'tktuk tltgl tntsn toton trtur tstso tttat twtwi tytah uguig ukukr ururd uzuzb veven vivie vovol ' +
  'wawln wowol xhxho yiyid yoyor zazha zhzho zuzul';

const TERMINOLOGY_CODES = new Map(ISO_639_2T.split(' ').map((pair) => [pair.slice(0, 2), pair.slice(2)]));

/**
 * The language a track's MP4 media header carries (ISO 639-2/T, what ffprobe reports): the
 * three-letter code of a manifest language ("fr" → "fra", "pt-BR" → "por", "gsw" stays), "und"
 * when there is none.
 */
export function containerLanguage(tag: string | undefined): string {
  const primary = manifestLanguage(tag).split('-')[0].toLowerCase();
  if (primary.length === 3) return primary;
  return TERMINOLOGY_CODES.get(primary) ?? 'und';
}

/**
 * A source's language tag as it stands, when it is one: a well-formed BCP 47 tag whose language
 * is an ISO 639 code of two or three letters (what containers write: "eng", "en", "pt-BR").
 * Anything else ("e\"n", "english", "English (US)", "und") says nothing vidpipe can use, and
 * would reach file names (subtitle ids) and quoted manifest attributes: undefined.
 */
export function sourceLanguage(tag: string | undefined): string | undefined {
  if (!tag || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag) || /^und(-|$)/i.test(tag)) return undefined;
  try {
    return Intl.getCanonicalLocales(tag).length === 1 ? tag : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A language's name in that language, as a menu of languages shows it ("English", "Français",
 * "Deutsch"): a viewer looks for their own; the tag itself when unknown.
 */
export function languageName(language: string): string {
  try {
    const name = new Intl.DisplayNames([language], { type: 'language' }).of(language);
    if (!name || name === language) return new Intl.DisplayNames(['en'], { type: 'language' }).of(language) ?? language;
    return name.charAt(0).toLocaleUpperCase(language) + name.slice(1);
  } catch {
    return language;
  }
}

/** Rendition names are menu entries: a title longer than this is cut (at a character, with "…"). */
export const MAX_TITLE_CHARS = 120;

/**
 * A source's stream title as a rendition name: one line of text, whatever the container held.
 * Line breaks, tabs and other control characters become spaces (runs of them one space), and a
 * title past MAX_TITLE_CHARS characters is cut. Characters a format cannot carry (a double
 * quote in an HLS quoted-string) are the writers' business; undefined when nothing is left.
 */
export function titleName(title: string | undefined): string | undefined {
  if (title === undefined) return undefined;
  // Lone surrogates cannot be encoded in UTF-8; noncharacters are not text either.
  const oneLine = title
    .replace(/[\p{Cc}\p{Zl}\p{Zp}\u{FFFE}\u{FFFF}]|\p{Cs}/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...oneLine];
  if (chars.length === 0) return undefined;
  return chars.length > MAX_TITLE_CHARS ? `${chars.slice(0, MAX_TITLE_CHARS - 1).join('').trimEnd()}…` : oneLine;
}
