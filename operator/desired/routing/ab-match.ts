/**
 * An A/B test's cookie as a regular expression over the Cookie header: neither Istio nor the
 * Gateway API matches cookies by name, both match headers by regex. The name and value are
 * escaped, and the pair must stand whole between separators.
 */
export function cookieMatchRegex(cookie: { name: string; value: string }): string {
  const escaped = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^(.*?;\\s*)?${escaped(cookie.name)}=${escaped(cookie.value)}(;.*)?$`;
}
