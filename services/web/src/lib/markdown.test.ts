// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("sanitizes what the Markdown lets through", () => {
    const html = renderMarkdown('hi <img src=x onerror="alert(1)"> [x](javascript:alert(1))');
    expect(html).not.toContain("onerror");
    expect(html).not.toContain("javascript:");
  });

  it("highlights members named with @, the longest name first, not inside words", () => {
    const names = ["Ada", "Ada Lovelace", "grace@example.com"];
    const html = renderMarkdown(
      "@Ada Lovelace and @ada, mail@Ada, @Adam, @grace@example.com `@Ada`",
      names,
    );
    expect(html).toContain('<span class="mention">@Ada Lovelace</span>');
    expect(html).toContain('<span class="mention">@ada</span>');
    expect(html).toContain('<span class="mention">@grace@example.com</span>');
    expect(html.match(/class="mention"/g)).toHaveLength(3); // not mail@Ada, not @Adam
  });

  it("takes names as text, never as a pattern or markup", () => {
    const html = renderMarkdown("@Tom & Jerry (x) and @T.m", ["Tom & Jerry (x)", "T.m"]);
    expect(html).toContain('<span class="mention">@Tom &amp; Jerry (x)</span>');
    expect(html).toContain('<span class="mention">@T.m</span>');
    expect(renderMarkdown("@Tom", ["T.m"])).not.toContain("mention");
  });
});
