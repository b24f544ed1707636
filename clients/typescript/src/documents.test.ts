// A keyed POST sent twice to the documents service, through a client typed
// by the service's own OpenAPI description (generated/documents.ts). It
// expects a fresh service: no documents yet.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import createClient from "openapi-fetch";

import type { components, paths } from "../generated/documents.js";
import { baseUrl, header, shown } from "./support.js";

type Post = paths["/documents"]["post"]["responses"];
type Get = paths["/documents/{id}"]["get"]["responses"];
type NewDocument = paths["/documents"]["post"]["requestBody"]["content"]["application/json"];

const client = createClient<paths>({ baseUrl: baseUrl("OCC_DOCUMENTS_URL") });

// The one value the description allows for Idempotent-Replayed.
const replayed: NonNullable<Post[201]["headers"]["Idempotent-Replayed"]> = "true";

test("a POST sent twice with one Idempotency-Key creates one document, the second answer replayed", async () => {
  // An RFC 8941 sf-string: the key in double quotes.
  const key = `"${randomUUID()}"`;
  const body: NewDocument = { title: "Notes", body: "first draft", tags: null };
  const post = () =>
    client.POST("/documents", { params: { header: { "Idempotency-Key": key } }, body });

  const first = await post();
  assert.equal(first.response.status, 201, shown(first));
  assert.ok(first.data !== undefined, "a 201 has the new document");
  const created: components["schemas"]["Document"] = first.data;
  assert.equal(created.title, "Notes");
  assert.equal(created.body, "first draft");
  assert.equal(created.tags, null);
  const location = header<Post[201]>(first.response, "Location");
  assert.equal(location, `/documents/${created.id}`);
  const etag = header<Post[201]>(first.response, "ETag");
  assert.equal(etag, `"doc-${created.id}-r1"`);
  assert.equal(header<Post[201]>(first.response, "Idempotent-Replayed"), null);

  // The same request with the same key: the first answer again, replayed.
  const second = await post();
  assert.equal(second.response.status, 201, shown(second));
  assert.equal(header<Post[201]>(second.response, "Idempotent-Replayed"), replayed);
  assert.equal(header<Post[201]>(second.response, "Location"), location);
  assert.equal(header<Post[201]>(second.response, "ETag"), etag);
  assert.deepEqual(second.data, created);

  // Exactly one document exists: the one at the Location.
  const list = await client.GET("/documents");
  assert.equal(list.response.status, 200, shown(list));
  assert.ok(list.data !== undefined, "a 200 has the page");
  assert.deepEqual(
    list.data.items.map((item) => item.id),
    [created.id],
  );
  const read = await client.GET("/documents/{id}", { params: { path: { id: created.id } } });
  assert.equal(read.response.status, 200, shown(read));
  assert.deepEqual(read.data, created);
  assert.equal(header<Get[200]>(read.response, "ETag"), etag);
});
