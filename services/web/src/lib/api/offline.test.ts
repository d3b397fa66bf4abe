import { describe, expect, it } from "vitest";
import { Outbox } from "./offline";

class NoNetwork extends Error {}
const offline = (error: unknown) => error instanceof NoNetwork;

describe("Outbox", () => {
  it("replays what waited in order, once each, when drained", async () => {
    const outbox = new Outbox();
    const sent: string[] = [];
    const results = ["a", "b", "c"].map((name) =>
      outbox.hold(async () => {
        sent.push(name);
        return name.toUpperCase();
      }),
    );
    expect(outbox.size).toBe(3);
    expect(sent).toEqual([]); // nothing goes before the network is back
    await outbox.drain(offline);
    expect(sent).toEqual(["a", "b", "c"]);
    expect(await Promise.all(results)).toEqual(["A", "B", "C"]);
    expect(outbox.size).toBe(0);
  });

  it("stops at a network failure and keeps the rest, in order, for the next drain", async () => {
    const outbox = new Outbox();
    const sent: string[] = [];
    let networkUp = false;
    const request = (name: string) => async () => {
      if (!networkUp) throw new NoNetwork();
      sent.push(name);
      return name;
    };
    const first = outbox.hold(request("first"));
    const second = outbox.hold(request("second"));
    await outbox.drain(offline);
    expect(outbox.size).toBe(2);
    networkUp = true;
    await outbox.drain(offline);
    expect(sent).toEqual(["first", "second"]);
    expect(await first).toBe("first");
    expect(await second).toBe("second");
  });

  it("passes a refusal to its caller and goes on with the next", async () => {
    const outbox = new Outbox();
    const refused = outbox.hold(async () => {
      throw new Error("409");
    });
    const next = outbox.hold(async () => "ok");
    const sizes: number[] = [];
    outbox.subscribe((size) => sizes.push(size));
    await outbox.drain(offline);
    await expect(refused).rejects.toThrow("409");
    expect(await next).toBe("ok");
    expect(sizes).toEqual([2, 1, 0]);
  });
});
