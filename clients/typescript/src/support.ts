// What both tests share: the services' base URLs, and reading a response
// header by a name the OpenAPI description declares for that response.

/** The base URL in environment variable `name`, without a trailing slash. */
export function baseUrl(name: string): string {
  const url = process.env[name];
  if (url === undefined || url === "") {
    throw new Error(`${name} is not set: it names the base URL of the service under test`);
  }
  return url.replace(/\/+$/, "");
}

/**
 * The header names a response object of the generated types declares,
 * without the `[name: string]: unknown` index signature openapi-typescript
 * adds to every `headers` object (which would let any name through).
 */
export type DeclaredHeader<Declared extends { headers: object }> = keyof {
  [Name in keyof Declared["headers"] as string extends Name ? never : Name]: unknown;
};

/**
 * Header `name` of `response`, whose name must be one the description
 * declares for the response `Declared` (such as
 * `paths["/profiles/{id}"]["get"]["responses"][200]`): when the description
 * stops declaring it, this no longer compiles. openapi-fetch types bodies,
 * not response headers, so the value is the string on the wire.
 */
export function header<Declared extends { headers: object }>(
  response: Response,
  name: DeclaredHeader<Declared> & string,
): string | null {
  return response.headers.get(name);
}

/** A response's status and body, for assertion messages. */
export function shown(result: { response: Response; data?: unknown; error?: unknown }): string {
  const body = result.error ?? result.data;
  return `${result.response.status} ${result.response.statusText}: ${JSON.stringify(body)}`;
}
