// Descriptions and comments are Markdown written by any member: rendered, then sanitized, so
// no user text ever reaches the page as live HTML (no scripts, no event handlers, no
// javascript: links).
import DOMPurify from "dompurify";
import { marked } from "marked";

/** `names`: who may be mentioned (display names, e-mails); shown highlighted when they are. */
export function renderMarkdown(text: string, names: readonly string[] = []): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  const safe = DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, RETURN_DOM_FRAGMENT: true });
  const handles = names.filter(Boolean);
  if (handles.length) highlightMentions(safe, handles);
  const box = document.createElement("div");
  box.append(safe);
  return box.innerHTML;
}

const CODE_OR_LINK = new Set(["CODE", "PRE", "A"]);

/** Wrap `@handle` as the server's notifier reads it (not inside a longer word; the longest
 * name first, so "@Ada Lovelace" wins over "@Ada") in a span. Works on the sanitized DOM's
 * text nodes, so a name can never become markup. */
function highlightMentions(root: DocumentFragment, handles: string[]): void {
  const names = [...handles]
    .sort((a, b) => b.length - a.length)
    .map((h) => h.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(?<![\\w@])@(?:${names.join("|")})(?!\\w|[.@-]\\w)`, "gi");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const found: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement?.closest("code, pre, a") && !CODE_OR_LINK.has(node.parentNode?.nodeName ?? "")) {
      found.push(node as Text);
    }
  }
  for (const node of found) {
    // "@grace@example.com": Markdown made the e-mail a link; the mention is "@" and the link.
    const link = node.nextSibling;
    if (
      link instanceof HTMLAnchorElement &&
      link.href.startsWith("mailto:") &&
      /(^|[^\w@])@$/.test(node.data) &&
      handles.some((h) => h.toLowerCase() === link.textContent?.toLowerCase())
    ) {
      const span = document.createElement("span");
      span.className = "mention";
      span.textContent = `@${link.textContent}`;
      node.data = node.data.slice(0, -1);
      link.replaceWith(span);
    }
    const data = node.data;
    const parts: (string | Node)[] = [];
    let last = 0;
    for (const match of data.matchAll(pattern)) {
      parts.push(data.slice(last, match.index));
      const span = document.createElement("span");
      span.className = "mention";
      span.textContent = match[0];
      parts.push(span);
      last = match.index + match[0].length;
    }
    if (last > 0) node.replaceWith(...parts, data.slice(last));
  }
}
