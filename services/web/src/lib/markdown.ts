// Descriptions are Markdown written by any member: rendered, then sanitized, so no user text
// ever reaches the page as live HTML (no scripts, no event handlers, no javascript: links).
import DOMPurify from "dompurify";
import { marked } from "marked";

export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}
