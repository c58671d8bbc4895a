/**
 * A metadata target as it may be shown: a URL's password (and any `password=` parameter) never
 * appears in a message, a log line, `vidpipe doctor` or a record. Paths are shown as they are.
 */

/** The target with its password replaced by `***`; a path unchanged. */
export function redactedTarget(target: string): string {
  if (!/^[a-z][a-z0-9+.-]+:\/\//i.test(target)) return target;
  try {
    const parsed = new URL(target);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) if (/pass/i.test(key)) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return `${target.split(':')[0]}://…`;
  }
}

/** `message` with the target's password, in every spelling, and the whole target replaced by their redacted forms. */
export function redactMessage(message: string, target: string): string {
  let out = message.split(target).join(redactedTarget(target));
  for (const secret of passwordsOf(target)) out = out.split(secret).join('***');
  return out;
}

function passwordsOf(target: string): string[] {
  try {
    const parsed = new URL(target);
    const found = [parsed.password, ...[...parsed.searchParams.entries()].filter(([key]) => /pass/i.test(key)).map(([, value]) => value)];
    return found.filter((p) => p.length > 0).flatMap((p) => [p, safeDecode(p)]);
  } catch {
    return [];
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
