// The reference scenario against the profiles service, through a client
// typed by the service's own OpenAPI description (generated/profiles.ts).
// It expects a fresh service: profile 42 as seeded, at version 7.

import assert from "node:assert/strict";
import { test } from "node:test";

import createClient from "openapi-fetch";

import type { components, paths } from "../generated/profiles.js";
import { baseUrl, header, shown } from "./support.js";

type Profile = components["schemas"]["Profile"];
type Get = paths["/profiles/{id}"]["get"]["responses"];
type Put = paths["/profiles/{id}"]["put"]["responses"];

const client = createClient<paths>({ baseUrl: baseUrl("OCC_PROFILES_URL") });
const path = { id: "42" };

// The media type of the refusals, as the description declares it for a 412.
const problemJson: keyof Put[412]["content"] = "application/problem+json";

test("GET, PUT with If-Match, the stale PUT's 412 with the current state, 304, and 428 without a precondition", async () => {
  // GET: 200 with the seeded profile and its ETag.
  const read = await client.GET("/profiles/{id}", { params: { path } });
  assert.equal(read.response.status, 200, shown(read));
  const seeded: Profile = { id: 42, name: "Ava", city: "Paris" };
  assert.deepEqual(read.data, seeded);
  const etag = header<Get[200]>(read.response, "ETag");
  assert.equal(etag, '"prof-42-v7"');

  // PUT with If-Match that ETag: 200, the new state and a new ETag.
  const stalePut = {
    params: { path, header: { "If-Match": etag } },
    body: { city: "Lyon" },
  };
  const written = await client.PUT("/profiles/{id}", stalePut);
  assert.equal(written.response.status, 200, shown(written));
  const lyon: Profile = { id: 42, name: "Ava", city: "Lyon" };
  assert.deepEqual(written.data, lyon);
  const newEtag = header<Put[200]>(written.response, "ETag");
  assert.equal(newEtag, '"prof-42-v8"');

  // The same PUT again, its If-Match now stale: 412, a problem carrying
  // the current representation and its ETag.
  const refused = await client.PUT("/profiles/{id}", stalePut);
  assert.equal(refused.response.status, 412, shown(refused));
  assert.equal(refused.data, undefined);
  assert.equal(refused.response.headers.get("Content-Type"), problemJson);
  assert.equal(header<Put[412]>(refused.response, "ETag"), newEtag);
  // openapi-fetch types `error` as the body of any refusal; the status
  // says this one is the 412's, as the description declares it.
  type Refused412 = Put[412]["content"]["application/problem+json"];
  const problem = refused.error as Refused412 | undefined;
  assert.ok(problem !== undefined, "a 412 has a problem body");
  assert.equal(problem.status, 412);
  assert.equal(problem.current_etag, newEtag);
  // The description types `current` as the model: it reads as a
  // Profile, with no cast (checked before the assertion below narrows it).
  const current: Profile | undefined = problem.current;
  assert.equal(current?.city, "Lyon");
  assert.deepEqual(problem.current, lyon);

  // `current` is the representation a GET returns now, under that ETag.
  const now = await client.GET("/profiles/{id}", { params: { path } });
  assert.equal(now.response.status, 200, shown(now));
  assert.deepEqual(problem.current, now.data);
  assert.equal(problem.current_etag, header<Get[200]>(now.response, "ETag"));

  // A GET with If-None-Match the current ETag: 304, no body.
  const unchanged = await client.GET("/profiles/{id}", {
    params: { path, header: { "If-None-Match": newEtag } },
  });
  assert.equal(unchanged.response.status, 304, shown(unchanged));
  assert.equal(unchanged.data, undefined);
  assert.equal(header<Get[304]>(unchanged.response, "ETag"), newEtag);

  // A PUT without a precondition: 428, and nothing written.
  const unconditional = await client.PUT("/profiles/{id}", {
    params: { path },
    body: { name: "Ava Smith" },
  });
  assert.equal(unconditional.response.status, 428, shown(unconditional));
  assert.equal(unconditional.response.headers.get("Content-Type"), problemJson);
  assert.equal(unconditional.error?.status, 428);
  const after = await client.GET("/profiles/{id}", { params: { path } });
  assert.deepEqual(after.data, lyon);
  assert.equal(header<Get[200]>(after.response, "ETag"), newEtag);
});
